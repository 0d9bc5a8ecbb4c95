package kernel

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A trace_pipe line, default output options (irq-info on, record-tgid
// optional), e.g.
//
//	ns-noexec.sh-31058   (  31058) [000] dN.2.  1324.400713: signal_generate: sig=9 ...
//	       <...>-845     (    845) [000] .....  1349.013304: sched_process_exec: ...
//
// The task name is right-aligned in 16 columns and may itself hold spaces and
// dashes; it is at most 15 bytes, so the first "-PID  [(TGID)] [CPU]" after it
// ends it (lazy match). The flags column is absent with irq-info off, the TGID
// column without record-tgid ("(-------)" when unknown).
var headerRE = regexp.MustCompile(
	`^\s*(.+?)-(\d+)\s+(?:\(\s*(\d+|-+)\)\s+)?\[(\d+)\]\s+(?:(\S+)\s+)?(\d+)(?:\.(\d+))?:\s+(\w+):\s?(.*)$`)

// Bodies, one per print fmt of this kernel's tracepoints (events/*/format).
// Free-text fields (comm, filename) may hold spaces, so each is matched up to
// the fixed key that follows it, anchored at the end.
var (
	// "sig=%d errno=%d code=%d comm=%s pid=%d grp=%d res=%d"
	generateRE = regexp.MustCompile(`^sig=(-?\d+) errno=(-?\d+) code=(-?\d+) comm=(.*) pid=(-?\d+) grp=(-?\d+) res=(-?\d+)$`)
	// "sig=%d errno=%d code=%d sa_handler=%lx sa_flags=%lx"
	deliverRE = regexp.MustCompile(`^sig=(-?\d+) errno=(-?\d+) code=(-?\d+) sa_handler=([0-9a-f]+) sa_flags=([0-9a-f]+)$`)
	// "comm=%s pid=%d child_comm=%s child_pid=%d"
	forkRE = regexp.MustCompile(`^comm=(.*) pid=(\d+) child_comm=(.*) child_pid=(\d+)$`)
	// "filename=%s pid=%d old_pid=%d"
	execRE = regexp.MustCompile(`^filename=(.*) pid=(\d+) old_pid=(\d+)$`)
	// "comm=%s pid=%d prio=%d group_dead=%s"; group_dead is recent (absent
	// on older kernels, then GroupDead stays false).
	exitRE = regexp.MustCompile(`^comm=(.*) pid=(\d+) prio=(-?\d+)(?: group_dead=(true|false))?$`)
	// trace_pipe's own note when the ring buffer overwrote unread events.
	lostRE = regexp.MustCompile(`^CPU:(\d+) \[LOST (\d+) EVENTS\]$`)
)

// LostError is what ParseLine returns for trace_pipe's "CPU:N [LOST M
// EVENTS]" line: not an event, but a gap in the record.
type LostError struct {
	CPU    int
	Events uint64
}

func (e *LostError) Error() string {
	return fmt.Sprintf("trace lost %d events on CPU %d", e.Events, e.CPU)
}

// ParseLine parses one trace_pipe line of the five tracepoints a Tracer
// enables. clock converts the kernel timestamp (seconds on the trace clock)
// to wall time; nil leaves Time zero. Pure: no I/O.
//
// A "[LOST N EVENTS]" line returns a *LostError; any other line it cannot
// read returns an error naming what was wrong.
func ParseLine(line string, clock func(float64) time.Time) (Event, error) {
	raw := strings.TrimRight(line, "\r\n")
	if m := lostRE.FindStringSubmatch(strings.TrimSpace(raw)); m != nil {
		cpu, _ := strconv.Atoi(m[1])
		n, _ := strconv.ParseUint(m[2], 10, 64)
		return Event{}, &LostError{CPU: cpu, Events: n}
	}
	h := headerRE.FindStringSubmatch(raw)
	if h == nil {
		return Event{}, fmt.Errorf("not a trace line: %q", raw)
	}
	ev := Event{Raw: raw, Res: -1}
	ev.TaskComm = h[1]
	if ev.TaskComm == "<...>" { // the pid→comm cache had lost the name
		ev.TaskComm = ""
	}
	ev.TaskPID = atoi(h[2])
	if h[3] != "" && h[3][0] != '-' {
		ev.TaskTGID = atoi(h[3])
	}
	ev.CPU = atoi(h[4])
	ev.Stamp = stamp(h[6], h[7])
	if clock != nil {
		ev.Time = clock(ev.Stamp.Seconds())
	}
	name, body := h[8], h[9]
	switch name {
	case "signal_generate":
		m := generateRE.FindStringSubmatch(body)
		if m == nil {
			return Event{}, fmt.Errorf("signal_generate: unexpected fields %q", body)
		}
		ev.Kind = KindSignalGenerate
		ev.Sig, ev.Errno, ev.Code = atoi(m[1]), atoi(m[2]), atoi(m[3])
		ev.TargetComm, ev.TargetPID = m[4], atoi(m[5])
		ev.Group = m[6] != "0"
		ev.Res = SignalResult(atoi(m[7]))
	case "signal_deliver":
		m := deliverRE.FindStringSubmatch(body)
		if m == nil {
			return Event{}, fmt.Errorf("signal_deliver: unexpected fields %q", body)
		}
		ev.Kind = KindSignalDeliver
		ev.Sig, ev.Errno, ev.Code = atoi(m[1]), atoi(m[2]), atoi(m[3])
		ev.SAHandler, _ = strconv.ParseUint(m[4], 16, 64)
		ev.SAFlags, _ = strconv.ParseUint(m[5], 16, 64)
	case "sched_process_fork":
		m := forkRE.FindStringSubmatch(body)
		if m == nil {
			return Event{}, fmt.Errorf("sched_process_fork: unexpected fields %q", body)
		}
		ev.Kind = KindProcessFork
		// The parent's name as recorded at fork time beats the cache.
		ev.TaskComm, ev.TaskPID = m[1], atoi(m[2])
		ev.TargetComm, ev.TargetPID = m[3], atoi(m[4])
	case "sched_process_exec":
		m := execRE.FindStringSubmatch(body)
		if m == nil {
			return Event{}, fmt.Errorf("sched_process_exec: unexpected fields %q", body)
		}
		ev.Kind = KindProcessExec
		ev.Filename, ev.TaskPID, ev.OldPID = m[1], atoi(m[2]), atoi(m[3])
		if ev.TaskComm == "" {
			// The cache lost the name: exec names the task after the
			// file's base name, truncated to TASK_COMM_LEN-1.
			ev.TaskComm = path.Base(ev.Filename)
			if len(ev.TaskComm) > 15 {
				ev.TaskComm = ev.TaskComm[:15]
			}
		}
	case "sched_process_exit":
		m := exitRE.FindStringSubmatch(body)
		if m == nil {
			return Event{}, fmt.Errorf("sched_process_exit: unexpected fields %q", body)
		}
		ev.Kind = KindProcessExit
		ev.TaskComm, ev.TaskPID = m[1], atoi(m[2])
		ev.GroupDead = m[4] == "true"
	default:
		return Event{}, fmt.Errorf("unknown event %q", name)
	}
	return ev, nil
}

// atoi is only called on what a regexp matched as digits: it cannot fail
// except on overflow, which a PID or signal number never reaches.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// stamp turns "1324" "400713" into a Duration exactly (no float rounding).
func stamp(sec, frac string) time.Duration {
	d := time.Duration(atoi(sec)) * time.Second
	if frac == "" {
		return d
	}
	if len(frac) > 9 {
		frac = frac[:9]
	}
	f := atoi(frac)
	for i := len(frac); i < 9; i++ {
		f *= 10
	}
	return d + time.Duration(f)
}
