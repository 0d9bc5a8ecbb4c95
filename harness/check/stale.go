package check

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Why a listed, passing instance is stale.
const (
	// CauseDeletedPod: the pod that registered the instance is deleted and no
	// live pod holds the IP, so callers get connection errors (or, once the
	// IP is reused, worse).
	CauseDeletedPod = "deleted_pod"
	// CauseOtherService: a pod of another service holds the IP and answers
	// the shared health port and path, so the check passes and callers reach
	// the wrong service. The incident.
	CauseOtherService = "other_service"
)

// Window is one interval during which Consul listed an instance as passing
// although its IP did not lead to a live pod of its service. Reports shade
// these on the timeline picture.
type Window struct {
	Instance string `json:"instance"`
	Service  string `json:"service"`
	IP       string `json:"ip"`
	// Start and End are offsets from the timeline's base; a window still
	// open at the end of the timeline ends at the last event.
	Start time.Duration `json:"start_ns"`
	End   time.Duration `json:"end_ns"`
	Cause string        `json:"cause"`
	// RegisteredBy is the pod that registered the instance, when known.
	RegisteredBy string `json:"registered_by,omitempty"`
	// OtherService and OtherPod hold the IP for CauseOtherService.
	OtherService string `json:"other_service,omitempty"`
	OtherPod     string `json:"other_pod,omitempty"`
}

// describe says why the window is stale, in words.
func (w Window) describe() string {
	if w.Cause == CauseOtherService {
		return fmt.Sprintf("%s held by pod %s of other service %s", w.IP, w.OtherPod, w.OtherService)
	}
	by := "its pod"
	if w.RegisteredBy != "" {
		by = "pod " + w.RegisteredBy
	}
	return fmt.Sprintf("%s deleted, %s held by no pod", by, w.IP)
}

// instance is Consul's view of one service ID while walking the timeline.
type instance struct {
	id, service, ip string
	port            int
	listed          bool
	status          string
	regOwner        string // the pod holding the IP when Consul registered it
	appPod          string // the pod whose app last logged registering it
	open            *Window

	// For the picture (Lanes): what Consul said about it over time.
	consul   bool          // Consul (not only the app) mentioned it
	first    time.Duration // its first Consul event
	segments []Segment     // closed listed stretches of one status
	seg      *Segment      // the stretch now open, while listed
	deregs   []timeline.Event
}

// track cuts in's status segments at t after an event changed (or kept) its
// listing or status: a segment is a stretch during which Consul listed in
// with one check status.
func (in *instance) track(t time.Duration) {
	if in.seg != nil && (!in.listed || in.seg.State != in.status) {
		in.closeSegment(t)
	}
	if in.listed && in.seg == nil {
		in.seg = &Segment{From: t, To: t, State: in.status}
	}
}

// closeSegment ends the open segment at t, keeping it if it has a length.
func (in *instance) closeSegment(t time.Duration) {
	if in.seg == nil {
		return
	}
	in.seg.To = t
	if in.seg.To > in.seg.From {
		in.segments = append(in.segments, *in.seg)
	}
	in.seg = nil
}

// consulView is the result of walking Consul's view of a scenario: every
// instance (sorted IDs) with its status segments, and the stale windows.
type consulView struct {
	insts   map[string]*instance
	ids     []string
	windows []Window
}

// StaleWindows returns every stale window in the context's part of the
// timeline, sorted by instance then start. An instance is stale at a moment
// when Consul lists it (registered, not deregistered), its check's last
// status is passing, and its IP belongs either to a pod of another service,
// or to no live pod while the pod that registered it is deleted. IP
// ownership comes from pod ip_assigned (the pod's service label in Service)
// until pod deleted. A registration whose pod is unknown, on an IP nobody
// holds, is not judged stale: that is what a passing status seen before any
// pod event looks like. Check status is forgotten on deregistration, so a
// re-registered instance is passing only once Consul says so again.
// Only instances of ctx.WatchedServices are considered, if any are named.
func StaleWindows(tl timeline.Timeline, ctx Context) []Window {
	events := scope(tl, ctx)
	if len(events) == 0 {
		return nil
	}
	return walkConsul(events, ctx, events[len(events)-1].At).windows
}

