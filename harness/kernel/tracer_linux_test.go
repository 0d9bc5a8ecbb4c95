//go:build linux

package kernel

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openOrSkip opens a real tracer, or skips saying why it cannot run here.
func openOrSkip(t *testing.T, o Options) *Tracer {
	t.Helper()
	if uid := os.Geteuid(); uid != 0 {
		t.Skipf("not root (uid %d): the kernel tracer needs root", uid)
	}
	tr, err := Open(o)
	if errors.Is(err, ErrUnavailable) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr
}

// tracefsMounted says whether any tracefs is mounted (to check that the
// tracer leaves the mounts as it found them).
func tracefsMounted() bool { return len(tracefsMounts()) > 0 }

// collector keeps the events Run hands over, and when they arrived.
type collector struct {
	mu  sync.Mutex
	evs []Event
	lag []time.Duration // arrival - event time, per event
}

func (c *collector) add(ev Event) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evs = append(c.evs, ev)
	c.lag = append(c.lag, now.Sub(ev.Time))
}

// find returns the index of the first event matching, or -1.
func (c *collector) find(match func(Event) bool) (int, Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, ev := range c.evs {
		if match(ev) {
			return i, ev
		}
	}
	return -1, Event{}
}

func (c *collector) waitFor(t *testing.T, what string, match func(Event) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if i, _ := c.find(match); i >= 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s within 10s", what)
}

func stats(d []time.Duration) (median, max time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2], s[len(s)-1]
}

// waitProc scans /proc until a process matches.
func waitProc(t *testing.T, what string, match func(Proc) bool) Proc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if p, err := ReadProc("/proc", pid); err == nil && match(p) {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %s within 10s", what)
	return Proc{}
}

