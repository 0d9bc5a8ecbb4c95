package observe

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// panicky is an observer whose Run panics.
type panicky struct {
	mu   sync.Mutex
	gaps []string
}

func (p *panicky) Run(context.Context) error { panic("observer broke") }

func (p *panicky) gap(from, until time.Time, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if until.Before(from) {
		detail = "ends before it starts: " + detail
	}
	p.gaps = append(p.gaps, detail)
}

// waiting is an observer that runs until its context ends.
type waiting struct{ stopped bool }

func (w *waiting) Run(ctx context.Context) error { <-ctx.Done(); w.stopped = true; return nil }

// An observer that panics does not take the process with it: the panic,
// with where it happened, is its error, the time it did not watch a gap,
// and the other observers run on until Stop.
func TestSetRecoversAPanickingObserver(t *testing.T) {
	p, w := &panicky{}, &waiting{}
	err := Start(context.Background(), p, w).Stop()
	if err == nil || !strings.Contains(err.Error(), "observer *observe.panicky: panic: observer broke") || !strings.Contains(err.Error(), "panic_test.go") {
		t.Errorf("error %v: want the panic and where it happened", err)
	}
	if !w.stopped {
		t.Error("the other observer did not run until Stop")
	}
	if len(p.gaps) != 1 || !strings.Contains(p.gaps[0], "observer stopped by a panic: observer *observe.panicky: panic: observer broke") {
		t.Errorf("gaps %q", p.gaps)
	}
}

// A panic while handling a pod's notification (here, an index without its
// map) is the pod observer's error and a gap of that pod until it is gone;
// the informer's goroutine, and the process, live on.
func TestPodsObserverSurvivesAPanickingHandler(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-0", Namespace: "ns", UID: "uid-0"}}
	cs := fake.NewClientset(pod)
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	p := &Pods{Clientset: cs, Namespace: "ns", Rec: rec, Scenario: "s", Index: &PodIndex{}}
	set := Start(context.Background(), p)
	deadline := time.Now().Add(10 * time.Second)
	for p.panics.err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	err := set.Stop()
	if err == nil || !strings.Contains(err.Error(), "pod observer: pod orders-0: panic: assignment to entry in nil map") {
		t.Fatalf("error %v", err)
	}
	var gaps []timeline.Event
	for _, e := range rec.Snapshot().Events {
		if e.Kind == timeline.HarnessGap {
			gaps = append(gaps, e)
		}
	}
	if len(gaps) != 1 || gaps[0].Pod != "orders-0" || gaps[0].Scenario != "s" || gaps[0].Until <= gaps[0].At {
		t.Errorf("gaps %+v", gaps)
	}
}

// A panic while handling one kernel event loses that event: a gap of the
// scenarios running then, and Run's error; the next event is handled.
func TestKernelObserverSurvivesAPanickingEvent(t *testing.T) {
	root := t.TempDir()
	proc(t, root, 100, 100, "100\t1", "start.sh", "/usr/bin/dash", strings.Repeat("ab", 32))
	idx := NewPodIndex()
	idx.Put(podUID, PodRef{Scenario: "s", Pod: "orders-1", Service: "orders"})
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	k := &Kernel{Index: idx, Rec: rec}
	calls := 0
	handle := k.handler(newAttributor(root, func(uid string, at time.Time, e timeline.Event) {
		if calls++; calls == 1 {
			panic(errors.New("first event broke"))
		}
		k.Deliver(uid, at, e)
	}))
	now := time.Now()
	handle(kernel.Event{Kind: kernel.KindProcessExec, TaskPID: 100, Filename: "/start.sh", Time: now})
	handle(kernel.Event{Kind: kernel.KindProcessExit, TaskPID: 100, GroupDead: true, Time: now.Add(time.Millisecond)})
	var kinds []string
	for _, e := range rec.Snapshot().Events {
		kinds = append(kinds, e.Kind)
		if e.Kind == timeline.HarnessGap && (e.Scenario != "s" || e.Reason != "kernel observer" || !strings.Contains(e.Detail, "first event broke")) {
			t.Errorf("gap %+v", e)
		}
	}
	if strings.Join(kinds, " ") != timeline.HarnessGap+" "+timeline.KernelExit {
		t.Errorf("events %v: want the gap, then the next event", kinds)
	}
	if err := k.panics.err(); err == nil || !strings.Contains(err.Error(), "kernel observer: process_exec event: panic: first event broke") {
		t.Errorf("error %v", err)
	}
}

// A Consul watch that panics (here, no client) is the observer's error and
// a gap of its service until the observer stops; the process lives on.
func TestConsulWatchSurvivesAPanic(t *testing.T) {
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	set := Start(context.Background(), &Consul{Services: []string{"orders"}, Rec: rec, Scenario: "s"})
	time.Sleep(10 * time.Millisecond)
	stopping := time.Now()
	err := set.Stop()
	if err == nil || !strings.Contains(err.Error(), "consul watch of orders: panic:") {
		t.Fatalf("error %v", err)
	}
	evs := rec.Snapshot().Events
	if len(evs) != 1 || evs[0].Kind != timeline.HarnessGap || evs[0].Service != "orders" || evs[0].Scenario != "s" || evs[0].Until < rec.Offset(stopping) {
		t.Errorf("events %+v: want one gap of orders until Stop", evs)
	}
}

// An agent that lost one event says so (a short gap); one that stopped
// tracing says since when (a gap until its stream ends).
func TestFeedRecordsAnAgentsLaterErrorsAsGaps(t *testing.T) {
	idx := NewPodIndex()
	idx.Put("uid-orders", PodRef{Scenario: "s", Pod: "orders-1", Service: "orders"})
	rec := timeline.NewRecorder(time.Now().Add(-time.Minute))
	k := &Kernel{Index: idx, Rec: rec}
	time.Sleep(time.Millisecond)
	one := time.Now()
	time.Sleep(time.Millisecond)
	stopped := time.Now()
	time.Sleep(10 * time.Millisecond)
	var b strings.Builder
	for _, l := range []AgentLine{
		{Ready: true},
		{Error: "kernel agent: process_exec event: panic: boom\n\tstack", At: one},
		{Error: "kernel agent: trace_pipe: read failed", Stopped: true, At: stopped},
	} {
		raw, _ := json.Marshal(l)
		b.Write(raw)
		b.WriteString("\n")
	}
	first := make(chan error, 1)
	k.Feed(strings.NewReader(b.String()), "node-a", first)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	evs := rec.Snapshot().Events
	if len(evs) != 2 {
		t.Fatalf("events %+v", evs)
	}
	if g := evs[0]; g.At != rec.Offset(one) || g.Until != g.At+1 || g.Detail != "kernel agent on node node-a: kernel agent: process_exec event: panic: boom" {
		t.Errorf("one event lost: %+v", g)
	}
	if g := evs[1]; g.At != rec.Offset(stopped) || g.Until < g.At+10*time.Millisecond || !strings.Contains(g.Detail, "trace_pipe: read failed") {
		t.Errorf("stopped tracing: %+v", g)
	}
}
