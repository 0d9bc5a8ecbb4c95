//go:build linux

package kernel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// tracepoints are the five a Tracer enables, as events/<system>/<name>.
var tracepoints = []string{
	"signal/signal_generate",
	"signal/signal_deliver",
	"sched/sched_process_fork",
	"sched/sched_process_exec",
	"sched/sched_process_exit",
}

// signalTracepoints get the Options.Signals filter.
var signalTracepoints = tracepoints[:2]

const (
	// pollTimeout bounds one wait in Run: a safety net only (a wakeup the
	// kernel failed to give delays events by at most this much); data and
	// cancellation both wake the poll at once.
	pollTimeout = time.Second
	// maxDrain bounds how long Run keeps reading what the kernel had already
	// buffered once ctx ended (a busy host may never run dry).
	maxDrain = time.Second
	// offsetRefresh is how often Run measures the trace clock's offset to
	// wall time again, so that NTP's slewing of the wall clock over a long
	// run does not accumulate between Event.Time and time.Now().
	offsetRefresh = 10 * time.Second
)

// Tracer owns one tracefs instance with the five tracepoints enabled.
// Run reads it; Close removes it. Run and Close may be called from
// different goroutines; Run runs at most once at a time.
type Tracer struct {
	root    string // tracefs mount point
	dir     string // root/instances/<name>
	mounted bool   // Open mounted root: Close unmounts it when no instance is left
	clock   string // trace_clock in use
	// base is the wall time at which the trace clock read zero; written by
	// Open, then only by Run's goroutine, which alone reads it.
	base time.Time
	// skew is the width of the clock sample the offset came from: the
	// offset's uncertainty.
	skew time.Duration

	unparsed atomic.Uint64

	closeMu sync.Mutex // serialises Close
	mu      sync.Mutex // guards the fields below
	closed  bool
	lostEnd uint64        // Lost() as read at Close
	lostErr error         // and its error
	runDone chan struct{} // non-nil while Run runs; closed when it returns
	wakeFD  int           // eventfd that interrupts Run's poll; -1 without Run
}

// Open creates a private trace instance (instances/<name>) under tracefs,
// mounting tracefs if no mount exists, and enables signal_generate and
// signal_deliver (filtered to Options.Signals) and sched_process_fork,
// sched_process_exec and sched_process_exit, on the "mono" trace clock
// (CLOCK_MONOTONIC; "boot" if mono is missing) converted to wall time with
// an offset measured here.
//
// An instance of the same name is "busy" (another run) unless its name ends
// in the PID of a process that no longer exists: then it is a leftover,
// removed. Every reason the tracer cannot run wraps ErrUnavailable. If Open
// fails, nothing is left behind: no instance, no mount of its own.
func Open(o Options) (_ *Tracer, err error) {
	o, err = o.withDefaults(os.Getpid())
	if err != nil {
		return nil, err
	}
	if uid := os.Geteuid(); uid != 0 {
		return nil, unavailable("not root (uid %d): run as root on the Docker host", uid)
	}
	root, mounted, err := tracefsRoot(o.Root)
	if err != nil {
		return nil, err
	}
	t := &Tracer{root: root, dir: filepath.Join(root, "instances", o.Name), mounted: mounted, wakeFD: -1}
	created := false
	defer func() {
		if err == nil {
			return
		}
		if created {
			_ = removeInstance(t.dir)
		}
		if mounted {
			t.unmountIfIdle()
		}
	}()
	if err = createInstance(t.dir, o.Name); err != nil {
		return nil, err
	}
	created = true
	if err = t.configure(o); err != nil {
		return nil, err
	}
	t.base, t.skew = measureOffset(clockIDs[t.clock])
	return t, nil
}

// clockIDs maps the trace clocks the Tracer can convert to wall time to the
// POSIX clock each one reads.
var clockIDs = map[string]int32{
	"mono": unix.CLOCK_MONOTONIC,
	"boot": unix.CLOCK_BOOTTIME,
}

