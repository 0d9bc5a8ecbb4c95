// Package kernel reads signals and process lifecycle from the kernel itself,
// through tracefs: the signal:signal_generate and signal:signal_deliver
// tracepoints say who sent which signal to whom and what the kernel did with
// it (delivered, ignored, ...), and sched:sched_process_fork/exec/exit say
// which processes existed. No bpftrace, BTF, eBPF or cgo, and nothing
// changes in the pods: tracepoints do not alter the signal path.
//
// A Tracer owns a private trace instance (instances/<name>) so it never
// disturbs another user of tracefs. /proc (ReadProc, ScanPods, ParseCgroup)
// maps a host PID to its pod and container while the process lives.
//
// Where the tracer cannot run (not root, no tracefs, Docker Desktop, ...)
// Open says so with ErrUnavailable, and callers must fall back to exit codes
// and app logs rather than invent a signal verdict.
package kernel

import (
	"errors"
	"fmt"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// ErrUnavailable wraps every reason the tracer cannot run here (not root, no
// tracefs in /proc/filesystems, mount refused, instance busy, tracepoint
// missing, ...); the wrapping message says which, plainly, and what follows.
var ErrUnavailable = errors.New("kernel signal observer unavailable")

// ErrClosed is returned by Run when the Tracer was closed (before or during
// Run).
var ErrClosed = errors.New("kernel tracer closed")

// fallback ends every ErrUnavailable message: what a run gets instead.
const fallback = "without it verdicts fall back to app logs and exit codes"

func unavailable(format string, a ...any) error {
	return fmt.Errorf("%w: %s; %s", ErrUnavailable, fmt.Sprintf(format, a...), fallback)
}

// Kind names a trace event by its tracepoint.
type Kind string

// The tracepoints a Tracer enables.
const (
	// KindSignalGenerate: a signal was sent (kill, tgkill, the kernel itself).
	KindSignalGenerate Kind = "signal_generate"
	// KindSignalDeliver: a task dequeued a signal to act on it. Caution: a
	// signal whose default action terminates without a core dump (TERM,
	// INT, HUP to a process with SIG_DFL) is turned into SIGKILL for every
	// thread when it is sent (complete_signal), so it is dequeued as sig=9
	// with no KILL generated; core-dumping ones (QUIT) are dequeued as
	// themselves. Likewise exit_group makes each other thread of a process
	// dequeue sig=9. What killed a process is the generate event, not the
	// deliver.
	KindSignalDeliver Kind = "signal_deliver"
	// KindProcessFork: a task was created, process or thread alike (the
	// event does not say; Proc.TGID of the child does).
	KindProcessFork Kind = "process_fork"
	// KindProcessExec: a task executed a file.
	KindProcessExec Kind = "process_exec"
	// KindProcessExit: a task exited (each thread fires; GroupDead marks
	// the last one of its process).
	KindProcessExit Kind = "process_exit"
)

// SignalResult is what signal_generate did with a signal (res=,
// include/trace/events/signal.h).
type SignalResult int

// The results of signal_generate.
const (
	ResDelivered     SignalResult = 0 // TRACE_SIGNAL_DELIVERED: queued (or acted on) for the target
	ResIgnored       SignalResult = 1 // TRACE_SIGNAL_IGNORED: dropped, e.g. PID 1 of a namespace without a handler
	ResAlreadyPended SignalResult = 2 // TRACE_SIGNAL_ALREADY_PENDING: a non-realtime signal already pending
	ResOverflowFail  SignalResult = 3 // TRACE_SIGNAL_OVERFLOW_FAIL: the realtime queue was full
	ResLoseInfo      SignalResult = 4 // TRACE_SIGNAL_LOSE_INFO: queued without its siginfo
)

// signalResults is the one mapping of the kernel's results to the
// timeline's words (timeline.Event.Result).
var signalResults = map[SignalResult]string{
	ResDelivered:     timeline.ResultDelivered,
	ResIgnored:       timeline.ResultIgnored,
	ResAlreadyPended: timeline.ResultPending,
	ResOverflowFail:  timeline.ResultOverflow,
	ResLoseInfo:      timeline.ResultLoseInfo,
}

// String is r as the timeline records it; "result N" for a result this
// kernel version added.
func (r SignalResult) String() string {
	if s, ok := signalResults[r]; ok {
		return s
	}
	return fmt.Sprintf("result %d", int(r))
}

// HandlerName is a signal_deliver's sa_handler (Event.SAHandler) as the
// timeline records it: SIG_DFL (0), SIG_IGN (1), or a handler's address.
func HandlerName(saHandler uint64) string {
	switch saHandler {
	case sigDfl:
		return timeline.HandlerDefault
	case sigIgn:
		return timeline.HandlerIgnore
	}
	return timeline.HandlerCaught
}

// The dispositions sa_handler can hold besides a handler's address.
const (
	sigDfl = 0 // SIG_DFL
	sigIgn = 1 // SIG_IGN
)

// Signal codes (si_code) worth naming when reading Event.Code.
const (
	CodeUser   = 0   // SI_USER: kill(2) from a process
	CodeKernel = 128 // SI_KERNEL: sent by the kernel, e.g. SIGKILL to a dying PID namespace's members
	CodeTkill  = -6  // SI_TKILL: tgkill(2)/tkill(2)
)

// Event is one kernel trace event.
type Event struct {
	// Time is the wall time of the event: the kernel's timestamp (Stamp)
	// plus the trace clock's offset to CLOCK_REALTIME, measured at Open and
	// again every 10 s while Run runs.
	Time time.Time
	// Stamp is the kernel's timestamp on the trace clock (CLOCK_MONOTONIC
	// for "mono"), µs resolution as trace_pipe prints it; it orders events
	// exactly, whatever happens to the wall clock.
	Stamp time.Duration
	Kind  Kind
	CPU   int

	// TaskComm and TaskPID are the current task when the event fired: the
	// sender (generate), the receiver (deliver), the parent (fork), the
	// process (exec, exit). TaskPID is the global (host) thread ID. For fork
	// and exit the kernel records the name in the event; otherwise it comes
	// from the kernel's pid→comm cache when the line was read (so after an
	// exec it is the new name), and is "" when the cache had lost it (the
	// "<...>" placeholder; for exec then the base name of Filename, which is
	// what exec names the task).
	TaskComm string
	TaskPID  int
	// TaskTGID is the process (thread group) ID of the current task when the
	// trace records it (option record-tgid); 0 when unknown.
	TaskTGID int

	// Sig, Errno and Code (si_code) are set for signal_generate and
	// signal_deliver.
	Sig, Errno, Code int
	// Res is what signal_generate did: ResDelivered, ResIgnored, ...; -1 for
	// every other kind.
	Res SignalResult
	// Group is grp=1 on signal_generate: sent to the whole thread group.
	Group bool

	// TargetComm and TargetPID are the signal's target (generate, the name
	// recorded at send time) or the child (fork).
	TargetComm string
	TargetPID  int

	// SAHandler and SAFlags are the receiver's disposition at delivery
	// (deliver): SAHandler 0 = SIG_DFL, 1 = SIG_IGN, else a handler address.
	SAHandler, SAFlags uint64

	// Filename is the file executed (exec); OldPID the task's PID before
	// exec (differs from TaskPID when a non-leader thread execs).
	Filename string
	OldPID   int

	// GroupDead (exit) is true when the exiting task was the last of its
	// thread group: the process is gone.
	GroupDead bool

	// Raw is the line as read.
	Raw string
}
