package check

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// lanesTimeline is a small hand-written scenario that starts 10 s into the
// run: orders-a hears SIGTERM but is SIGKILLed at the end of its 2 s grace;
// its instance goes passing, critical, passing again once the pod is gone
// (a stale window) and is then deregistered; two IP-pool fillers, one not
// named ipfill-*, come and go; a consul watch gap and a lost app log (a
// zero-length gap, as older timelines have it); calls. One event of another scenario at t=0 must not
// move the scenario's start.
func lanesTimeline() (timeline.Timeline, map[string]timeline.Event) {
	at := func(ms int) time.Duration { return 10*time.Second + time.Duration(ms)*time.Millisecond }
	code := func(c int) *int { return &c }
	grace := int64(2)
	const s = "lanes"
	named := map[string]timeline.Event{
		"ready":      {At: at(500), Source: timeline.SourcePod, Kind: timeline.PodReady, Scenario: s, Pod: "orders-a", Service: "orders"},
		"deletion":   {At: at(1000), Source: timeline.SourcePod, Kind: timeline.PodDeletionRequested, Scenario: s, Pod: "orders-a", Service: "orders", GraceSeconds: &grace},
		"sigterm":    {At: at(1001), Source: timeline.SourceApp, Kind: timeline.AppSignal, Scenario: s, Pod: "orders-a", Service: "orders", Signal: "SIGTERM"},
		"terminated": {At: at(3000), Source: timeline.SourcePod, Kind: timeline.PodContainerTerminated, Scenario: s, Pod: "orders-a", Service: "orders", ExitCode: code(137), Reason: "Error"},
		"dereg":      {At: at(4200), Source: timeline.SourceConsul, Kind: timeline.ConsulDeregistered, Scenario: s, Service: "orders", Instance: "inst-a"},
		"gap":        {At: at(3500), Until: at(3700), Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: s, Reason: "consul watch"},
		"lost-log":   {At: at(3600), Until: at(3600), Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: s, Reason: "app log of orders-a"},
		"call-ok":    {At: at(1500), Source: timeline.SourceCaller, Kind: timeline.CallOK, Scenario: s, Service: "orders", Reason: "orders"},
		"call-err":   {At: at(2600), Source: timeline.SourceCaller, Kind: timeline.CallError, Scenario: s, Service: "orders", Reason: "connection refused"},
		"call-last":  {At: at(4500), Source: timeline.SourceCaller, Kind: timeline.CallError, Scenario: s, Service: "orders", Reason: "no passing instance"},
	}
	filler := func(ms int, kind, pod, ip string) timeline.Event {
		return timeline.Event{At: at(ms), Source: timeline.SourcePod, Kind: kind, Scenario: s, Pod: pod, IP: ip, Role: timeline.RoleIPFiller}
	}
	events := []timeline.Event{
		{At: 0, Source: timeline.SourcePod, Kind: timeline.PodCreated, Scenario: "other", Pod: "elsewhere"},
		{At: at(0), Source: timeline.SourcePod, Kind: timeline.PodCreated, Scenario: s, Pod: "orders-a", Service: "orders"},
		{At: at(100), Source: timeline.SourcePod, Kind: timeline.PodIPAssigned, Scenario: s, Pod: "orders-a", Service: "orders", IP: "10.0.0.5"},
		{At: at(200), Source: timeline.SourceApp, Kind: timeline.AppStarted, Scenario: s, Pod: "orders-a", Service: "orders"},
		{At: at(300), Source: timeline.SourceConsul, Kind: timeline.ConsulRegistered, Scenario: s, Service: "orders", Instance: "inst-a", IP: "10.0.0.5", Port: 8080},
		{At: at(310), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Scenario: s, Service: "orders", Instance: "inst-a", Status: timeline.StatusPassing},
		{At: at(320), Source: timeline.SourceApp, Kind: timeline.AppRegistered, Scenario: s, Pod: "orders-a", Service: "orders", Instance: "inst-a", IP: "10.0.0.5", Port: 8080},
		named["ready"],
		{At: at(900), Source: timeline.SourceFault, Kind: timeline.FaultStart, Scenario: s, Detail: "delete pod orders-a"},
		named["deletion"],
		named["sigterm"],
		{At: at(1001), Source: timeline.SourceFault, Kind: timeline.FaultEnd, Scenario: s, Detail: "delete pod orders-a: pod orders-a (10.0.0.5)"},
		filler(1200, timeline.PodCreated, "ipfill-00", ""),
		filler(1210, timeline.PodIPAssigned, "ipfill-00", "10.0.0.6"),
		filler(1300, timeline.PodCreated, "pool-x", ""),
		filler(1310, timeline.PodIPAssigned, "pool-x", "10.0.0.7"),
		named["call-ok"],
		{At: at(2500), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Scenario: s, Service: "orders", Instance: "inst-a", Status: timeline.StatusCritical},
		named["call-err"],
		named["terminated"],
		{At: at(3200), Source: timeline.SourcePod, Kind: timeline.PodDeleted, Scenario: s, Pod: "orders-a", Service: "orders"},
		{At: at(3300), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Scenario: s, Service: "orders", Instance: "inst-a", Status: timeline.StatusPassing},
		named["gap"],
		named["lost-log"],
		filler(4000, timeline.PodDeleted, "ipfill-00", ""),
		filler(4100, timeline.PodDeleted, "pool-x", ""),
		named["dereg"],
		named["call-last"],
	}
	return timeline.Timeline{Events: events}, named
}

