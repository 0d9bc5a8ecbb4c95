package observe

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// logServer is a Kubernetes API server that only serves pod logs, with
// handler; it returns a clientset for it.
func logServer(t *testing.T, handler http.HandlerFunc) kubernetes.Interface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/log") || r.URL.Query().Get("container") != workload.AppContainer {
			http.Error(w, "unexpected request "+r.URL.String(), http.StatusBadRequest)
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// quickRetries makes the log follower give up after a few quick attempts.
func quickRetries(t *testing.T) {
	saved := followTiming
	followTiming = poll.Timing{Interval: 5 * time.Millisecond, Timeout: 15 * time.Millisecond}
	t.Cleanup(func() { followTiming = saved })
}

func newPods(t *testing.T, cs kubernetes.Interface) (*Pods, *timeline.Recorder) {
	t.Helper()
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	p := &Pods{Clientset: cs, Namespace: "ns", Rec: rec, Scenario: "s"}
	p.init()
	return p, rec
}

// runningPod is a pod whose app container (instance 1) started at started.
func runningPod(name string, labels map[string]string, started time.Time) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: labels},
		Spec:       corev1.PodSpec{NodeName: "node-1"},
		Status: corev1.PodStatus{
			PodIP:      "10.244.0.9",
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: workload.AppContainer,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(started)}}}},
		},
	}
}

func gaps(tl timeline.Timeline) []timeline.Event {
	var g []timeline.Event
	for _, e := range tl.Events {
		if e.Source == timeline.SourceHarness && e.Kind == timeline.HarnessGap {
			g = append(g, e)
		}
	}
	return g
}

func TestPodEventRole(t *testing.T) {
	filler := runningPod("filler-1", map[string]string{timeline.RoleLabel: timeline.RoleIPFiller}, time.Now())
	e := PodEvent(filler, timeline.PodCreated, "s")
	if e.Role != timeline.RoleIPFiller || e.Source != timeline.SourcePod || e.Kind != timeline.PodCreated ||
		e.Pod != "filler-1" || e.IP != "10.244.0.9" || e.Scenario != "s" || e.Service != "" {
		t.Errorf("filler event %+v", e)
	}
	svc := runningPod("orders-0", map[string]string{workload.ServiceLabel: "orders"}, time.Now())
	if e := PodEvent(svc, timeline.PodReady, "s"); e.Role != "" || e.Service != "orders" {
		t.Errorf("service pod event %+v", e)
	}
}

// Every event the pod observer records about a labelled pod, through its
// whole life, carries the role; events of other pods carry none.
func TestPodsObserverSetsRoleOnEveryEvent(t *testing.T) {
	cs := logServer(t, func(w http.ResponseWriter, _ *http.Request) {}) // an empty log
	p, rec := newPods(t, cs)
	ctx := context.Background()
	for _, name := range []string{"filler-1", "orders-0"} {
		labels := map[string]string{workload.ServiceLabel: "orders"}
		if name == "filler-1" {
			labels = map[string]string{timeline.RoleLabel: timeline.RoleIPFiller}
		}
		pod := runningPod(name, labels, time.Now())
		pending := pod.DeepCopy()
		pending.Spec.NodeName, pending.Status = "", corev1.PodStatus{}
		p.update(ctx, pending) // created
		p.update(ctx, pod)     // scheduled, ip, ready
		deleting := pod.DeepCopy()
		deleting.DeletionTimestamp, deleting.DeletionGracePeriodSeconds = &metav1.Time{Time: time.Now()}, new(int64(30))
		deleting.Status.ContainerStatuses[0].State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}}
		p.update(ctx, deleting) // deletion requested, container terminated
		p.deleted(ctx, cacheTombstone(deleting))
	}
	p.logsWG.Wait()
	kinds := map[string][]string{}
	for _, e := range rec.Snapshot().Events {
		if err := e.Validate(); err != nil {
			t.Errorf("invalid event %+v: %v", e, err)
		}
		if e.Source != timeline.SourcePod {
			t.Errorf("unexpected event %+v", e)
			continue
		}
		want := ""
		if e.Pod == "filler-1" {
			want = timeline.RoleIPFiller
		}
		if e.Role != want {
			t.Errorf("%s %s: role %q, want %q", e.Pod, e.Kind, e.Role, want)
		}
		kinds[e.Pod] = append(kinds[e.Pod], e.Kind)
	}
	all := []string{timeline.PodCreated, timeline.PodScheduled, timeline.PodIPAssigned, timeline.PodReady,
		timeline.PodDeletionRequested, timeline.PodContainerTerminated, timeline.PodDeleted}
	for _, pod := range []string{"filler-1", "orders-0"} {
		if fmt.Sprint(kinds[pod]) != fmt.Sprint(all) {
			t.Errorf("%s: kinds %v, want %v", pod, kinds[pod], all)
		}
	}
}

