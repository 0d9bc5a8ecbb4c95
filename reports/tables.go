package reports

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/kubegrace/kubegrace/harness/check"
)

// The overview tables (at a glance, and timings) are one row model each,
// with one header, which both renderings draw.

// glanceHeader heads the at-a-glance table.
var glanceHeader = []string{"scenario", "SIGTERM delivered", "deregistered", "SIGKILLed", "stale window (ms)",
	"of it on another service's pod (ms)", "wrong-target calls", "failed calls", "expectations"}

// timingHeader heads the timings table.
var timingHeader = []string{"scenario", "setup", "faults", "of it forcing", "drain", "settle", "teardown", "total", "inherent", "overhead"}

// glance is one scenario's row of the at-a-glance table: the few numbers
// that say which failure a scenario shows and whether a remediation closed
// it. A cell is "–" when the scenario has no verdict to count.
type glance struct {
	Scenario, Anchor                                                    string
	Signalled, Deregistered, Killed, Stale, Reused, WrongTarget, Failed string
	Expectations                                                        string
	HasExpectations, AllMet                                             bool
	// Linked is set by the HTML rendering when the scenario has a section
	// to link to.
	Linked bool
}

// timingRow is one scenario's row of the timings table, formatted.
type timingRow struct {
	Scenario                                                                   string
	Setup, Faults, Forcing, Drain, Settle, Teardown, Total, Inherent, Overhead string
}

// overviewScenarios is reportScenarios plus any scenario that only the
// expectations or timings mention (one that broke before recording
// anything still has something to show).
func overviewScenarios(run Run, names []string) []string {
	names = slices.Clone(names)
	for _, e := range run.Expectations {
		if !slices.Contains(names, e.Scenario) {
			names = append(names, e.Scenario)
		}
	}
	var rest []string
	for name := range run.Timings {
		if !slices.Contains(names, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	return append(names, rest...)
}

// glances computes the at-a-glance rows of names, in that order.
func glances(run Run, names []string, groups map[string][]check.Verdict) []glance {
	var out []glance
	for _, name := range names {
		g := glance{Scenario: scenarioTitle(name), Anchor: anchor(name)}
		var signalled, signals, dereg, deregs, killed, kills int
		stale, reused, wrong, failed := "–", "–", "–", "–"
		for _, v := range groups[name] {
			switch v.Name {
			case check.NameSignalDelivered:
				signals++
				if v.Value == 1 {
					signalled++
				}
			case check.NameDeregistrationLatency:
				deregs++
				if v.Value >= 0 {
					dereg++
				}
			case check.NameKilledBySIGKILL:
				kills++
				if v.Value == 1 {
					killed++
				}
			case check.NameStaleWindow:
				if v.Subject == "" {
					stale = strconv.FormatFloat(v.Value, 'f', -1, 64)
				}
			case check.NameReusedAddressWindow:
				reused = strconv.FormatFloat(v.Value, 'f', -1, 64)
			case check.NameWrongTargetCalls:
				wrong = strconv.FormatFloat(v.Value, 'f', -1, 64)
			case check.NameFailedCalls:
				failed = strconv.FormatFloat(v.Value, 'f', -1, 64)
			}
		}
		ratio := func(k, n int) string {
			if n == 0 {
				return "–"
			}
			return fmt.Sprintf("%d/%d", k, n)
		}
		g.Signalled, g.Deregistered = ratio(signalled, signals), ratio(dereg, deregs)
		g.Killed = "–"
		if kills > 0 {
			g.Killed = strconv.Itoa(killed)
		}
		g.Stale, g.Reused, g.WrongTarget, g.Failed = stale, reused, wrong, failed
		var met, total int
		for _, e := range run.Expectations {
			if e.Scenario == name {
				total++
				if e.Met {
					met++
				}
			}
		}
		g.Expectations = "–"
		switch {
		case run.Inconclusive[name] != "":
			// Nothing was forced: the numbers in the row say only that.
			g.Expectations = metMark(Expectation{Inconclusive: true})
		case total > 0:
			g.HasExpectations, g.AllMet = true, met == total
			g.Expectations = fmt.Sprintf("%d/%d %s", met, total, metMark(Expectation{Met: g.AllMet}))
		}
		out = append(out, g)
	}
	return out
}

// timingRows formats run.Timings in the order of names, skipping scenarios
// without timings.
func timingRows(run Run, names []string) []timingRow {
	var out []timingRow
	for _, name := range names {
		t, ok := run.Timings[name]
		if !ok {
			continue
		}
		overhead := "–"
		if t.InherentMS != 0 {
			overhead = fmt.Sprintf("%.2f", t.Overhead)
		}
		out = append(out, timingRow{
			Scenario: scenarioTitle(name),
			Setup:    fmtDurationMS(t.SetupMS), Faults: fmtDurationMS(t.FaultsMS), Forcing: fmtDurationMS(t.ForcingMS), Drain: fmtDurationMS(t.DrainMS), Settle: fmtDurationMS(t.SettleMS),
			Teardown: fmtDurationMS(t.TeardownMS), Total: fmtDurationMS(t.TotalMS), Inherent: fmtDurationMS(t.InherentMS), Overhead: overhead,
		})
	}
	return out
}

// timingTotal is every scenario's timings summed.
type timingTotal struct {
	totalMS, inherentMS, forcingMS float64
}

// sumTimings sums timings, in name order so that the float sum is the same
// on every rendering; ok is false when nothing inherent was timed, and so
// there is no overhead to give.
func sumTimings(timings map[string]Timing) (sum timingTotal, ok bool) {
	for _, name := range slices.Sorted(maps.Keys(timings)) {
		t := timings[name]
		sum.totalMS += t.TotalMS
		sum.inherentMS += t.InherentMS
		sum.forcingMS += t.ForcingMS
	}
	return sum, sum.inherentMS > 0
}

// overhead is totalMS / inherentMS, unrounded.
func (t timingTotal) overhead() float64 { return t.totalMS / t.inherentMS }

// timingTotalRow is the timings table's last row, "all": the scenarios'
// total and inherent times and the overhead of the whole, the other cells
// empty; ok is false when there is no such row.
func timingTotalRow(run Run) (timingRow, bool) {
	sum, ok := sumTimings(run.Timings)
	if !ok {
		return timingRow{}, false
	}
	return timingRow{Scenario: "all", Total: fmtDurationMS(sum.totalMS), Inherent: fmtDurationMS(sum.inherentMS),
		Overhead: fmt.Sprintf("%.2f", sum.overhead())}, true
}