func (t *Tracer) configure(o Options) error {
	for _, tp := range tracepoints {
		if _, err := os.Stat(filepath.Join(t.dir, "events", tp, "enable")); err != nil {
			return unavailable("tracepoint %s missing on this kernel (%v)", strings.Replace(tp, "/", ":", 1), err)
		}
	}
	if err := writeFile(t.dir, "buffer_size_kb", strconv.Itoa(o.BufferKB)); err != nil {
		return unavailable("cannot size the trace buffer to %d KB per CPU: %v", o.BufferKB, err)
	}
	clocks, err := os.ReadFile(filepath.Join(t.dir, "trace_clock"))
	if err != nil {
		return unavailable("cannot read trace_clock: %v", err)
	}
	for _, c := range strings.Fields(string(clocks)) {
		c = strings.Trim(c, "[]")
		if c == "mono" || (c == "boot" && t.clock == "") {
			t.clock = c
		}
	}
	if t.clock == "" {
		return unavailable("no trace clock convertible to wall time (have: %s)", strings.TrimSpace(string(clocks)))
	}
	if err := writeFile(t.dir, "trace_clock", t.clock); err != nil {
		return unavailable("cannot set trace_clock %s: %v", t.clock, err)
	}
	// Optional refinements; older kernels lack them and that is fine:
	// buffer_percent 0 wakes a poll on the first event rather than when the
	// buffer is half full; record-tgid prints the process ID of each task.
	for _, opt := range [][2]string{{"buffer_percent", "0"}, {"options/record-tgid", "1"}} {
		if err := writeFile(t.dir, opt[0], opt[1]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return unavailable("cannot set %s: %v", opt[0], err)
		}
	}
	filter := sigFilter(o.Signals)
	for _, tp := range signalTracepoints {
		if err := writeFile(t.dir, "events/"+tp+"/filter", filter); err != nil {
			return unavailable("cannot set filter %q on %s: %v", filter, tp, err)
		}
	}
	for _, tp := range tracepoints {
		if err := writeFile(t.dir, "events/"+tp+"/enable", "1"); err != nil {
			return unavailable("cannot enable %s: %v", tp, err)
		}
	}
	if err := writeFile(t.dir, "tracing_on", "1"); err != nil {
		return unavailable("cannot turn tracing on: %v", err)
	}
	return nil
}

// Dir is the trace instance's directory (for messages, and for an operator
// who wants to look).
func (t *Tracer) Dir() string { return t.dir }

// Run reads trace_pipe until ctx ends (or Close), parses each line and calls
// fn with it, on Run's goroutine, in trace_pipe's order: per-CPU buffers
// merged by timestamp among what is committed at each read. An event still
// being committed on another CPU could in principle come after a
// later-stamped one (the tests have not seen it); sort by Stamp where the
// exact order across CPUs matters. Lines it cannot parse are counted
// (Unparsed), never fatal. When ctx ends, Run still hands over what the
// kernel had already buffered (for up to a second on a busy host), so
// events that happened before the cancel are not lost; then it returns
// nil. It returns ErrClosed if the Tracer is or gets closed.
//
// Cancellation: trace_pipe is opened non-blocking and Run waits in poll(2)
// on it and on an eventfd that ctx's end and Close write to, so neither
// waits for the next event.
func (t *Tracer) Run(ctx context.Context, fn func(Event)) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return ErrClosed
	}
	if t.runDone != nil {
		t.mu.Unlock()
		return errors.New("kernel: Run is already running")
	}
	fd, err := unix.Open(filepath.Join(t.dir, "trace_pipe"), unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("open %s/trace_pipe: %w", t.dir, err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(fd)
		t.mu.Unlock()
		return fmt.Errorf("eventfd: %w", err)
	}
	done := make(chan struct{})
	t.runDone, t.wakeFD = done, wake
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		unix.Close(fd)
		unix.Close(wake)
		t.runDone, t.wakeFD = nil, -1
		t.mu.Unlock()
		close(done)
	}()
	stop := context.AfterFunc(ctx, t.wake)
	defer stop()
	return t.read(ctx, fd, wake, fn)
}

// wake interrupts Run's poll, if Run is running.
func (t *Tracer) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wakeFD >= 0 {
		var one [8]byte
		one[0] = 1 // eventfd counters are host-endian; any non-zero value wakes
		_, _ = unix.Write(t.wakeFD, one[:])
	}
}

func (t *Tracer) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

