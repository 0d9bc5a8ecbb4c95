package check

import (
	"cmp"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// kt builds kernel timelines the way the observer records them: the
// patterns are the ones the kernel showed on kind (shared notes).
type kt struct {
	ev  []timeline.Event
	pod string
}

func msAt(m float64) time.Duration { return time.Duration(m * float64(time.Millisecond)) }

func (b *kt) add(at float64, e timeline.Event) *kt {
	e.At = msAt(at)
	e.Scenario = "s"
	if e.Pod == "" {
		e.Pod = b.pod
	}
	if e.Source == "" {
		e.Source = timeline.SourceKernel
	}
	if e.Source == timeline.SourceKernel && e.Container == "" {
		e.Container = "c0ffee"
	}
	b.ev = append(b.ev, e)
	return b
}

func (b *kt) proc(at float64, host, pid int, comm string) *kt {
	return b.add(at, timeline.Event{Kind: timeline.KernelExec, HostPID: host, PID: pid, Comm: comm})
}

func (b *kt) signal(at float64, host, pid int, comm, sig, sender, result string) *kt {
	return b.add(at, timeline.Event{Kind: timeline.KernelSignal, HostPID: host, PID: pid, Comm: comm, Signal: sig, Sender: sender, Result: result})
}

func (b *kt) dequeue(at float64, host, pid int, comm, sig, handler string) *kt {
	return b.add(at, timeline.Event{Kind: timeline.KernelDequeued, HostPID: host, PID: pid, Comm: comm, Signal: sig, Handler: handler})
}

func (b *kt) exit(at float64, host, pid int, comm string) *kt {
	return b.add(at, timeline.Event{Kind: timeline.KernelExit, HostPID: host, PID: pid, Comm: comm})
}

// podLife adds the pod events: created with an address, deletion requested
// at del (grace 30 s), container terminated with code at term.
func (b *kt) podLife(del, term float64, code int) *kt {
	b.add(0, timeline.Event{Source: timeline.SourcePod, Kind: timeline.PodCreated, Service: "orders"})
	b.add(del, timeline.Event{Source: timeline.SourcePod, Kind: timeline.PodDeletionRequested, Service: "orders", GraceSeconds: new(int64(30))})
	return b.add(term, timeline.Event{Source: timeline.SourcePod, Kind: timeline.PodContainerTerminated, Service: "orders", ExitCode: &code})
}

// verdictOf returns the verdict name of subject, or fails.
func verdictOf(t *testing.T, vs []Verdict, name, subject string) Verdict {
	t.Helper()
	for _, v := range vs {
		if v.Name == name && v.Subject == subject {
			return v
		}
	}
	t.Fatalf("no verdict %s for %q in %v", name, subject, vs)
	return Verdict{}
}

func noVerdict(t *testing.T, vs []Verdict, name string) {
	t.Helper()
	for _, v := range vs {
		if v.Name == name {
			t.Errorf("verdict %s must not be made here: %+v", name, v)
		}
	}
}

// The incident: bash without exec is PID 1, drops the kubelet's SIGTERM,
// and the app is SIGKILLed by the kernel when bash is killed at the grace.
func noExecTimeline() []timeline.Event {
	b := &kt{pod: "orders-1"}
	b.podLife(1000, 32710, 137)
	b.proc(10, 100, 1, "bash").add(12, timeline.Event{Kind: timeline.KernelStart, HostPID: 101, PID: 7, Comm: "bash"}).proc(13, 101, 7, "fixture")
	b.add(15, timeline.Event{Kind: timeline.KernelStart, HostPID: 102, PID: 9, Comm: "bash"}).exit(16, 102, 9, "bash") // a subshell
	b.signal(2700, 100, 1, "bash", "SIGTERM", "runc", timeline.ResultIgnored)
	b.signal(32700, 100, 1, "bash", "SIGKILL", "runc", timeline.ResultDelivered).dequeue(32700.2, 100, 1, "bash", "SIGKILL", timeline.HandlerDefault)
	b.signal(32701, 101, 7, "fixture", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered).dequeue(32701.1, 101, 7, "fixture", "SIGKILL", timeline.HandlerDefault)
	b.exit(32701.5, 101, 7, "fixture").exit(32702, 100, 1, "bash")
	return b.ev
}

func TestKernelVerdictsNoExec(t *testing.T) {
	vs := All(timeline.Timeline{Events: noExecTimeline()}, Context{Scenario: "s", Kernel: true})
	want := map[string]float64{
		NameSignalDelivered: 0, NameSigtermDropped: 1, NameKilledBySIGKILL: 1,
		NameShutdownWindow: -1, NameKubeletLag: 1700, NameGraceUsed: 30002,
	}
	for name, val := range want {
		v := verdictOf(t, vs, name, "orders-1")
		if v.Value != val || !strings.HasPrefix(v.Message, "kernel") {
			t.Errorf("%s = %v (%s), want %v from the kernel", name, v.Value, v.Message, val)
		}
	}
	if m := verdictOf(t, vs, NameSignalDelivered, "orders-1").Message; !strings.Contains(m, "PID 1 (bash) was dropped") || !strings.Contains(m, "fixture (PID 7) never got SIGTERM") {
		t.Errorf("signal_delivered message: %s", m)
	}
	if m := verdictOf(t, vs, NameKilledBySIGKILL, "orders-1").Message; !strings.Contains(m, "by the kernel, as its PID namespace's init exited at t=32701 ms, 30001 ms after the first SIGTERM; runc had SIGKILLed PID 1 (bash) at t=32700 ms") {
		t.Errorf("killed_by_sigkill must say the kernel killed the app: %s", m)
	}
	// No app log in this pod: nothing to disagree with.
	if v := verdictOf(t, vs, NameObserverDisagreement, ""); v.Value != 0 {
		t.Errorf("disagreement %+v", v)
	}
}

// dumb-init: the app dequeues SIGTERM, and the kernel kills it 1 ms later
// when dumb-init exits after its child bash died of the TERM.
// A deletion the harness made itself: kubelet_lag counts from its request,
// which the pod watch reports later (here 20 ms), not from the watch.
func TestKubeletLagFromTheHarnesssRequest(t *testing.T) {
	ev := noExecTimeline()
	ev = append(ev, timeline.Event{At: 980 * time.Millisecond, Source: timeline.SourceHarness, Kind: timeline.HarnessDeleteRequested, Scenario: "s", Pod: "orders-1"})
	slices.SortStableFunc(ev, func(a, b timeline.Event) int { return cmp.Compare(a.At, b.At) })
	vs := All(timeline.Timeline{Events: ev}, Context{Scenario: "s", Kernel: true})
	v := verdictOf(t, vs, NameKubeletLag, "orders-1")
	if v.Value != 1720 || !strings.Contains(v.Message, "after the harness requested the deletion (the pod watch reported it 20 ms after the request)") {
		t.Errorf("kubelet_lag %+v", v)
	}
	// The other verdicts do not move.
	if got := verdictOf(t, vs, NameGraceUsed, "orders-1").Value; got != 30002 {
		t.Errorf("grace_used %v", got)
	}
}

// dumbInit is pod orders-2 under dumb-init: runc's SIGTERM to dumb-init,
// forwarded to the group (bash and the fixture), bash dies of it, dumb-init
// exits, the kernel SIGKILLs the fixture 1.1 ms after its TERM was queued.
// appRuns says whether the scheduler ran the fixture in between (it
// dequeues the TERM) or not.
func dumbInit(appRuns bool) *kt {
	b := &kt{pod: "orders-2"}
	b.podLife(1000, 2750, 143)
	b.proc(10, 200, 1, "dumb-init").proc(11, 201, 7, "bash").proc(12, 202, 8, "fixture")
	b.signal(2700, 200, 1, "dumb-init", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.1, 200, 1, "dumb-init", "SIGTERM", timeline.HandlerCaught)
	b.signal(2700.3, 201, 7, "bash", "SIGTERM", "dumb-init", timeline.ResultDelivered).signal(2700.3, 202, 8, "fixture", "SIGTERM", "dumb-init", timeline.ResultDelivered)
	if appRuns {
		b.dequeue(2700.4, 202, 8, "fixture", "SIGTERM", timeline.HandlerCaught)
	}
	b.dequeue(2700.5, 201, 7, "bash", "SIGTERM", timeline.HandlerDefault)
	b.exit(2700.6, 201, 7, "bash").exit(2701, 200, 1, "dumb-init")
	b.signal(2701.4, 202, 8, "fixture", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered)
	if !appRuns {
		b.dequeue(2701.5, 202, 8, "fixture", "SIGKILL", timeline.HandlerDefault)
	}
	return b.exit(2701.6, 202, 8, "fixture")
}

func TestKernelVerdictsDumbInit(t *testing.T) {
	b := dumbInit(true)
	// The app's own log: it heard SIGTERM.
	b.add(2700.5, timeline.Event{Source: timeline.SourceApp, Kind: timeline.AppSignal, Signal: "SIGTERM"})
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	got := func(name string) float64 { return verdictOf(t, vs, name, "orders-2").Value }
	if got(NameSignalDelivered) != 1 || got(NameSigtermDropped) != 0 || got(NameKilledBySIGKILL) != 1 || got(NameShutdownWindow) != 1.1 {
		t.Errorf("delivered %v dropped %v killed %v window %v", got(NameSignalDelivered), got(NameSigtermDropped), got(NameKilledBySIGKILL), got(NameShutdownWindow))
	}
	if m := verdictOf(t, vs, NameShutdownWindow, "orders-2").Message; !strings.Contains(m, "SIGKILL from the kernel") {
		t.Errorf("window message: %s", m)
	}
	if m := verdictOf(t, vs, NameKilledBySIGKILL, "orders-2").Message; strings.Contains(m, "SIGKILLed PID 1") {
		t.Errorf("dumb-init exited by itself, nobody SIGKILLed it: %s", m)
	}
	if v := verdictOf(t, vs, NameObserverDisagreement, ""); v.Value != 0 || !strings.Contains(v.Message, "agree") {
		t.Errorf("app log and kernel agree here: %+v", v)
	}
	// Exit code 143 is dumb-init's: without the kernel the verdict says
	// the app was not SIGKILLed, which is what the kernel contradicts.
	fb := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s"})
	if v := verdictOf(t, fb, NameKilledBySIGKILL, "orders-2"); v.Value != 0 || !strings.HasPrefix(v.Message, "exit code") {
		t.Errorf("fallback killed_by_sigkill %+v", v)
	}
}

// The other way the dumb-init race goes: the kernel's SIGKILL comes before
// the scheduler runs the app, so it never dequeues the SIGTERM queued for
// it. signal_delivered differs from the run above; the shutdown window,
// counted from the queueing, is the same 1.1 ms, and the message says why.
func TestKernelVerdictsDumbInitRaceLost(t *testing.T) {
	b := dumbInit(false)
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	got := func(name string) Verdict { return verdictOf(t, vs, name, "orders-2") }
	if got(NameSignalDelivered).Value != 0 || got(NameSigtermDropped).Value != 0 || got(NameKilledBySIGKILL).Value != 1 || got(NameShutdownWindow).Value != 1.1 {
		t.Errorf("delivered %v dropped %v killed %v window %v", got(NameSignalDelivered).Value, got(NameSigtermDropped).Value, got(NameKilledBySIGKILL).Value, got(NameShutdownWindow).Value)
	}
	if m := got(NameSignalDelivered).Message; !strings.Contains(m, "never dequeued it: the kernel SIGKILLed it 1.1 ms later, before it ran") {
		t.Errorf("signal_delivered must say the SIGKILL won the race: %s", m)
	}
	if m := got(NameShutdownWindow).Message; !strings.Contains(m, "never dequeued") || !strings.Contains(m, "SIGKILL from the kernel") {
		t.Errorf("window message: %s", m)
	}
}

// The third way: the app deregisters and exits before the init does; the
// init's exit then SIGKILLs every process left in the namespace, the app's
// unreaped corpse too. That SIGKILL did not kill it.
func TestKernelVerdictsAppExitsBeforeTheInit(t *testing.T) {
	b := &kt{pod: "orders-2"}
	b.podLife(1000, 2750, 143)
	b.proc(10, 200, 1, "dumb-init").proc(11, 201, 7, "bash").proc(12, 202, 8, "fixture")
	b.signal(2700, 200, 1, "dumb-init", "SIGTERM", "runc", timeline.ResultDelivered)
	b.signal(2700.3, 202, 8, "fixture", "SIGTERM", "dumb-init", timeline.ResultDelivered).dequeue(2700.4, 202, 8, "fixture", "SIGTERM", timeline.HandlerCaught)
	b.exit(2735, 202, 8, "fixture").exit(2736, 201, 7, "bash").exit(2737, 200, 1, "dumb-init")
	b.signal(2737.5, 202, 8, "fixture", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered)
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	killed := verdictOf(t, vs, NameKilledBySIGKILL, "orders-2")
	if killed.Value != 0 || !strings.Contains(killed.Message, "exited at t=2735 ms, before the kernel's SIGKILL at t=2737.5 ms reached it") {
		t.Errorf("killed_by_sigkill %+v", killed)
	}
	if w := verdictOf(t, vs, NameShutdownWindow, "orders-2"); w.Value != 34.7 || !strings.Contains(w.Message, "(exit)") {
		t.Errorf("shutdown_window %+v", w)
	}
}

// exec: the app is PID 1, handles SIGTERM and exits after draining.
func TestKernelVerdictsExec(t *testing.T) {
	b := &kt{pod: "orders-3"}
	b.podLife(1000, 3720, 0)
	b.proc(10, 300, 1, "fixture")
	b.signal(2700, 300, 1, "fixture", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.2, 300, 1, "fixture", "SIGTERM", timeline.HandlerCaught)
	b.exit(3710.2, 300, 1, "fixture")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	got := func(name string) float64 { return verdictOf(t, vs, name, "orders-3").Value }
	if got(NameSignalDelivered) != 1 || got(NameSigtermDropped) != 0 || got(NameKilledBySIGKILL) != 0 || got(NameShutdownWindow) != 1010.2 || got(NameGraceUsed) != 1010.2 {
		t.Errorf("delivered %v dropped %v killed %v window %v grace %v", got(NameSignalDelivered), got(NameSigtermDropped), got(NameKilledBySIGKILL), got(NameShutdownWindow), got(NameGraceUsed))
	}
}

// Without the kernel: the app's log and exit codes, said so; no
// kernel-only verdict is made.
func TestWithoutTheKernelNothingKernelIsReported(t *testing.T) {
	ev := noExecTimeline()
	vs := All(timeline.Timeline{Events: ev}, Context{Scenario: "s"})
	for _, name := range []string{NameSigtermDropped, NameShutdownWindow, NameKubeletLag, NameObserverDisagreement} {
		noVerdict(t, vs, name)
	}
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); !strings.HasPrefix(v.Message, "app log:") || v.Value != 0 {
		t.Errorf("fallback signal_delivered %+v", v)
	}
	if v := verdictOf(t, vs, NameKilledBySIGKILL, "orders-1"); !strings.HasPrefix(v.Message, "exit code:") || v.Value != 1 {
		t.Errorf("fallback killed_by_sigkill %+v", v)
	}
	// With the kernel on, but no kernel event for the pod: fall back, and
	// say why.
	var podOnly []timeline.Event
	for _, e := range ev {
		if e.Source != timeline.SourceKernel {
			podOnly = append(podOnly, e)
		}
	}
	vs = All(timeline.Timeline{Events: podOnly}, Context{Scenario: "s", Kernel: true})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); !strings.Contains(v.Message, "the kernel saw no app process") {
		t.Errorf("%+v", v)
	}
	noVerdict(t, vs, NameSigtermDropped)
}

