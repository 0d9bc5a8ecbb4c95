package reports

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// runTimeline joins two recorded scenarios into one run's timeline, the
// second shifted onto the first's base, as a run records them.
func runTimeline(t *testing.T) timeline.Timeline {
	t.Helper()
	var tls []timeline.Timeline
	for _, name := range []string{"incident", "exec-fix"} {
		f, err := os.Open(filepath.Join("..", "harness", "check", "testdata", name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		tl, err := timeline.ReadJSONL(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		tls = append(tls, tl)
	}
	run := timeline.Timeline{Base: tls[0].Base}
	for _, tl := range tls {
		shift := tl.Base.Sub(run.Base)
		for _, e := range tl.Events {
			e.At += shift
			run.Events = append(run.Events, e)
		}
	}
	return run.Sorted()
}

func testRun(tl timeline.Timeline) Run {
	watched := []string{"orders", "payments"}
	return Run{
		HarnessVersion:    "v0.1.0-test",
		HarnessCommit:     "852c38d",
		KindVersion:       "v0.30.0",
		KubernetesVersion: "v1.34.0",
		ConsulVersion:     "v1.22.0",
		Images: map[string]string{
			"kubegrace/fixture:dev": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
			"kubegrace/consul:dev":  "sha256:2222222222222222222222222222222222222222222222222222222222222222",
		},
		KindConfig: "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\n",
		Started:    tl.Base,
		Finished:   tl.Base.Add(75 * time.Second),
		Scenarios: []json.RawMessage{
			json.RawMessage(`{"name":"incident","entrypoint":"bash-noexec"}`),
			json.RawMessage(`{"name":"exec-fix","entrypoint":"bash-exec"}`),
		},
		CheckContexts: map[string]check.Context{
			"incident": {Scenario: "incident", WatchedServices: watched},
			"exec-fix": {Scenario: "exec-fix", WatchedServices: watched},
		},
	}
}

// resourceRef finds anything that would make the page load something from
// the network.
var resourceRef = regexp.MustCompile(`(?i)(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?//|url\(\s*["']?\s*(https?:)?//|@import`)

func TestWriteAndRecheck(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	dir := filepath.Join(t.TempDir(), "run-1")
	verdicts := Verdicts(run, tl)
	if err := Write(dir, run, tl, verdicts); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{RunFile, TimelineFile, VerdictsFile, MarkdownFile, HTMLFile} {
		switch st, err := os.Stat(filepath.Join(dir, f)); {
		case err != nil:
			t.Errorf("%s: %v", f, err)
		case st.Size() == 0:
			t.Errorf("%s is empty", f)
		}
	}

	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if n := strings.Count(string(page), "<svg"); n != 2 {
		t.Errorf("report.html has %d <svg> pictures, want one per scenario (2)", n)
	}
	if strings.Contains(string(page), "http://") || strings.Contains(string(page), "https://") || resourceRef.Match(page) {
		t.Error("report.html references a network resource")
	}
	for _, want := range []string{`class="stale"`, "stale orders-k2x7p", "orders-6c9d8-k2x7p", "WRONG TARGET: reached payments", "never deregistered", ">137<"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}

	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, want := range []string{
		"| scenario | verdict | subject | value |",
		"| incident | stale_window | orders-k2x7p | 1690 ms |",
		"| exec-fix | deregistration_latency | orders-58f4c-h9j2m | 12 ms |",
		"| incident | deregistration_latency | orders-6c9d8-k2x7p | never |",
		"## Scenario incident", "## Scenario exec-fix",
		"| orders-k2x7p | orders | 10.244.1.7 | 11410 ms | 13100 ms | 1690 ms | IP held by payments-7f5b9-q8w2n (payments) |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	// Scenario sections follow run order, not alphabetical order.
	if strings.Index(string(md), "## Scenario incident") > strings.Index(string(md), "## Scenario exec-fix") {
		t.Error("scenario sections are not in run order")
	}

	got, identical, diff, err := Recheck(dir)
	if err != nil || !identical || diff != "" {
		t.Fatalf("Recheck = identical %v, diff %q, err %v", identical, diff, err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(verdicts)
	if !bytes.Equal(a, b) {
		t.Error("Recheck's verdicts differ from those written")
	}

	// Tamper: claim the incident had no stale window.
	path := filepath.Join(dir, VerdictsFile)
	saved, _ := os.ReadFile(path)
	var vs []check.Verdict
	if err := json.Unmarshal(saved, &vs); err != nil {
		t.Fatal(err)
	}
	for i := range vs {
		if vs[i].Scenario == "incident" && vs[i].Name == check.NameStaleWindow && vs[i].Subject == "orders-k2x7p" {
			vs[i].Value = 0
		}
	}
	vs = append(vs, check.Verdict{Name: "made_up", Scenario: "incident", Unit: check.UnitCount, Message: "invented"})
	tampered, _ := json.MarshalIndent(vs, "", "  ")
	if err := os.WriteFile(path, append(tampered, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	_, identical, diff, err = Recheck(dir)
	if err != nil || identical {
		t.Fatalf("tampered: identical %v, err %v", identical, err)
	}
	for _, want := range []string{"~ incident/stale_window/orders-k2x7p: value 0 → 1690", "- incident/made_up/: 0 invented (saved, but not recomputed)"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}

	// Formatting only.
	compact, _ := json.Marshal(verdicts)
	os.WriteFile(path, compact, 0o644)
	if _, identical, diff, _ = Recheck(dir); identical || !strings.Contains(diff, "order or formatting") {
		t.Errorf("reformatted: identical %v, diff %q", identical, diff)
	}
	// Not verdicts at all.
	os.WriteFile(path, []byte("{"), 0o644)
	if _, identical, diff, _ = Recheck(dir); identical || !strings.Contains(diff, "does not parse") {
		t.Errorf("garbage: identical %v, diff %q", identical, diff)
	}
	// A tampered timeline changes the recomputation.
	tlBytes, _ := os.ReadFile(filepath.Join(dir, TimelineFile))
	tlBytes = bytes.Replace(tlBytes, []byte(`"status":"passing","index":172`), []byte(`"status":"critical","index":172`), 1)
	os.WriteFile(filepath.Join(dir, TimelineFile), tlBytes, 0o644)
	os.WriteFile(path, append(tampered, '\n'), 0o644)
	if _, identical, diff, _ = Recheck(dir); identical || !strings.Contains(diff, "incident/stale_window/orders-k2x7p") {
		t.Errorf("timeline tampered: identical %v, diff %q", identical, diff)
	}
}

func TestWriteDeterministic(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	d1, d2 := t.TempDir(), t.TempDir()
	if err := Write(d1, run, tl, Verdicts(run, tl)); err != nil {
		t.Fatal(err)
	}
	if err := Write(d2, run, tl, Verdicts(run, tl)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{RunFile, TimelineFile, VerdictsFile, MarkdownFile, HTMLFile} {
		a, _ := os.ReadFile(filepath.Join(d1, f))
		b, _ := os.ReadFile(filepath.Join(d2, f))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two writes", f)
		}
	}
}

func TestWriteKeepsGoingAfterAFailure(t *testing.T) {
	tl := runTimeline(t)
	tl.Events = append(tl.Events, timeline.Event{Source: timeline.SourcePod, Kind: "exploded", Pod: "x"})
	run := testRun(tl)
	run.Error = "scenario exec-fix: pod never became ready"
	dir := t.TempDir()
	err := Write(dir, run, tl, nil)
	if err == nil || !strings.Contains(err.Error(), TimelineFile) {
		t.Fatalf("err = %v, want a timeline error", err)
	}
	for _, f := range []string{RunFile, VerdictsFile, MarkdownFile, HTMLFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if !strings.Contains(string(md), "The run failed:** scenario exec-fix: pod never became ready") {
		t.Errorf("report.md does not show the run error:\n%s", md)
	}
	// The valid events are kept, and run.json says which one was not.
	saved, stl, err := Load(dir)
	if err != nil {
		t.Fatalf("the timeline with the valid events must load: %v", err)
	}
	if len(stl.Events) != len(tl.Events)-1 {
		t.Errorf("saved %d events, want the %d valid ones", len(stl.Events), len(tl.Events)-1)
	}
	if !strings.Contains(saved.Error, "timeline: ") || !strings.Contains(saved.Error, "exploded") {
		t.Errorf("run.json error %q should name the event left out", saved.Error)
	}
}

func TestEmptyRun(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, Run{}, timeline.Timeline{}, nil); err != nil {
		t.Fatal(err)
	}
	v, identical, diff, err := Recheck(dir)
	if err != nil || !identical || len(v) != 0 {
		t.Fatalf("empty run: %v %v %q %v", v, identical, diff, err)
	}
}
