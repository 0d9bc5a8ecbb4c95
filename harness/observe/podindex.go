package observe

import (
	"sort"
	"sync"
	"time"
)

// PodRef is what the kernel observer needs to know of a pod to attribute
// its processes: the scenario and pod they belong to.
type PodRef struct {
	Scenario, Pod, Service, Role string
}

// PodIndex maps pod UIDs to the pods the scenarios watch. Pod observers
// register every pod they see (Pods.Index); the kernel observer, which
// sees processes of every pod on the host, records only those of
// registered service pods. It also knows when each scenario ran, from its
// first pod to End, so that lost kernel events are charged only to the
// scenarios running then (Running).
type PodIndex struct {
	mu    sync.RWMutex
	m     map[string]PodRef
	spans map[string]*span // by scenario
}

// span is when a scenario ran: from its first pod registered until End
// (zero while it runs).
type span struct{ from, until time.Time }

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex { return &PodIndex{m: map[string]PodRef{}, spans: map[string]*span{}} }

// Put registers a pod by UID.
func (x *PodIndex) Put(uid string, r PodRef) {
	now := time.Now()
	x.mu.Lock()
	defer x.mu.Unlock()
	x.m[uid] = r
	if r.Scenario == "" {
		return
	}
	if s, ok := x.spans[r.Scenario]; !ok {
		x.spans[r.Scenario] = &span{from: now}
	} else {
		// A pod after End: the scenario runs again. Charging it the
		// time in between errs on the side of a gap.
		s.until = time.Time{}
	}
}

// Get looks a pod up by UID. Pods stay known after their scenario ended:
// the kernel's events of its teardown may come late.
func (x *PodIndex) Get(uid string) (PodRef, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r, ok := x.m[uid]
	return r, ok
}

// End records that scenario ended at t (its teardown is over): losses
// after t are not its. A nil index ignores it, so runners without a kernel
// observer can call it.
func (x *PodIndex) End(scenario string, t time.Time) {
	if x == nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if s, ok := x.spans[scenario]; ok {
		s.until = t
	}
}

// Running lists, sorted, the scenarios that ran at some time from since to
// until: with a pod registered by until, and not ended before since.
func (x *PodIndex) Running(since, until time.Time) []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for sc, s := range x.spans {
		if s.from.After(until) || !s.until.IsZero() && s.until.Before(since) {
			continue
		}
		out = append(out, sc)
	}
	sort.Strings(out)
	return out
}