// TestTracerIncident replays the incident of the notes under a real tracer:
// bash as PID 1 of its own PID namespace, running sleep without exec, gets
// TERM (the kernel drops it: init without handler), then KILL (the kernel
// then KILLs sleep, SI_KERNEL).
func TestTracerIncident(t *testing.T) {
	mountedBefore := tracefsMounted()
	tr := openOrSkip(t, Options{})
	t.Logf("instance %s, trace clock %s, clock offset uncertainty %v", tr.Dir(), tr.clock, tr.skew)

	// A second run with the same name is refused, and the refusal touches
	// nothing of the first.
	if tr2, err := Open(Options{}); err == nil {
		tr2.Close()
		t.Fatal("second Open with the same name succeeded")
	} else if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("second Open: %v, want ErrUnavailable saying busy", err)
	} else {
		t.Logf("second Open: %v", err)
	}
	if _, err := os.Stat(tr.Dir()); err != nil {
		t.Fatalf("the failed second Open harmed the first instance: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := &collector{}
	runErr := make(chan error, 1)
	go func() { runErr <- tr.Run(ctx, col.add) }()

	cmdCtx, cmdCancel := context.WithTimeout(context.Background(), time.Minute)
	defer cmdCancel()
	// --kill-child: if unshare dies, bash gets SIGKILL, and its namespace
	// with it; Pdeathsig does the same for unshare if the test dies.
	cmd := exec.CommandContext(cmdCtx, "unshare", "-fp", "--mount-proc", "--kill-child", "bash", "-c", "sleep 300; true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start unshare: %v", err)
	}
	waited := false
	defer func() {
		if !waited {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}()
	bash := waitProc(t, "bash as PID 1 under unshare", func(p Proc) bool {
		return p.PPID == cmd.Process.Pid && p.InnerPID() == 1 && p.Comm == "bash"
	})
	sleep := waitProc(t, "sleep under bash", func(p Proc) bool {
		return p.PPID == bash.HostPID && p.Comm == "sleep"
	})
	t.Logf("bash host pid %d NSpid %v; sleep host pid %d NSpid %v", bash.HostPID, bash.NSPID, sleep.HostPID, sleep.NSPID)
	if bash.Catches(15) || bash.Ignores(15) {
		t.Fatalf("precondition: bash must neither catch nor ignore TERM (SigCgt %x SigIgn %x)", bash.SigCgt, bash.SigIgn)
	}

	termFrom := time.Now()
	if err := unix.Kill(bash.HostPID, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termTo := time.Now()
	time.Sleep(300 * time.Millisecond)
	if _, err := ReadProc("/proc", bash.HostPID); err != nil {
		t.Fatalf("bash did not survive TERM as init without handler: %v", err)
	}
	if err := unix.Kill(bash.HostPID, unix.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait() // unshare reports its child's death; its status is not the point
	waited = true

	isExit := func(pid int) func(Event) bool {
		return func(ev Event) bool { return ev.Kind == KindProcessExit && ev.TaskPID == pid }
	}
	col.waitFor(t, "exit of bash", isExit(bash.HostPID))
	col.waitFor(t, "exit of sleep", isExit(sleep.HostPID))

	cancelAt := time.Now()
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s of cancel")
	}
	t.Logf("Run returned %v after cancel", time.Since(cancelAt))

	must := func(what string, match func(Event) bool) (int, Event) {
		t.Helper()
		i, ev := col.find(match)
		if i < 0 {
			t.Errorf("missing: %s", what)
		} else {
			t.Logf("%-38s %s", what+":", strings.TrimSpace(ev.Raw))
		}
		return i, ev
	}
	iFork, _ := must("fork of sleep by bash", func(ev Event) bool {
		return ev.Kind == KindProcessFork && ev.TaskPID == bash.HostPID && ev.TargetPID == sleep.HostPID
	})
	iExec, _ := must("exec of sleep", func(ev Event) bool {
		return ev.Kind == KindProcessExec && ev.TaskPID == sleep.HostPID && strings.HasSuffix(ev.Filename, "/sleep")
	})
	iTerm, term := must("TERM to bash, ignored", func(ev Event) bool {
		return ev.Kind == KindSignalGenerate && ev.Sig == 15 && ev.TargetPID == bash.HostPID
	})
	if iTerm >= 0 {
		if term.Res != ResIgnored || term.Code != CodeUser || !term.Group || term.TaskPID != os.Getpid() && term.TaskTGID != os.Getpid() {
			t.Errorf("TERM to bash: res=%d code=%d grp=%v sender %d/%d; want res=1 (ignored) code=0 grp=1 from this test (%d)",
				term.Res, term.Code, term.Group, term.TaskPID, term.TaskTGID, os.Getpid())
		}
		// The clock: the kernel's time of the kill lies between the wall
		// times around the syscall (µs printing and offset width aside).
		slack := 2*time.Millisecond + tr.skew
		if term.Time.Before(termFrom.Add(-slack)) || term.Time.After(termTo.Add(slack)) {
			t.Errorf("TERM event at %v, but kill(2) ran between %v and %v",
				term.Time.Format(time.StampMicro), termFrom.Format(time.StampMicro), termTo.Format(time.StampMicro))
		}
	}
	iKill, kill := must("KILL to bash, delivered", func(ev Event) bool {
		return ev.Kind == KindSignalGenerate && ev.Sig == 9 && ev.TargetPID == bash.HostPID
	})
	if iKill >= 0 && kill.Res != ResDelivered {
		t.Errorf("KILL to bash: res=%d, want 0", kill.Res)
	}
	iKernel, kk := must("KILL to sleep from the kernel", func(ev Event) bool {
		return ev.Kind == KindSignalGenerate && ev.Sig == 9 && ev.TargetPID == sleep.HostPID
	})
	if iKernel >= 0 && (kk.Code != CodeKernel || kk.Res != ResDelivered || kk.TaskPID != bash.HostPID) {
		t.Errorf("KILL to sleep: code=%d res=%d sender %d; want code=128 (SI_KERNEL) res=0 from the dying init %d",
			kk.Code, kk.Res, kk.TaskPID, bash.HostPID)
	}
	iDeliver, _ := must("KILL delivered to sleep", func(ev Event) bool {
		return ev.Kind == KindSignalDeliver && ev.Sig == 9 && ev.TaskPID == sleep.HostPID
	})
	iExitSleep, _ := must("exit of sleep", isExit(sleep.HostPID))
	iExitBash, exitBash := must("exit of bash", isExit(bash.HostPID))
	if iExitBash >= 0 && !exitBash.GroupDead {
		t.Errorf("exit of bash: group_dead false")
	}
	// The point of the incident: bash never dequeued a TERM.
	if i, ev := col.find(func(ev Event) bool {
		return ev.Kind == KindSignalDeliver && ev.Sig == 15 && ev.TaskPID == bash.HostPID
	}); i >= 0 {
		t.Errorf("bash dequeued the TERM the kernel said it dropped: %s", ev.Raw)
	}
	// Causal order, as Run handed the events over.
	order := []struct {
		name string
		i    int
	}{{"fork", iFork}, {"exec", iExec}, {"TERM", iTerm}, {"KILL bash", iKill}, {"KILL sleep", iKernel}, {"deliver sleep", iDeliver}, {"exit sleep", iExitSleep}}
	for k := 1; k < len(order); k++ {
		if order[k-1].i >= 0 && order[k].i >= 0 && order[k-1].i > order[k].i {
			t.Errorf("%s handed over before %s", order[k].name, order[k-1].name)
		}
	}

	col.mu.Lock()
	n := len(col.evs)
	behind := 0 // handed over after an event stamped later (another CPU)
	for i := 1; i < n; i++ {
		if col.evs[i].Stamp < col.evs[i-1].Stamp {
			behind++
		}
	}
	medAll, maxAll := stats(col.lag)
	var ours []time.Duration
	for _, i := range []int{iTerm, iKill, iKernel, iDeliver, iExitSleep, iExitBash} {
		if i >= 0 {
			ours = append(ours, col.lag[i])
		}
	}
	col.mu.Unlock()
	medOurs, maxOurs := stats(ours)
	lost, err := tr.Lost()
	if err != nil {
		t.Errorf("Lost: %v", err)
	}
	t.Logf("%d events handed over, %d of them after a later-stamped one", n, behind)
	t.Logf("%d events handed over; latency event→fn: median %v, max %v (all events); median %v, max %v (the incident's 6); lost %d; unparsed %d",
		n, medAll, maxAll, medOurs, maxOurs, lost, tr.Unparsed())
	if tr.Unparsed() != 0 {
		t.Errorf("%d lines did not parse", tr.Unparsed())
	}

	// Close removes the instance (and so every event it enabled), leaves
	// the mounts as they were, and is idempotent.
	dir := tr.Dir()
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance %s still there after Close (stat: %v)", dir, err)
	}
	if !mountedBefore && tracefsMounted() {
		t.Errorf("tracefs was not mounted before Open and still is after Close: %v", tracefsMounts())
	}
	if err := tr.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := tr.Run(context.Background(), col.add); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if l, err := tr.Lost(); err != nil || l < lost {
		t.Errorf("Lost after Close = %d, %v", l, err)
	}
}

// Run started after the events happened, with ctx already over, still hands
// them over (it drains what the kernel buffered) and returns at once.
func TestRunDrainsOnCancel(t *testing.T) {
	tr := openOrSkip(t, Options{})
	cmd := exec.Command("bash", "-c", `kill -INT $$`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	_ = cmd.Run() // dies of its own INT
	pid := cmd.Process.Pid
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	col := &collector{}
	start := time.Now()
	if err := tr.Run(ctx, col.add); err != nil {
		t.Fatalf("Run: %v", err)
	}
	took := time.Since(start)
	t.Logf("drain of %d events took %v", len(col.evs), took)
	if took > maxDrain+time.Second {
		t.Errorf("Run with a cancelled ctx took %v", took)
	}
	for _, want := range []struct {
		what  string
		match func(Event) bool
	}{
		{"exec", func(ev Event) bool { return ev.Kind == KindProcessExec && ev.TaskPID == pid }},
		{"INT to itself", func(ev Event) bool {
			return ev.Kind == KindSignalGenerate && ev.Sig == 2 && ev.TaskPID == pid && ev.TargetPID == pid && ev.Res == ResDelivered
		}},
		{"exit", func(ev Event) bool { return ev.Kind == KindProcessExit && ev.TaskPID == pid && ev.GroupDead }},
	} {
		if i, _ := col.find(want.match); i < 0 {
			t.Errorf("drain missed the %s of %d", want.what, pid)
		}
	}
}

// Close while Run waits: Run returns ErrClosed promptly, then the instance
// is gone.
func TestCloseDuringRun(t *testing.T) {
	tr := openOrSkip(t, Options{})
	runErr := make(chan error, 1)
	go func() { runErr <- tr.Run(context.Background(), func(Event) {}) }()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-runErr:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Run: %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after Close")
	}
	t.Logf("Close with Run waiting took %v", time.Since(start))
	if _, err := os.Stat(tr.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("instance still there: %v", err)
	}
}

// Cancelling an idle Run (no event of ours pending) returns quickly: the
// poll wakes on the eventfd, not on the next event.
func TestRunCancelLatency(t *testing.T) {
	tr := openOrSkip(t, Options{Signals: []int{31}}) // SIGSYS: nobody sends it; the sched events still flow
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- tr.Run(ctx, func(Event) {}) }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5s after cancel")
	}
	took := time.Since(start)
	t.Logf("Run returned %v after cancel", took)
	if took > maxDrain+500*time.Millisecond {
		t.Errorf("Run took %v to return after cancel", took)
	}
}

