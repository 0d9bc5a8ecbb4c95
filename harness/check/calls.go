package check

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// CallOutcomes counts the callers' calls: failed (a transport error or a
// non-2xx answer), reached another service, or reached the service asked
// for. Who answered is decided by who held the answering address at call
// time on the pod timeline, so it works for any app, with no help from the
// response body; where the API reported the new holder of an address a
// little after it was already answering (ownerSlack), the next holder
// counts. Calls whose app said who it is (the fixture answers with its
// identity) are cross-checked, and disagreements counted
// (wrong_target_disagreement).
func CallOutcomes(tl timeline.Timeline, ctx Context) []Verdict {
	events := scope(tl, ctx)
	ls := leases(events)
	var ok, wrong, failed []timeline.Event
	var disagree []string
	selfReports := 0
	for _, e := range events {
		if e.Source != timeline.SourceCaller {
			continue
		}
		if e.Kind == timeline.CallError {
			failed = append(failed, e)
			continue
		}
		host, _, err := net.SplitHostPort(e.Detail)
		if err != nil {
			host = e.Detail
		}
		owner, found := ownerNear(ls, host, e.At)
		// By the pod timeline where the address is known and held; else by
		// what the answering app said of itself, if it said.
		isWrong := e.Kind == timeline.CallWrongTarget
		if found {
			isWrong = owner.service != e.Service
		}
		if isWrong {
			w := e
			if found {
				w.Reason = owner.service
			}
			wrong = append(wrong, w)
		} else {
			ok = append(ok, e)
		}
		if e.Reason != "" && found { // the app said who answered: cross-check
			selfReports++
			if said := e.Reason != e.Service; said != isWrong {
				who := "no pod"
				if found {
					who = owner.pod + " (" + owner.service + ")"
				}
				disagree = append(disagree, fmt.Sprintf("%s: %s answered, %s held %s", fmtAt(e.At), e.Reason, who, host))
			}
		}
	}
	total := len(ok) + len(wrong) + len(failed)
	mk := func(name string, es []timeline.Event, what string, label func(timeline.Event) string) Verdict {
		msg := fmt.Sprintf("%d of %d calls %s", len(es), total, what)
		if len(es) > 0 && label != nil {
			when := "at " + fmtAt(es[0].At)
			if len(es) > 1 {
				when = fmtAt(es[0].At) + " to " + fmtAt(es[len(es)-1].At)
			}
			msg += fmt.Sprintf(" (%s; %s)", tally(es, label), when)
		}
		return Verdict{Name: name, Scenario: ctx.Scenario, Value: float64(len(es)), Unit: UnitCount, Message: msg}
	}
	out := []Verdict{
		mk(NameFailedCalls, failed, "failed", func(e timeline.Event) string { return e.Service + ": " + e.Reason }),
		mk(NameOKCalls, ok, "reached the service asked for", nil),
		mk(NameWrongTargetCalls, wrong, "reached the wrong service (by who held the address then)", func(e timeline.Event) string { return e.Service + "→" + e.Reason }),
	}
	if selfReports > 0 {
		msg := fmt.Sprintf("the pod timeline and the answering app's own identity agree on all %d calls that carried one", selfReports)
		if len(disagree) > 0 {
			msg = fmt.Sprintf("%d of %d calls: the pod timeline and the app's identity disagree (%s)", len(disagree), selfReports, strings.Join(first(disagree, 3), "; "))
		}
		out = append(out, Verdict{Name: NameWrongTargetDisagreement, Scenario: ctx.Scenario, Value: float64(len(disagree)), Unit: UnitCount, Message: msg})
	}
	return out
}

// tally summarises events by label, most frequent first, at most three.
func tally(es []timeline.Event, label func(timeline.Event) string) string {
	counts := map[string]int{}
	var labels []string
	for _, e := range es {
		l := label(e)
		if counts[l] == 0 {
			labels = append(labels, l)
		}
		counts[l]++
	}
	slices.SortFunc(labels, func(a, b string) int { return cmp.Or(cmp.Compare(counts[b], counts[a]), cmp.Compare(a, b)) })
	var parts []string
	for i, l := range labels {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("%d more", len(labels)-3))
			break
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", l, counts[l]))
	}
	return strings.Join(parts, ", ")
}
