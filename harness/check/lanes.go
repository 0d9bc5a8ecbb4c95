package check

import (
	"cmp"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Pod lane states, the Segment.State of a PodLane.
const (
	// PodAlive: from the pod's first event until its deletion is requested.
	PodAlive = "alive"
	// PodTerminating: deletion requested, container not yet terminated.
	PodTerminating = "terminating"
	// PodTerminated: container terminated, pod object not yet deleted.
	PodTerminated = "terminated"
)

// Segment is a stretch [From, To) of a lane in one state.
type Segment struct {
	From, To time.Duration
	// State is, for a pod lane, PodAlive, PodTerminating or PodTerminated;
	// for an instance lane, the check status Consul reported while it
	// listed the instance (timeline.StatusPassing, StatusWarning,
	// StatusCritical), or "" before the first status.
	State string
}

// LaneModel is one scenario's timeline picture as data: a lane per pod, per
// Consul instance and per service callers asked for, the faults and
// observer gaps, and the stale windows. It is derived by the same code as
// the verdicts (the pod index, the termination and grace rules, the one
// walk over Consul's view that finds stale windows), so a picture drawn
// from it cannot contradict the verdicts printed next to it. All times are
// offsets from the timeline's base, like the events'.
type LaneModel struct {
	Scenario string
	// Start is the scenario's first event and End its last recorded moment
	// (counting the end of gaps). Bars still open at the end stop at End.
	Start, End time.Duration
	// Faults are the injected faults, in order of their start.
	Faults []Fault
	// FaultEnds are fault_end events that no fault_start matched.
	FaultEnds []timeline.Event
	// Gaps are the observer gap events (At to Until; Reason names the
	// observer), the same ObserverGaps counts, including gaps of no length
	// (saved timelines hold lost app logs so).
	Gaps []timeline.Event
	// Pods are ordered by From, then pod name. The scenario's IP-pool
	// fillers (pods whose events carry Role timeline.RoleIPFiller) share
	// one lane.
	Pods []PodLane
	// Instances are the Consul instances Consul mentioned, ordered by
	// From, then instance ID.
	Instances []InstanceLane
	// Callers are one lane per service asked for, by service name.
	Callers []CallerLane
	// Windows are the stale windows, exactly StaleWindows.
	Windows []Window
}

// Empty reports whether the model has nothing to draw: the scenario
// recorded no events.
func (m LaneModel) Empty() bool {
	return len(m.Faults)+len(m.FaultEnds)+len(m.Gaps)+len(m.Pods)+len(m.Instances)+len(m.Callers) == 0
}

// Fault is one injected fault, from its fault_start to the fault_end that
// closed it (faultBars says which).
type Fault struct {
	// Detail is the fault_start's Detail: the fault's name.
	Detail   string
	From, To time.Duration
	// Ended is false when no fault_end matched; To is then the model's End.
	Ended bool
	// Outcome is the matching fault_end's Detail (the name and what was
	// done) and Error its Reason (why the fault failed); "" when not ended.
	Outcome, Error string
}

// PodLane is one pod's lane: its life as segments (alive, then once
// deletion is requested terminating, then terminated until the object is
// deleted) and its markers.
type PodLane struct {
	// Pod is the pod name; "" for the IP-pool fillers' lane.
	Pod string
	// Service is the pod's service label; "" for pods of no service
	// (Consul, callers, fillers).
	Service, IP string
	// Role is the pod events' Role, e.g. timeline.RoleIPFiller.
	Role string
	// Fillers is, for the lane standing for the IP-pool filler pods, how
	// many pods it stands for; 0 for a pod's own lane.
	Fillers int
	// From is the pod's first pod or app event; To is when the pod object
	// was deleted (its last deleted event), or the model's End.
	From, To time.Duration
	// Segments are in time order and cover [From, To). The alive segment
	// is always there (possibly empty); terminating and terminated follow
	// the first deletion request and the container termination the per-pod
	// verdicts use.
	Segments []Segment
	// Markers are the pod's ready, deletion_requested and
	// container_terminated events and its app's signal and deregistered
	// events, in time order. A filler lane has none.
	Markers []timeline.Event
}

// InstanceLane is one Consul instance's lane: a segment per stretch during
// which Consul listed it with one check status, nothing while it was not
// listed.
type InstanceLane struct {
	Instance string
	// Service, IP and Port are as Consul last registered them.
	Service, IP string
	Port        int
	// From is the instance's first Consul event.
	From     time.Duration
	Segments []Segment
	// Markers are its Consul deregistered events.
	Markers []timeline.Event
}

// CallerLane is the calls made to one service through Consul.
type CallerLane struct {
	// Service is the service asked for.
	Service string
	// Calls are the caller events (timeline.CallOK, CallWrongTarget,
	// CallError; Reason names the service that answered, or the error), in
	// time order.
	Calls []timeline.Event
}

// Lanes derives the lane model of ctx's scenario from the timeline: the
// picture of what the verdicts measured. Pure, like the verdicts.
func Lanes(tl timeline.Timeline, ctx Context) LaneModel {
	m := LaneModel{Scenario: ctx.Scenario}
	events := scope(tl, ctx)
	if len(events) == 0 {
		return m
	}
	m.Start, m.End = timeline.Timeline{Events: events}.Span()
	m.Faults, m.FaultEnds = faultBars(events, m.End)
	m.Gaps = gapEvents(events)
	m.Pods = podLanes(events, m.End)

	view := walkConsul(events, ctx, m.End)
	m.Windows = view.windows
	for _, id := range view.ids {
		in := view.insts[id]
		if !in.consul {
			continue // only the app mentioned it
		}
		m.Instances = append(m.Instances, InstanceLane{
			Instance: id, Service: in.service, IP: in.ip, Port: in.port, From: in.first,
			Segments: in.segments, Markers: in.deregs,
		})
	}
	slices.SortStableFunc(m.Instances, func(a, b InstanceLane) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Instance, b.Instance))
	})

	calls := map[string][]timeline.Event{}
	for _, e := range events {
		if e.Source == timeline.SourceCaller {
			calls[e.Service] = append(calls[e.Service], e)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(calls)) {
		m.Callers = append(m.Callers, CallerLane{Service: s, Calls: calls[s]})
	}
	return m
}