// The app logged SIGTERM but the kernel says it never dequeued it: one
// disagreement, named.
func TestObserverDisagreementCounts(t *testing.T) {
	b := &kt{pod: "orders-1", ev: noExecTimeline()}
	b.add(2701, timeline.Event{Source: timeline.SourceApp, Kind: timeline.AppSignal, Signal: "SIGTERM"})
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	v := verdictOf(t, vs, NameObserverDisagreement, "")
	if v.Value != 1 || !strings.Contains(v.Message, "orders-1 (kernel 0, app log 1)") {
		t.Errorf("%+v", v)
	}
}

// A named app process wins over the longest-lived rule.
func TestAppProcessByName(t *testing.T) {
	b := &kt{pod: "orders-1"}
	b.podLife(1000, 3000, 0)
	b.proc(10, 400, 1, "java").proc(11, 401, 20, "jcmd-helper").exit(1200, 401, 20, "jcmd-helper")
	b.signal(2000, 400, 1, "java", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2000.5, 400, 1, "java", "SIGTERM", timeline.HandlerCaught)
	b.exit(2500, 400, 1, "java")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true, AppProcess: map[string]string{"orders": "jcmd-helper"}})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); v.Value != 0 || !strings.Contains(v.Message, "never to jcmd-helper") {
		t.Errorf("named app: %+v", v)
	}
	vs = All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); v.Value != 1 || !strings.Contains(v.Message, "java (PID 1)") {
		t.Errorf("default app: %+v", v)
	}
}

