package check

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// gapEvents returns the observer gaps among events (harness gap events), in
// the events' order. A gap with Until == At has no length but still counts:
// the observers now record every gap at least a nanosecond long, but
// timelines saved before that hold lost app logs as such gaps.
func gapEvents(events []timeline.Event) []timeline.Event {
	var out []timeline.Event
	for _, e := range events {
		if e.Source == timeline.SourceHarness && e.Kind == timeline.HarnessGap {
			out = append(out, e)
		}
	}
	return out
}

// ObserverGaps reports how many times an observer lost its watch (a count:
// a gap of no length, as saved timelines may hold, counts too) and, in the
// message, which observers and the total time covered. Verdicts over those
// intervals may be missing events, so a report must show it next to them,
// and an expectation of observer_gaps == 0 fails after any loss.
func ObserverGaps(tl timeline.Timeline, ctx Context) []Verdict {
	gaps := gapEvents(scope(tl, ctx))
	var ivs []interval
	observers := map[string]bool{}
	for _, g := range gaps {
		ivs = append(ivs, interval{Start: g.At, End: g.Until})
		observers[cmp.Or(g.Reason, "an observer")] = true
	}
	v := Verdict{Name: NameObserverGaps, Scenario: ctx.Scenario, Unit: UnitCount, Value: float64(len(gaps))}
	if len(gaps) == 0 {
		v.Message = "no observer lost its watch"
	} else {
		v.Message = fmt.Sprintf("%s (%s) covering %s in all: events in or at them may be missing",
			plural(len(gaps), "observer gap"), strings.Join(slices.Sorted(maps.Keys(observers)), ", "), fmtMS(unionLength(ivs)))
	}
	return []Verdict{v}
}

// interval is a half-open span [Start, End) of timeline offsets.
type interval struct {
	Start, End time.Duration
}

// unionLength returns the length of the union of ivs.
func unionLength(ivs []interval) time.Duration {
	s := slices.Clone(ivs)
	slices.SortFunc(s, func(a, b interval) int { return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End)) })
	var total time.Duration
	var cur interval
	open := false
	for _, iv := range s {
		if iv.End <= iv.Start {
			continue
		}
		if open && iv.Start <= cur.End {
			cur.End = max(cur.End, iv.End)
			continue
		}
		if open {
			total += cur.End - cur.Start
		}
		cur, open = iv, true
	}
	if open {
		total += cur.End - cur.Start
	}
	return total
}
