package observe

import (
	"context"
	"fmt"
	"path"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// attributor maps a tracer's events to the pods of their processes: it
// follows host PIDs through /proc while the processes live (at fork and
// exec, and by a scan at start for processes already running) and hands
// every event of a pod's process, sandbox (pause) left out, to out with
// the pod's UID. Which pods are watched is not its business: the harness
// records through its index (Kernel.Deliver), the kernel agent writes
// everything out. Its methods run on the tracer's goroutine.
type attributor struct {
	procRoot string
	out      func(uid string, at time.Time, e timeline.Event)

	procs   map[int]kernel.Proc // by host PID (the process's TGID), while they live
	threads map[int]int         // thread ID → its process's PID, for threads of known processes
	sandbox map[string]bool     // container IDs of pod sandboxes
}

func newAttributor(procRoot string, out func(uid string, at time.Time, e timeline.Event)) *attributor {
	if procRoot == "" {
		procRoot = "/proc"
	}
	return &attributor{procRoot: procRoot, out: out, procs: map[int]kernel.Proc{}, threads: map[int]int{}, sandbox: map[string]bool{}}
}

// scan hands out the pods' processes already running, as started now.
func (a *attributor) scan() {
	ps, err := kernel.ScanPods(a.procRoot)
	if err != nil {
		return
	}
	now := time.Now()
	for _, p := range ps {
		a.procs[p.HostPID] = p
		a.emit(p, now, timeline.Event{Kind: timeline.KernelStart, Detail: "running when the kernel observer started", Args: p.Args})
	}
}

// handle maps one kernel event to its pod, in the kernel's order.
func (a *attributor) handle(ev kernel.Event) {
	switch ev.Kind {
	case kernel.KindProcessFork:
		// Every fork and thread on the host: read no more of /proc than
		// it takes to tell it is not a pod's process (the observer's main
		// cost).
		p, err := kernel.ReadPodProc(a.procRoot, ev.TargetPID)
		if err != nil {
			return // gone already: a process that lived under a millisecond
		}
		if p.TGID != 0 && p.TGID != p.HostPID {
			// A thread (fork fires for threads too): attribute it to its
			// process, never record it as one.
			if _, ok := a.procs[p.TGID]; ok {
				a.threads[p.HostPID] = p.TGID
			}
			return
		}
		if p.PodUID == "" {
			return
		}
		a.procs[p.HostPID] = p
		a.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelStart})
	case kernel.KindProcessExec:
		p, err := kernel.ReadPodProc(a.procRoot, ev.TaskPID)
		if err != nil || p.PodUID == "" {
			old, ok := a.procs[ev.TaskPID]
			if !ok {
				return
			}
			p = old
			p.Comm = ev.TaskComm
		}
		if p.Comm == "pause" && p.InnerPID() == 1 {
			a.sandbox[p.ContainerID] = true
		}
		a.procs[p.HostPID] = p
		a.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelExec, Detail: ev.Filename, Args: p.Args})
	case kernel.KindProcessExit:
		// The process ends with its leader thread's exit (the others are
		// killed with it by exit_group) or with its last thread's
		// (group_dead), whichever is seen first: the trace does not always
		// know a late thread's process.
		pid := ev.TaskPID
		if _, leader := a.procs[pid]; !leader {
			if !ev.GroupDead {
				delete(a.threads, ev.TaskPID) // a thread, not the process
				return
			}
			pid = a.process(ev.TaskPID, ev.TaskTGID)
			delete(a.threads, ev.TaskPID)
		}
		p, ok := a.procs[pid]
		if !ok {
			return
		}
		delete(a.procs, pid)
		a.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelExit})
	case kernel.KindSignalGenerate:
		pid := a.process(ev.TargetPID, 0)
		p, ok := a.procs[pid]
		if !ok {
			rp, err := kernel.ReadProc(a.procRoot, ev.TargetPID)
			if err != nil || rp.PodUID == "" {
				return
			}
			if rp.TGID != 0 {
				if own, ok := a.procs[rp.TGID]; ok {
					rp = own
				}
			}
			p = rp
			a.procs[p.HostPID] = p
		}
		sender := ev.TaskComm
		if ev.Code == kernel.CodeKernel {
			sender = timeline.SenderKernel
		}
		a.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelSignal, Signal: signalName(ev.Sig), Sender: sender, Result: ev.Res.String(),
			Detail: fmt.Sprintf("from %s (host PID %d), code %d", ev.TaskComm, ev.TaskPID, ev.Code)})
	case kernel.KindSignalDeliver:
		p, ok := a.procs[a.process(ev.TaskPID, ev.TaskTGID)]
		if !ok {
			return
		}
		// A stop signal whose default action kills (TERM, INT) is turned
		// into SIGKILL when sent: its dequeue shows SIGKILL. The sent
		// event says which signal it was.
		a.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelDequeued, Signal: signalName(ev.Sig), Handler: kernel.HandlerName(ev.SAHandler)})
	}
}

// process maps a task ID to its process's PID: tgid when the trace
// recorded it, else the thread map, else the ID itself.
func (a *attributor) process(tid, tgid int) int {
	if tgid > 0 {
		return tgid
	}
	if pid, ok := a.threads[tid]; ok {
		return pid
	}
	return tid
}

// emit hands out e for process p if p is in a pod and not in its sandbox.
func (a *attributor) emit(p kernel.Proc, at time.Time, e timeline.Event) {
	if p.PodUID == "" || a.sandbox[p.ContainerID] {
		return
	}
	e.Source = timeline.SourceKernel
	e.Comm, e.Exe, e.PID, e.HostPID = p.Comm, p.Exe, p.InnerPID(), p.HostPID
	if e.Comm == "" {
		e.Comm = path.Base(e.Detail)
	}
	e.Container = short(p.ContainerID)
	a.out(p.PodUID, at, e)
}

// lostPoll spaces the polls of the trace buffer's overrun count.
const lostPoll = time.Second

// watchLost polls tr's overrun count until ctx ends and calls grew with
// the new total and the span it grew in: from the last poll that saw no
// growth to now.
func watchLost(ctx context.Context, tr *kernel.Tracer, grew func(total, lost uint64, since, now time.Time)) {
	t := time.NewTicker(lostPoll)
	defer t.Stop()
	last, since := uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		total, err := tr.Lost()
		if err != nil || total == last {
			since = time.Now()
			continue
		}
		now := time.Now()
		grew(total, total-last, since, now)
		last, since = total, now
	}
}
