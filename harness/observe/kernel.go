package observe

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// PodRef is what the kernel observer needs to know of a pod to attribute
// its processes: the scenario and pod they belong to.
type PodRef struct {
	Scenario, Pod, Service, Role string
}

// PodIndex maps pod UIDs to the pods the scenarios watch. Pod observers
// register every pod they see (Pods.Index); the kernel observer, which
// sees processes of every pod on the host, records only those of
// registered service pods.
type PodIndex struct {
	mu sync.RWMutex
	m  map[string]PodRef
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex { return &PodIndex{m: map[string]PodRef{}} }

// Put registers a pod by UID.
func (x *PodIndex) Put(uid string, r PodRef) {
	x.mu.Lock()
	x.m[uid] = r
	x.mu.Unlock()
}

// Get looks a pod up by UID.
func (x *PodIndex) Get(uid string) (PodRef, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	r, ok := x.m[uid]
	return r, ok
}

// Scenarios lists the scenarios with registered pods.
func (x *PodIndex) Scenarios() []string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	var out []string
	for _, r := range x.m {
		if r.Scenario != "" && !slices.Contains(out, r.Scenario) {
			out = append(out, r.Scenario)
		}
	}
	sort.Strings(out)
	return out
}

// Kernel records, with source kernel, what the kernel did to the
// processes of the watched service pods: signals sent (with sender and
// result), signals dequeued (with the handler that ran), processes started,
// exec'd and exited. It reads a harness/kernel tracer (one per job, on the
// host where the kind nodes run) and maps host PIDs to pods through /proc
// while the processes live: at fork and exec, and by a scan at start for
// processes that were already running. The pod sandbox (pause) is left out.
// Events the trace buffer lost are recorded as observer gaps of every
// scenario running then.
//
// On a node that is not this host's, the same observer runs in the kernel
// agent (kubegrace kernel-agent) with Out set: it attributes processes to
// pod UIDs there and hands the events out; the harness's Kernel, with no
// Tracer, takes them in with Deliver and Gap.
type Kernel struct {
	Tracer *kernel.Tracer
	Index  *PodIndex
	Rec    *timeline.Recorder
	// ProcRoot is /proc unless a test says otherwise (or a kernel agent
	// whose /proc is not the kernel's first PID namespace's).
	ProcRoot string
	// Out, if set, gets every event of a pod's process with the pod's UID
	// instead of the index and recorder, and OutLost the trace buffer's
	// overrun count when it grows: the kernel agent's stream.
	Out     func(uid string, at time.Time, e timeline.Event)
	OutLost func(lost uint64)

	mu      sync.Mutex          // pending and retried: Deliver comes from several agents' streams
	procs   map[int]kernel.Proc // by host PID (the process's TGID), while they live
	threads map[int]int         // thread ID → its process's PID, for threads of known processes
	sandbox map[string]bool     // container IDs of pod sandboxes
	pending []pendingEvent      // events of pods not (yet) in the index
	retried time.Time           // the last retryPending pass

	statsMu sync.Mutex
	stats   KernelStats
	lags    []time.Duration
}

// KernelStats is what the kernel observer measured of itself.
type KernelStats struct {
	// Events is the number of kernel events read; Recorded the number put
	// on the timeline (the others concerned processes of other pods).
	Events, Recorded int
	// Lost is the number of events the trace buffer dropped (overruns);
	// Unparsed the lines that did not parse.
	Lost, Unparsed uint64
	// LatencyP50MS, LatencyMaxMS: from the kernel's timestamp of a
	// recorded event to its recording on the timeline (reading, mapping to
	// a pod, and waiting for a pod the pod observer had not seen yet).
	LatencyP50MS, LatencyMaxMS float64
}

type pendingEvent struct {
	uid  string
	e    timeline.Event
	at   time.Time
	seen time.Time
}

var _ Observer = (*Kernel)(nil)

// pendingFor is how long an event of a pod not in the index is kept in
// case the pod observer registers the pod late.
const pendingFor = 10 * time.Second

// retryEvery spaces retryPending's passes.
const retryEvery = 25 * time.Millisecond

// Run reads the tracer until ctx ends.
func (k *Kernel) Run(ctx context.Context) error {
	if k.ProcRoot == "" {
		k.ProcRoot = "/proc"
	}
	k.procs = map[int]kernel.Proc{}
	k.threads = map[int]int{}
	k.sandbox = map[string]bool{}
	if ps, err := kernel.ScanPods(k.ProcRoot); err == nil {
		now := time.Now()
		for _, p := range ps {
			k.procs[p.HostPID] = p
			k.emit(p, now, timeline.Event{Kind: timeline.KernelStart, Detail: "running when the kernel observer started", Args: p.Args})
		}
	}
	lostCtx, stopLost := context.WithCancel(ctx)
	defer stopLost()
	go k.watchLost(lostCtx)
	err := k.Tracer.Run(ctx, k.handle)
	k.flushPending()
	k.statsMu.Lock()
	k.stats.Unparsed = k.Tracer.Unparsed()
	k.statsMu.Unlock()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("kernel observer: %w", err)
	}
	return nil
}

