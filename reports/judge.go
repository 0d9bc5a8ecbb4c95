package reports

import (
	"path"

	"github.com/kubegrace/kubegrace/harness/check"
)

// Want is one expectation as a scenario spec states it: verdict, subject
// ("" scenario-wide, "*" every subject, or a glob such as "orders-*" over
// pod names), operator, value and why.
type Want struct {
	Verdict, Subject, Op string
	Value                float64
	Why                  string
}

// JudgeAll judges a scenario's expectations against the run's verdicts. A
// glob subject is judged over every matching verdict of the scenario, as
// "*" is, and keeps its glob in the result. Pure: a saved report's
// expectations can be judged again from its verdicts and must agree.
func JudgeAll(scenario string, wants []Want, verdicts []check.Verdict) []Expectation {
	var out []Expectation
	for _, w := range wants {
		vs, subject := verdicts, w.Subject
		if w.Subject != "" && w.Subject != SubjectAll {
			vs = nil
			for _, v := range verdicts {
				if ok, _ := path.Match(w.Subject, v.Subject); ok && v.Scenario == scenario && v.Name == w.Verdict {
					vs = append(vs, v)
				}
			}
			subject = SubjectAll
		}
		j := Judge(vs, scenario, w.Verdict, subject, w.Op, w.Value, w.Why)
		j.Subject = w.Subject
		out = append(out, j)
	}
	return out
}

// WantOf is the Want an already judged expectation was judged from, so a
// saved report's expectations can be judged again.
func WantOf(e Expectation) Want {
	return Want{Verdict: e.Verdict, Subject: e.Subject, Op: e.Op, Value: e.Want, Why: e.Why}
}