// npm start: npm and the server it starts both run node; an argument's
// file name (server.js) tells them apart, where the comm cannot.
func TestAppProcessByArgument(t *testing.T) {
	b := &kt{pod: "orders-1"}
	b.podLife(1000, 1300, 143)
	exec := func(at float64, host, pid int, args ...string) {
		b.add(at, timeline.Event{Kind: timeline.KernelExec, HostPID: host, PID: pid, Comm: path.Base(args[0]), Args: args})
	}
	exec(10, 400, 1, "node", "/usr/share/nodejs/npm/bin/npm-cli.js", "start")
	exec(20, 401, 18, "sh", "-c", "node server.js")
	exec(30, 402, 19, "node", "server.js")
	b.signal(1100, 400, 1, "node", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(1100.2, 400, 1, "node", "SIGTERM", timeline.HandlerCaught)
	b.signal(1101, 401, 18, "sh", "SIGTERM", "node", timeline.ResultDelivered).dequeue(1101.1, 401, 18, "sh", "SIGKILL", timeline.HandlerDefault)
	b.signal(1101.5, 400, 1, "npm start", "SIGTERM", "npm start", timeline.ResultIgnored) // npm re-raises it on itself
	b.exit(1101.2, 401, 18, "sh").exit(1200, 400, 1, "node")
	b.signal(1200.1, 402, 19, "node", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered).exit(1200.2, 402, 19, "node")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true, AppProcess: map[string]string{"orders": "server.js"}})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); v.Value != 0 || !strings.Contains(v.Message, "never to node (PID 19)") {
		t.Errorf("server.js: %+v", v)
	}
	if v := verdictOf(t, vs, NameKilledBySIGKILL, "orders-1"); v.Value != 1 || !strings.Contains(v.Message, "by the kernel") {
		t.Errorf("server.js killed: %+v", v)
	}
	if v := verdictOf(t, vs, NameSigtermDropped, "orders-1"); v.Value != 0 {
		t.Errorf("npm caught the runtime's SIGTERM; its own re-raise does not count: %+v", v)
	}
	// By comm alone, npm (the longest-lived node) would be judged.
	vs = All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true, AppProcess: map[string]string{"orders": "node"}})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); v.Value != 1 || !strings.Contains(v.Message, "node (PID 1)") {
		t.Errorf("node: %+v", v)
	}
}