// Stats returns what the observer measured so far.
func (k *Kernel) Stats() KernelStats {
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	s := k.stats
	if n := len(k.lags); n > 0 {
		l := slices.Clone(k.lags)
		slices.Sort(l)
		s.LatencyP50MS = float64(l[n/2].Microseconds()) / 1000
		s.LatencyMaxMS = float64(l[n-1].Microseconds()) / 1000
	}
	return s
}

// watchLost polls the trace buffer's overrun count; events lost between
// two polls are a gap of every scenario with pods then.
func (k *Kernel) watchLost(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last, since := uint64(0), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lost, err := k.Tracer.Lost()
		if err != nil || lost == last {
			since = time.Now()
			continue
		}
		now := time.Now()
		if k.OutLost != nil {
			k.OutLost(lost)
		} else {
			k.Gap(since, now, fmt.Sprintf("%d kernel events lost", lost-last))
		}
		k.statsMu.Lock()
		k.stats.Lost = lost
		k.statsMu.Unlock()
		last, since = lost, now
	}
}

// handle maps one kernel event to the timeline. It runs on the tracer's
// goroutine, in the kernel's order.
func (k *Kernel) handle(ev kernel.Event) {
	k.count()
	k.retryPending()
	switch ev.Kind {
	case kernel.KindProcessFork:
		// Every fork and thread on the host: read no more of /proc than
		// it takes to tell it is not a pod's process (the observer's main
		// cost: 7.8 of the job's 17.8 s of CPU in a full suite).
		p, err := kernel.ReadPodProc(k.ProcRoot, ev.TargetPID)
		if err != nil {
			return // gone already: a process that lived under a millisecond
		}
		if p.TGID != 0 && p.TGID != p.HostPID {
			// A thread (fork fires for threads too): attribute it to its
			// process, never record it as one.
			if _, ok := k.procs[p.TGID]; ok {
				k.threads[p.HostPID] = p.TGID
			}
			return
		}
		if p.PodUID == "" {
			return
		}
		k.procs[p.HostPID] = p
		k.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelStart})
	case kernel.KindProcessExec:
		p, err := kernel.ReadPodProc(k.ProcRoot, ev.TaskPID)
		if err != nil || p.PodUID == "" {
			old, ok := k.procs[ev.TaskPID]
			if !ok {
				return
			}
			p = old
			p.Comm = ev.TaskComm
		}
		if p.Comm == "pause" && p.InnerPID() == 1 {
			k.sandbox[p.ContainerID] = true
		}
		k.procs[p.HostPID] = p
		k.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelExec, Detail: ev.Filename, Args: p.Args})
	case kernel.KindProcessExit:
		// The process ends with its leader thread's exit (the others are
		// killed with it by exit_group, within microseconds) or with its
		// last thread's (group_dead), whichever is seen first: the trace
		// does not always know a late thread's process.
		pid := ev.TaskPID
		if _, leader := k.procs[pid]; !leader {
			if !ev.GroupDead {
				delete(k.threads, ev.TaskPID) // a thread, not the process
				return
			}
			pid = k.process(ev.TaskPID, ev.TaskTGID)
			delete(k.threads, ev.TaskPID)
		}
		p, ok := k.procs[pid]
		if !ok {
			return
		}
		delete(k.procs, pid)
		k.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelExit})
	case kernel.KindSignalGenerate:
		pid := k.process(ev.TargetPID, 0)
		p, ok := k.procs[pid]
		if !ok {
			rp, err := kernel.ReadProc(k.ProcRoot, ev.TargetPID)
			if err != nil || rp.PodUID == "" {
				return
			}
			if rp.TGID != 0 {
				if own, ok := k.procs[rp.TGID]; ok {
					rp = own
				}
			}
			p = rp
			k.procs[p.HostPID] = p
		}
		sender := ev.TaskComm
		if ev.Code == kernel.CodeKernel {
			sender = timeline.SenderKernel
		}
		k.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelSignal, Signal: signalName(ev.Sig), Sender: sender, Result: result(ev.Res),
			Detail: fmt.Sprintf("from %s (host PID %d), code %d", ev.TaskComm, ev.TaskPID, ev.Code)})
	case kernel.KindSignalDeliver:
		p, ok := k.procs[k.process(ev.TaskPID, ev.TaskTGID)]
		if !ok {
			return
		}
		// A stop signal whose default action kills (TERM, INT) is turned
		// into SIGKILL when sent: its dequeue shows signal 9. The sent
		// event says which signal it was.
		k.emit(p, ev.Time, timeline.Event{Kind: timeline.KernelDequeued, Signal: signalName(ev.Sig), Handler: handler(ev.SAHandler)})
	}
}

