package observe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

const podUID = "0a1b2c3d-0000-4000-8000-000000000001"

// proc writes a fake /proc entry: a process (tgid == pid) or a thread.
func proc(t *testing.T, root string, pid, tgid int, nspid, comm, exe, container string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Name:\t" + comm + "\nTgid:\t" + strconv.Itoa(tgid) + "\nPid:\t" + strconv.Itoa(pid) + "\nPPid:\t1\nNSpid:\t" + nspid +
		"\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\nSigCgt:\t0000000000004000\n"
	cgroup := "0::/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
		strings.ReplaceAll(podUID, "-", "_") + ".slice/cri-containerd-" + container + ".scope\n"
	for name, content := range map[string]string{"status": status, "comm": comm + "\n", "cmdline": comm + "\x00", "cgroup": cgroup} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if exe != "" {
		if err := os.Symlink(exe, filepath.Join(dir, "exe")); err != nil {
			t.Fatal(err)
		}
	}
}

// The observer maps host PIDs to the pod while they live, folds threads
// into their process, leaves the sandbox out, and says who sent what.
func TestKernelObserverMapsProcessesToPods(t *testing.T) {
	root := t.TempDir()
	app := strings.Repeat("ab", 32)
	sandbox := strings.Repeat("cd", 32)
	proc(t, root, 90, 90, "90\t1", "pause", "/pause", sandbox)
	proc(t, root, 100, 100, "100\t1", "start.sh", "/usr/bin/dash", app)
	proc(t, root, 101, 101, "101\t7", "fixture", "/opt/fixture", app)
	proc(t, root, 102, 101, "102\t8", "fixture", "/opt/fixture", app) // a thread of 101
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	idx := NewPodIndex()
	idx.Put(podUID, PodRef{Scenario: "s", Pod: "orders-1", Service: "orders"})
	k := &Kernel{Index: idx, Rec: rec}
	handle := k.handler(newAttributor(root, k.Deliver))
	now := time.Now()
	at := func(ms int) time.Time { return now.Add(time.Duration(ms) * time.Millisecond) }
	for _, ev := range []kernel.Event{
		{Kind: kernel.KindProcessExec, TaskPID: 90, TaskComm: "pause", Filename: "/pause", Time: at(0)},
		{Kind: kernel.KindProcessExec, TaskPID: 100, TaskComm: "start.sh", Filename: "/start.sh", Time: at(1)},
		{Kind: kernel.KindProcessFork, TaskPID: 100, TargetPID: 101, TargetComm: "start.sh", Time: at(2)},
		{Kind: kernel.KindProcessExec, TaskPID: 101, TaskComm: "fixture", Filename: "/opt/fixture", Time: at(3)},
		{Kind: kernel.KindProcessFork, TaskPID: 101, TargetPID: 102, TargetComm: "fixture", Time: at(4)},
		{Kind: kernel.KindSignalGenerate, TaskPID: 555, TaskComm: "runc", TargetPID: 90, Sig: 15, Res: 0, Time: at(10)},
		{Kind: kernel.KindSignalGenerate, TaskPID: 555, TaskComm: "runc", TargetPID: 100, Sig: 15, Res: 1, Time: at(11)},
		{Kind: kernel.KindSignalGenerate, TaskPID: 100, TaskComm: "start.sh", TargetPID: 101, Sig: 9, Code: kernel.CodeKernel, Res: 0, Time: at(20)},
		{Kind: kernel.KindSignalDeliver, TaskPID: 102, Sig: 9, Time: at(21)},
		{Kind: kernel.KindProcessExit, TaskPID: 102, GroupDead: false, Time: at(22)},
		{Kind: kernel.KindProcessExit, TaskPID: 101, GroupDead: true, Time: at(23)},
	} {
		handle(ev)
	}
	var got []string
	for _, e := range rec.Snapshot().Events {
		if err := e.Validate(); err != nil {
			t.Errorf("invalid %+v: %v", e, err)
		}
		if e.Pod != "orders-1" || e.Scenario != "s" || e.Service != "orders" {
			t.Errorf("not attributed: %+v", e)
		}
		s := e.Kind + " " + e.Comm + " " + strconv.Itoa(e.PID) + " " + strconv.Itoa(e.HostPID)
		switch e.Kind {
		case timeline.KernelSignal:
			s += " " + e.Signal + " " + e.Sender + " " + e.Result
		case timeline.KernelDequeued:
			s += " " + e.Signal + " " + e.Handler
		case timeline.KernelExec:
			s += " " + e.Exe
		}
		got = append(got, s)
	}
	want := []string{
		"exec start.sh 1 100 /usr/bin/dash",
		"start fixture 7 101",
		"exec fixture 7 101 /opt/fixture",
		"signal start.sh 1 100 SIGTERM runc ignored",
		"signal fixture 7 101 SIGKILL kernel delivered",
		"dequeued fixture 7 101 SIGKILL default",
		"exit fixture 7 101",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if s := k.Stats(); s.Events != 11 || s.Recorded != len(want) {
		t.Errorf("stats %+v", s)
	}
}

// Events of a pod the index does not know yet wait, and are recorded once
// the pod observer registers it.
func TestKernelObserverWaitsForLatePods(t *testing.T) {
	root := t.TempDir()
	proc(t, root, 200, 200, "200\t1", "java", "/usr/bin/java", strings.Repeat("ef", 32))
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	idx := NewPodIndex()
	k := &Kernel{Index: idx, Rec: rec}
	handle := k.handler(newAttributor(root, k.Deliver))
	handle(kernel.Event{Kind: kernel.KindProcessExec, TaskPID: 200, Filename: "/usr/bin/java", Time: time.Now()})
	if n := len(rec.Snapshot().Events); n != 0 {
		t.Fatalf("recorded %d events of an unknown pod", n)
	}
	idx.Put(podUID, PodRef{Scenario: "s", Pod: "orders-2", Service: "orders"})
	handle(kernel.Event{Kind: kernel.KindProcessExit, TaskPID: 200, GroupDead: true, Time: time.Now()})
	ev := rec.Snapshot().Events
	if len(ev) != 2 || ev[0].Kind != timeline.KernelExec || ev[1].Kind != timeline.KernelExit || ev[0].Pod != "orders-2" {
		t.Fatalf("events %+v", ev)
	}
}

// An agent's stream, as the harness reads it: ready first, events of
// watched service pods recorded with their own times, events of other pods
// dropped, a grown lost count recorded as a gap of the scenarios running.
func TestFeedReadsAnAgentsStream(t *testing.T) {
	idx := NewPodIndex()
	idx.Put("uid-orders", PodRef{Scenario: "s", Pod: "orders-1", Service: "orders"})
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	k := &Kernel{Index: idx, Rec: rec}
	at := time.Now().Add(-time.Second)
	var b strings.Builder
	for _, l := range []AgentLine{
		{Ready: true},
		{UID: "uid-orders", At: at, Event: &timeline.Event{Source: timeline.SourceKernel, Kind: timeline.KernelSignal, Signal: "SIGTERM", Result: "ignored", PID: 1}},
		{UID: "uid-kube-proxy", At: at, Event: &timeline.Event{Source: timeline.SourceKernel, Kind: timeline.KernelExit}},
		{Lost: 3},
	} {
		raw, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteString("\nnot json\n")
	}
	first := make(chan error, 1)
	k.Feed(strings.NewReader(b.String()), "node-a", first)
	if err := <-first; err != nil {
		t.Fatalf("ready line: %v", err)
	}
	evs := rec.Snapshot().Events
	if len(evs) != 2 {
		t.Fatalf("events %+v; want the signal and one gap", evs)
	}
	sig, gap := evs[0], evs[1]
	if sig.Kind != timeline.KernelSignal || sig.Pod != "orders-1" || sig.Scenario != "s" || sig.At != rec.Offset(at) {
		t.Errorf("signal %+v", sig)
	}
	if gap.Kind != timeline.HarnessGap || gap.Scenario != "s" || !strings.Contains(gap.Detail, "3 kernel events lost on node node-a") {
		t.Errorf("gap %+v", gap)
	}
	if s := k.Stats(); s.Events != 2 || s.Recorded != 1 || s.Lost != 3 {
		t.Errorf("stats %+v", s)
	}

	bad := make(chan error, 1)
	k.Feed(strings.NewReader(`{"error":"tracefs: permission denied"}`+"\n"), "node-b", bad)
	if err := <-bad; err == nil || !strings.Contains(err.Error(), "kernel agent on node node-b: tracefs: permission denied") {
		t.Errorf("error line: %v", err)
	}
}

// Lost kernel events are a gap of the scenarios running when they were
// lost: not of one that had ended (its teardown over), nor of one whose
// pods came later; whether the loss is read from this host's tracer (Gap)
// or from an agent's stream, which says when (Since, At).
func TestLostEventsChargeOnlyScenariosRunningThen(t *testing.T) {
	idx := NewPodIndex()
	idx.Put("uid-a", PodRef{Scenario: "finished", Pod: "a-1", Service: "a"})
	idx.End("finished", time.Now())
	idx.Put("uid-b", PodRef{Scenario: "running", Pod: "b-1", Service: "b"})
	time.Sleep(time.Millisecond)
	since := time.Now()
	time.Sleep(time.Millisecond)
	until := time.Now()
	time.Sleep(time.Millisecond)
	idx.Put("uid-c", PodRef{Scenario: "later", Pod: "c-1", Service: "c"})

	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	k := &Kernel{Index: idx, Rec: rec}
	k.Gap(since, until, "3 kernel events lost")
	var b strings.Builder
	for _, l := range []AgentLine{{Ready: true}, {Lost: 5, Since: since, At: until}} {
		raw, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(raw)
		b.WriteString("\n")
	}
	first := make(chan error, 1)
	k.Feed(strings.NewReader(b.String()), "node-a", first)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var charged []string
	for _, e := range rec.Snapshot().Events {
		if e.Kind != timeline.HarnessGap {
			continue
		}
		charged = append(charged, e.Scenario)
		if e.At != rec.Offset(since) || e.Until != rec.Offset(until) {
			t.Errorf("gap %+v: want from %s to %s", e, rec.Offset(since), rec.Offset(until))
		}
	}
	if strings.Join(charged, " ") != "running running" {
		t.Errorf("gaps charged to %v, want the running scenario's, once per loss", charged)
	}
}

func TestPodIndexRunning(t *testing.T) {
	idx := NewPodIndex()
	t0 := time.Now()
	idx.Put("u1", PodRef{Scenario: "s"})
	t1 := time.Now()
	idx.End("s", t1.Add(time.Second))
	for _, c := range []struct {
		since, until time.Time
		want         string
	}{
		{t0.Add(-time.Hour), t0.Add(-time.Minute), ""},   // before its first pod
		{t0.Add(-time.Minute), t1, "s"},                  // overlaps its start
		{t1.Add(time.Second), t1.Add(time.Minute), "s"},  // at its end
		{t1.Add(2 * time.Second), t1.Add(time.Hour), ""}, // after its end
	} {
		if got := strings.Join(idx.Running(c.since, c.until), " "); got != c.want {
			t.Errorf("Running(%s, %s) = %q, want %q", c.since.Sub(t0), c.until.Sub(t0), got, c.want)
		}
	}
	idx.Put("u2", PodRef{Scenario: "s"}) // it runs again
	if got := idx.Running(t1.Add(time.Hour), t1.Add(time.Hour)); len(got) != 1 {
		t.Errorf("a scenario with a pod after its end runs again: %v", got)
	}
	var none *PodIndex
	none.End("s", time.Now()) // a runner without a kernel observer
}
