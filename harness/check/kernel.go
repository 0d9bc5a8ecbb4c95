package check

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// The kernel's view of a pod: its processes (by host PID) and the signals
// they were sent and dequeued, from the kernel events of the timeline
// (harness/kernel traces them on the host). Verdicts that rest on it say
// "kernel:"; where the kernel was not observed (Context.Kernel false) or saw
// no process of a pod, they fall back to the app's log and exit codes and
// say that instead.

// kproc is one process of a pod as the kernel saw it.
type kproc struct {
	hostPID, pid int
	comm, exe    string
	args         []string
	container    string
	start        time.Duration
	end          *time.Duration // exit
	sent         []timeline.Event
	dequeued     []timeline.Event
}

func (p *kproc) String() string { return fmt.Sprintf("%s (PID %d)", p.comm, p.pid) }

// alive reports whether p lived at some time in [from, to].
func (p *kproc) alive(from, to time.Duration) bool {
	return p.start <= to && (p.end == nil || *p.end > from)
}

func (p *kproc) lifetime(end time.Duration) time.Duration {
	if p.end != nil {
		end = *p.end
	}
	return end - p.start
}

// kpod is one pod's processes, in order of first appearance.
type kpod struct {
	procs []*kproc
}

// kernelPods indexes the kernel events by pod name.
func kernelPods(events []timeline.Event) map[string]*kpod {
	m := map[string]*kpod{}
	index := map[string]map[int]*kproc{}
	for _, e := range events {
		if e.Source != timeline.SourceKernel {
			continue
		}
		k := m[e.Pod]
		if k == nil {
			k = &kpod{}
			m[e.Pod] = k
			index[e.Pod] = map[int]*kproc{}
		}
		p := index[e.Pod][e.HostPID]
		if p == nil {
			p = &kproc{hostPID: e.HostPID, pid: e.PID, comm: e.Comm, container: e.Container, start: e.At}
			index[e.Pod][e.HostPID] = p
			k.procs = append(k.procs, p)
		}
		if e.Comm != "" && e.Kind == timeline.KernelExec {
			p.comm, p.exe = e.Comm, e.Exe
		}
		if p.exe == "" {
			p.exe = e.Exe
		}
		if len(e.Args) > 0 && (e.Kind == timeline.KernelExec || p.args == nil) {
			p.args = e.Args
		}
		if p.pid == 0 {
			p.pid = e.PID
		}
		switch e.Kind {
		case timeline.KernelExit:
			at := e.At
			p.end = &at
		case timeline.KernelSignal:
			p.sent = append(p.sent, e)
		case timeline.KernelDequeued:
			p.dequeued = append(p.dequeued, e)
		}
	}
	return m
}

// notApp are programs that start an app rather than being it: shells,
// inits and the runtime's own stages.
var notApp = []string{"sh", "bash", "dash", "ash", "zsh", "busybox", "tini", "dumb-init", "pause", "catatonit", "s6-svscan", "sleep"}

// notAppProc: a shell, an init or the runtime, by its program name or by
// the program file it runs (a script's comm is its own name; its exe is the
// shell).
func notAppProc(p *kproc) bool {
	exe := p.exe
	if i := strings.LastIndexByte(exe, '/'); i >= 0 {
		exe = exe[i+1:]
	}
	return slices.Contains(notApp, p.comm) || strings.HasPrefix(p.comm, "runc") || exe != "" && slices.Contains(notApp, exe)
}

// runs says whether p is the program named: its comm, or the base name of
// one of its arguments (a script or jar it runs: "server.js" is the node
// that runs it, not the npm that starts it, though both are comm "node").
func (p *kproc) runs(named string) bool {
	if p.comm == named {
		return true
	}
	for _, a := range p.args {
		if path.Base(a) == named {
			return true
		}
	}
	return false
}

// isApp: the program named, or with no name, a process that is not a
// shell or an init.
func (p *kproc) isApp(named string) bool {
	if named != "" {
		return p.runs(named)
	}
	return !notAppProc(p)
}