// count counts an event the kernel saw.
func (k *Kernel) count() {
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	k.stats.Events++
}

// process maps a task ID to its process's PID: tgid when the trace
// recorded it, else the thread map, else the ID itself.
func (k *Kernel) process(tid, tgid int) int {
	if tgid > 0 {
		return tgid
	}
	if pid, ok := k.threads[tid]; ok {
		return pid
	}
	return tid
}

// emit records e for process p if p is in a watched service pod and not
// in its sandbox; events of pods the index does not know yet wait a while.
func (k *Kernel) emit(p kernel.Proc, at time.Time, e timeline.Event) {
	if p.PodUID == "" || k.sandbox[p.ContainerID] {
		return
	}
	e.Source = timeline.SourceKernel
	e.Comm, e.Exe, e.PID, e.HostPID = p.Comm, p.Exe, p.InnerPID(), p.HostPID
	if e.Comm == "" {
		e.Comm = path.Base(e.Detail)
	}
	e.Container = short(p.ContainerID)
	if k.Out != nil {
		k.Out(p.PodUID, at, e)
		return
	}
	k.Deliver(p.PodUID, at, e)
}

// Deliver records e, an event of a process of pod uid, if the pod is a
// watched service pod; an event of a pod the index does not know yet waits
// a while (the pod observer may register it late).
func (k *Kernel) Deliver(uid string, at time.Time, e timeline.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.record(uid, at, e) {
		k.pending = append(k.pending, pendingEvent{uid: uid, e: e, at: at, seen: time.Now()})
	}
}

// Gap records that kernel events were lost from since to now (detail says
// how many, and where) for every scenario with pods then.
func (k *Kernel) Gap(since, now time.Time, detail string) {
	for _, sc := range k.Index.Scenarios() {
		k.Rec.Record(since, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: sc,
			Until: k.Rec.Offset(now), Reason: "kernel trace buffer", Detail: detail})
	}
}

// AddLost adds n to the count of lost events (an agent's).
func (k *Kernel) AddLost(n uint64) {
	k.statsMu.Lock()
	k.stats.Lost += n
	k.statsMu.Unlock()
}

// record puts e on the timeline if its pod is a watched service pod;
// false when the pod is not (yet) known.
func (k *Kernel) record(uid string, at time.Time, e timeline.Event) bool {
	ref, ok := k.Index.Get(uid)
	if !ok {
		return false
	}
	if ref.Service == "" {
		return true // a pod of the scenario that is not a service (Consul, callers, fillers): not followed
	}
	e.Scenario, e.Pod, e.Service, e.Role = ref.Scenario, ref.Pod, ref.Service, ref.Role
	k.Rec.Record(at, e)
	k.statsMu.Lock()
	k.stats.Recorded++
	// From the kernel's timestamp to the timeline, waits for late pods
	// included; a full suite records some thousands, the cap only guards
	// memory.
	if lag := time.Since(at); lag >= 0 && len(k.lags) < 1<<20 {
		k.lags = append(k.lags, lag)
	}
	k.statsMu.Unlock()
	return true
}

// retryPending records the waiting events whose pods the index now knows,
// at most every retryEvery: events keep their own times, and rescanning on
// every kernel event cost 1.7 s of CPU in a full suite.
func (k *Kernel) retryPending() {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if len(k.pending) == 0 || now.Sub(k.retried) < retryEvery {
		return
	}
	k.retried = now
	k.pending = slices.DeleteFunc(k.pending, func(p pendingEvent) bool {
		return k.record(p.uid, p.at, p.e) || now.Sub(p.seen) > pendingFor
	})
}

// flushPending is a last retryPending pass, whenever the last was.
func (k *Kernel) flushPending() {
	k.mu.Lock()
	k.retried = time.Time{}
	k.mu.Unlock()
	k.retryPending()
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

func signalName(sig int) string {
	if n := unix.SignalName(unix.Signal(sig)); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", sig)
}

func result(res int) string {
	switch res {
	case 0:
		return timeline.ResultDelivered
	case 1:
		return timeline.ResultIgnored
	case 2:
		return timeline.ResultPending
	case 3:
		return timeline.ResultOverflow
	case 4:
		return timeline.ResultLoseInfo
	}
	return fmt.Sprintf("result %d", res)
}

func handler(h uint64) string {
	switch h {
	case 0:
		return timeline.HandlerDefault
	case 1:
		return timeline.HandlerIgnore
	}
	return timeline.HandlerCaught
}
