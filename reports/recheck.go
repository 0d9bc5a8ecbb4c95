package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kubegrace/kubegrace/harness/check"
)

// Recheck recomputes a report folder's verdicts from its run.json (the check
// contexts) and timeline.jsonl alone, and compares them byte for byte with
// its verdicts.json; it also judges run.json's saved expectations again
// against the recomputed verdicts (JudgeAll, WantOf) and compares each with
// the saved judgement (met, got, message). identical is false when either
// differs, whether because the saved verdicts, expectations or timeline were
// edited, or the checks changed since the report was written; diff then
// says what differs, verdict by verdict and expectation by expectation. err
// is only for a folder that cannot be read.
func Recheck(dir string) (recomputed []check.Verdict, identical bool, diff string, err error) {
	run, tl, err := Load(dir)
	if err != nil {
		return nil, false, "", err
	}
	saved, err := os.ReadFile(filepath.Join(dir, VerdictsFile))
	if err != nil {
		return nil, false, "", fmt.Errorf("read saved verdicts: %w", err)
	}
	recomputed = Verdicts(run, tl)
	fresh, err := marshalVerdicts(recomputed)
	if err != nil {
		return nil, false, "", err
	}
	var parts []string
	if !bytes.Equal(saved, fresh) {
		parts = append(parts, Diff(saved, recomputed))
	}
	if d := ExpectationsDiff(run.Expectations, recomputed, run.Inconclusive); d != "" {
		parts = append(parts, d)
	}
	return recomputed, len(parts) == 0, strings.Join(parts, "\n"), nil
}

// rejudge judges saved expectations again against verdicts: grouped by
// scenario, each through WantOf and JudgeAll, as the scenario runner judged
// them. The result is in the order of saved.
func rejudge(saved []Expectation, verdicts []check.Verdict) []Expectation {
	var scenarios []string
	wants := map[string][]Want{}
	for _, e := range saved {
		if _, ok := wants[e.Scenario]; !ok {
			scenarios = append(scenarios, e.Scenario)
		}
		wants[e.Scenario] = append(wants[e.Scenario], WantOf(e))
	}
	judged := map[string][]Expectation{}
	for _, s := range scenarios {
		judged[s] = JudgeAll(s, wants[s], verdicts)
	}
	out := make([]Expectation, 0, len(saved))
	next := map[string]int{}
	for _, e := range saved {
		out = append(out, judged[e.Scenario][next[e.Scenario]])
		next[e.Scenario]++
	}
	return out
}

// ExpectationsDiff judges saved expectations again against verdicts
// (rejudge) and describes, one line per expectation, where the saved
// judgement differs in met, got or message; "" if none does.
func ExpectationsDiff(saved []Expectation, verdicts []check.Verdict, inconclusive map[string]string) string {
	var lines []string
	judged := rejudge(saved, verdicts)
	markInconclusive(judged, inconclusive)
	for i, n := range judged {
		o := saved[i]
		var ch []string
		if o.Met != n.Met {
			ch = append(ch, fmt.Sprintf("met %v → %v", o.Met, n.Met))
		}
		if !slices.Equal(o.Got, n.Got) {
			ch = append(ch, fmt.Sprintf("got [%s] → [%s]", gotText(o), gotText(n)))
		}
		if o.Message != n.Message {
			ch = append(ch, fmt.Sprintf("message %q → %q", o.Message, n.Message))
		}
		if len(ch) > 0 {
			lines = append(lines, fmt.Sprintf("~ expectation %s/%s: %s", o.Scenario, expectationText(o), strings.Join(ch, "; ")))
		}
	}
	return strings.Join(lines, "\n")
}

// Diff describes how saved verdicts.json content differs from recomputed
// verdicts, keyed by scenario/name/subject, so a reader sees which verdict
// changed and how rather than a wall of JSON. Saved content that does not
// parse, or differs only in formatting, is said to be so.
func Diff(saved []byte, recomputed []check.Verdict) string {
	var old []check.Verdict
	dec := json.NewDecoder(bytes.NewReader(saved))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&old); err != nil {
		return fmt.Sprintf("saved %s does not parse as verdicts: %v", VerdictsFile, err)
	}
	key := func(v check.Verdict) string { return v.Scenario + "/" + v.Name + "/" + v.Subject }
	oldBy := map[string]check.Verdict{}
	var oldKeys []string
	for _, v := range old {
		k := key(v)
		if _, dup := oldBy[k]; dup {
			return fmt.Sprintf("saved %s lists %s twice", VerdictsFile, k)
		}
		oldBy[k] = v
		oldKeys = append(oldKeys, k)
	}
	var lines []string
	seen := map[string]bool{}
	for _, n := range recomputed {
		k := key(n)
		seen[k] = true
		o, ok := oldBy[k]
		if !ok {
			lines = append(lines, fmt.Sprintf("+ %s: %s %s (not in the saved verdicts)", k, fmtValueUnit(n), n.Message))
			continue
		}
		var ch []string
		if o.Value != n.Value {
			ch = append(ch, fmt.Sprintf("value %s → %s", fmtValue(o), fmtValue(n)))
		}
		if o.Unit != n.Unit {
			ch = append(ch, fmt.Sprintf("unit %q → %q", o.Unit, n.Unit))
		}
		if o.Message != n.Message {
			ch = append(ch, fmt.Sprintf("message %q → %q", o.Message, n.Message))
		}
		if len(ch) > 0 {
			lines = append(lines, "~ "+k+": "+strings.Join(ch, "; "))
		}
	}
	for _, k := range oldKeys {
		if !seen[k] {
			o := oldBy[k]
			lines = append(lines, fmt.Sprintf("- %s: %s %s (saved, but not recomputed)", k, fmtValueUnit(o), o.Message))
		}
	}
	if len(lines) == 0 {
		return fmt.Sprintf("saved %s has the same verdicts but differs in order or formatting", VerdictsFile)
	}
	return strings.Join(lines, "\n")
}

// fmtValue formats a verdict's value for people: booleans as yes/no,
// "never" for the -1 of a duration that did not end, numbers without
// trailing zeros.
func fmtValue(v check.Verdict) string {
	switch {
	case v.Unit == check.UnitBool && v.Value == 1:
		return "yes"
	case v.Unit == check.UnitBool && v.Value == 0:
		return "no"
	case v.Unit == check.UnitMS && v.Value < 0:
		return "never"
	}
	return strconv.FormatFloat(v.Value, 'f', -1, 64)
}

// fmtValueUnit is fmtValue with the unit where it adds something.
func fmtValueUnit(v check.Verdict) string {
	s := fmtValue(v)
	if v.Unit == check.UnitMS && v.Value >= 0 {
		s += " ms"
	}
	return s
}