// An app without a handler dies of SIGTERM's default action: the kernel
// turns the TERM into SIGKILL when it is sent, so the dequeue shows
// signal 9, and no SIGKILL was ever sent.
func TestKernelDefaultActionCountsAsDelivered(t *testing.T) {
	b := &kt{pod: "orders-4"}
	b.podLife(1000, 2710, 143)
	b.proc(10, 500, 1, "tini").proc(11, 501, 7, "worker")
	b.signal(2700, 500, 1, "tini", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.1, 500, 1, "tini", "SIGTERM", timeline.HandlerCaught)
	b.signal(2700.2, 501, 7, "worker", "SIGTERM", "tini", timeline.ResultDelivered).dequeue(2700.3, 501, 7, "worker", "SIGKILL", timeline.HandlerDefault)
	b.exit(2700.4, 501, 7, "worker").exit(2701, 500, 1, "tini")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	d := verdictOf(t, vs, NameSignalDelivered, "orders-4")
	if d.Value != 1 || !strings.Contains(d.Message, "default action killed it") {
		t.Errorf("delivered %+v", d)
	}
	if k := verdictOf(t, vs, NameKilledBySIGKILL, "orders-4"); k.Value != 0 {
		t.Errorf("no SIGKILL was sent: %+v", k)
	}
}

