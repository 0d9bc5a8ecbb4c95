package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// podInstances returns the Consul instance IDs p registered: those its app
// logged as registered, and those Consul listed with p's IP (and service)
// while p held the IP. Sorted.
func podInstances(events []timeline.Event, ls []lease, p *pod) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, e := range events {
		switch {
		case e.Source == timeline.SourceApp && e.Kind == timeline.AppRegistered && e.Pod == p.name:
			add(e.Instance)
		case e.Source == timeline.SourceConsul && e.Kind == timeline.ConsulRegistered && e.IP != "":
			// The app can register before the pod API reports its address.
			if l, ok := ownerNear(ls, e.IP, e.At); ok && l.pod == p.name && (p.service == "" || p.service == e.Service) {
				add(e.Instance)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// DeregistrationLatency reports, per pod whose deletion was requested, the
// time from the request until Consul stopped listing the last instance the
// pod had registered: the window in which callers are still sent to a pod
// that is going away. -1 means an instance was never deregistered within the
// timeline, the stale registration the incident left behind. Pods that never
// registered get no verdict: there was nothing to deregister.
func DeregistrationLatency(tl timeline.Timeline, ctx Context) []Verdict {
	ds, events := deletedPods(tl, ctx)
	ls := leases(events)
	var out []Verdict
	for _, d := range ds {
		name, p := d.name, d.pod
		ids := podInstances(events, ls, p)
		if len(ids) == 0 {
			continue
		}
		del := deletionRef(events, p)
		v := Verdict{Name: NameDeregistrationLatency, Scenario: ctx.Scenario, Subject: name, Unit: UnitMS}
		var pending, stale []string
		var latest time.Duration
		for _, id := range ids {
			listed := true // an app-logged registration counts until Consul says otherwise
			var gone *time.Duration
			for _, e := range events {
				if e.Source != timeline.SourceConsul || e.Instance != id {
					continue
				}
				if e.At <= del {
					switch e.Kind {
					case timeline.ConsulRegistered:
						listed = true
					case timeline.ConsulDeregistered:
						listed = false
					}
				} else if e.Kind == timeline.ConsulDeregistered && gone == nil {
					at := e.At
					gone = &at
				}
			}
			if !listed {
				continue
			}
			pending = append(pending, id)
			if gone == nil {
				stale = append(stale, id)
			} else {
				latest = max(latest, *gone-del)
			}
		}
		appDereg := ""
		for _, e := range events {
			if e.Source == timeline.SourceApp && e.Kind == timeline.AppDeregistered && e.Pod == name && e.At >= del {
				appDereg = fmt.Sprintf(" (the app logged its deregistration after %s)", fmtMS(e.At-del))
				break
			}
		}
		switch {
		case len(stale) > 0:
			v.Value = -1
			v.Message = fmt.Sprintf("never deregistered (stale registration left): %s still listed at the end of the timeline", strings.Join(stale, ", "))
		case len(pending) == 0:
			v.Message = fmt.Sprintf("%s was no longer listed when deletion was requested", strings.Join(ids, ", "))
		default:
			v.Value = Milliseconds(latest)
			v.Message = fmt.Sprintf("Consul stopped listing %s %s after deletion was requested%s", strings.Join(pending, ", "), fmtMS(latest), appDereg)
		}
		out = append(out, v)
	}
	return out
}

// deletionRef is when p's deletion took effect: the pod watch's report,
// or, when it lagged, the first stop signal the pod got up to watchSlack
// before it (the app's log, or the runtime's signal in the kernel). An app
// that deregistered on that signal did so after the deletion, however
// late the watch said so.
func deletionRef(events []timeline.Event, p *pod) time.Duration {
	del := p.deletion.At
	ref := del
	for _, e := range events {
		if e.Pod != p.name || e.At >= ref || e.At < del-watchSlack {
			continue
		}
		app := e.Source == timeline.SourceApp && e.Kind == timeline.AppSignal
		runtime := e.Source == timeline.SourceKernel && e.Kind == timeline.KernelSignal && e.Sender != timeline.SenderKernel && e.Signal != "SIGKILL"
		if app || runtime {
			ref = e.At
		}
	}
	return ref
}
