package reports_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// A scenario's error is said once in run.json, under scenario_errors, and
// the run's own error once, under error: a run whose job error also listed
// every scenario error (as it once did) said each of them twice.
func TestAssembleSaysEachErrorOnce(t *testing.T) {
	const scenarioErr = "drain: orders-7f9c still registered in consul after 30s"
	scenarios := []reports.ScenarioRun{
		{Name: "drain", Spec: json.RawMessage(`{"name":"drain"}`), Err: errors.New(scenarioErr)},
		{Name: "steady", Spec: json.RawMessage(`{"name":"steady"}`)},
	}
	for _, tc := range []struct {
		name   string
		jobErr error
	}{
		{name: "no job error"},
		{name: "job error", jobErr: errors.New("interrupted: SIGINT at 12:04:05")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tl := timeline.Timeline{Base: time.Now()}
			run, verdicts := reports.Assemble(reports.Meta{Started: tl.Base}, scenarios, tl, tc.jobErr)
			dir := t.TempDir()
			if err := reports.Write(dir, run, tl, verdicts); err != nil {
				t.Fatalf("write report: %v", err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, reports.RunFile))
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(raw), scenarioErr); n != 1 {
				t.Errorf("run.json says the scenario error %d times, want once:\n%s", n, raw)
			}
			var saved struct {
				ScenarioErrors map[string]string `json:"scenario_errors"`
				Error          string            `json:"error"`
			}
			if err := json.Unmarshal(raw, &saved); err != nil {
				t.Fatalf("parse %s: %v", reports.RunFile, err)
			}
			if len(saved.ScenarioErrors) != 1 || saved.ScenarioErrors["drain"] != scenarioErr {
				t.Errorf("scenario_errors %q, want only drain's", saved.ScenarioErrors)
			}
			want := ""
			if tc.jobErr != nil {
				want = tc.jobErr.Error()
				if n := strings.Count(string(raw), want); n != 1 {
					t.Errorf("run.json says the job error %d times, want once:\n%s", n, raw)
				}
			}
			if saved.Error != want {
				t.Errorf("error %q, want %q (the job's own error, no scenario's)", saved.Error, want)
			}
			// The error the run returns (job.finish returns Run.Err) says
			// each once too.
			got := fmt.Sprint(run.Err())
			if n := strings.Count(got, scenarioErr); n != 1 {
				t.Errorf("Run.Err says the scenario error %d times, want once: %s", n, got)
			}
			if tc.jobErr != nil && strings.Count(got, want) != 1 {
				t.Errorf("Run.Err says the job error %d times, want once: %s", strings.Count(got, want), got)
			}
		})
	}
}
