package reports

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kubegrace/kubegrace/harness/check"
)

// Recheck recomputes a report folder's verdicts from its run.json (the check
// contexts) and timeline.jsonl alone, and compares them byte for byte with
// its verdicts.json. identical is false when they differ, whether because
// the saved verdicts were edited, the timeline was, or the checks changed
// since the report was written; diff then says what differs, verdict by
// verdict. err is only for a folder that cannot be read.
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
	if bytes.Equal(saved, fresh) {
		return recomputed, true, "", nil
	}
	return recomputed, false, Diff(saved, recomputed), nil
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
			lines = append(lines, fmt.Sprintf("+ %s: %s [%s] %s (not in the saved verdicts)", k, fmtValueUnit(n), n.Status, n.Message))
			continue
		}
		var ch []string
		if o.Value != n.Value {
			ch = append(ch, fmt.Sprintf("value %s → %s", fmtValue(o), fmtValue(n)))
		}
		if o.Unit != n.Unit {
			ch = append(ch, fmt.Sprintf("unit %q → %q", o.Unit, n.Unit))
		}
		if o.Status != n.Status {
			ch = append(ch, fmt.Sprintf("status %s → %s", o.Status, n.Status))
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
			lines = append(lines, fmt.Sprintf("- %s: %s [%s] %s (saved, but not recomputed)", k, fmtValueUnit(o), o.Status, o.Message))
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