// app returns the pod's app process at reference time ref (the deletion
// request; -1 for none): the process of the program named for the service
// (Context.AppProcess), or else the longest-lived process that is not a
// shell or an init, among those alive at ref. end closes lifetimes still
// open.
func (k *kpod) app(named string, from, ref, end time.Duration) *kproc {
	var best *kproc
	for _, p := range k.procs {
		if ref >= 0 && !p.alive(from, ref) {
			continue
		}
		if !p.isApp(named) {
			continue
		}
		if best == nil || p.lifetime(end) > best.lifetime(end) {
			best = p
		}
	}
	return best
}

// killedApp is the longest-lived app process that was sent SIGKILL.
func (k *kpod) killedApp(named string, end time.Duration) *kproc {
	var best *kproc
	for _, p := range k.procs {
		if !p.isApp(named) {
			continue
		}
		if _, ok := firstSignal(p.sent, "SIGKILL", 0); ok && (best == nil || p.lifetime(end) > best.lifetime(end)) {
			best = p
		}
	}
	return best
}

// init returns the PID 1 of container alive in [from, ref].
func (k *kpod) init(container string, from, ref time.Duration) *kproc {
	for _, p := range k.procs {
		if p.pid == 1 && p.container == container && (ref < 0 || p.alive(from, ref)) {
			return p
		}
	}
	return nil
}

// stopSent returns the first stop signal the runtime (not the kernel) sent
// to a process of container at or after t.
func (k *kpod) stopSent(container, sig string, t time.Duration) (timeline.Event, *kproc, bool) {
	var first timeline.Event
	var to *kproc
	for _, p := range k.procs {
		if p.container != container {
			continue
		}
		for _, e := range p.sent {
			if e.Signal == sig && e.Sender != timeline.SenderKernel && e.At >= t && (to == nil || e.At < first.At) {
				first, to = e, p
			}
		}
	}
	return first, to, to != nil
}

func firstSignal(es []timeline.Event, sig string, t time.Duration) (timeline.Event, bool) {
	for _, e := range es {
		if e.Signal == sig && e.At >= t {
			return e, true
		}
	}
	return timeline.Event{}, false
}

// watchSlack is how much earlier than the deletion the pod watch reported a
// stop signal may come and still count as the deletion's.
const watchSlack = time.Second

// kernelView is what the kernel says of one pod's shutdown.
type kernelView struct {
	k       *kpod
	app     *kproc
	init    *kproc        // PID 1 of the app's container
	stop    string        // the stop signal
	from    time.Duration // stop signals from here on count (the deletion, less watchSlack)
	deleted time.Duration // the deletion as the pod watch reported it (-1: none)
	// requested is when the harness sent the deletion request, for the
	// deletions its faults make (-1: made by a controller, or unknown).
	requested time.Duration
	sent      *timeline.Event // first stop signal sent by the runtime
	sentTo    *kproc
	got       *timeline.Event // the stop signal sent to the app, queued
	dequeued  *timeline.Event // the app dequeued the stop signal (or died of its default action)
	killed    *timeline.Event // SIGKILL sent to the app while it lived
	lateKill  *timeline.Event // SIGKILL sent to it after it had exited (unreaped)
	exit      *time.Duration  // the app exited
}

