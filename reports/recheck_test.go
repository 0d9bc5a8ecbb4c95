package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Recheck judges the saved expectations again: a report whose saved
// expectation was edited after the fact is not identical, and the diff says
// which expectation and how.
func TestRecheckRejudgesExpectations(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	verdicts := Verdicts(run, tl)
	run.Expectations = append(
		JudgeAll("incident", []Want{
			{Verdict: "stale_window", Op: ">", Value: 0, Why: "reproduces"},
			{Verdict: "signal_delivered", Subject: "orders-*", Op: "==", Value: 0},
		}, verdicts),
		JudgeAll("exec-fix", []Want{{Verdict: "failed_calls", Op: "==", Value: 0}}, verdicts)...)
	if !run.Expectations[0].Met || !run.Expectations[1].Met || run.Expectations[2].Met {
		t.Fatalf("expectations as judged: %+v", run.Expectations)
	}
	dir := t.TempDir()
	if err := Write(dir, run, tl, verdicts); err != nil {
		t.Fatal(err)
	}
	if _, identical, diff, err := Recheck(dir); err != nil || !identical || diff != "" {
		t.Fatalf("untouched report: identical %v, diff %q, err %v", identical, diff, err)
	}

	edit := func(f func(*Run)) {
		t.Helper()
		saved, _, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		f(&saved)
		b, _ := json.MarshalIndent(saved, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, RunFile), append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Claim the exec fix's failed_calls expectation was met.
	edit(func(r *Run) { r.Expectations[2].Met = true })
	_, identical, diff, err := Recheck(dir)
	if err != nil || identical {
		t.Fatalf("met flipped: identical %v, err %v", identical, err)
	}
	if want := "~ expectation exec-fix/failed_calls == 0: met true → false"; diff != want {
		t.Errorf("diff = %q, want %q", diff, want)
	}

	// A glob subject is judged again as a glob; an edited got and message
	// are differences too.
	edit(func(r *Run) {
		r.Expectations[2].Met = false
		r.Expectations[1].Got = []float64{1}
		r.Expectations[1].Message = "edited"
	})
	_, identical, diff, _ = Recheck(dir)
	// The restored exec-fix expectation no longer differs.
	want := `~ expectation incident/signal_delivered(orders-*) == 0: got [1] → [0]; message "edited" → "signal_delivered of every subject 0 == 0: met"`
	if identical || diff != want {
		t.Errorf("got and message edited: identical %v, diff %q, want %q", identical, diff, want)
	}
}

// A scenario whose fault could not be forced is inconclusive: its
// expectations are neither met nor unmet, junit skips it, and Recheck
// reproduces the judgement from run.json alone.
func TestInconclusiveScenario(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	verdicts := Verdicts(run, tl)
	run.Inconclusive = map[string]string{"exec-fix": "the address could not be reused: cannot be forced on this cluster"}
	run.Expectations = append(JudgeAll("incident", []Want{{Verdict: "stale_window", Op: ">", Value: 0}}, verdicts),
		JudgeAll("exec-fix", []Want{{Verdict: "failed_calls", Op: "==", Value: 0}}, verdicts)...)
	markInconclusive(run.Expectations, run.Inconclusive)
	if e := run.Expectations[1]; !e.Inconclusive || e.Met || e.Message != "inconclusive: the address could not be reused: cannot be forced on this cluster" {
		t.Fatalf("exec-fix expectation: %+v", e)
	}
	if e := run.Expectations[0]; e.Inconclusive || !e.Met {
		t.Fatalf("incident expectation: %+v", e)
	}
	if u := run.Unmet(); len(u) != 0 {
		t.Errorf("an inconclusive expectation is not unmet: %+v", u)
	}
	dir := t.TempDir()
	if err := Write(dir, run, tl, verdicts); err != nil {
		t.Fatal(err)
	}
	if err := WriteJUnit(filepath.Join(dir, JUnitFile), run); err != nil {
		t.Fatal(err)
	}
	if _, identical, diff, err := Recheck(dir); err != nil || !identical {
		t.Fatalf("identical %v, diff %q, err %v", identical, diff, err)
	}
	junit, _ := os.ReadFile(filepath.Join(dir, JUnitFile))
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, want := range []string{`skipped="1"`, `<skipped message="inconclusive: the address could not be reused`} {
		if !strings.Contains(string(junit), want) {
			t.Errorf("junit lacks %q:\n%s", want, junit)
		}
	}
	for _, want := range []string{"1 scenario(s) inconclusive", "**inconclusive**: exec-fix: the address could not be reused", "? inconclusive"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

// An event timeline.WriteJSONL leaves out (a gap that ends before it
// starts) is left out of the verdicts and the pictures too: Recheck, which
// only has the saved file, reproduces the report, and run.json says that
// one event was dropped.
func TestRecheckAfterAnInvalidEventWasDropped(t *testing.T) {
	tl := runTimeline(t)
	valid := len(tl.Events)
	bad := timeline.Event{At: tl.Events[valid/2].At, Until: tl.Events[valid/2].At - time.Second, Source: timeline.SourceHarness,
		Kind: timeline.HarnessGap, Scenario: "incident", Reason: "bogus watch"}
	tl.Events = slices.Insert(tl.Events, valid/2, bad)
	if bad.Validate() == nil {
		t.Fatal("the bad event validates; the test proves nothing")
	}
	base := testRun(tl)
	var scenarios []ScenarioRun
	for i, name := range []string{"incident", "exec-fix"} {
		scenarios = append(scenarios, ScenarioRun{Name: name, Spec: base.Scenarios[i], Context: base.CheckContexts[name],
			Wants: []Want{{Verdict: check.NameObserverGaps, Op: "==", Value: 0, Why: "no observer lost its watch"}}})
	}
	run, verdicts := Assemble(Meta{Started: base.Started}, scenarios, tl, nil)
	for _, v := range verdicts {
		if v.Name == check.NameObserverGaps && v.Scenario == "incident" && v.Value != 0 {
			t.Errorf("the dropped gap was judged: %+v", v)
		}
	}

	dir := t.TempDir()
	if err := Write(dir, run, tl, verdicts); err == nil || !strings.Contains(err.Error(), "1 of "+strconv.Itoa(valid+1)+" events not written") {
		t.Errorf("Write error %v, want one of %d events not written", err, valid+1)
	}
	_, identical, diff, err := Recheck(dir)
	if err != nil || !identical || diff != "" {
		t.Fatalf("recheck after a dropped event: identical %v, diff %q, err %v", identical, diff, err)
	}
	saved, stl, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(stl.Events) != valid {
		t.Errorf("saved %d events, want the %d valid ones", len(stl.Events), valid)
	}
	if want := "timeline: 1 of " + strconv.Itoa(valid+1) + " events not written"; !strings.Contains(saved.Error, want) {
		t.Errorf("run.json error %q lacks %q", saved.Error, want)
	}
	for _, f := range []string{MarkdownFile, HTMLFile} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if strings.Contains(string(b), "bogus watch") {
			t.Errorf("%s shows the dropped gap", f)
		}
	}
}