// The kubelet can act, and the app end, before the pod watch reports the
// deletion: the app is still the one alive when stop signals could start.
func TestKernelAppEndedBeforeTheWatchSawTheDeletion(t *testing.T) {
	b := &kt{pod: "orders-5"}
	b.podLife(2710, 2720, 143) // the watch reports the deletion 10 ms after the kubelet acted
	b.proc(10, 600, 1, "tini").proc(11, 601, 7, "bash").proc(12, 602, 8, "fixture")
	b.signal(2700, 600, 1, "tini", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.1, 600, 1, "tini", "SIGTERM", timeline.HandlerCaught)
	b.signal(2700.2, 602, 8, "fixture", "SIGTERM", "tini", timeline.ResultDelivered).dequeue(2700.3, 602, 8, "fixture", "SIGTERM", timeline.HandlerCaught)
	b.exit(2700.4, 601, 7, "bash").exit(2700.6, 600, 1, "tini")
	b.signal(2700.7, 602, 8, "fixture", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered).exit(2700.8, 602, 8, "fixture")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-5"); v.Value != 1 || !strings.HasPrefix(v.Message, "kernel: fixture") {
		t.Errorf("%+v", v)
	}
	if v := verdictOf(t, vs, NameKubeletLag, "orders-5"); v.Value != -10 {
		t.Errorf("lag %+v", v)
	}
}