// kernelOf builds the kernel view of pod p, or ok false when the kernel was
// not observed or saw no app process in the pod.
func kernelOf(p *pod, ks map[string]*kpod, ctx Context, end time.Duration) (kernelView, bool) {
	if !ctx.Kernel {
		return kernelView{}, false
	}
	k := ks[p.name]
	if k == nil {
		return kernelView{}, false
	}
	ref, from := time.Duration(-1), time.Duration(0)
	if p.deletion != nil {
		// The pod API's watch reports a deletion some milliseconds after
		// the request, and the kubelet can act on it sooner: stop signals
		// up to watchSlack before the reported deletion belong to it.
		ref, from = p.deletion.At, p.deletion.At-watchSlack
	}
	v := kernelView{k: k, stop: stopSignal(ctx, p.service), from: from, deleted: ref, requested: -1}
	if p.requested != nil {
		v.requested = *p.requested
	}
	// The app and PID 1 are the ones alive when the stop signals could
	// start, from watchSlack before the reported deletion: the kubelet may
	// act (and the app end) before the watch reports it.
	v.app = k.app(ctx.AppProcess[p.service], from, ref, end)
	if p.deletion == nil {
		// No deletion (a SIGKILL on the node, a crash): the app process
		// that was killed, if one was, is the one whose fate is judged.
		if killed := k.killedApp(ctx.AppProcess[p.service], end); killed != nil {
			v.app = killed
		}
	}
	if v.app == nil {
		return kernelView{}, false
	}
	v.init = k.init(v.app.container, from, ref)
	if e, to, ok := k.stopSent(v.app.container, v.stop, from); ok {
		v.sent, v.sentTo = &e, to
	}
	for _, e := range v.app.sent {
		if e.Signal == v.stop && e.At >= from && (e.Result == timeline.ResultDelivered || e.Result == timeline.ResultPending) {
			v.got = &e
			break
		}
	}
	if e, ok := firstSignal(v.app.dequeued, v.stop, from); ok {
		v.dequeued = &e
	} else if v.got != nil {
		// A stop signal whose default action kills is turned into SIGKILL
		// when sent, and dequeued as SIGKILL: the app died of it, unless a
		// real SIGKILL was sent first.
		if d, ok := firstSignal(v.app.dequeued, "SIGKILL", v.got.At); ok {
			if k, killed := firstSignal(v.app.sent, "SIGKILL", v.got.At); !killed || k.At > d.At {
				d.Handler = "default action of " + v.stop
				v.dequeued = &d
			}
		}
	}
	v.exit = v.app.end
	if e, ok := firstSignal(v.app.sent, "SIGKILL", from); ok {
		if v.exit == nil || e.At <= *v.exit {
			v.killed = &e
		} else {
			// An exited process stays in its PID namespace until it is
			// reaped, and an init's exit SIGKILLs it there too: that
			// SIGKILL found the app already gone.
			v.lateKill = &e
		}
	}
	return v, true
}

// stopSignal is the service's stop signal (SIGTERM unless the context
// names another).
func stopSignal(ctx Context, service string) string {
	if s := ctx.StopSignal[service]; s != "" {
		return s
	}
	return "SIGTERM"
}

// dropped reports whether the stop signal to the container's PID 1 was
// dropped by the kernel (PID 1 of a namespace without a handler). Only the
// first one counts, the runtime's: a PID 1 that caught it may re-raise it
// on itself (npm does) and have that dropped, which is not the question.
func (v kernelView) dropped() (timeline.Event, bool) {
	if v.init == nil {
		return timeline.Event{}, false
	}
	for _, e := range v.init.sent {
		if e.Signal == v.stop && e.At >= v.from && e.Sender != timeline.SenderKernel {
			return e, e.Result == timeline.ResultIgnored
		}
	}
	return timeline.Event{}, false
}

// end is when the app's shutdown ended: its SIGKILL or its exit, whichever
// came first.
func (v kernelView) end() (time.Duration, string, bool) {
	switch {
	case v.killed != nil && (v.exit == nil || v.killed.At <= *v.exit):
		return v.killed.At, "SIGKILL from " + sender(*v.killed), true
	case v.exit != nil:
		return *v.exit, "exit", true
	}
	return 0, "", false
}

func sender(e timeline.Event) string {
	if e.Sender == timeline.SenderKernel {
		return "the kernel"
	}
	return e.Sender
}

