package reports

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
)

// Expectation is one scenario expectation judged against the scenario's
// verdicts. Verdicts only measure; whether a measurement is what a scenario
// should show (the incident reproduced, or a remediation closing it) is
// what the scenario expects, so the report records both and the judgement.
// Build it with Judge so that Got, Met and Message agree.
type Expectation struct {
	Scenario string `json:"scenario"`
	// Verdict is the verdict name compared, a check.Name*.
	Verdict string `json:"verdict"`
	// Subject is "" for the scenario-wide verdict, a pod or instance for
	// that subject's, or "*" for every subject of the verdict.
	Subject string `json:"subject"`
	// Op is one of > >= < <= == !=, Got on the left, Want on the right.
	Op   string  `json:"op"`
	Want float64 `json:"want"`
	// Got are the values compared (several for "*"), in subject order;
	// empty if there was no such verdict.
	Got []float64 `json:"got"`
	// Met is true when at least one value was compared and all satisfied Op.
	Met bool `json:"met"`
	// Inconclusive: the scenario's fault could not be forced on this
	// cluster, so nothing was measured that could meet or fail it.
	Inconclusive bool `json:"inconclusive,omitempty"`
	// Why says what the expectation stands for, from the scenario spec.
	Why string `json:"why,omitempty"`
	// Message is one sentence with the numbers, for the report.
	Message string `json:"message"`
}

// SubjectAll is the Expectation.Subject that means every subject.
const SubjectAll = "*"

// Judge judges the expectation "verdict of subject op want" in scenario
// against verdicts. It matches the verdicts with that Scenario and Name and
// either that Subject or, for subject "*", any subject (the scenario-wide
// one included). Met needs at least one match, all of whose values satisfy
// op: an expectation about a verdict that was never computed (the pod never
// got deleted, the scenario broke early) is not met, since nothing showed
// it. An unknown op is never met. Judge is pure, so a rechecked report can
// judge again and agree.
func Judge(verdicts []check.Verdict, scenario, verdict, subject, op string, want float64, why string) Expectation {
	e := Expectation{Scenario: scenario, Verdict: verdict, Subject: subject, Op: op, Want: want, Got: []float64{}, Why: why}
	var matched []check.Verdict
	for _, v := range verdicts {
		if v.Scenario == scenario && v.Name == verdict && (subject == SubjectAll || v.Subject == subject) {
			matched = append(matched, v)
		}
	}
	sortVerdicts(matched)
	var got []string
	var failing []string
	for _, v := range matched {
		e.Got = append(e.Got, v.Value)
		got = append(got, judgedValue(v))
		if ok, _ := compare(v.Value, op, want); !ok {
			failing = append(failing, cmp.Or(v.Subject, "the scenario"))
		}
	}
	what := verdict
	switch subject {
	case "":
	case SubjectAll:
		what += " of every subject"
	default:
		what += " of " + subject
	}
	wantText := strconv.FormatFloat(want, 'f', -1, 64)
	if _, known := compare(0, op, 0); !known {
		e.Message = fmt.Sprintf("%s %s %s: not met, %q is not an operator (want > >= < <= == !=)", what, op, wantText, op)
		return e
	}
	if len(matched) == 0 {
		in := ""
		if scenario != "" {
			in = " in scenario " + scenario
		}
		e.Message = fmt.Sprintf("%s %s %s: not met, there is no such verdict%s", what, op, wantText, in)
		return e
	}
	e.Met = len(failing) == 0
	result := "met"
	if !e.Met {
		result = "not met"
		if subject == SubjectAll {
			result += " for " + strings.Join(failing, ", ")
		}
	}
	e.Message = fmt.Sprintf("%s %s %s %s: %s", what, strings.Join(got, ", "), op, wantText, result)
	return e
}

// compare returns got op want, and whether op is an operator at all.
func compare(got float64, op string, want float64) (ok, known bool) {
	switch op {
	case ">":
		return got > want, true
	case ">=":
		return got >= want, true
	case "<":
		return got < want, true
	case "<=":
		return got <= want, true
	case "==":
		return got == want, true
	case "!=":
		return got != want, true
	}
	return false, false
}

// judgedValue formats a compared value as the number it is (an expectation
// compares numbers, so "yes" would hide what was compared), with the unit
// where it adds something.
func judgedValue(v check.Verdict) string {
	s := strconv.FormatFloat(v.Value, 'f', -1, 64)
	switch {
	case v.Unit == check.UnitMS && v.Value < 0:
		s += " (never)"
	case v.Unit == check.UnitMS:
		s += " ms"
	}
	return s
}

