package observe

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// ServiceLabel is the pod label naming the fixture service a pod belongs
// to; the pod observer attributes IP ownership by it.
const ServiceLabel = "kubegrace.io/service"

// AppContainer is the name of the fixture's container in every pod.
const AppContainer = "app"

// Pods watches the pods of one namespace through an informer (a list, then
// a watch that resumes from its resourceVersion, relisting when it must) and
// records each lifecycle step once per pod: created, scheduled, IP assigned,
// ready, deletion requested, app container terminated, deleted. For every
// pod it also follows the app container's log from the start and records
// the fixture's own lifecycle and caller lines; the stream is read until
// the container exits, so the lines of a pod being deleted are not lost.
type Pods struct {
	Clientset kubernetes.Interface
	Namespace string
	Rec       *timeline.Recorder
	Scenario  string

	mu     sync.Mutex
	state  map[string]*podState // by UID
	logsWG sync.WaitGroup
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
	p.state = map[string]*podState{}
	factory := informers.NewSharedInformerFactoryWithOptions(p.Clientset, 0, informers.WithNamespace(p.Namespace))
	inf := factory.Core().V1().Pods().Informer()
	_, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { p.update(ctx, obj) },
		UpdateFunc: func(_, obj any) { p.update(ctx, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				p.update(ctx, pod) // catch steps the last update carried
				p.record(pod, timeline.Event{Kind: timeline.PodDeleted})
			}
		},
	})
	if err != nil {
		return fmt.Errorf("pod informer: %w", err)
	}
	factory.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) && ctx.Err() == nil {
		return fmt.Errorf("pod informer for namespace %s did not sync", p.Namespace)
	}
	<-ctx.Done()
	factory.Shutdown()
	p.logsWG.Wait()
	return nil
}

func (p *Pods) record(pod *corev1.Pod, e timeline.Event) {
	e.Source, e.Scenario = timeline.SourcePod, p.Scenario
	e.Pod, e.Service, e.IP = pod.Name, pod.Labels[ServiceLabel], pod.Status.PodIP
	p.Rec.Record(time.Now(), e)
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
		if cs.Name != AppContainer {
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
			p.logsWG.Add(1)
			go func(name string) {
				defer p.logsWG.Done()
				p.follow(ctx, name)
			}(pod.Name)
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

// follow streams the app container's log from its first line until the
// container exits (or ctx ends) and records fixture events at the time the
// app stamped them.
func (p *Pods) follow(ctx context.Context, pod string) {
	req := p.Clientset.CoreV1().Pods(p.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: AppContainer, Follow: true})
	var stream io.ReadCloser
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if stream, err = req.Stream(ctx); err == nil || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil {
		if ctx.Err() == nil {
			now := time.Now()
			p.Rec.Record(now, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: p.Scenario, Pod: pod,
				Until: p.Rec.Offset(now), Reason: "app log of " + pod, Detail: err.Error()})
		}
		return
	}
	defer stream.Close()
	_ = event.Scan(stream, func(e event.Event) {
		if te, ok := AppEvent(e, pod, p.Scenario); ok {
			p.Rec.Record(e.Time(), te)
		}
	}, nil) // the stream ends with the container or ctx; nothing more to do
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
	case e.Answered != e.Target:
		te.Kind, te.Reason = timeline.CallWrongTarget, e.Answered
	default:
		te.Kind, te.Reason = timeline.CallOK, e.Answered
	}
	return te, true
}