// signalDeliveredKernel: did the app process dequeue the stop signal.
func (v kernelView) signalDelivered() (float64, string) {
	if v.dequeued != nil {
		how := "its own handler ran"
		switch v.dequeued.Handler {
		case timeline.HandlerDefault:
			how = "its default action ran: it dies"
		case timeline.HandlerIgnore:
			how = "it ignores it"
		case "default action of " + v.stop:
			how = "no handler: its default action killed it at once"
		}
		return 1, fmt.Sprintf("kernel: %s dequeued %s at %s (%s)", v.app, v.stop, fmtAt(v.dequeued.At), how)
	}
	if e, ok := v.dropped(); ok {
		return 0, fmt.Sprintf("kernel: %s to PID 1 (%s) was dropped at %s (PID 1 has no handler); %s never got %s", v.stop, v.init.comm, fmtAt(e.At), v.app, v.stop)
	}
	if e, ok := firstSignal(v.app.sent, v.stop, v.from); ok {
		why := ""
		if v.killed != nil && v.killed.At >= e.At {
			// The race of process-group inits (dumb-init, tini -g): the
			// app's SIGKILL came before the scheduler ran it.
			why = fmt.Sprintf(": %s SIGKILLed it %s later, before it ran", sender(*v.killed), fmtMS(v.killed.At-e.At))
		}
		return 0, fmt.Sprintf("kernel: %s was sent to %s at %s but it never dequeued it%s", v.stop, v.app, fmtAt(e.At), why)
	}
	if v.sent != nil {
		return 0, fmt.Sprintf("kernel: %s went to %s at %s, never to %s", v.stop, v.sentTo, fmtAt(v.sent.At), v.app)
	}
	return 0, fmt.Sprintf("kernel: %s never got %s", v.app, v.stop)
}

func (v kernelView) killedBySIGKILL() (float64, string) {
	if v.killed == nil {
		if v.exit != nil && v.lateKill != nil {
			return 0, fmt.Sprintf("kernel: %s exited at %s, before %s's SIGKILL at %s reached it", v.app, fmtAt(*v.exit), sender(*v.lateKill), fmtAt(v.lateKill.At))
		}
		if v.exit != nil {
			return 0, fmt.Sprintf("kernel: %s exited at %s without a SIGKILL", v.app, fmtAt(*v.exit))
		}
		return 0, fmt.Sprintf("kernel: %s got no SIGKILL", v.app)
	}
	by, initKilled := "the runtime ("+v.killed.Sender+")", ""
	if v.killed.Sender == timeline.SenderKernel {
		by = "the kernel, as its PID namespace's init exited"
		// Whose SIGKILL ended that init: the runtime's at the grace, or
		// none (it exited by itself, as inits do when their child dies).
		if v.init != nil && v.init != v.app {
			for _, e := range v.init.sent {
				if e.Signal == "SIGKILL" && e.Sender != timeline.SenderKernel && e.At >= v.from && e.At <= v.killed.At {
					initKilled = fmt.Sprintf("; %s had SIGKILLed PID 1 (%s) at %s", e.Sender, v.init.comm, fmtAt(e.At))
					break
				}
			}
		}
	}
	after := ""
	if v.sent != nil {
		after = fmt.Sprintf(", %s after the first %s", fmtMS(v.killed.At-v.sent.At), v.stop)
	}
	return 1, fmt.Sprintf("kernel: %s was SIGKILLed by %s at %s%s%s", v.app, by, fmtAt(v.killed.At), after, initKilled)
}

// SigtermDropped reports, per pod whose deletion was requested, whether the
// kernel dropped the stop signal sent to the app container's PID 1 (1): a
// shell or an app without a handler as PID 1. Only with the kernel
// observed.
func SigtermDropped(tl timeline.Timeline, ctx Context) []Verdict {
	return perKernelPod(tl, ctx, NameSigtermDropped, UnitBool, func(v kernelView) (float64, string) {
		if e, ok := v.dropped(); ok {
			return 1, fmt.Sprintf("kernel: %s from %s to PID 1 (%s) was dropped at %s: PID 1 of a PID namespace without a handler for it ignores it", v.stop, e.Sender, v.init.comm, fmtAt(e.At))
		}
		if v.init == nil {
			return 0, "kernel: no PID 1 of the app's container was seen"
		}
		for _, e := range v.init.sent {
			if e.Signal == v.stop && e.At >= v.from && e.Sender != timeline.SenderKernel {
				return 0, fmt.Sprintf("kernel: %s to PID 1 (%s) was %s at %s", v.stop, v.init.comm, e.Result, fmtAt(e.At))
			}
		}
		return 0, fmt.Sprintf("kernel: no %s was sent to PID 1 (%s)", v.stop, v.init.comm)
	})
}