// A named app process the kernel never saw is said, with the field.
func TestNamedAppProcessNeverSeen(t *testing.T) {
	ev := noExecTimeline()
	vs := All(timeline.Timeline{Events: ev}, Context{Scenario: "s", Kernel: true, AppProcess: map[string]string{"orders": "java"}})
	if v := verdictOf(t, vs, NameSignalDelivered, "orders-1"); !strings.Contains(v.Message, `no process named "java" ran in this pod, as appProcess of service orders`) {
		t.Errorf("%+v", v)
	}
}

// A long window says why: nginx's master (PID 1, exec) passes the terminate
// command to its worker over a socket, and SIGKILLs a worker still alive
// 3.15 s later (nginx 1.22.1 in the runtime image, worker stopped: the
// master exited 3196 ms after the TERM). The timings are that run's.
func TestShutdownWindowSaysWhatTheOthersDid(t *testing.T) {
	b := &kt{pod: "web-1"}
	b.podLife(1000, 5900, 0)
	b.proc(10, 400, 1, "nginx").add(11, timeline.Event{Kind: timeline.KernelStart, HostPID: 401, PID: 7, Comm: "nginx"})
	b.signal(2700, 400, 1, "nginx", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.1, 400, 1, "nginx", "SIGTERM", timeline.HandlerCaught)
	b.signal(5850, 401, 7, "nginx", "SIGKILL", "nginx", timeline.ResultDelivered).dequeue(5850.2, 401, 7, "nginx", "SIGKILL", timeline.HandlerDefault)
	b.exit(5850.5, 401, 7, "nginx").exit(5896, 400, 1, "nginx")
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true, AppProcess: map[string]string{"orders": "nginx"}})
	w := verdictOf(t, vs, NameShutdownWindow, "web-1")
	if w.Value != 3196 || !strings.Contains(w.Message, "meanwhile nginx (PID 7): SIGKILL from nginx at +3150 ms, exited at +3150.5 ms") {
		t.Errorf("shutdown_window %+v", w)
	}

	// tini -g: the TERM reaches bash and the app at once; bash ran it 1.4 s
	// later (not scheduled), and its end ended tini and the app.
	b = &kt{pod: "orders-4"}
	b.podLife(1000, 4200, 143)
	b.proc(10, 500, 1, "tini").proc(11, 501, 7, "bash").proc(12, 502, 8, "fixture")
	b.signal(2700, 500, 1, "tini", "SIGTERM", "runc", timeline.ResultDelivered).dequeue(2700.1, 500, 1, "tini", "SIGTERM", timeline.HandlerCaught)
	b.signal(2700.3, 501, 7, "bash", "SIGTERM", "tini", timeline.ResultDelivered).signal(2700.3, 502, 8, "fixture", "SIGTERM", "tini", timeline.ResultDelivered)
	b.dequeue(4100, 501, 7, "bash", "SIGTERM", timeline.HandlerDefault).exit(4100.5, 501, 7, "bash").exit(4101, 500, 1, "tini")
	b.signal(4101.2, 502, 8, "fixture", "SIGKILL", timeline.SenderKernel, timeline.ResultDelivered).exit(4101.5, 502, 8, "fixture")
	vs = All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s", Kernel: true})
	w = verdictOf(t, vs, NameShutdownWindow, "orders-4")
	for _, want := range []string{"SIGKILL from the kernel", "bash (PID 7): SIGTERM from tini at +0 ms (dequeued 1399.7 ms later), exited at +1400.2 ms", "tini (PID 1): exited at +1400.7 ms"} {
		if !strings.Contains(w.Message, want) {
			t.Errorf("shutdown_window message lacks %q: %s", want, w.Message)
		}
	}
}
