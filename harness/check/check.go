// Package check turns a recorded timeline into verdicts: did the app hear
// SIGTERM, how fast did Consul lose the registration, was the container
// SIGKILLed, and for how long did Consul list a passing instance whose IP
// belonged to a deleted pod or to another service (the stale window).
//
// Every verdict is a pure function of a timeline.Timeline and a Context: no
// clock, no cluster, no randomness, deterministic order. That is what lets a
// saved report be re-checked offline and give byte-identical verdicts.
package check

import (
	"cmp"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Verdict names, one per question the harness answers.
const (
	NameSignalDelivered       = "signal_delivered"
	NameDeregistrationLatency = "deregistration_latency"
	NameKilledBySIGKILL       = "killed_by_sigkill"
	NameGraceUsed             = "grace_used"
	NameStaleWindow           = "stale_window"
	NameReusedAddressWindow   = "reused_address_window"
	NameWrongTargetCalls      = "wrong_target_calls"
	NameFailedCalls           = "failed_calls"
	NameOKCalls               = "ok_calls"
	NameObserverGaps          = "observer_gaps"
	// Kernel verdicts: only where the kernel signal observer ran.
	NameSigtermDropped       = "sigterm_dropped"
	NameShutdownWindow       = "shutdown_window"
	NameKubeletLag           = "kubelet_lag"
	NameObserverDisagreement = "observer_disagreement"
	// NameWrongTargetDisagreement counts calls where the pod timeline and
	// the answering app's own identity disagree on who answered.
	NameWrongTargetDisagreement = "wrong_target_disagreement"
)

// Units of Verdict.Value.
const (
	UnitMS    = "ms"
	UnitCount = "count"
	UnitBool  = "bool"
)

// Verdict is one measured answer about one subject of one scenario. It
// measures and does not judge: whether a measurement is what a scenario
// expects is judged by the scenario (reports.Judge), which knows whether it
// reproduces the incident or its fix.
type Verdict struct {
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	// Subject is a pod name, a Consul instance ID, or "" for the scenario as
	// a whole.
	Subject string `json:"subject"`
	// Value is the number: milliseconds (rounded to the microsecond so JSON
	// stays readable), a count, or 0/1. Negative milliseconds mean "never
	// happened within the timeline".
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Message is one human sentence with the numbers, for the report.
	Message string `json:"message"`
}

// Context is what the verdicts need to know about a scenario beyond its
// timeline. It is saved with the run so a report can be re-checked offline,
// hence the JSON tags.
type Context struct {
	// Scenario selects the timeline events whose Scenario field equals it;
	// "" selects every event (a timeline of one scenario).
	Scenario string `json:"scenario"`
	// ServiceGrace is the terminationGracePeriodSeconds per service name,
	// for the pods of that service (a pod's service is its pod events'
	// Service). A deletion event's own grace_s, when recorded, wins: it is
	// what the API server actually applied.
	ServiceGrace map[string]time.Duration `json:"service_grace_ns,omitempty"`
	// WatchedServices limits the stale-window check to these Consul
	// services (Consul itself, or a scenario's bystanders, are not
	// interesting); empty means every service.
	WatchedServices []string `json:"watched_services,omitempty"`
	// Kernel says the kernel signal observer ran for this scenario: the
	// signal verdicts rest on it. Without it they rest on the app's own log
	// and exit codes, say so, and the kernel-only verdicts are not made.
	Kernel bool `json:"kernel,omitempty"`
	// AppProcess names, per service, the program (comm) whose fate the
	// signal verdicts follow; by default the pod's longest-lived process
	// that is not a shell or an init.
	AppProcess map[string]string `json:"app_process,omitempty"`
	// StopSignal per service (default SIGTERM), as the image or spec sets it.
	StopSignal map[string]string `json:"stop_signal,omitempty"`
}

// Names lists every verdict name All can produce, in name order; scenario
// specs are validated against it.
func Names() []string {
	return []string{NameDeregistrationLatency, NameFailedCalls, NameGraceUsed, NameKilledBySIGKILL, NameKubeletLag,
		NameObserverDisagreement, NameObserverGaps, NameOKCalls, NameReusedAddressWindow, NameShutdownWindow,
		NameSignalDelivered, NameSigtermDropped, NameStaleWindow, NameWrongTargetCalls, NameWrongTargetDisagreement}
}

// All runs every verdict function and returns their verdicts sorted by Name,
// then Subject.
func All(tl timeline.Timeline, ctx Context) []Verdict {
	var out []Verdict
	for _, f := range []func(timeline.Timeline, Context) []Verdict{
		SignalDelivered, DeregistrationLatency, KilledBySIGKILL, GraceUsed,
		StaleWindow, ReusedAddressWindow, CallOutcomes, ObserverGaps,
		SigtermDropped, ShutdownWindow, KubeletLag, ObserverDisagreement,
	} {
		out = append(out, f(tl, ctx)...)
	}
	sortVerdicts(out)
	return out
}

func sortVerdicts(v []Verdict) {
	slices.SortStableFunc(v, func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Subject, b.Subject))
	})
}