func (t *Tracer) read(ctx context.Context, fd, wake int, fn func(Event)) error {
	buf := make([]byte, 64<<10)
	var partial []byte // a line not yet ended (trace_pipe hands whole lines, but do not rely on it)
	var drainUntil time.Time
	emptyReads := 0
	measured := time.Now()
	end := func() error {
		if len(partial) > 0 {
			t.handle(string(partial), fn)
		}
		if t.isClosed() {
			return ErrClosed
		}
		return nil
	}
	for {
		stopping := ctx.Err() != nil || t.isClosed()
		if stopping {
			if drainUntil.IsZero() {
				drainUntil = time.Now().Add(maxDrain)
			} else if time.Now().After(drainUntil) {
				return end()
			}
		}
		if time.Since(measured) > offsetRefresh {
			t.base, t.skew = measureOffset(clockIDs[t.clock])
			measured = time.Now()
		}
		n, err := unix.Read(fd, buf)
		if n > 0 {
			emptyReads = 0
			partial = append(partial, buf[:n]...)
			for {
				i := bytes.IndexByte(partial, '\n')
				if i < 0 {
					break
				}
				t.handle(string(partial[:i]), fn)
				partial = partial[i+1:]
			}
			partial = append([]byte(nil), partial...) // let buf's copy go
			continue
		}
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN || (err == nil && n == 0):
			// Empty (n == 0 is trace_pipe's EOF after tracing was turned
			// off). Stopping: everything buffered is handed over.
			if stopping {
				return end()
			}
			if err == nil {
				if emptyReads++; emptyReads > 3 { // never spin on a pipe that says readable and gives nothing
					time.Sleep(10 * time.Millisecond)
				}
			}
		case err != nil:
			return fmt.Errorf("read %s/trace_pipe: %w", t.dir, err)
		}
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, int(pollTimeout/time.Millisecond)); err != nil && err != unix.EINTR {
			return fmt.Errorf("poll %s/trace_pipe: %w", t.dir, err)
		}
		if fds[1].Revents&unix.POLLIN != 0 {
			var b [8]byte
			_, _ = unix.Read(wake, b[:]) // reset the eventfd; the loop head sees why
		}
	}
}

func (t *Tracer) handle(line string, fn func(Event)) {
	if strings.TrimSpace(line) == "" {
		return
	}
	ev, err := ParseLine(line, t.wallClock)
	var lost *LostError
	switch {
	case errors.As(err, &lost):
		// Not an event, not unparsed: the per-CPU stats count these
		// events too (Lost).
	case err != nil:
		t.unparsed.Add(1)
	default:
		fn(ev)
	}
}

// wallClock converts a trace clock reading (seconds) to wall time.
func (t *Tracer) wallClock(sec float64) time.Time {
	return t.base.Add(time.Duration(math.Round(sec * 1e9)))
}

// Unparsed is how many lines Run could not parse.
func (t *Tracer) Unparsed() uint64 { return t.unparsed.Load() }

// Lost is how many events the ring buffer dropped: the sum over
// per_cpu/cpu*/stats of "overrun" (overwritten before Run read them),
// "commit overrun" and "dropped events". After Close it returns the count
// read at Close.
func (t *Tracer) Lost() (uint64, error) {
	t.mu.Lock()
	if t.closed {
		defer t.mu.Unlock()
		return t.lostEnd, t.lostErr
	}
	t.mu.Unlock()
	return readLost(t.dir)
}

func readLost(dir string) (uint64, error) {
	files, err := filepath.Glob(filepath.Join(dir, "per_cpu", "cpu*", "stats"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no per_cpu stats in %s", dir)
	}
	var sum uint64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return sum, err
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			key, val, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			switch key {
			case "overrun", "commit overrun", "dropped events":
				n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
				if err != nil {
					return sum, fmt.Errorf("%s: %s: %w", f, key, err)
				}
				sum += n
			}
		}
	}
	return sum, nil
}

// Close stops a running Run (and waits for it), disables every event, turns
// tracing off and removes the instance; if Open mounted tracefs and no
// instance is left, it unmounts it. Idempotent; safe after Run returned.
func (t *Tracer) Close() error {
	t.closeMu.Lock()
	defer t.closeMu.Unlock()
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	done := t.runDone
	t.mu.Unlock()
	if done != nil {
		t.wake()
		<-done // trace_pipe must be closed before rmdir, or it is EBUSY
	}
	lost, lerr := readLost(t.dir)
	t.mu.Lock()
	t.lostEnd, t.lostErr = lost, lerr
	t.mu.Unlock()
	err := removeInstance(t.dir)
	if t.mounted {
		t.unmountIfIdle()
	}
	if err != nil {
		return fmt.Errorf("remove trace instance: %w", err)
	}
	return nil
}