// ShutdownWindow reports, per pod whose deletion was requested, the time
// from the kernel queueing the stop signal for the app process to the app's
// exit or SIGKILL: the time it had to deregister. It counts from the
// queueing, not the dequeue, because when an init's exit SIGKILLs the app
// a millisecond later, whether the app ran in between is the scheduler's
// race (dumb-init, tini -g), while the time it had is the same. -1: it
// never got the stop signal.
func ShutdownWindow(tl timeline.Timeline, ctx Context) []Verdict {
	return perKernelPod(tl, ctx, NameShutdownWindow, UnitMS, func(v kernelView) (float64, string) {
		start, dequeue := v.got, "dequeued at once"
		switch {
		case v.got == nil && v.dequeued == nil:
			return -1, fmt.Sprintf("kernel: %s never got %s: no time to deregister", v.app, v.stop)
		case v.got == nil:
			start = v.dequeued
		case v.dequeued == nil:
			dequeue = "never dequeued"
		case v.dequeued.At-v.got.At >= time.Millisecond:
			dequeue = "dequeued " + fmtMS(v.dequeued.At-v.got.At) + " later"
		}
		end, how, ok := v.end()
		if !ok {
			return -1, fmt.Sprintf("kernel: %s got %s at %s and had not ended when the timeline ends", v.app, v.stop, fmtAt(start.At))
		}
		return Milliseconds(end - start.At), fmt.Sprintf("kernel: %s had %s from %s (queued at %s, %s) to its end (%s)%s", v.app, fmtMS(end-start.At), v.stop, fmtAt(start.At), dequeue, how, v.during(start.At, end))
	})
}

// KubeletLag reports, per pod whose deletion was requested, the time from
// the request to the first stop signal the runtime sent into the pod's app
// container: kubelet and runtime lag, which is not grace. The request is the
// harness's own where its fault made it (delete_requested), else the
// deletion as the pod watch reported it (a rolling update's), which can
// come after the kubelet acted. -1: none was sent.
func KubeletLag(tl timeline.Timeline, ctx Context) []Verdict {
	return perKernelPod(tl, ctx, NameKubeletLag, UnitMS, func(v kernelView) (float64, string) {
		if v.sent == nil {
			return -1, fmt.Sprintf("kernel: no %s was sent into the app's container after deletion was requested", v.stop)
		}
		if v.requested >= 0 {
			lag := v.sent.At - v.requested
			return Milliseconds(lag), fmt.Sprintf("kernel: %s sent %s to %s %s after the harness requested the deletion (the pod watch reported it %s after the request)",
				v.sent.Sender, v.stop, v.sentTo, fmtMS(lag), fmtMS(v.deleted-v.requested))
		}
		lag := v.sent.At - v.deleted
		msg := fmt.Sprintf("kernel: %s sent %s to %s %s after the pod watch reported the deletion", v.sent.Sender, v.stop, v.sentTo, fmtMS(lag))
		if lag < 0 {
			msg = fmt.Sprintf("kernel: %s sent %s to %s %s before the pod watch reported the deletion (the watch's own delay is longer than the kubelet's)", v.sent.Sender, v.stop, v.sentTo, fmtMS(-lag))
		}
		return Milliseconds(lag), msg
	})
}

// perKernelPod runs f for every service pod whose deletion was requested
// and whose app process the kernel saw. Nothing without the kernel: these
// verdicts have no other observer.
func perKernelPod(tl timeline.Timeline, ctx Context, name, unit string, f func(kernelView) (float64, string)) []Verdict {
	if !ctx.Kernel {
		return nil
	}
	ds, _ := deletedPods(tl, ctx)
	var out []Verdict
	for _, d := range ds {
		if d.kernel {
			val, msg := f(d.kv)
			out = append(out, Verdict{Name: name, Scenario: ctx.Scenario, Subject: d.name, Value: val, Unit: unit, Message: msg})
		}
	}
	return out
}