// scope returns the context's events, stably sorted by time: observers
// deliver late and out of order, and every verdict walks time forwards.
func scope(tl timeline.Timeline, ctx Context) []timeline.Event {
	if ctx.Scenario != "" {
		tl = tl.Scenario(ctx.Scenario)
	}
	return tl.Sorted().Events
}

// ms converts d to milliseconds rounded to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

// fmtMS formats d as milliseconds without trailing zeros.
func fmtMS(d time.Duration) string { return strconv.FormatFloat(ms(d), 'f', -1, 64) + " ms" }

// fmtAt formats an offset from the base as "t=… ms".
func fmtAt(d time.Duration) string { return "t=" + fmtMS(d) }

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

// SignalDelivered reports, per pod whose deletion was requested, whether the
// app process got the stop signal after the request (1) or not (0): as the
// kernel saw it (the app process dequeued it), or without the kernel as
// the app's own log says. It is the incident's first mechanism: a shell PID
// 1 without exec drops the kubelet's SIGTERM.
func SignalDelivered(tl timeline.Timeline, ctx Context) []Verdict {
	ds, events := deletedPods(tl, ctx)
	var out []Verdict
	for _, d := range ds {
		p := d.pod
		v := Verdict{Name: NameSignalDelivered, Scenario: ctx.Scenario, Subject: d.name, Unit: UnitBool}
		if d.kernel {
			v.Value, v.Message = d.kv.signalDelivered()
			out = append(out, v)
			continue
		}
		sig := stopSignal(ctx, p.service)
		v.Message = fmt.Sprintf("app log%s: the app never logged %s after deletion was requested at %s", fallbackNote(ctx, p.service), sig, fmtAt(p.deletion.At))
		if got, at := appLoggedSignal(events, p, sig); got == 1 {
			v.Value = 1
			v.Message = fmt.Sprintf("app log%s: %s reached the app %s after deletion was requested", fallbackNote(ctx, p.service), sig, fmtMS(at-p.deletion.At))
		}
		out = append(out, v)
	}
	return out
}

// KilledBySIGKILL reports, per pod with a container termination, whether the
// app was killed by SIGKILL. With the kernel observed: whether the app
// process was sent SIGKILL, and by whom (the runtime at the end of the
// grace period, or the kernel when its PID namespace's init exited). Without
// it, whether the container died with exit code 137 (128+SIGKILL), which
// only speaks of PID 1. It uses the first termination after the deletion
// request, or the last one if the pod was not deleted.
func KilledBySIGKILL(tl timeline.Timeline, ctx Context) []Verdict {
	events := scope(tl, ctx)
	ps, names := servicePods(events, ctx)
	ks := kernelPods(events)
	_, end := tl.Span()
	var out []Verdict
	for _, name := range names {
		t, ok := ps[name].termination()
		kv, kok := kernelOf(ps[name], ks, ctx, end)
		if !ok && !(kok && ps[name].deletion != nil) {
			continue
		}
		v := Verdict{Name: NameKilledBySIGKILL, Scenario: ctx.Scenario, Subject: name, Unit: UnitBool}
		if kok {
			v.Value, v.Message = kv.killedBySIGKILL()
			out = append(out, v)
			continue
		}
		reason := ""
		if t.Reason != "" {
			reason = " (reason " + t.Reason + ")"
		}
		switch {
		case t.ExitCode == nil:
			v.Message = fmt.Sprintf("exit code%s: the container terminated with an unknown exit code at %s%s", fallbackNote(ctx, ps[name].service), fmtAt(t.At), reason)
		case *t.ExitCode == 137:
			v.Value = 1
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 was killed by SIGKILL: exit code 137 at %s%s", fallbackNote(ctx, ps[name].service), fmtAt(t.At), reason)
		case *t.ExitCode == 143:
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 died of SIGTERM's default action: exit code 143 at %s%s (its children are not seen)", fallbackNote(ctx, ps[name].service), fmtAt(t.At), reason)
		default:
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 exited with code %d at %s%s", fallbackNote(ctx, ps[name].service), *t.ExitCode, fmtAt(t.At), reason)
		}
		out = append(out, v)
	}
	return out
}