// A leftover instance of a dead process is removed; one of a live process,
// or one whose name carries no PID, is busy and kept.
func TestOpenStaleAndBusyInstances(t *testing.T) {
	tr := openOrSkip(t, Options{}) // keeps tracefs mounted meanwhile, and gives its root
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	deadPID := dead.Process.Pid
	if unix.Kill(deadPID, 0) != unix.ESRCH {
		t.Skipf("pid %d already reused", deadPID)
	}
	mk := func(name string) string {
		dir := filepath.Join(tr.root, "instances", name)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = removeInstance(dir) })
		return dir
	}

	stale := fmt.Sprintf("kgtest-stale-%d", deadPID)
	mk(stale)
	tr2, err := Open(Options{Name: stale})
	if err != nil {
		t.Fatalf("Open over the leftover of dead pid %d: %v", deadPID, err)
	}
	if err := tr2.Close(); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"kgtest-live-1", "kgtest-nopid"} {
		dir := mk(name)
		_, err := Open(Options{Name: name})
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "busy") {
			t.Errorf("Open(%s): %v, want ErrUnavailable busy", name, err)
		} else {
			t.Logf("Open(%s): %v", name, err)
		}
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("Open removed %s, which is not its own: %v", name, err)
		}
	}
}

// A failing Open leaves nothing: the instance it created is removed and a
// tracefs it mounted is unmounted.
func TestOpenFailureLeavesNothing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	mountedBefore := tracefsMounted()
	// 1 TiB per CPU: the kernel refuses (ENOMEM) before allocating.
	_, err := Open(Options{Name: "kgtest-fail", BufferKB: 1 << 30})
	if errors.Is(err, ErrUnavailable) && (strings.Contains(err.Error(), "not root") || strings.Contains(err.Error(), "tracefs")) {
		t.Skip(err)
	}
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "buffer") {
		t.Fatalf("Open with a 1 TiB buffer: %v, want ErrUnavailable about the buffer", err)
	}
	t.Logf("Open: %v", err)
	if tracefsMounted() != mountedBefore {
		t.Errorf("tracefs mounted before: %v, after the failed Open: %v", mountedBefore, tracefsMounted())
	}
	// The name is free again: a good Open with it works.
	tr := openOrSkip(t, Options{Name: "kgtest-fail"})
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}

	if _, err := Open(Options{Signals: []int{0}}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("Open with signal 0: %v, want a plain options error", err)
	}
}

