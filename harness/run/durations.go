package run

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/kubegrace/kubegrace/harness/cache"
)

// durationsFile keeps each scenario's last measured wall time on this
// machine, outside the clone like the build caches, so the runner can
// start the longest first (Runner.Durations) (a spec's own estimate cannot know how long an
// image of the user's takes to stop).
func durationsFile() string { return filepath.Join(cache.Dir(), "durations.json") }

// LoadDurations reads the last measured times; none if there are none yet.
func LoadDurations() map[string]time.Duration {
	raw, err := os.ReadFile(durationsFile())
	if err != nil {
		return nil
	}
	var ms map[string]int64
	if json.Unmarshal(raw, &ms) != nil {
		return nil
	}
	out := make(map[string]time.Duration, len(ms))
	for name, m := range ms {
		out[name] = time.Duration(m) * time.Millisecond
	}
	return out
}

// SaveDurations records how long the scenarios that ran to the end (not
// failed, not inconclusive, not interrupted) held their place, keeping the
// others'. An error writing is not the run's: ordering is only an
// optimisation.
func SaveDurations(results []Result) {
	ms := map[string]int64{}
	for name, d := range LoadDurations() {
		ms[name] = d.Milliseconds()
	}
	for _, r := range results {
		if r.Err == nil && r.Inconclusive == "" && !r.Finished.IsZero() {
			// Until teardown began: when the scenario gave its place back.
			ms[r.Spec.Name] = (r.Total() - r.Phase(PhaseTeardown)).Milliseconds()
		}
	}
	raw, err := json.MarshalIndent(ms, "", "  ")
	if err != nil || os.MkdirAll(cache.Dir(), 0o755) != nil {
		return
	}
	tmp := durationsFile() + ".tmp"
	if os.WriteFile(tmp, raw, 0o644) == nil {
		_ = os.Rename(tmp, durationsFile())
	}
}
