package check

import (
	"slices"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// pod is what the pod events say about one pod. Pod names are assumed unique
// within a scenario (ReplicaSets generate them); for a reused name the first
// deletion request counts.
type pod struct {
	name, service string
	role          string // Event.Role of its pod events, e.g. timeline.RoleIPFiller
	ip            string
	deletion      *timeline.Event // first deletion_requested
	requested     *time.Duration  // when the harness asked for the deletion (its own faults), if it did
	deleted       *time.Duration  // last deleted: the object is gone
	terminations  []timeline.Event
}

// pods indexes pod events by pod name; names are returned sorted.
func pods(events []timeline.Event) (map[string]*pod, []string) {
	m := map[string]*pod{}
	var names []string
	for i := range events {
		e := &events[i]
		if e.Source == timeline.SourceHarness && e.Kind == timeline.HarnessDeleteRequested {
			if p := m[e.Pod]; p != nil && p.requested == nil {
				at := e.At
				p.requested = &at
			}
			continue
		}
		if e.Source != timeline.SourcePod {
			continue
		}
		p := m[e.Pod]
		if p == nil {
			p = &pod{name: e.Pod}
			m[e.Pod] = p
			names = append(names, e.Pod)
		}
		if p.service == "" {
			p.service = e.Service
		}
		if p.role == "" {
			p.role = e.Role
		}
		switch e.Kind {
		case timeline.PodIPAssigned:
			if p.ip == "" {
				p.ip = e.IP
			}
		case timeline.PodDeletionRequested:
			if p.deletion == nil {
				p.deletion = e
			}
		case timeline.PodContainerTerminated:
			p.terminations = append(p.terminations, *e)
		case timeline.PodDeleted:
			at := e.At
			p.deleted = &at
		}
	}
	slices.Sort(names)
	return m, names
}

// servicePods is pods limited to the pods of services: a pod without a
// service label (Consul itself, callers, the throwaway pods that fill an IP
// pool) is not a subject of the per-pod verdicts; with WatchedServices set,
// only their pods are.
func servicePods(events []timeline.Event, ctx Context) (map[string]*pod, []string) {
	m, names := pods(events)
	kept := names[:0]
	for _, n := range names {
		svc := m[n].service
		if svc != "" && (len(ctx.WatchedServices) == 0 || slices.Contains(ctx.WatchedServices, svc)) {
			kept = append(kept, n)
		} else {
			delete(m, n)
		}
	}
	return m, kept
}

// termination returns the first container termination at or after the
// deletion request, or, with no deletion, the last one seen.
func (p *pod) termination() (timeline.Event, bool) {
	if len(p.terminations) == 0 {
		return timeline.Event{}, false
	}
	if p.deletion == nil {
		return p.terminations[len(p.terminations)-1], true
	}
	for _, t := range p.terminations {
		if t.At >= p.deletion.At {
			return t, true
		}
	}
	return timeline.Event{}, false
}

// subjectPod is a subject of the per-pod verdicts: a service pod, with the
// kernel's view of it where the kernel saw its app (kernel).
type subjectPod struct {
	name   string
	pod    *pod
	kv     kernelView
	kernel bool
}

// subjectPods lists the scenario's service pods in name order, each with
// its kernel view, and returns the scenario's events: what every per-pod
// verdict starts from.
func subjectPods(tl timeline.Timeline, ctx Context) ([]subjectPod, []timeline.Event) {
	events := scope(tl, ctx)
	ps, names := servicePods(events, ctx)
	ks := kernelPods(events)
	_, end := tl.Span()
	out := make([]subjectPod, 0, len(names))
	for _, n := range names {
		kv, ok := kernelOf(ps[n], ks, ctx, end)
		out = append(out, subjectPod{name: n, pod: ps[n], kv: kv, kernel: ok})
	}
	return out, events
}

// deletedPods is subjectPods limited to the pods whose deletion was
// requested.
func deletedPods(tl timeline.Timeline, ctx Context) ([]subjectPod, []timeline.Event) {
	ps, events := subjectPods(tl, ctx)
	return slices.DeleteFunc(ps, func(p subjectPod) bool { return p.pod.deletion == nil }), events
}