func TestLanes(t *testing.T) {
	tl, ev := lanesTimeline()
	at := func(ms int) time.Duration { return 10*time.Second + time.Duration(ms)*time.Millisecond }
	ctx := Context{Scenario: "lanes"}
	got := Lanes(tl, ctx)
	want := LaneModel{
		Scenario: "lanes",
		Start:    at(0),
		End:      at(4500),
		Faults:   []Fault{{Detail: "delete pod orders-a", From: at(900), To: at(1001), Ended: true, Outcome: "delete pod orders-a: pod orders-a (10.0.0.5)"}},
		Gaps:     []timeline.Event{ev["gap"], ev["lost-log"]},
		Pods: []PodLane{
			{
				Pod: "orders-a", Service: "orders", IP: "10.0.0.5", From: at(0), To: at(3200),
				Segments: []Segment{
					{From: at(0), To: at(1000), State: PodAlive},
					{From: at(1000), To: at(3000), State: PodTerminating},
					{From: at(3000), To: at(3200), State: PodTerminated},
				},
				Markers: []timeline.Event{ev["ready"], ev["deletion"], ev["sigterm"], ev["terminated"]},
			},
			{
				Role: timeline.RoleIPFiller, Fillers: 2, From: at(1200), To: at(4100),
				Segments: []Segment{{From: at(1200), To: at(4100), State: PodAlive}},
			},
		},
		Instances: []InstanceLane{{
			Instance: "inst-a", Service: "orders", IP: "10.0.0.5", Port: 8080, From: at(300),
			Segments: []Segment{
				{From: at(300), To: at(310), State: ""},
				{From: at(310), To: at(2500), State: timeline.StatusPassing},
				{From: at(2500), To: at(3300), State: timeline.StatusCritical},
				{From: at(3300), To: at(4200), State: timeline.StatusPassing},
			},
			Markers: []timeline.Event{ev["dereg"]},
		}},
		Callers: []CallerLane{{Service: "orders", Calls: []timeline.Event{ev["call-ok"], ev["call-err"], ev["call-last"]}}},
		Windows: []Window{{Instance: "inst-a", Service: "orders", IP: "10.0.0.5", Start: at(3300), End: at(4200), Cause: CauseDeletedPod, RegisteredBy: "orders-a"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Lanes =\n%+v\nwant\n%+v", got, want)
	}
	if got.Empty() {
		t.Error("Empty() on a model with lanes")
	}

	// The picture says what the verdicts say.
	if !reflect.DeepEqual(got.Windows, StaleWindows(tl, ctx)) {
		t.Errorf("lane windows %+v differ from StaleWindows %+v", got.Windows, StaleWindows(tl, ctx))
	}
	vs := All(tl, ctx)
	terminating := got.Pods[0].Segments[1]
	expect(t, vs, NameGraceUsed, "orders-a", Milliseconds(terminating.To-terminating.From), "of the 2s grace period")
	expect(t, vs, NameSignalDelivered, "orders-a", 1)
	expect(t, vs, NameKilledBySIGKILL, "orders-a", 1)
	expect(t, vs, NameObserverGaps, "", float64(len(got.Gaps)), "2 observer gaps (app log of orders-a, consul watch) covering 200 ms in all")
	expect(t, vs, NameStaleWindow, "inst-a", 900, "pod orders-a deleted, 10.0.0.5 held by no pod")
	// Fillers are no subjects of the per-pod verdicts.
	for _, v := range vs {
		if strings.Contains(v.Subject, "ipfill") || v.Subject == "pool-x" {
			t.Errorf("verdict about a filler pod: %+v", v)
		}
	}
}

func TestLanesEdgeCases(t *testing.T) {
	if m := Lanes(timeline.Timeline{}, Context{Scenario: "none"}); !m.Empty() || m.Scenario != "none" {
		t.Errorf("empty timeline: %+v", m)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tl := timeline.Timeline{Events: []timeline.Event{
		// A fault that never ended, and an end without a start.
		{At: ms(100), Source: timeline.SourceFault, Kind: timeline.FaultStart, Detail: "wait 5s"},
		{At: ms(200), Source: timeline.SourceFault, Kind: timeline.FaultEnd, Detail: "something else"},
		// A pod only its app's log mentions, and a filler still alive at
		// the end.
		{At: ms(300), Source: timeline.SourceApp, Kind: timeline.AppSignal, Pod: "ghost", Signal: "SIGTERM"},
		{At: ms(400), Source: timeline.SourcePod, Kind: timeline.PodCreated, Pod: "f1", Role: timeline.RoleIPFiller},
		{At: ms(500), Source: timeline.SourcePod, Kind: timeline.PodDeleted, Pod: "f1", Role: timeline.RoleIPFiller},
		{At: ms(450), Source: timeline.SourcePod, Kind: timeline.PodCreated, Pod: "f2", Role: timeline.RoleIPFiller},
		// A check status before any registration: listed until the end.
		{At: ms(600), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Instance: "early", Status: timeline.StatusCritical},
		// An app-only instance gets no lane.
		{At: ms(700), Source: timeline.SourceApp, Kind: timeline.AppRegistered, Pod: "ghost", Instance: "app-only"},
		{At: ms(800), Source: timeline.SourceCaller, Kind: timeline.CallOK, Service: "b", Reason: "b"},
		{At: ms(900), Source: timeline.SourceCaller, Kind: timeline.CallOK, Service: "a", Reason: "a"},
		// A gap that outlasts the last event: open bars run to its end.
		{At: ms(850), Until: ms(1000), Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Reason: "pod watch"},
	}}
	m := Lanes(tl, Context{})
	if m.Start != ms(100) || m.End != ms(1000) {
		t.Errorf("axis %v to %v, want 100ms to 1s", m.Start, m.End)
	}
	if want := []Fault{{Detail: "wait 5s", From: ms(100), To: ms(1000)}}; !reflect.DeepEqual(m.Faults, want) {
		t.Errorf("faults = %+v, want %+v", m.Faults, want)
	}
	if len(m.FaultEnds) != 1 || m.FaultEnds[0].Detail != "something else" {
		t.Errorf("fault ends = %+v", m.FaultEnds)
	}
	wantPods := []PodLane{
		{Pod: "ghost", From: ms(300), To: ms(1000), Segments: []Segment{{From: ms(300), To: ms(1000), State: PodAlive}}, Markers: []timeline.Event{tl.Events[2]}},
		{Role: timeline.RoleIPFiller, Fillers: 2, From: ms(400), To: ms(1000), Segments: []Segment{{From: ms(400), To: ms(1000), State: PodAlive}}},
	}
	if !reflect.DeepEqual(m.Pods, wantPods) {
		t.Errorf("pods =\n%+v\nwant\n%+v", m.Pods, wantPods)
	}
	wantInst := []InstanceLane{{Instance: "early", From: ms(600), Segments: []Segment{{From: ms(600), To: ms(1000), State: timeline.StatusCritical}}}}
	if !reflect.DeepEqual(m.Instances, wantInst) {
		t.Errorf("instances = %+v, want %+v", m.Instances, wantInst)
	}
	if len(m.Callers) != 2 || m.Callers[0].Service != "a" || m.Callers[1].Service != "b" {
		t.Errorf("callers = %+v, want a then b", m.Callers)
	}
}

// Fault events as fault.Inject recorded them in a real run (reports of
// 2026-11-25): each end says what was done after the fault's name, and two
// scenarios running side by side injected a fault of the same name at
// overlapping times. Every bar ends at its own scenario's end event.
func TestFaultBarsCloseOnEndsThatSayWhatWasDone(t *testing.T) {
	const reuse = "IP reuse: a pod of payments takes the address of pod 0 of orders"
	ev := func(ns int64, kind, scenario, detail string) timeline.Event {
		return timeline.Event{At: time.Duration(ns), Source: timeline.SourceFault, Kind: kind, Scenario: scenario, Detail: detail}
	}
	events := []timeline.Event{
		ev(25117436875, timeline.FaultStart, "remediation-identity", reuse),
		ev(31094329887, timeline.FaultStart, "incident-replay", "rolling update of orders"),
		ev(38104258783, timeline.FaultEnd, "incident-replay", "rolling update of orders: maxSurge 1, maxUnavailable 0"),
		ev(38104282939, timeline.FaultStart, "incident-replay", reuse),
		ev(46010817817, timeline.FaultEnd, "remediation-identity", reuse+": 10.244.0.39 of pod orders-764776c7cf-c2n2t (orders) taken by pod payments-reuse-7829 (payments) by host-local state"),
		ev(46010869794, timeline.FaultStart, "remediation-identity", "wait 4s"),
		ev(50011631564, timeline.FaultEnd, "remediation-identity", "wait 4s"),
		ev(72670176311, timeline.FaultEnd, "incident-replay", reuse+": 10.244.0.117 of pod orders-64c8f4d6c8-mcchw (orders) taken by pod payments-reuse-7856 (payments) by host-local state"),
		ev(72670331251, timeline.FaultStart, "incident-replay", "wait 3s"),
		ev(75670534453, timeline.FaultEnd, "incident-replay", "wait 3s"),
	}
	tl := timeline.Timeline{Events: events}
	bar := func(start, end int) Fault {
		return Fault{Detail: events[start].Detail, From: events[start].At, To: events[end].At, Ended: true, Outcome: events[end].Detail}
	}
	for _, c := range []struct {
		scenario string
		want     []Fault
	}{
		{"incident-replay", []Fault{bar(1, 2), bar(3, 7), bar(8, 9)}},
		{"remediation-identity", []Fault{bar(0, 4), bar(5, 6)}},
		// Without a scenario, ends still close only their own scenario's bars.
		{"", []Fault{bar(0, 4), bar(1, 2), bar(3, 7), bar(5, 6), bar(8, 9)}},
	} {
		m := Lanes(tl, Context{Scenario: c.scenario})
		if !reflect.DeepEqual(m.Faults, c.want) || len(m.FaultEnds) != 0 {
			t.Errorf("scenario %q: faults\n%+v\nwant\n%+v\nunmatched ends %+v", c.scenario, m.Faults, c.want, m.FaultEnds)
		}
	}
}

// A fault run twice is closed in order; an end that continues no open
// fault's name closes nothing; a start without a detail (hand-written
// timelines) takes any end.
func TestFaultBarsPairing(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(n int, kind, detail, reason string) timeline.Event {
		return timeline.Event{At: ms(n), Source: timeline.SourceFault, Kind: kind, Scenario: "s", Detail: detail, Reason: reason}
	}
	tl := timeline.Timeline{Events: []timeline.Event{
		ev(100, timeline.FaultStart, "wait 1s", ""),
		ev(200, timeline.FaultEnd, "wait 1s", ""),
		ev(300, timeline.FaultStart, "wait 1s", ""),
		ev(350, timeline.FaultEnd, "wait 1sx", ""), // not this fault's name
		ev(400, timeline.FaultEnd, "wait 1s", "context canceled"),
		ev(500, timeline.FaultStart, "", ""),
		ev(600, timeline.FaultEnd, "delete pod 0 of orders: pod orders-a", ""),
		ev(700, timeline.FaultStart, "delete pod 0 of orders", ""),
	}}
	m := Lanes(tl, Context{Scenario: "s"})
	want := []Fault{
		{Detail: "wait 1s", From: ms(100), To: ms(200), Ended: true, Outcome: "wait 1s"},
		{Detail: "wait 1s", From: ms(300), To: ms(400), Ended: true, Outcome: "wait 1s", Error: "context canceled"},
		{Detail: "", From: ms(500), To: ms(600), Ended: true, Outcome: "delete pod 0 of orders: pod orders-a"},
		{Detail: "delete pod 0 of orders", From: ms(700), To: ms(700)},
	}
	if !reflect.DeepEqual(m.Faults, want) {
		t.Errorf("faults\n%+v\nwant\n%+v", m.Faults, want)
	}
	if len(m.FaultEnds) != 1 || m.FaultEnds[0].At != ms(350) {
		t.Errorf("unmatched ends %+v, want the one at 350ms", m.FaultEnds)
	}
}

// A gap of no length (saved timelines hold lost app logs so) must still
// count, or observer_gaps == 0 would pass after a loss.
func TestObserverGapsCountsZeroLengthGaps(t *testing.T) {
	tl := timeline.Timeline{Events: []timeline.Event{
		{At: time.Second, Until: time.Second, Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Reason: "app log of orders-a"},
	}}
	vs := ObserverGaps(tl, Context{})
	want := []Verdict{{Name: NameObserverGaps, Value: 1, Unit: UnitCount,
		Message: "1 observer gap (app log of orders-a) covering 0 ms in all: events in or at them may be missing"}}
	if !reflect.DeepEqual(vs, want) {
		t.Errorf("ObserverGaps = %+v, want %+v", vs, want)
	}
	if vs := ObserverGaps(timeline.Timeline{}, Context{}); vs[0].Value != 0 || vs[0].Unit != UnitCount || vs[0].Message != "no observer lost its watch" {
		t.Errorf("no gaps: %+v", vs)
	}
}

// The grace period of a pod is its deletion's own grace_s, else its
// service's, else not known.
func TestServiceGrace(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	one := int64(1)
	var events []timeline.Event
	for _, p := range []struct {
		pod, service string
		grace        *int64
	}{{"orders-a", "orders", nil}, {"orders-b", "orders", &one}, {"payments-c", "payments", nil}} {
		events = append(events,
			timeline.Event{At: ms(0), Source: timeline.SourcePod, Kind: timeline.PodDeletionRequested, Pod: p.pod, Service: p.service, GraceSeconds: p.grace},
			timeline.Event{At: ms(1000), Source: timeline.SourcePod, Kind: timeline.PodContainerTerminated, Pod: p.pod, Service: p.service})
	}
	tl := timeline.Timeline{Events: events}
	ctx := Context{ServiceGrace: map[string]time.Duration{"orders": 4 * time.Second}}
	vs := GraceUsed(tl, ctx)
	expect(t, vs, NameGraceUsed, "orders-a", 1000, "25.0% of the 4s grace period")
	expect(t, vs, NameGraceUsed, "orders-b", 1000, "100.0% of the 1s grace period")
	// A service without a grace of its own: not known.
	expect(t, vs, NameGraceUsed, "payments-c", 1000, "(grace period not known)")
}

// Faults that carry their place (Event.Index) pair start and end by it,
// whatever the end's wording; those without it, by the name prefix.
func TestFaultBarsPairByPlace(t *testing.T) {
	ev := func(at time.Duration, kind, detail string, place uint64) timeline.Event {
		return timeline.Event{At: at, Source: timeline.SourceFault, Kind: kind, Scenario: "s", Detail: detail, Index: place}
	}
	bars, orphans := faultBars([]timeline.Event{
		ev(1*time.Second, timeline.FaultStart, "wait 4s", 1),
		ev(2*time.Second, timeline.FaultEnd, "waited: a wording of another day", 1),
		ev(3*time.Second, timeline.FaultStart, "wait 4s", 2),
		ev(4*time.Second, timeline.FaultEnd, "wait 4s", 3), // no start of place 3
		ev(5*time.Second, timeline.FaultStart, "delete pod 0 of orders", 0),
		ev(6*time.Second, timeline.FaultEnd, "delete pod 0 of orders: pod orders-a", 0),
	}, 10*time.Second)
	if len(bars) != 3 || !bars[0].Ended || bars[0].To != 2*time.Second || bars[1].Ended || !bars[2].Ended || bars[2].To != 6*time.Second {
		t.Errorf("bars %+v", bars)
	}
	if len(orphans) != 1 || orphans[0].Index != 3 {
		t.Errorf("orphans %+v", orphans)
	}
}