// walkConsul walks events (sorted by time, not empty) once, keeping
// Consul's view of every instance and judging, at each moment, whether it
// is stale. StaleWindows and Lanes both read this one walk, so the picture
// and the verdicts cannot disagree. Stale windows still open at the end
// close at the last event; status segments close at segEnd.
func walkConsul(events []timeline.Event, ctx Context, segEnd time.Duration) consulView {
	ls := leases(events)
	// Each pod's deletions and (re)creations, to tell whether a pod name is
	// deleted at a given moment.
	lifecycle := map[string][]timeline.Event{}
	for _, e := range events {
		if e.Source == timeline.SourcePod && (e.Kind == timeline.PodDeleted || e.Kind == timeline.PodCreated || e.Kind == timeline.PodIPAssigned) {
			lifecycle[e.Pod] = append(lifecycle[e.Pod], e)
		}
	}
	deletedAt := func(pod string, t time.Duration) bool {
		gone := false
		for _, e := range lifecycle[pod] {
			if e.At > t {
				break
			}
			gone = e.Kind == timeline.PodDeleted
		}
		return gone
	}
	watched := func(service string) bool {
		return len(ctx.WatchedServices) == 0 || slices.Contains(ctx.WatchedServices, service)
	}

	insts := map[string]*instance{}
	var ids []string
	get := func(id string) (*instance, bool) {
		in, ok := insts[id]
		if !ok {
			in = &instance{id: id}
			insts[id] = in
			ids = append(ids, id)
			slices.Sort(ids)
		}
		return in, ok
	}
	var windows []Window
	closeAt := func(in *instance, t time.Duration) {
		if in.open != nil {
			in.open.End = t
			if in.open.End > in.open.Start {
				windows = append(windows, *in.open)
			}
			in.open = nil
		}
	}
	// judge returns the window in.id would be in at t, or nil if not stale.
	judge := func(in *instance, t time.Duration) *Window {
		if !in.listed || in.status != timeline.StatusPassing || in.ip == "" || !watched(in.service) {
			return nil
		}
		regPod := cmp.Or(in.appPod, in.regOwner)
		w := &Window{Instance: in.id, Service: in.service, IP: in.ip, Start: t, RegisteredBy: regPod}
		if owner, ok := ownerAt(ls, in.ip, t); ok {
			if owner.service == "" || owner.service == in.service {
				return nil
			}
			w.Cause, w.OtherService, w.OtherPod = CauseOtherService, owner.service, owner.pod
			return w
		}
		if regPod != "" && deletedAt(regPod, t) {
			w.Cause = CauseDeletedPod
			return w
		}
		return nil
	}

	for i := 0; i < len(events); {
		t := events[i].At
		for ; i < len(events) && events[i].At == t; i++ {
			e := events[i]
			switch {
			case e.Source == timeline.SourceConsul && e.Kind == timeline.ConsulRegistered:
				in, _ := get(e.Instance)
				in.seenByConsul(e)
				if !in.listed {
					in.status = ""
				}
				in.listed, in.service, in.ip, in.port = true, e.Service, e.IP, e.Port
				in.regOwner = ""
				// The app can register before the pod API reports its address.
				if owner, ok := ownerNear(ls, e.IP, e.At); ok && (owner.service == "" || owner.service == e.Service) {
					in.regOwner = owner.pod
				}
				in.track(t)
			case e.Source == timeline.SourceConsul && e.Kind == timeline.ConsulDeregistered:
				in, _ := get(e.Instance)
				in.seenByConsul(e)
				in.listed, in.status = false, ""
				in.deregs = append(in.deregs, e)
				in.track(t)
			case e.Source == timeline.SourceConsul && e.Kind == timeline.ConsulCheckStatus:
				in, seen := get(e.Instance)
				in.seenByConsul(e)
				if !seen {
					// A check implies a listed service whose registration the
					// watch has not delivered yet.
					in.listed = true
				}
				in.status = e.Status
				in.track(t)
			case e.Source == timeline.SourceApp && e.Kind == timeline.AppRegistered && e.Instance != "":
				in, _ := get(e.Instance)
				in.appPod = e.Pod
				if in.service == "" {
					in.service = e.Service
				}
			}
		}
		for _, id := range ids {
			in := insts[id]
			w := judge(in, t)
			switch {
			case w == nil:
				closeAt(in, t)
			case in.open == nil:
				in.open = w
			case in.open.Cause != w.Cause || in.open.OtherPod != w.OtherPod || in.open.IP != w.IP:
				closeAt(in, t)
				in.open = w
			}
		}
	}
	end := events[len(events)-1].At
	for _, id := range ids {
		closeAt(insts[id], end)
		insts[id].closeSegment(max(segEnd, end))
	}
	slices.SortStableFunc(windows, func(a, b Window) int {
		return cmp.Or(cmp.Compare(a.Instance, b.Instance), cmp.Compare(a.Start, b.Start))
	})
	return consulView{insts: insts, ids: ids, windows: windows}
}

