package kernel

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// Every line below was read from trace_pipe/trace on the project's machine
// (kernel 6.18, trace_clock mono), with a throwaway instance, during the
// incident of the notes (bash as PID 1 of its own PID namespace, no exec),
// a bash renamed through /proc/PID/comm, a bash with a TERM trap, python's
// pthread_kill, python killing sleep with QUIT and TERM, and a fork storm that emptied the pid→comm cache ("<...>")
// and overflowed a 4 KB buffer ("[LOST N EVENTS]").
func TestParseLine(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func(s float64) time.Time { return base.Add(time.Duration(s * 1e9)) }
	cases := []struct {
		name string
		line string
		want Event // Raw, Time and Stamp are checked separately
		// stamp is the timestamp as printed
		stamp time.Duration
	}{
		{
			name:  "TERM to a namespace's init without handler: ignored",
			line:  "            bash-31051   [000] d..1.  1324.097572: signal_generate: sig=15 errno=0 code=0 comm=ns-noexec.sh pid=31058 grp=1 res=1",
			stamp: 1324*time.Second + 97572*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, CPU: 0, TaskComm: "bash", TaskPID: 31051,
				Sig: 15, Code: 0, Res: ResIgnored, Group: true, TargetComm: "ns-noexec.sh", TargetPID: 31058},
		},
		{
			name:  "KILL to init lands",
			line:  "            bash-31051   [001] d..1.  1324.400545: signal_generate: sig=9 errno=0 code=0 comm=ns-noexec.sh pid=31058 grp=1 res=0",
			stamp: 1324*time.Second + 400545*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, CPU: 1, TaskComm: "bash", TaskPID: 31051,
				Sig: 9, Res: ResDelivered, Group: true, TargetComm: "ns-noexec.sh", TargetPID: 31058},
		},
		{
			name:  "init delivers KILL (comm with dash and dot)",
			line:  "    ns-noexec.sh-31058   [000] d..1.  1324.400567: signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0",
			stamp: 1324*time.Second + 400567*time.Microsecond,
			want:  Event{Kind: KindSignalDeliver, TaskComm: "ns-noexec.sh", TaskPID: 31058, Sig: 9, Res: -1},
		},
		{
			name:  "init exits",
			line:  "    ns-noexec.sh-31058   [000] .....  1324.400575: sched_process_exit: comm=ns-noexec.sh pid=31058 prio=120 group_dead=true",
			stamp: 1324*time.Second + 400575*time.Microsecond,
			want:  Event{Kind: KindProcessExit, TaskComm: "ns-noexec.sh", TaskPID: 31058, Res: -1, GroupDead: true},
		},
		{
			name:  "the kernel KILLs the namespace's members (SI_KERNEL), flags dN.2.",
			line:  "    ns-noexec.sh-31058   [000] dN.2.  1324.400713: signal_generate: sig=9 errno=0 code=128 comm=sleep pid=31059 grp=1 res=0",
			stamp: 1324*time.Second + 400713*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, TaskComm: "ns-noexec.sh", TaskPID: 31058,
				Sig: 9, Code: CodeKernel, Res: ResDelivered, Group: true, TargetComm: "sleep", TargetPID: 31059},
		},
		{
			name:  "fork of init by unshare",
			line:  "         unshare-31056   [000] .....  1323.572256: sched_process_fork: comm=unshare pid=31056 child_comm=unshare child_pid=31058",
			stamp: 1323*time.Second + 572256*time.Microsecond,
			want: Event{Kind: KindProcessFork, TaskComm: "unshare", TaskPID: 31056, Res: -1,
				TargetComm: "unshare", TargetPID: 31058},
		},
		{
			name:  "exec of the app",
			line:  "           sleep-31059   [000] .....  1323.576259: sched_process_exec: filename=/usr/bin/sleep pid=31059 old_pid=31059",
			stamp: 1323*time.Second + 576259*time.Microsecond,
			want: Event{Kind: KindProcessExec, TaskComm: "sleep", TaskPID: 31059, Res: -1,
				Filename: "/usr/bin/sleep", OldPID: 31059},
		},
		{
			name:  "record-tgid column, comm with spaces and a dash-digit inside",
			line:  "      my app-1 x-31271   (  31271) [000] .....  1335.423198: sched_process_fork: comm=my app-1 x pid=31271 child_comm=my app-1 x child_pid=31273",
			stamp: 1335*time.Second + 423198*time.Microsecond,
			want: Event{Kind: KindProcessFork, TaskComm: "my app-1 x", TaskPID: 31271, TaskTGID: 31271, Res: -1,
				TargetComm: "my app-1 x", TargetPID: 31273},
		},
		{
			name:  "target comm with spaces",
			line:  "            bash-31267   (  31267) [001] d..1.  1335.728524: signal_generate: sig=15 errno=0 code=0 comm=my app-1 x pid=31271 grp=1 res=0",
			stamp: 1335*time.Second + 728524*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, CPU: 1, TaskComm: "bash", TaskPID: 31267, TaskTGID: 31267,
				Sig: 15, Res: ResDelivered, Group: true, TargetComm: "my app-1 x", TargetPID: 31271},
		},
		{
			name:  "a default-action TERM is delivered as KILL (complete_signal)",
			line:  "      my app-1 x-31271   (  31271) [000] d..1.  1335.728532: signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0",
			stamp: 1335*time.Second + 728532*time.Microsecond,
			want:  Event{Kind: KindSignalDeliver, TaskComm: "my app-1 x", TaskPID: 31271, TaskTGID: 31271, Sig: 9, Res: -1},
		},
		{
			name:  "exit, comm with spaces",
			line:  "      my app-1 x-31271   (  31271) [000] .....  1335.728540: sched_process_exit: comm=my app-1 x pid=31271 prio=120 group_dead=true",
			stamp: 1335*time.Second + 728540*time.Microsecond,
			want:  Event{Kind: KindProcessExit, TaskComm: "my app-1 x", TaskPID: 31271, TaskTGID: 31271, Res: -1, GroupDead: true},
		},
		{
			name:  "kube-apiserver sends",
			line:  "  kube-apiserver-32124   (  32124) [000] d..1.  1702.176942: signal_generate: sig=15 errno=0 code=0 comm=kube-apiserver pid=32124 grp=1 res=0",
			stamp: 1702*time.Second + 176942*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, TaskComm: "kube-apiserver", TaskPID: 32124, TaskTGID: 32124,
				Sig: 15, Res: ResDelivered, Group: true, TargetComm: "kube-apiserver", TargetPID: 32124},
		},
		{
			name:  "comm ending in -digits",
			line:  "       worker-12-32125   (  32125) [000] d..1.  1702.179044: signal_generate: sig=3 errno=0 code=0 comm=worker-12 pid=32125 grp=1 res=1",
			stamp: 1702*time.Second + 179044*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, TaskComm: "worker-12", TaskPID: 32125, TaskTGID: 32125,
				Sig: 3, Res: ResIgnored, Group: true, TargetComm: "worker-12", TargetPID: 32125},
		},
		{
			name:  "<...> placeholder: name lost from the cache",
			line:  "           <...>-845     (    845) [000] d..1.  1349.014959: signal_generate: sig=2 errno=0 code=0 comm=kube-apiserver pid=845 grp=1 res=0",
			stamp: 1349*time.Second + 14959*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, TaskComm: "", TaskPID: 845, TaskTGID: 845,
				Sig: 2, Res: ResDelivered, Group: true, TargetComm: "kube-apiserver", TargetPID: 845},
		},
		{
			name:  "<...> exec",
			line:  "           <...>-845     (    845) [000] .....  1349.013304: sched_process_exec: filename=/usr/bin/bash pid=845 old_pid=845",
			stamp: 1349*time.Second + 13304*time.Microsecond,
			want:  Event{Kind: KindProcessExec, TaskComm: "bash", TaskPID: 845, TaskTGID: 845, Res: -1, Filename: "/usr/bin/bash", OldPID: 845},
		},
		{
			name:  "<...> fork: the event's own parent name wins",
			line:  "           <...>-32227   (  32227) [000] .....  1349.022239: sched_process_fork: comm=debootstrap pid=32227 child_comm=debootstrap child_pid=848",
			stamp: 1349*time.Second + 22239*time.Microsecond,
			want: Event{Kind: KindProcessFork, TaskComm: "debootstrap", TaskPID: 32227, TaskTGID: 32227, Res: -1,
				TargetComm: "debootstrap", TargetPID: 848},
		},
		{
			name:  "delivered to a bash TERM trap: handler address and SA_RESTORER",
			line:  "            bash-11484   (  11484) [000] d..1.  1365.589130: signal_deliver: sig=15 errno=0 code=0 sa_handler=5597b9c667c0 sa_flags=4000000",
			stamp: 1365*time.Second + 589130*time.Microsecond,
			want: Event{Kind: KindSignalDeliver, TaskComm: "bash", TaskPID: 11484, TaskTGID: 11484, Sig: 15, Res: -1,
				SAHandler: 0x5597b9c667c0, SAFlags: 0x4000000},
		},
		{
			name:  "QUIT to a process that set it to SIG_IGN",
			line:  "            bash-11472   (  11472) [000] d..1.  1365.694519: signal_generate: sig=3 errno=0 code=0 comm=sleep pid=11565 grp=1 res=1",
			stamp: 1365*time.Second + 694519*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, TaskComm: "bash", TaskPID: 11472, TaskTGID: 11472,
				Sig: 3, Res: ResIgnored, Group: true, TargetComm: "sleep", TargetPID: 11565},
		},
		{
			name:  "tgkill: SI_TKILL, not to the group",
			line:  "         python3-11615   (  11615) [001] d..1.  1365.929753: signal_generate: sig=2 errno=0 code=-6 comm=python3 pid=11615 grp=0 res=0",
			stamp: 1365*time.Second + 929753*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, CPU: 1, TaskComm: "python3", TaskPID: 11615, TaskTGID: 11615,
				Sig: 2, Code: CodeTkill, Res: ResDelivered, Group: false, TargetComm: "python3", TargetPID: 11615},
		},
		{
			name:  "QUIT with SIG_DFL (core dump) is dequeued as itself",
			line:  "           sleep-6402    [000] d..1.  1948.035473: signal_deliver: sig=3 errno=0 code=0 sa_handler=0 sa_flags=0",
			stamp: 1948*time.Second + 35473*time.Microsecond,
			want:  Event{Kind: KindSignalDeliver, TaskComm: "sleep", TaskPID: 6402, Sig: 3, Res: -1},
		},
		{
			name:  "python sends TERM to a default-disposition sleep (dequeued as KILL)",
			line:  "         python3-6251    [001] d..1.  1948.137451: signal_generate: sig=15 errno=0 code=0 comm=sleep pid=6437 grp=1 res=0",
			stamp: 1948*time.Second + 137451*time.Microsecond,
			want: Event{Kind: KindSignalGenerate, CPU: 1, TaskComm: "python3", TaskPID: 6251,
				Sig: 15, Res: ResDelivered, Group: true, TargetComm: "sleep", TargetPID: 6437},
		},
		{
			name:  "tgkill delivered to a handler",
			line:  "         python3-11615   (  11615) [001] d..1.  1365.929771: signal_deliver: sig=2 errno=0 code=-6 sa_handler=7ff019ad4d00 sa_flags=c000000",
			stamp: 1365*time.Second + 929771*time.Microsecond,
			want: Event{Kind: KindSignalDeliver, CPU: 1, TaskComm: "python3", TaskPID: 11615, TaskTGID: 11615,
				Sig: 2, Code: CodeTkill, Res: -1, SAHandler: 0x7ff019ad4d00, SAFlags: 0xc000000},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseLine(c.line+"\n", clock)
			if err != nil {
				t.Fatalf("ParseLine: %v", err)
			}
			if got.Raw != c.line {
				t.Errorf("Raw = %q, want the line without its newline", got.Raw)
			}
			if got.Stamp != c.stamp {
				t.Errorf("Stamp = %v, want %v", got.Stamp, c.stamp)
			}
			if d := got.Time.Sub(base.Add(c.stamp)); d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("Time = %v, want %v", got.Time, base.Add(c.stamp))
			}
			got.Raw, got.Time, got.Stamp = "", time.Time{}, 0
			if got != c.want {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

func TestParseLineLost(t *testing.T) {
	// Read from trace_pipe after a 4 KB buffer overflowed.
	_, err := ParseLine("CPU:1 [LOST 510 EVENTS]", nil)
	var lost *LostError
	if !errors.As(err, &lost) {
		t.Fatalf("err = %v, want *LostError", err)
	}
	if lost.CPU != 1 || lost.Events != 510 {
		t.Errorf("lost = %+v, want CPU 1, 510 events", *lost)
	}
}

func TestParseLineNilClock(t *testing.T) {
	ev, err := ParseLine("           sleep-31059   [000] .....  1323.576259: sched_process_exec: filename=/usr/bin/sleep pid=31059 old_pid=31059", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Time.IsZero() || ev.Stamp != 1323576259*time.Microsecond {
		t.Errorf("Time = %v, Stamp = %v; want zero time and the stamp", ev.Time, ev.Stamp)
	}
}

func TestParseLineRejects(t *testing.T) {
	for _, c := range []struct{ line, want string }{
		// The notes' lines are trimmed by hand (no CPU, flags or timestamp
		// columns): trace_pipe never prints that, and a line without a
		// timestamp cannot be placed on the timeline.
		{"bash-10438  signal_generate: sig=15 errno=0 code=0 comm=ns-noexec.sh pid=10445 grp=1 res=1", "not a trace line"},
		{"ns-noexec.sh-10445  signal_deliver: sig=9 errno=0 code=0 sa_handler=0 sa_flags=0", "not a trace line"},
		{"", "not a trace line"},
		{"# tracer: nop", "not a trace line"},
		{"            bash-1   [000] d..1.  1.000001: sched_switch: prev_comm=bash prev_pid=1", `unknown event "sched_switch"`},
		{"            bash-1   [000] d..1.  1.000001: signal_generate: sig=15 errno=0", "signal_generate: unexpected fields"},
		{"            bash-1   [000] d..1.  1.000001: signal_deliver: sig=9 errno=0 code=0 sa_handler=zz sa_flags=0", "signal_deliver: unexpected fields"},
		{"            bash-1   [000] .....  1.000001: sched_process_exit: comm=bash pid=x prio=120", "sched_process_exit: unexpected fields"},
	} {
		_, err := ParseLine(c.line, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseLine(%q) error = %v, want it to say %q", c.line, err, c.want)
		}
	}
}

func TestParseLineOlderExitFormat(t *testing.T) {
	// Kernels before group_dead print only comm, pid and prio.
	ev, err := ParseLine("           sleep-59      [001] .....  7.000002: sched_process_exit: comm=sleep pid=59 prio=120", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != KindProcessExit || ev.TaskPID != 59 || ev.GroupDead {
		t.Errorf("got %+v", ev)
	}
}
