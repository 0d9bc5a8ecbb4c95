package observe

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// Pods watches the pods of one namespace through an informer (a list, then
// a watch that resumes from its resourceVersion, relisting when it must) and
// records each lifecycle step once per pod: created, scheduled, IP assigned,
// ready, deletion requested, app container terminated, deleted. Every pod
// event carries the pod's service label in Service and its RoleLabel in
// Role. For every pod it also follows the app container's log from the
// start and records the fixture's own lifecycle and caller lines; the stream
// is read until the container exits, so the lines of a pod being deleted are
// not lost. A log that cannot be followed (or breaks off) is recorded as a
// gap lasting until the pod is gone or the observer stops: the app's lines
// of that whole time may be missing. So is a panic while handling a pod or
// following its log, which Run also returns as its error.
type Pods struct {
	Clientset kubernetes.Interface
	Namespace string
	Rec       *timeline.Recorder
	Scenario  string
	// Index, if set, gets every pod seen, so the kernel observer can
	// attribute processes to it.
	Index *PodIndex

	mu     sync.Mutex
	state  map[string]*podState // by UID
	gaps   *logGaps
	logsWG sync.WaitGroup
	panics panics
}

type podState struct {
	scheduled, ip, ready, deleting bool
	// terminations is how many app container instances were recorded as
	// terminated: a container SIGKILLed and restarted shows its end only
	// as the last state of the next instance.
	terminations int32
	// followed is the number of app container instances whose log is
	// being or was followed: a restarted container is a new instance
	// with a new log.
	followed int32
}

// Run watches until ctx ends, then waits for the log followers to finish.
func (p *Pods) Run(ctx context.Context) error {
	p.init()
	factory := informers.NewSharedInformerFactoryWithOptions(p.Clientset, 0, informers.WithNamespace(p.Namespace))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.guard(obj, func() { p.update(ctx, obj) }) },
		UpdateFunc: func(_, obj any) { p.guard(obj, func() { p.update(ctx, obj) }) },
		DeleteFunc: func(obj any) { p.guard(obj, func() { p.deleted(ctx, obj) }) },
	})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) && ctx.Err() == nil {
		return fmt.Errorf("pod informer for namespace %s did not sync", p.Namespace)
	}
	<-ctx.Done()
	stopped := time.Now()
	factory.Shutdown()
	p.logsWG.Wait()
	p.gaps.stop(stopped) // logs lost of pods still there were lost until now
	return p.panics.err()
}

// guard runs a notification's handling of obj (the informer's goroutine):
// a panic there is the observer's error, and the pod's later steps and
// app lines may be missing: a gap of the pod until it is gone.
func (p *Pods) guard(obj any, handle func()) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		pod, _ := obj.(*corev1.Pod)
		if pod == nil {
			pod = &corev1.Pod{}
		}
		err := recovered("pod observer: pod "+pod.Name, v)
		p.panics.add(err)
		now := time.Now()
		p.gaps.lost(string(pod.UID), now, now, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: p.Scenario,
			Pod: pod.Name, Role: pod.Labels[timeline.RoleLabel], Reason: "pod observer", Detail: "handling the pod panicked: " + firstLine(err.Error())})
	}()
	handle()
}

// gap records that the observer did not watch from from until until
// (Set: its Run panicked).
func (p *Pods) gap(from, until time.Time, detail string) {
	p.Rec.Record(from, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: p.Scenario,
		Until: max(p.Rec.Offset(until), p.Rec.Offset(from)+1), Reason: "pod observer", Detail: detail})
}

func (p *Pods) init() {
	p.state = map[string]*podState{}
	p.gaps = newLogGaps(p.Rec)
}

// deleted handles the informer's delete notification: steps the last update
// carried, the deletion itself, and the end of the pod's log gaps.
func (p *Pods) deleted(ctx context.Context, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p.update(ctx, pod) // catch steps the last update carried
	now := time.Now()
	p.Rec.Record(now, PodEvent(pod, timeline.PodDeleted, p.Scenario))
	p.gaps.podGone(string(pod.UID), now)
}

func (p *Pods) record(pod *corev1.Pod, e timeline.Event) {
	p.Rec.Record(time.Now(), withPod(e, pod, p.Scenario))
}

// PodEvent returns the pod event of the given kind for pod: source pod, the
// pod's name, IP, service label (workload.ServiceLabel) and role label
// (timeline.RoleLabel, so that harness-made pods such as IP-pool fillers are
// marked in every event about them).
func PodEvent(pod *corev1.Pod, kind, scenario string) timeline.Event {
	return withPod(timeline.Event{Kind: kind}, pod, scenario)
}

// withPod fills e's pod fields from pod; the kind-specific fields are left
// as they are.
func withPod(e timeline.Event, pod *corev1.Pod, scenario string) timeline.Event {
	e.Source, e.Scenario = timeline.SourcePod, scenario
	e.Pod, e.Service, e.IP = pod.Name, pod.Labels[workload.ServiceLabel], pod.Status.PodIP
	e.Role = pod.Labels[timeline.RoleLabel]
	return e
}

