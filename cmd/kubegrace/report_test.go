package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// publishIncident writes a report folder from the incident timeline the
// check package keeps, as a run would, and returns it.
func publishIncident(t *testing.T, dir string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "harness", "check", "testdata", "incident.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl, err := timeline.ReadJSONL(f)
	if err != nil {
		t.Fatal(err)
	}
	ctx := check.Context{Scenario: "incident", WatchedServices: []string{"orders"}, ServiceGrace: map[string]time.Duration{"orders": 30 * time.Second}}
	wants := []reports.Want{{Verdict: check.NameStaleWindow, Op: ">", Value: 0, Why: "the stale registration passes again"}}
	out := filepath.Join(dir, "run")
	if _, _, err := reports.Publish(out, false, reports.Meta{Started: tl.Base},
		[]reports.ScenarioRun{{Name: "incident", Spec: []byte(`{"name":"incident"}`), Context: ctx, Wants: wants}}, tl, nil); err != nil {
		t.Fatal(err)
	}
	return out
}

// `report check` recomputes a saved report's verdicts and says they are
// identical; a verdicts.json changed by hand is found and named.
func TestReportCheckCommand(t *testing.T) {
	dir := publishIncident(t, t.TempDir())
	var out bytes.Buffer
	if err := runReportCheck(&out, dir); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "identical to") || !strings.Contains(out.String(), check.NameStaleWindow) {
		t.Errorf("output:\n%s", out.String())
	}
	path := filepath.Join(dir, reports.VerdictsFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(raw, []byte(`"value": `), []byte(`"value": 1`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := runReportCheck(&out, dir); err == nil || !strings.Contains(out.String(), "differ") {
		t.Errorf("a changed verdicts.json: err %v\n%s", err, out.String())
	}
}

// `report compare` of a run with itself finds nothing; with a report that
// lacks a scenario's pods, it says which and fails.
func TestReportCompareCommand(t *testing.T) {
	a := publishIncident(t, t.TempDir())
	var out bytes.Buffer
	if err := runReportCompare(&out, a, a, reports.KernelSignalVerdicts, false); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), ": 0 differ") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := runReportCompare(&out, a, filepath.Join(t.TempDir(), "none"), reports.KernelSignalVerdicts, false); err == nil {
		t.Error("comparing with a folder that holds no report must fail")
	}
}

// `report spread` over two runs of the same report: each expectation
// judged twice, its values' min, median and max.
func TestReportSpreadCommand(t *testing.T) {
	a, b := publishIncident(t, t.TempDir()), publishIncident(t, t.TempDir())
	var out bytes.Buffer
	if err := runReportSpread(&out, []string{a, b}, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "| incident | stale_window() > 0 | 2 | 2 |") {
		t.Errorf("output:\n%s", out.String())
	}
}