// faultBars pairs each fault_end with the still open fault_start of its
// scenario that has the same place (Event.Index); in timelines written
// before faults carried it, with the earliest one it continues
// (continuesFault), which keeps an end whose start was never recorded
// from closing another fault's bar. A start left open runs to end; an end
// that closes no bar is returned apart.
func faultBars(events []timeline.Event, end time.Duration) ([]Fault, []timeline.Event) {
	var bars []Fault
	var orphans []timeline.Event
	open := map[string][]int{} // by scenario: indexes into bars of faults not yet ended, oldest first
	place := map[int]uint64{}  // by index into bars: the fault's place (Event.Index)
	for _, e := range events {
		if e.Source != timeline.SourceFault {
			continue
		}
		switch e.Kind {
		case timeline.FaultStart:
			open[e.Scenario] = append(open[e.Scenario], len(bars))
			place[len(bars)] = e.Index
			bars = append(bars, Fault{Detail: e.Detail, From: e.At, To: end})
		case timeline.FaultEnd:
			waiting := open[e.Scenario]
			i := slices.IndexFunc(waiting, func(b int) bool {
				if e.Index != 0 || place[b] != 0 {
					return e.Index == place[b]
				}
				return continuesFault(e.Detail, bars[b].Detail)
			})
			if i < 0 {
				orphans = append(orphans, e)
				continue
			}
			b := &bars[waiting[i]]
			b.To, b.Ended, b.Outcome, b.Error = e.At, true, e.Detail, e.Reason
			open[e.Scenario] = slices.Delete(waiting, i, i+1)
		}
	}
	return bars, orphans
}