// cacheTombstone wraps pod as the informer does when it missed the delete.
func cacheTombstone(pod *corev1.Pod) any {
	return cache.DeletedFinalStateUnknown{Key: pod.Namespace + "/" + pod.Name, Obj: pod}
}

// A log that cannot be followed is a gap from the container's start until
// the pod is gone, not an instant: while the pod is there the gap stays open.
func TestLostLogGapLastsUntilPodGone(t *testing.T) {
	quickRetries(t)
	cs := logServer(t, func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "kubelet unreachable", http.StatusInternalServerError)
	})
	p, rec := newPods(t, cs)
	ctx := context.Background()
	started := time.Now().Add(-time.Second)
	pod := runningPod("orders-0", map[string]string{workload.ServiceLabel: "orders"}, started)
	p.update(ctx, pod)
	p.logsWG.Wait() // the follower gave up
	if g := gaps(rec.Snapshot()); len(g) != 0 {
		t.Fatalf("gap recorded while the pod is still there: %+v", g)
	}
	time.Sleep(20 * time.Millisecond)
	before := time.Now()
	p.deleted(ctx, pod)
	after := time.Now()

	g := gaps(rec.Snapshot())
	if len(g) != 1 {
		t.Fatalf("gaps %+v, want 1", g)
	}
	if g[0].At != rec.Offset(started) {
		t.Errorf("gap starts at %s, want the container start %s", g[0].At, rec.Offset(started))
	}
	if g[0].Until < rec.Offset(before) || g[0].Until > rec.Offset(after) {
		t.Errorf("gap ends at %s, want the deletion (%s..%s)", g[0].Until, rec.Offset(before), rec.Offset(after))
	}
	if g[0].Until-g[0].At < time.Second {
		t.Errorf("gap %s..%s shorter than the time the app ran unobserved", g[0].At, g[0].Until)
	}
	if g[0].Pod != "orders-0" || g[0].Scenario != "s" || !strings.Contains(g[0].Detail, "could not be followed") || g[0].Validate() != nil {
		t.Errorf("gap %+v", g[0])
	}
}

// A pod deleted before its follower gives up: the gap ends at the deletion.
func TestLostLogGapOfPodAlreadyGone(t *testing.T) {
	quickRetries(t)
	cs := logServer(t, func(w http.ResponseWriter, _ *http.Request) { http.NotFound(w, nil) })
	p, rec := newPods(t, cs)
	ctx := context.Background()
	started := time.Now().Add(-time.Second)
	pod := runningPod("orders-0", nil, started)
	p.update(ctx, pod)
	before := time.Now()
	p.deleted(ctx, pod)
	after := time.Now()
	p.logsWG.Wait()
	g := gaps(rec.Snapshot())
	if len(g) != 1 || g[0].At != rec.Offset(started) || g[0].Until < rec.Offset(before) || g[0].Until > rec.Offset(after) {
		t.Fatalf("gaps %+v, want one from %s to the deletion at %s..%s", g, rec.Offset(started), rec.Offset(before), rec.Offset(after))
	}
}

