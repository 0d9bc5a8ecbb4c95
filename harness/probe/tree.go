package probe

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// Process is one process of the probed container, as /proc showed it
// before the pod was deleted.
type Process struct {
	PID, PPID   int // in the container (PPID 0: outside it)
	HostPID     int
	Comm        string
	Cmdline     string
	CatchesTERM bool
	IgnoresTERM bool
	// WaitsForTERM: the process blocks TERM, or sleeps in sigtimedwait
	// (tini does, which unblocks TERM while it waits): it takes signals
	// with sigwait, and the kernel queues TERM for it even as PID 1.
	WaitsForTERM bool
}

// settle waits until the container's process tree has not changed for 2 s
// (at most 30 s) and returns it.
func settle(ctx context.Context, procRoot, uid string) ([]Process, error) {
	var last []Process
	var stableSince time.Time
	err := poll.Until(ctx, "the probe's process tree settles", poll.Quick.For(30*time.Second), func(ctx context.Context) (bool, error) {
		tree, err := Tree(procRoot, uid)
		if err != nil {
			return poll.Not("%v", err)
		}
		if len(tree) == 0 || !sameTree(tree, last) {
			last, stableSince = tree, time.Now()
			return poll.Not("%d processes, still changing", len(tree))
		}
		return time.Since(stableSince) >= 2*time.Second, nil
	})
	if err != nil && len(last) > 0 {
		return last, nil // a tree that never settles (a busy script) is still the tree
	}
	return last, err
}

func sameTree(a, b []Process) bool {
	return slices.EqualFunc(a, b, func(x, y Process) bool { return x.HostPID == y.HostPID && x.Comm == y.Comm })
}

// Tree is the processes of pod uid's containers but its sandbox, from the
// host's /proc, ordered by PID in the container.
func Tree(procRoot, uid string) ([]Process, error) {
	ps, err := kernel.ScanPods(procRoot)
	if err != nil {
		return nil, err
	}
	inner := map[int]int{}
	var mine []kernel.Proc
	for _, p := range ps {
		if p.PodUID != uid || p.Comm == "pause" {
			continue
		}
		mine = append(mine, p)
		inner[p.HostPID] = p.InnerPID()
	}
	var out []Process
	for _, p := range mine {
		out = append(out, Process{PID: p.InnerPID(), PPID: inner[p.PPID], HostPID: p.HostPID, Comm: p.Comm, Cmdline: p.Cmdline,
			CatchesTERM: p.Catches(15), IgnoresTERM: p.Ignores(15), WaitsForTERM: p.Blocks(15) || inSigwait(procRoot, p.HostPID)})
	}
	slices.SortFunc(out, func(a, b Process) int { return a.PID - b.PID })
	return out, nil
}

// TermHandling says in a word what a process does with SIGTERM, as its
// /proc shows: caught, ignored, sigwait (taken with sigwait, as tini
// does) or default (no handler: PID 1 of a container drops it).
func (p Process) TermHandling() string {
	switch {
	case p.IgnoresTERM:
		return "ignored"
	case p.CatchesTERM:
		return "caught"
	case p.WaitsForTERM:
		return "sigwait"
	}
	return "default"
}

// inSigwait says whether the process sleeps in sigwait/sigtimedwait, by the
// kernel function its /proc wchan names.
func inSigwait(procRoot string, hostPID int) bool {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(hostPID), "wchan"))
	return err == nil && strings.HasPrefix(string(b), "do_sigtimedwait")
}

// gotStopSignal: with the kernel, the stop signal was queued for the app
// process (its shutdown window started), whether or not the app ran before
// an init's exit SIGKILLed it, which is the scheduler's race; without it,
