package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Spread gathers one expectation's values over runs: min, median, max,
// how often met, and the unit from verdicts.json.
func TestSpread(t *testing.T) {
	write := func(got []float64, met bool) string {
		dir := t.TempDir()
		run := Run{Expectations: []Expectation{
			{Scenario: "nginx-exec", Verdict: "shutdown_window", Subject: "web-*", Op: "<", Want: 1000, Got: got, Met: met},
			{Scenario: "nginx-exec", Verdict: "signal_delivered", Subject: "web-*", Op: "==", Want: 1, Got: []float64{1}, Met: true},
		}}
		raw, _ := json.Marshal(run)
		if err := os.WriteFile(filepath.Join(dir, RunFile), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, VerdictsFile), []byte(`[{"scenario":"nginx-exec","name":"shutdown_window","subject":"web-1","value":3,"unit":"ms","message":""}]`), 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	rows, err := Spread(write([]float64{12, 30}, true), write([]float64{3800.6}, false), write([]float64{20}, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	r := rows[0]
	if r.Verdict != "shutdown_window" || r.Runs != 3 || r.Met != 2 || r.Unit != "ms" || len(r.Values) != 4 ||
		r.Min() != 12 || r.Median() != 20 || r.Max() != 3800.6 {
		t.Errorf("%+v min %g median %g max %g", r, r.Min(), r.Median(), r.Max())
	}
	if _, err := Spread(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a folder without run.json must be an error")
	}
}