// Root names a directory that is no tracefs: Open mounts one there, Close
// unmounts it.
func TestOpenMountsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	dir := t.TempDir()
	tr := openOrSkip(t, Options{Root: dir, Name: "kgtest-root"})
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) }) // only if the test failed half way
	if !isTracefs(dir) || !tr.mounted {
		t.Fatalf("Open did not mount tracefs on %s", dir)
	}
	if got := filepath.Dir(filepath.Dir(tr.Dir())); got != dir {
		t.Errorf("instance %s not under %s", tr.Dir(), dir)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	others, _ := os.ReadDir(filepath.Join(dir, "instances"))
	if isTracefs(dir) && len(others) == 0 {
		t.Errorf("tracefs still mounted on %s after Close", dir)
	}
}

// A burst of forks while Run reads: every fork is handed over, none lost,
// every line parsed.
func TestRunKeepsUpWithForkBurst(t *testing.T) {
	tr := openOrSkip(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	col := &collector{}
	runErr := make(chan error, 1)
	go func() { runErr <- tr.Run(ctx, col.add) }()
	const n = 500
	cmd := exec.Command("bash", "-c", fmt.Sprintf(`for i in $(seq %d); do ( : ); done`, n))
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	pid := cmd.Process.Pid
	col.waitFor(t, "exit of the forking bash", func(ev Event) bool { return ev.Kind == KindProcessExit && ev.TaskPID == pid })
	cancel()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	forks := 0
	col.mu.Lock()
	for _, ev := range col.evs {
		if ev.Kind == KindProcessFork && ev.TaskPID == pid {
			forks++
		}
	}
	total := len(col.evs)
	behind := 0
	for i := 1; i < total; i++ {
		if col.evs[i].Stamp < col.evs[i-1].Stamp {
			behind++
		}
	}
	med, max := stats(col.lag)
	col.mu.Unlock()
	lost, err := tr.Lost()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d forks in %v; %d events handed over (%d after a later-stamped one), latency median %v max %v; lost %d, unparsed %d",
		n, took, total, behind, med, max, lost, tr.Unparsed())
	// n subshells, plus the fork that runs seq.
	if forks < n || lost != 0 || tr.Unparsed() != 0 {
		t.Errorf("saw %d of at least %d forks; lost %d; unparsed %d", forks, n, lost, tr.Unparsed())
	}
}