func (p *Pods) update(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st, seen := p.state[string(pod.UID)]
	if !seen {
		st = &podState{}
		p.state[string(pod.UID)] = st
		if p.Index != nil {
			p.Index.Put(string(pod.UID), PodRef{Scenario: p.Scenario, Pod: pod.Name, Service: pod.Labels[workload.ServiceLabel], Role: pod.Labels[timeline.RoleLabel]})
		}
		p.record(pod, timeline.Event{Kind: timeline.PodCreated})
	}
	if !st.scheduled && pod.Spec.NodeName != "" {
		st.scheduled = true
		p.record(pod, timeline.Event{Kind: timeline.PodScheduled, Detail: pod.Spec.NodeName})
	}
	if !st.ip && pod.Status.PodIP != "" {
		st.ip = true
		p.record(pod, timeline.Event{Kind: timeline.PodIPAssigned})
	}
	if !st.ready && podReady(pod) {
		st.ready = true
		p.record(pod, timeline.Event{Kind: timeline.PodReady})
	}
	if !st.deleting && pod.DeletionTimestamp != nil {
		st.deleting = true
		p.record(pod, timeline.Event{Kind: timeline.PodDeletionRequested, GraceSeconds: pod.DeletionGracePeriodSeconds})
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name != workload.AppContainer {
			continue
		}
		t, ended := cs.State.Terminated, cs.RestartCount+1
		if t == nil {
			t, ended = cs.LastTerminationState.Terminated, cs.RestartCount
		}
		if t != nil && st.terminations < ended {
			st.terminations = ended
			code := int(t.ExitCode)
			p.record(pod, timeline.Event{Kind: timeline.PodContainerTerminated, ExitCode: &code, Reason: t.Reason,
				Detail: "finished " + t.FinishedAt.UTC().Format(time.RFC3339)})
		}
		if instances := cs.RestartCount + 1; st.followed < instances && (cs.State.Running != nil || cs.State.Terminated != nil) {
			st.followed = instances
			lf := logFollow{pod: pod.Name, uid: string(pod.UID), role: pod.Labels[timeline.RoleLabel], from: instanceStart(cs, time.Now())}
			p.logsWG.Add(1)
			go func() {
				defer p.logsWG.Done()
				defer func() {
					if v := recover(); v != nil {
						err := recovered("pod observer: app log of "+lf.pod, v)
						p.panics.add(err)
						now := time.Now()
						p.gaps.lost(lf.uid, now, now, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: p.Scenario,
							Pod: lf.pod, Role: lf.role, Reason: "app log of " + lf.pod, Detail: "log follower panicked: " + firstLine(err.Error())})
					}
				}()
				p.follow(ctx, lf)
			}()
		}
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// instanceStart is when the app container instance whose status is cs
// started, as far as known, and no later than now: the start of what its log
// holds. The kubelet's times have whole seconds, which errs early.
func instanceStart(cs corev1.ContainerStatus, now time.Time) time.Time {
	var started time.Time
	switch {
	case cs.State.Running != nil:
		started = cs.State.Running.StartedAt.Time
	case cs.State.Terminated != nil:
		started = cs.State.Terminated.StartedAt.Time
	}
	if started.IsZero() || started.After(now) {
		return now
	}
	return started
}

// logFollow is one app container instance's log to follow.
type logFollow struct {
	pod, uid, role string
	// from is when the instance started: if its log is lost, the app's
	// lines are missing from here on.
	from time.Time
}

// followTiming: how often and for how long the log stream is asked for
// before the log counts as lost. A variable so that tests can be quick.
var followTiming = poll.Quick.For(5 * time.Second)

// follow streams the app container's log from its first line until the
// container exits (or ctx ends) and records fixture events at the time the
// app stamped them. A log that cannot be opened, or whose stream breaks off
// before the container ends, is handed to the gap book: its lines are
// missing until the pod is gone.
func (p *Pods) follow(ctx context.Context, lf logFollow) {
	req := p.Clientset.CoreV1().Pods(p.Namespace).GetLogs(lf.pod, &corev1.PodLogOptions{Container: workload.AppContainer, Follow: true})
	var stream io.ReadCloser
	var err error
	failed := false // an attempt failed while the observer was still running
	// The stream is opened on the observer's context, not the wait's: it
	// must outlive the wait.
	werr := poll.Until(ctx, "app log of "+lf.pod, followTiming, func(context.Context) (bool, error) {
		if stream, err = req.Stream(ctx); err == nil || ctx.Err() != nil {
			return err == nil, nil
		}
		failed = true
		return poll.Not("%v", err)
	})
	if err == nil && werr != nil {
		err = werr
	}
	gap := func(detail string) timeline.Event {
		return timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: p.Scenario, Pod: lf.pod,
			Role: lf.role, Reason: "app log of " + lf.pod, Detail: detail}
	}
	if err != nil {
		// Not one line of this instance was read. Only a cancelled first
		// attempt (the observer stopping as the container started) is
		// not a loss worth a gap.
		if failed {
			p.gaps.lost(lf.uid, lf.from, time.Now(), gap("log could not be followed: "+err.Error()))
		}
		return
	}
	defer stream.Close()
	err = event.Scan(stream, func(e event.Event) {
		if te, ok := AppEvent(e, lf.pod, p.Scenario); ok {
			p.Rec.Record(e.Time(), te)
		}
	}, nil)
	// A clean end is the container's end. An error while the observer
	// runs is a stream broken off (or a line too long to read): the lines
	// after it are lost.
	if err != nil && ctx.Err() == nil {
		now := time.Now()
		p.gaps.lost(lf.uid, now, now, gap("log stream broke off: "+err.Error()))
	}
}