// Timing is one scenario's phase wall times. It separates the waits a
// scenario asks for (faults, drain, settle: inherent) from what the harness
// spends around them (setup, teardown, and anything between phases), so a
// slow run shows whether the scenario or the harness is slow. Build it with
// NewTiming so that InherentMS and Overhead agree with the phases.
type Timing struct {
	SetupMS  float64 `json:"setup_ms"`
	FaultsMS float64 `json:"faults_ms"`
	// ForcingMS is the part of FaultsMS the harness spent forcing a fault
	// (making an address come back), not waiting for what the spec asks.
	ForcingMS  float64 `json:"forcing_ms"`
	DrainMS    float64 `json:"drain_ms"`
	SettleMS   float64 `json:"settle_ms"`
	TeardownMS float64 `json:"teardown_ms"`
	// TotalMS is the scenario's whole wall time, which may exceed the sum
	// of the phases.
	TotalMS float64 `json:"total_ms"`
	// InherentMS is faults-forcing+drain+settle: the waits the scenario
	// asks for (grace periods, rollouts, waits, drain and settle), its floor.
	InherentMS float64 `json:"inherent_ms"`
	// Overhead is TotalMS / InherentMS, to three decimals (0 if InherentMS
	// is 0): how many times its inherent waits the scenario took.
	Overhead float64 `json:"overhead"`
}

// NewTiming returns the Timing of the given phase wall times, in
// milliseconds rounded to the microsecond like verdicts, with InherentMS
// and Overhead derived from them.
func NewTiming(setup, faults, forcing, drain, settle, teardown, total time.Duration) Timing {
	t := Timing{
		SetupMS:    durationMS(setup),
		FaultsMS:   durationMS(faults),
		ForcingMS:  durationMS(forcing),
		DrainMS:    durationMS(drain),
		SettleMS:   durationMS(settle),
		TeardownMS: durationMS(teardown),
		TotalMS:    durationMS(total),
		InherentMS: durationMS(faults - forcing + drain + settle),
	}
	if t.InherentMS != 0 {
		t.Overhead = math.Round(t.TotalMS/t.InherentMS*1000) / 1000
	}
	return t
}

// durationMS converts d to milliseconds rounded to the microsecond.
func durationMS(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// fmtMS renders milliseconds as a duration for people, to the millisecond.
func fmtMS(ms float64) string {
	return fmtDuration(time.Duration(math.Round(ms * float64(time.Millisecond))))
}

// expectationsMet counts the met expectations of exps.
func expectationsMet(exps []Expectation) int {
	n := 0
	for _, e := range exps {
		if e.Met {
			n++
		}
	}
	return n
}

// expectationText is an expectation as written, e.g. "stale_window > 0" or
// "signal_delivered(*) == 1".
func expectationText(e Expectation) string {
	s := e.Verdict
	if e.Subject != "" {
		s += "(" + e.Subject + ")"
	}
	return s + " " + e.Op + " " + strconv.FormatFloat(e.Want, 'f', -1, 64)
}

// gotText lists an expectation's compared values, or says there were none.
func gotText(e Expectation) string {
	if len(e.Got) == 0 {
		return "no verdict"
	}
	parts := make([]string, len(e.Got))
	for i, g := range e.Got {
		parts[i] = strconv.FormatFloat(g, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}

// metMark says whether an expectation (or all of a scenario's) was met. The
// check marks are plain text symbols (U+2713, U+2717) that common text fonts
// have, not emoji, which a browser without an emoji font shows as empty
// boxes; the words carry the meaning even without them.
func metMark(e Expectation) string {
	switch {
	case e.Inconclusive:
		return "? inconclusive"
	case e.Met:
		return "✓ met"
	}
	return "✗ not met"
}

// markInconclusive marks the expectations of the scenarios whose faults
// could not be forced (reasons, by scenario): not met, not failed either.
func markInconclusive(exps []Expectation, reasons map[string]string) {
	for i, e := range exps {
		if why, ok := reasons[e.Scenario]; ok {
			exps[i].Met, exps[i].Inconclusive = false, true
			exps[i].Message = "inconclusive: " + why
		}
	}
}

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
			Setup:    fmtMS(t.SetupMS), Faults: fmtMS(t.FaultsMS), Forcing: fmtMS(t.ForcingMS), Drain: fmtMS(t.DrainMS), Settle: fmtMS(t.SettleMS),
			Teardown: fmtMS(t.TeardownMS), Total: fmtMS(t.TotalMS), Inherent: fmtMS(t.InherentMS), Overhead: overhead,
		})
	}
	return out
}