// continuesFault reports whether a fault_end with Detail endDetail can close
// the fault_start with Detail startDetail. fault.Inject records the fault's
// name on the start and the name, ": " and what was done on the end (the
// name alone when nothing is said), as it has in every saved timeline. A
// start without a Detail is closed by any end.
func continuesFault(endDetail, startDetail string) bool {
	return startDetail == "" || endDetail == startDetail || strings.HasPrefix(endDetail, startDetail+timeline.FaultOutcomeSep)
}

// podLanes builds the pod lanes from the same pod index the per-pod
// verdicts use, plus a lane for each pod only its app's log mentions.
func podLanes(events []timeline.Event, end time.Duration) []PodLane {
	ps, names := pods(events)
	first := map[string]time.Duration{}
	markers := map[string][]timeline.Event{}
	var appOnly []string
	for _, e := range events {
		if e.Source == timeline.SourceKernel && (e.Kind == timeline.KernelSignal || e.Kind == timeline.KernelDequeued && e.Signal != "SIGKILL") {
			markers[e.Pod] = append(markers[e.Pod], e) // signals as the kernel saw them
			continue
		}
		if e.Source != timeline.SourcePod && e.Source != timeline.SourceApp {
			continue
		}
		if _, ok := first[e.Pod]; !ok {
			first[e.Pod] = e.At
			if ps[e.Pod] == nil {
				appOnly = append(appOnly, e.Pod)
			}
		}
		switch {
		case e.Source == timeline.SourcePod && (e.Kind == timeline.PodReady || e.Kind == timeline.PodDeletionRequested || e.Kind == timeline.PodContainerTerminated),
			e.Source == timeline.SourceApp && (e.Kind == timeline.AppSignal || e.Kind == timeline.AppDeregistered):
			markers[e.Pod] = append(markers[e.Pod], e)
		}
	}

	var lanes []PodLane
	var fillers []*pod
	for _, name := range names {
		p := ps[name]
		if p.role == timeline.RoleIPFiller {
			fillers = append(fillers, p)
			continue
		}
		l := PodLane{Pod: name, Service: p.service, IP: p.ip, Role: p.role, From: first[name], To: end, Markers: markers[name]}
		if p.deleted != nil {
			l.To = *p.deleted
		}
		aliveEnd := l.To
		if p.deletion != nil {
			aliveEnd = min(aliveEnd, p.deletion.At)
		}
		l.Segments = []Segment{{From: l.From, To: aliveEnd, State: PodAlive}}
		if p.deletion != nil {
			termEnd := l.To
			if t, ok := p.termination(); ok {
				termEnd = max(aliveEnd, min(l.To, t.At))
			}
			l.Segments = append(l.Segments, Segment{From: aliveEnd, To: termEnd, State: PodTerminating})
			if termEnd < l.To {
				l.Segments = append(l.Segments, Segment{From: termEnd, To: l.To, State: PodTerminated})
			}
		}
		lanes = append(lanes, l)
	}
	for _, name := range appOnly {
		l := PodLane{Pod: name, From: first[name], To: end, Markers: markers[name]}
		l.Segments = []Segment{{From: l.From, To: l.To, State: PodAlive}}
		lanes = append(lanes, l)
	}
	if len(fillers) > 0 {
		// Tens of pause pods: when the pool was full is what matters, so
		// they share one lane, alive until the last of them is deleted.
		l := PodLane{Role: timeline.RoleIPFiller, Fillers: len(fillers), From: end, To: 0}
		for _, p := range fillers {
			l.From = min(l.From, first[p.name])
			if p.deleted == nil {
				l.To = end
			} else {
				l.To = max(l.To, *p.deleted)
			}
		}
		l.Segments = []Segment{{From: l.From, To: l.To, State: PodAlive}}
		lanes = append(lanes, l)
	}
	slices.SortStableFunc(lanes, func(a, b PodLane) int {
		return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.Pod, b.Pod))
	})
	return lanes
}
