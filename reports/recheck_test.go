package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
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