// ObserverDisagreement counts the pods whose app logged its own signals
// (the fixture does) and where that log and the kernel disagree on whether
// the app got the stop signal. Only with the kernel observed.
func ObserverDisagreement(tl timeline.Timeline, ctx Context) []Verdict {
	if !ctx.Kernel {
		return nil
	}
	ds, events := deletedPods(tl, ctx)
	logs := map[string]bool{}
	for _, e := range events {
		if e.Source == timeline.SourceApp {
			logs[e.Pod] = true
		}
	}
	var bad []string
	compared := 0
	for _, d := range ds {
		if !d.kernel || !logs[d.name] {
			continue
		}
		compared++
		kernel, _ := d.kv.signalDelivered()
		app, _ := appLoggedSignal(events, d.pod, d.kv.stop)
		if kernel != app {
			why := ""
			if kv := d.kv; kernel == 1 && kv.dequeued != nil && kv.killed != nil && kv.killed.At >= kv.dequeued.At {
				// The handler ran, and the app was killed before it wrote
				// its line: the kernel's record is the one to believe.
				why = fmt.Sprintf(": SIGKILLed by %s %s after dequeuing %s, before it could log it", sender(*kv.killed), fmtMS(kv.killed.At-kv.dequeued.At), kv.stop)
			}
			bad = append(bad, fmt.Sprintf("%s (kernel %v, app log %v%s)", d.name, kernel, app, why))
		}
	}
	msg := fmt.Sprintf("kernel and the app's own log agree on the stop signal for all %d pods that log it", compared)
	if compared == 0 {
		msg = "no deleted pod's app logs its own signals: nothing to compare"
	}
	if len(bad) > 0 {
		msg = fmt.Sprintf("kernel and the app's own log disagree for %d of %d pods: %s", len(bad), compared, strings.Join(bad, ", "))
	}
	return []Verdict{{Name: NameObserverDisagreement, Scenario: ctx.Scenario, Value: float64(len(bad)), Unit: UnitCount, Message: msg}}
}

// appLoggedSignal reports whether the app logged sig after p's deletion
// request (the app log observer's answer).
func appLoggedSignal(events []timeline.Event, p *pod, sig string) (float64, time.Duration) {
	for _, e := range events {
		if e.Source == timeline.SourceApp && e.Kind == timeline.AppSignal && e.Pod == p.name && e.Signal == sig && e.At >= p.deletion.At-watchSlack {
			return 1, e.At
		}
	}
	return 0, 0
}

// KernelApp names the process the kernel verdicts follow in pod podName
// ("java (PID 7)") and the PID 1 of its container, as the kernel saw them;
// ok is false without the kernel or without an app process.
func KernelApp(tl timeline.Timeline, ctx Context, podName string) (app, init string, ok bool) {
	ps, _ := subjectPods(tl, ctx)
	i := slices.IndexFunc(ps, func(p subjectPod) bool { return p.name == podName })
	if i < 0 || !ps[i].kernel {
		return "", "", false
	}
	v := ps[i].kv
	if v.init != nil {
		init = v.init.String()
	}
	return v.app.String(), init, true
}

// during says what the other processes of the app's container did while its
// window [from, to] was open: signals sent to them (by whom), how long a
// stop signal waited on their queue before they ran it, their exits. This is
// why a window is long: nginx's master, for one, waits for its workers and
// SIGKILLs those still alive 3.15 s after its terminate command (its
// timer doubling from 50 ms); a stop signal dequeued late says the
// process was not run for that long.
func (v kernelView) during(from, to time.Duration) string {
	var said []string
	for _, p := range v.k.procs {
		if p == v.app || p.container != v.app.container || !p.alive(from, to) {
			continue
		}
		var parts []string
		for _, e := range p.sent {
			if e.At < from || e.At > to || e.Result == timeline.ResultIgnored {
				continue
			}
			what := fmt.Sprintf("%s from %s at +%s", e.Signal, sender(e), fmtMS(e.At-from))
			if d, ok := firstSignal(p.dequeued, e.Signal, e.At); ok && d.At <= to && d.At-e.At >= time.Millisecond {
				what += fmt.Sprintf(" (dequeued %s later)", fmtMS(d.At-e.At))
			}
			parts = append(parts, what)
		}
		if p.end != nil && *p.end <= to {
			parts = append(parts, "exited at +"+fmtMS(*p.end-from))
		}
		if len(parts) > 0 {
			said = append(said, p.String()+": "+strings.Join(first(parts, 4), ", "))
		}
	}
	if len(said) == 0 {
		return ""
	}
	return "; meanwhile " + strings.Join(first(said, 4), "; ")
}
