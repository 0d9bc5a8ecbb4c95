package reports

import (
	"cmp"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kubegrace/kubegrace/harness/check"
)

// SpreadRow is one expectation across several runs: every value it
// compared, and how often it was met. Thresholds are set from it: what
// the mechanism guarantees, with the measured maximum under it.
type SpreadRow struct {
	Scenario, Verdict, Subject, Op string
	Want                           float64
	// Unit is the verdict's (ms, count, ...), where a run's verdicts.json
	// says it.
	Unit string
	// Runs is how many runs judged the expectation; Met how many met it,
	// Inconclusive how many could not.
	Runs, Met, Inconclusive int
	// Values are every value compared, sorted.
	Values []float64
}

// Min, Median and Max of the values (0 without any).
func (r SpreadRow) Min() float64 { return at(r.Values, 0) }

// Median is the middle value (the lower of the two middle ones).
func (r SpreadRow) Median() float64 { return at(r.Values, (len(r.Values)-1)/2) }

// Max is the largest value.
func (r SpreadRow) Max() float64 { return at(r.Values, len(r.Values)-1) }

func at(v []float64, i int) float64 {
	if i < 0 || i >= len(v) {
		return 0
	}
	return v[i]
}

// Spread reads the run.json (and verdicts.json, for units) of each report
// folder and returns, per expectation (scenario, verdict, subject, op,
// value), the values every run compared, sorted by scenario and verdict.
func Spread(dirs ...string) ([]SpreadRow, error) {
	rows := map[string]*SpreadRow{}
	for _, dir := range dirs {
		var run Run
		raw, err := os.ReadFile(filepath.Join(dir, RunFile))
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", dir, err)
		}
		if err := json.Unmarshal(raw, &run); err != nil {
			return nil, fmt.Errorf("report %s: parse %s: %w", dir, RunFile, err)
		}
		units := map[string]string{}
		if raw, err := os.ReadFile(filepath.Join(dir, VerdictsFile)); err == nil {
			var vs []check.Verdict
			if json.Unmarshal(raw, &vs) == nil {
				for _, v := range vs {
					units[v.Name] = v.Unit
				}
			}
		}
		for _, e := range run.Expectations {
			key := strings.Join([]string{e.Scenario, e.Verdict, e.Subject, e.Op, fmt.Sprint(e.Want)}, "\x00")
			r, ok := rows[key]
			if !ok {
				r = &SpreadRow{Scenario: e.Scenario, Verdict: e.Verdict, Subject: e.Subject, Op: e.Op, Want: e.Want}
				rows[key] = r
			}
			r.Unit = cmp.Or(r.Unit, units[e.Verdict])
			r.Runs++
			switch {
			case e.Inconclusive:
				r.Inconclusive++
			case e.Met:
				r.Met++
			}
			r.Values = append(r.Values, e.Got...)
		}
	}
	out := make([]SpreadRow, 0, len(rows))
	for _, r := range rows {
		slices.Sort(r.Values)
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b SpreadRow) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Subject, b.Subject), cmp.Compare(a.Op, b.Op))
	})
	return out, nil
}
