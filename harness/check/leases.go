package check

import (
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// lease is one pod's hold on one IP, from ip_assigned until the pod is
// deleted (to < 0: still held).
type lease struct {
	pod, service, ip string
	from, to         time.Duration
}

// leases returns every pod's IP leases in order of assignment.
func leases(events []timeline.Event) []lease {
	var out []lease
	for _, e := range events {
		if e.Source != timeline.SourcePod {
			continue
		}
		switch e.Kind {
		case timeline.PodIPAssigned:
			held := false
			for _, l := range out {
				held = held || (l.pod == e.Pod && l.ip == e.IP && l.to < 0)
			}
			if !held {
				out = append(out, lease{pod: e.Pod, service: e.Service, ip: e.IP, from: e.At, to: -1})
			}
		case timeline.PodDeleted:
			for i := range out {
				if out[i].pod == e.Pod && out[i].to < 0 {
					out[i].to = e.At
				}
			}
		}
	}
	return out
}

// ownerAt returns the live lease on ip at t; if observers disagree (two live
// pods on one IP), the most recent assignment wins.
func ownerAt(ls []lease, ip string, t time.Duration) (lease, bool) {
	var best lease
	found := false
	for _, l := range ls {
		if l.ip == ip && l.from <= t && (l.to < 0 || t < l.to) && (!found || l.from >= best.from) {
			best, found = l, true
		}
	}
	return best, found
}

// ownerSlack: the API reports a pod's address a little after the pod
// already answers on it.
const ownerSlack = 2 * time.Second

// ownerNear is who held ip at t, or else who took it within ownerSlack
// after t.
func ownerNear(ls []lease, ip string, t time.Duration) (lease, bool) {
	if l, ok := ownerAt(ls, ip, t); ok {
		return l, true
	}
	var best lease
	found := false
	for _, l := range ls {
		if l.ip == ip && l.from > t && l.from-t <= ownerSlack && (!found || l.from < best.from) {
			best, found = l, true
		}
	}
	return best, found
}