// grace returns the grace period that applied to p and whether it is known.
func grace(p *pod, ctx Context) (time.Duration, bool) {
	if p.deletion != nil && p.deletion.GraceSeconds != nil {
		return time.Duration(*p.deletion.GraceSeconds) * time.Second, true
	}
	g, ok := ctx.ServiceGrace[p.service]
	return g, ok && p.service != ""
}

// GraceUsed reports, per pod whose deletion was requested, how long the
// container took to terminate after the request, and what fraction of the
// grace period that was: an app that heard SIGTERM stops early, one that did
// not uses all of it and is killed. -1 means no termination was recorded.
func GraceUsed(tl timeline.Timeline, ctx Context) []Verdict {
	ds, _ := deletedPods(tl, ctx)
	var out []Verdict
	for _, d := range ds {
		p := d.pod
		v := Verdict{Name: NameGraceUsed, Scenario: ctx.Scenario, Subject: d.name, Unit: UnitMS, Value: -1}
		g, gok := grace(p, ctx)
		// From the first stop signal the kernel saw sent (deletion request
		// without it: that includes the kubelet's lag), to the end of the
		// container: its PID 1's exit as the kernel saw it, else the
		// termination the API reported.
		from, fromText, obs := p.deletion.At, "deletion was requested", "pod API"
		t, ok := p.termination()
		stopAt := t.At
		if kv := d.kv; d.kernel && kv.sent != nil {
			from, fromText, obs = kv.sent.At, "the first "+kv.stop+" was sent", "kernel"
			if kv.init != nil && kv.init.end != nil {
				stopAt, ok = *kv.init.end, true
			}
		}
		switch {
		case !ok:
			v.Message = fmt.Sprintf("%s: no container termination was recorded after deletion was requested at %s", obs, fmtAt(p.deletion.At))
		case !gok:
			used := stopAt - from
			v.Value = ms(used)
			v.Message = fmt.Sprintf("%s: the container ended %s after %s (grace period not known)", obs, fmtMS(used), fromText)
		default:
			used := stopAt - from
			v.Value = ms(used)
			frac := "all of the zero"
			if g > 0 {
				frac = strconv.FormatFloat(math.Round(float64(used)/float64(g)*1000)/10, 'f', 1, 64) + "% of the " + g.String()
			}
			v.Message = fmt.Sprintf("%s: the container ended %s after %s: %s grace period", obs, fmtMS(used), fromText, frac)
		}
		out = append(out, v)
	}
	return out
}

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
	events := scope(tl, ctx)
	ps, names := servicePods(events, ctx)
	ls := leases(events)
	var out []Verdict
	for _, name := range names {
		p := ps[name]
		if p.deletion == nil {
			continue
		}
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
			v.Value = ms(latest)
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

// CallOutcomes counts the callers' calls in the scenario: how many reached
// the service asked for, how many reached another service (the incident's
// visible damage) and how many failed outright.

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

func first(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
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

// gapEvents returns the observer gaps among events (harness gap events), in
// the events' order. A gap with Until == At is a loss at one moment (an app
// log that could not be followed): it has no length but still counts.
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
// a zero-length gap, such as a lost app log, counts too) and, in the
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
		names := make([]string, 0, len(observers))
		for n := range observers {
			names = append(names, n)
		}
		slices.Sort(names)
		v.Message = fmt.Sprintf("%s (%s) covering %s in all: events in or at them may be missing",
			plural(len(gaps), "observer gap"), strings.Join(names, ", "), fmtMS(unionLength(ivs)))
	}
	return []Verdict{v}
}

// plural formats n with noun, adding an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
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

// fallbackNote says why a signal verdict rests on the app's log or exit
// code: the kernel was not observed, or saw no app process in the pod.
func fallbackNote(ctx Context, service string) string {
	switch {
	case !ctx.Kernel:
		return ""
	case ctx.AppProcess[service] != "":
		return fmt.Sprintf(" (no process named %q ran in this pod, as appProcess of service %s says one would)", ctx.AppProcess[service], service)
	}
	return " (the kernel saw no app process in this pod)"
}
