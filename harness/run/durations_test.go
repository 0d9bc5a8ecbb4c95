package run

import (
	"errors"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// Measured times are kept per scenario across runs, only for scenarios
// that ran to the end; a failed one keeps its earlier time.
func TestDurationsAreKeptAcrossRuns(t *testing.T) {
	t.Setenv("KUBEGRACE_CACHE", t.TempDir())
	if d := LoadDurations(); d != nil {
		t.Fatalf("fresh cache: %v", d)
	}
	at := time.Now()
	ok := func(name string, d time.Duration) Result {
		return Result{Spec: scenario.Spec{Name: name}, Started: at, Finished: at.Add(d)}
	}
	SaveDurations([]Result{ok("a", 30*time.Second), ok("b", 10*time.Second)})
	failed := ok("a", 2*time.Second)
	failed.Err = errors.New("boom")
	inconclusive := ok("c", time.Second)
	inconclusive.Inconclusive = "pool too large"
	SaveDurations([]Result{failed, inconclusive, ok("b", 12*time.Second)})
	got := LoadDurations()
	if got["a"] != 30*time.Second || got["b"] != 12*time.Second || len(got) != 2 {
		t.Errorf("durations %v; want a 30s (its failed run ignored), b 12s, no c", got)
	}
}