// A stream that breaks off while the container runs loses the lines after
// the break: a gap from there until the pod is gone.
func TestBrokenLogStreamIsAGap(t *testing.T) {
	line := event.Event{TimeUnixNano: time.Now().UnixNano(), Kind: event.Started, Service: "orders"}.Marshal()
	cs := logServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write(append(line, '\n'))
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close() // mid-chunk: the client sees an unexpected EOF
		}
	})
	p, rec := newPods(t, cs)
	ctx := context.Background()
	pod := runningPod("orders-0", nil, time.Now())
	p.update(ctx, pod)
	p.logsWG.Wait()
	broke := time.Now()
	if g := gaps(rec.Snapshot()); len(g) != 0 {
		t.Fatalf("gap recorded while the pod is still there: %+v", g)
	}
	time.Sleep(20 * time.Millisecond)
	p.deleted(ctx, pod)
	tl := rec.Snapshot()
	var started bool
	for _, e := range tl.Events {
		started = started || e.Source == timeline.SourceApp && e.Kind == timeline.AppStarted
	}
	g := gaps(tl)
	if !started || len(g) != 1 || g[0].At > rec.Offset(broke) || g[0].Until-g[0].At < 20*time.Millisecond ||
		!strings.Contains(g[0].Detail, "broke off") {
		t.Fatalf("started %v, gaps %+v", started, g)
	}
}

// The gap book: gaps open until their pod is gone or the observer stops,
// later losses of gone pods are closed at once, and no gap is of length zero.
func TestLogGaps(t *testing.T) {
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return base.Add(time.Duration(s * float64(time.Second))) }
	rec := timeline.NewRecorder(base)
	g := newLogGaps(rec)
	ev := func(pod string) timeline.Event {
		return timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Pod: pod, Reason: "app log of " + pod}
	}
	g.lost("a", at(1), at(6), ev("a"))
	g.lost("b", at(2), at(7), ev("b"))
	g.lost("c", at(3), at(8), ev("c"))
	if n := len(rec.Snapshot().Events); n != 0 {
		t.Fatalf("%d gaps recorded before any pod is gone", n)
	}
	g.podGone("b", at(10))
	g.lost("b", at(11), at(12), ev("b")) // gone before the loss: ends when noticed
	g.podGone("d", at(13))
	g.lost("d", at(13), at(13), ev("d")) // all at one instant: still not zero
	g.stop(at(20))
	g.lost("e", at(21), at(22), ev("e")) // after the stop
	var got []string
	for _, e := range rec.Snapshot().Events {
		if e.Until <= e.At {
			t.Errorf("gap of %s has no length: %s..%s", e.Pod, e.At, e.Until)
		}
		got = append(got, fmt.Sprintf("%s %s..%s", e.Pod, e.At, e.Until))
	}
	want := []string{"a 1s..20s", "b 2s..10s", "c 3s..20s", "b 11s..12s", "d 13s..13.000000001s", "e 21s..22s"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("gaps\n got %q\nwant %q", got, want)
	}
}

// A log followed to its clean end: every line is recorded and there is no
// gap, also for lines written after the follower opened the stream (the
// stream must outlive the wait that opened it).
func TestFollowedLogKeepsStreaming(t *testing.T) {
	at := func() []byte {
		return append(event.Event{TimeUnixNano: time.Now().UnixNano(), Kind: event.Started, Service: "orders"}.Marshal(), '\n')
	}
	cs := logServer(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.Write(at())
		w.(http.Flusher).Flush()
		time.Sleep(100 * time.Millisecond)
		w.Write(at())
	})
	p, rec := newPods(t, cs)
	p.update(context.Background(), runningPod("orders-0", nil, time.Now()))
	p.logsWG.Wait()
	tl := rec.Snapshot()
	n := 0
	for _, e := range tl.Events {
		if e.Source == timeline.SourceApp {
			n++
		}
	}
	if n != 2 || len(gaps(tl)) != 0 {
		t.Fatalf("%d app events (want 2), gaps %+v", n, gaps(tl))
	}
}