// Not root: Open says so, plainly, with ErrUnavailable. As root the test
// runs a copy of itself as nobody (uid 65534) to see the real refusal.
func TestOpenNotRoot(t *testing.T) {
	if os.Getenv("KUBEGRACE_KERNEL_NOT_ROOT_CHILD") == "1" {
		_, err := Open(Options{})
		fmt.Printf("errors.Is(ErrUnavailable)=%v\n%v\n", errors.Is(err, ErrUnavailable), err)
		os.Exit(0)
	}
	check := func(out string) {
		t.Helper()
		if !strings.Contains(out, "errors.Is(ErrUnavailable)=true") ||
			!strings.Contains(out, "kernel signal observer unavailable: not root (uid ") ||
			!strings.Contains(out, "verdicts fall back to app logs and exit codes") {
			t.Errorf("Open as non-root said:\n%s", out)
		}
		t.Logf("%s", out)
	}
	if uid := os.Geteuid(); uid != 0 {
		_, err := Open(Options{})
		check(fmt.Sprintf("errors.Is(ErrUnavailable)=%v\n%v\n", errors.Is(err, ErrUnavailable), err))
		return
	}
	// The test binary sits in a 0700 build directory: copy it where nobody
	// can run it.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "kernel.test")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-test.run=^TestOpenNotRoot$")
	cmd.Env = append(os.Environ(), "KUBEGRACE_KERNEL_NOT_ROOT_CHILD=1")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: 65534, Gid: 65534},
		Pdeathsig:  syscall.SIGKILL,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Skipf("cannot run a copy of the test as nobody: %v: %s", err, out)
	}
	check(string(out))
	if !strings.Contains(string(out), "(uid 65534)") {
		t.Errorf("the message does not name the uid: %s", out)
	}
}