// seenByConsul notes that Consul mentioned in, first at e.At.
func (in *instance) seenByConsul(e timeline.Event) {
	if !in.consul {
		in.consul, in.first = true, e.At
	}
}

// StaleWindow reports, per instance with at least one stale window, the
// total stale time and the windows with their causes, plus one
// scenario-wide verdict (subject "") with the time during which at least one
// stale instance was listed passing (the union, so overlapping windows count
// once; 0 if none). This is the incident's second mechanism: a registration
// that outlives its pod and passes again on another service's pod.
func StaleWindow(tl timeline.Timeline, ctx Context) []Verdict {
	ws := StaleWindows(tl, ctx)
	var gaps []interval
	for _, g := range gapEvents(scope(tl, ctx)) {
		gaps = append(gaps, interval{Start: g.At, End: g.Until})
	}
	var out []Verdict
	var all []interval
	var sum time.Duration
	for i := 0; i < len(ws); {
		id := ws[i].Instance
		var total time.Duration
		var parts []string
		for ; i < len(ws) && ws[i].Instance == id; i++ {
			w := ws[i]
			total += w.End - w.Start
			all = append(all, interval{Start: w.Start, End: w.End})
			part := fmt.Sprintf("[%s, %s] %s", trimMS(w.Start), fmtMS(w.End), w.describe())
			for _, g := range gaps {
				if g.Start < w.End && w.Start < g.End {
					part += " (an observer gap overlaps: bounds uncertain)"
					break
				}
			}
			parts = append(parts, part)
		}
		sum += total
		out = append(out, Verdict{
			Name: NameStaleWindow, Scenario: ctx.Scenario, Subject: id, Unit: UnitMS, Value: Milliseconds(total),
			Message: fmt.Sprintf("%s (%s) was listed passing while stale for %s: %s", id, ws[i-1].Service, fmtMS(total), strings.Join(parts, "; ")),
		})
	}
	union := unionLength(all)
	v := Verdict{Name: NameStaleWindow, Scenario: ctx.Scenario, Unit: UnitMS, Value: Milliseconds(union)}
	switch n := len(out); {
	case n == 0:
		v.Message = "Consul never listed a stale instance as passing"
	case n == 1:
		v.Message = fmt.Sprintf("a stale instance was listed passing for %s", fmtMS(union))
	default:
		v.Message = fmt.Sprintf("%d stale instances were listed passing for %s in all (%s summed over instances)", n, fmtMS(union), fmtMS(sum))
	}
	out = append(out, v)
	sortVerdicts(out)
	return out
}

// ReusedAddressWindow reports, scenario-wide, the time during which Consul
// listed a passing instance whose address a pod of ANOTHER service held:
// the part of the stale window that routes callers to the wrong service.
// It is split out because the fixes differ: an identity-aware check closes
// this part, while only deregistration closes the short window in which a
// deleted pod's check has not yet failed.
func ReusedAddressWindow(tl timeline.Timeline, ctx Context) []Verdict {
	var iv []interval
	for _, w := range StaleWindows(tl, ctx) {
		if w.Cause == CauseOtherService {
			iv = append(iv, interval{Start: w.Start, End: w.End})
		}
	}
	total := unionLength(iv)
	msg := "no passing instance was ever answered for by another service's pod"
	if total > 0 {
		msg = fmt.Sprintf("for %s Consul listed a passing instance whose address a pod of another service held", fmtMS(total))
	}
	return []Verdict{{Name: NameReusedAddressWindow, Scenario: ctx.Scenario, Unit: UnitMS, Value: Milliseconds(total), Message: msg}}
}