// logGaps is the book of lost app logs. A log is lost when it is noticed,
// but what is missing runs from when the log was lost until the pod is gone
// (its app can log until then) or, for a pod still there, until the observer
// stops. So a lost log stays open here until one of those happens, and only
// then becomes a gap event with a real length: a gap of length zero would be
// skipped by every check that weighs gaps by their time.
type logGaps struct {
	rec *timeline.Recorder

	mu      sync.Mutex
	open    map[string][]openGap // by pod UID
	gone    map[string]time.Time // pods seen deleted, by UID
	stopped time.Time            // zero while the observer runs
}

type openGap struct {
	from time.Time
	ev   timeline.Event
}

func newLogGaps(rec *timeline.Recorder) *logGaps {
	return &logGaps{rec: rec, open: map[string][]openGap{}, gone: map[string]time.Time{}}
}

// lost notes that the log of the pod with UID uid is lost from the wall time
// from on; noticed is when that was noticed. ev is the gap event without At
// and Until. If the pod is already gone (or the observer stopped) the gap is
// recorded at once, ending then; if that was before from, it ends when the
// loss was noticed.
func (g *logGaps) lost(uid string, from, noticed time.Time, ev timeline.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	end, ended := g.gone[uid]
	if !ended && !g.stopped.IsZero() {
		end, ended = g.stopped, true
	}
	if !ended {
		g.open[uid] = append(g.open[uid], openGap{from: from, ev: ev})
		return
	}
	if !end.After(from) {
		end = noticed
	}
	g.record(openGap{from: from, ev: ev}, end)
}

// podGone closes the gaps of the pod with UID uid at t, when it was seen
// deleted; losses noticed later end there too.
func (g *logGaps) podGone(uid string, t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gone[uid] = t
	for _, o := range g.open[uid] {
		g.record(o, t)
	}
	delete(g.open, uid)
}

// stop closes every open gap at t, when the observer stopped, in the order
// they were lost; losses noticed later end there too.
func (g *logGaps) stop(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.stopped = t
	var all []openGap
	for _, gs := range g.open {
		all = append(all, gs...)
	}
	clear(g.open)
	slices.SortStableFunc(all, func(a, b openGap) int {
		if c := a.from.Compare(b.from); c != 0 {
			return c
		}
		return strings.Compare(a.ev.Pod, b.ev.Pod)
	})
	for _, o := range all {
		g.record(o, t)
	}
}

// record records o as a gap from o.from until end, never shorter than a
// nanosecond: a gap of length zero would be no gap to the checks.
func (g *logGaps) record(o openGap, end time.Time) {
	e := o.ev
	e.Until = max(g.rec.Offset(end), g.rec.Offset(o.from)+1)
	g.rec.Record(o.from, e)
}

// appKinds maps the fixture's lifecycle events to timeline kinds.
var appKinds = map[event.Kind]string{
	event.Started:          timeline.AppStarted,
	event.Registered:       timeline.AppRegistered,
	event.RegisterFailed:   timeline.AppRegisterFailed,
	event.Signal:           timeline.AppSignal,
	event.Deregistered:     timeline.AppDeregistered,
	event.DeregisterFailed: timeline.AppDeregisterFailed,
	event.Exiting:          timeline.AppExiting,
}

// AppEvent maps one fixture event to its timeline event: lifecycle events
// under source app, caller-mode calls under source caller.
func AppEvent(e event.Event, pod, scenario string) (timeline.Event, bool) {
	te := timeline.Event{Source: timeline.SourceApp, Scenario: scenario, Pod: pod, Service: e.Service,
		Instance: e.Instance, IP: e.Address, Port: e.Port, Signal: e.Signal, ExitCode: e.ExitCode, Reason: e.Error}
	if k, ok := appKinds[e.Kind]; ok {
		te.Kind = k
		return te, true
	}
	if e.Kind != event.Call {
		return te, false
	}
	te = timeline.Event{Source: timeline.SourceCaller, Scenario: scenario, Pod: pod, Service: e.Target, Detail: e.Addr}
	switch {
	case e.Error != "":
		te.Kind, te.Reason = timeline.CallError, e.Error
	case e.Answered != "" && e.Answered != e.Target:
		// The app's own word; the checks decide by who held the address.
		te.Kind, te.Reason = timeline.CallWrongTarget, e.Answered
	default:
		te.Kind, te.Reason = timeline.CallOK, e.Answered
	}
	return te, true
}
