package reports

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"

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
	// Op is the Symbol of one of Operators, Got on the left, Want on the
	// right.
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
	o, known := operator(op)
	var got []string
	var failing []string
	for _, v := range matched {
		e.Got = append(e.Got, v.Value)
		got = append(got, judgedValue(v))
		if !known || !o.Holds(v.Value, want) {
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
	if !known {
		e.Message = fmt.Sprintf("%s %s %s: not met, %q is not an operator (want %s)", what, op, wantText, op, strings.Join(OperatorSymbols(), " "))
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
