package observe

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Kernel records, with source kernel, what the kernel did to the
// processes of the watched service pods: signals sent (with sender and
// result), signals dequeued (with the handler that ran), processes started,
// exec'd and exited. Its events come one of two ways:
//
//   - Run reads Tracer, a harness/kernel tracer on this host (one per job,
//     where the kind nodes run), and maps host PIDs to pods through /proc;
//   - Feed reads the streams of kernel agents (RunAgent), which do that on
//     nodes that are not this host's; such a Kernel has no Tracer and is
//     not Run.
//
// Either way, events reach the timeline through Index (Deliver), and
// events the trace buffer lost are recorded as observer gaps of the
// scenarios running then (Gap).
type Kernel struct {
	Tracer *kernel.Tracer
	Index  *PodIndex
	Rec    *timeline.Recorder
	// ProcRoot is /proc unless a test says otherwise.
	ProcRoot string

	mu      sync.Mutex     // pending and retried: Deliver comes from several agents' streams
	pending []pendingEvent // events of pods not (yet) in the index
	retried time.Time      // the last retryPending pass

	statsMu sync.Mutex
	stats   KernelStats
	lags    []time.Duration

	panics panics // recovered while handling events
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

// Run reads the tracer until ctx ends. A panic in handling one event
// loses that event (a gap of the scenarios running then) and is returned
// when Run ends; the observer goes on.
func (k *Kernel) Run(ctx context.Context) error {
	if k.Tracer == nil {
		return errors.New("kernel observer: no tracer to read (agents' streams are read with Feed)")
	}
	a := newAttributor(k.ProcRoot, k.Deliver)
	a.scan()
	handle := k.handler(a)
	lostCtx, stopLost := context.WithCancel(ctx)
	defer stopLost()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		defer func() {
			if v := recover(); v != nil {
				err := recovered("kernel observer: the watch of lost events", v)
				k.panics.add(err)
				at := time.Now()
				<-lostCtx.Done() // losses are not watched until Run ends
				k.gapOf("kernel observer", at, time.Now(), "lost events not watched: "+firstLine(err.Error()))
			}
		}()
		watchLost(lostCtx, k.Tracer, func(total, lost uint64, since, now time.Time) {
			k.Gap(since, now, fmt.Sprintf("%d kernel events lost", lost))
			k.statsMu.Lock()
			k.stats.Lost = total
			k.statsMu.Unlock()
		})
	}()
	err := k.Tracer.Run(ctx, handle)
	stopLost()
	<-watched
	k.flushPending()
	k.statsMu.Lock()
	k.stats.Unparsed = k.Tracer.Unparsed()
	k.statsMu.Unlock()
	if err != nil && ctx.Err() == nil {
		err = fmt.Errorf("kernel observer: %w", err)
	} else {
		err = nil
	}
	return errors.Join(err, k.panics.err())
}

// handler is what Run hands the tracer: it counts each event and has a map
// it to its pod.
func (k *Kernel) handler(a *attributor) func(kernel.Event) {
	return func(ev kernel.Event) {
		defer func() {
			if v := recover(); v != nil {
				err := recovered(fmt.Sprintf("kernel observer: %s event", ev.Kind), v)
				k.panics.add(err)
				now := time.Now()
				at := ev.Time
				if at.IsZero() || at.After(now) {
					at = now
				}
				k.gapOf("kernel observer", at, now, "an event could not be handled: "+firstLine(err.Error()))
			}
		}()
		k.count()
		k.retryPending()
		a.handle(ev)
	}
}

// gap records that the observer did not watch from from until until
// (Set: its Run panicked).
func (k *Kernel) gap(from, until time.Time, detail string) {
	k.gapOf("kernel observer", from, until, detail)
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

// count counts an event the kernel saw.
func (k *Kernel) count() {
	k.statsMu.Lock()
	defer k.statsMu.Unlock()
	k.stats.Events++
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
// how many, and where) for every scenario running then (PodIndex.Running):
// not for those that ended before, nor those that started after.
func (k *Kernel) Gap(since, now time.Time, detail string) {
	k.gapOf("kernel trace buffer", since, now, detail)
}

// gapOf records a gap of observer reason from since to now, at least a
// nanosecond long, for every scenario running then.
func (k *Kernel) gapOf(reason string, since, now time.Time, detail string) {
	for _, sc := range k.Index.Running(since, now) {
		k.Rec.Record(since, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: sc,
			Until: max(k.Rec.Offset(now), k.Rec.Offset(since)+1), Reason: reason, Detail: detail})
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
	// included; the cap only guards memory.
	if lag := time.Since(at); lag >= 0 && len(k.lags) < 1<<20 {
		k.lags = append(k.lags, lag)
	}
	k.statsMu.Unlock()
	return true
}

// retryPending records the waiting events whose pods the index now knows,
// at most every retryEvery: events keep their own times, and rescanning on
// every kernel event costs CPU the host's pods need.
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