// removeInstance turns an instance off and removes it. rmdir alone would
// do (the kernel tears an instance down whole), but disabling first means a
// failed rmdir leaves nothing recording.
func removeInstance(dir string) error {
	_ = writeFile(dir, "tracing_on", "0")
	_ = writeFile(dir, "events/enable", "0")
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// unmountIfIdle unmounts the tracefs this Tracer mounted, unless another
// instance lives there (another run found the mount and uses it) or the
// kernel says busy.
func (t *Tracer) unmountIfIdle() {
	if entries, err := os.ReadDir(filepath.Join(t.root, "instances")); err != nil || len(entries) > 0 {
		return
	}
	_ = unix.Unmount(t.root, 0)
}

// createInstance makes dir, the instance: mkdir is atomic, so it is also
// the lock between two runs.
func createInstance(dir, name string) error {
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		pid, alive := owner(name)
		if pid > 0 && !alive {
			if rerr := removeInstance(dir); rerr != nil {
				return unavailable("trace instance %s was left by process %d, which is gone, and cannot be removed: %v", dir, pid, rerr)
			}
			err = os.Mkdir(dir, 0o755)
		}
		if errors.Is(err, fs.ErrExist) {
			who := "another run"
			if pid > 0 {
				who = fmt.Sprintf("process %d", pid)
			}
			return unavailable("trace instance %s is busy: %s is tracing with it (if it is gone, rmdir the directory)", dir, who)
		}
	}
	if err != nil {
		return unavailable("cannot create trace instance %s: %v", dir, err)
	}
	return nil
}

var pidSuffixRE = regexp.MustCompile(`-(\d+)$`)

// owner reads the PID an instance name ends in, and whether that process
// is alive; pid 0 if the name carries none.
func owner(name string) (pid int, alive bool) {
	m := pidSuffixRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil || pid <= 0 {
		return 0, false
	}
	if pid == os.Getpid() {
		return pid, true
	}
	return pid, unix.Kill(pid, 0) != unix.ESRCH
}

// tracefsRoot finds (or makes) the tracefs mount to use; mounted says Open
// made it.
func tracefsRoot(root string) (dir string, mounted bool, err error) {
	if root != "" {
		if isTracefs(root) {
			return root, false, nil
		}
		return mountTracefs(root)
	}
	mounts := tracefsMounts()
	for _, pref := range []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"} {
		for _, m := range mounts {
			if m == pref && isTracefs(m) {
				return m, false, nil
			}
		}
	}
	for _, m := range mounts {
		if isTracefs(m) {
			return m, false, nil
		}
	}
	return mountTracefs("/sys/kernel/tracing")
}

func mountTracefs(dir string) (string, bool, error) {
	fss, err := os.ReadFile("/proc/filesystems")
	if err != nil {
		return "", false, unavailable("cannot read /proc/filesystems: %v", err)
	}
	found := false
	for _, line := range strings.Split(string(fss), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[len(f)-1] == "tracefs" {
			found = true
		}
	}
	if !found {
		return "", false, unavailable("no tracefs in /proc/filesystems: this kernel cannot be traced (Docker Desktop or a kernel without CONFIG_TRACING)")
	}
	if err := unix.Mount("nodev", dir, "tracefs", 0, ""); err != nil {
		return "", false, unavailable("mount of tracefs on %s refused: %v", dir, err)
	}
	return dir, true, nil
}

func isTracefs(dir string) bool {
	var st unix.Statfs_t
	return unix.Statfs(dir, &st) == nil && int64(st.Type) == unix.TRACEFS_MAGIC
}

// tracefsMounts lists tracefs mount points from /proc/self/mounts.
func tracefsMounts() []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[2] == "tracefs" {
			out = append(out, unescapeMount(f[1]))
		}
	}
	return out
}

// unescapeMount undoes /proc/mounts' octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// writeFile writes a tracefs control file (no O_CREAT: a missing file is
// an error, fs.ErrNotExist).
func writeFile(dir, name, val string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(val + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %q to %s: %w", val, name, err)
	}
	return nil
}

// measureOffset returns the wall time at which clock read zero. Each
// sample reads clock, CLOCK_REALTIME, clock; the narrowest of several
// brackets the realtime read best (no preemption in between), and its
// width is the uncertainty.
func measureOffset(clock int32) (base time.Time, width time.Duration) {
	best := int64(math.MaxInt64)
	var off int64
	for i := 0; i < 32; i++ {
		var a, r, b unix.Timespec
		if unix.ClockGettime(clock, &a) != nil || unix.ClockGettime(unix.CLOCK_REALTIME, &r) != nil || unix.ClockGettime(clock, &b) != nil {
			continue
		}
		if w := b.Nano() - a.Nano(); w < best {
			best = w
			off = r.Nano() - (a.Nano() + w/2)
		}
	}
	return time.Unix(0, off), time.Duration(best)
}
