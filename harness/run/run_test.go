package run

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// The run is the list the issue describes, in this order.
func TestStepsAreTheRunInOrder(t *testing.T) {
	var names []string
	for _, s := range Steps() {
		names = append(names, string(s.Phase)+"/"+s.Name)
	}
	want := []string{"setup/namespace", "setup/observe pods", "setup/consul", "setup/services", "setup/callers", "setup/observe consul",
		"setup/services ready", "setup/callers ready", "faults/faults", "drain/drain", "settle/settle"}
	if !slices.Equal(names, want) {
		t.Errorf("steps\n got %v\nwant %v", names, want)
	}
}

func TestExecuteTimesEachStepAndStopsAtTheFirstError(t *testing.T) {
	var ran []string
	step := func(name string, d time.Duration, err error) Step {
		return Step{Name: name, Phase: PhaseSetup, Do: func(context.Context, *State) error {
			ran = append(ran, name)
			time.Sleep(d)
			return err
		}}
	}
	boom := errors.New("boom")
	var timings []StepTiming
	err := Execute(context.Background(), []Step{step("a", 20*time.Millisecond, nil), step("b", 0, boom), step("c", 0, nil)},
		&State{}, func(st StepTiming) { timings = append(timings, st) })
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "b: ") {
		t.Fatalf("error %v should name step b and wrap its error", err)
	}
	if !slices.Equal(ran, []string{"a", "b"}) {
		t.Errorf("ran %v, want a, b", ran)
	}
	if len(timings) != 2 || timings[0].Duration < 20*time.Millisecond || timings[1].Error != "boom" || timings[0].Error != "" {
		t.Errorf("timings %+v", timings)
	}
	r := Result{Steps: timings}
	if r.Phase(PhaseSetup) != timings[0].Duration+timings[1].Duration || r.Phase(PhaseFaults) != 0 {
		t.Errorf("phase sums: %v", r.Phase(PhaseSetup))
	}
}

func TestExecuteStartsNothingAfterAnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(errors.New("interrupted (Ctrl-C)"))
	ran := false
	err := Execute(ctx, []Step{{Name: "faults", Do: func(context.Context, *State) error { ran = true; return nil }}}, &State{}, func(StepTiming) {})
	if ran || err == nil || !strings.Contains(err.Error(), "faults: not started: interrupted (Ctrl-C)") {
		t.Errorf("ran %v, err %v", ran, err)
	}
}

func TestTeardownRunsEveryCleanupNewestFirstAndJoinsErrors(t *testing.T) {
	var order []string
	s := &State{}
	s.OnTeardown("first", func(context.Context) error { order = append(order, "first"); return nil })
	s.OnTeardown("second", func(context.Context) error { order = append(order, "second"); return errors.New("stuck") })
	s.OnTeardown("third", func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			t.Error("teardown must run on a deadline")
		}
		order = append(order, "third")
		return nil
	})
	err := s.teardown()
	if !slices.Equal(order, []string{"third", "second", "first"}) {
		t.Errorf("order %v", order)
	}
	if err == nil || !strings.Contains(err.Error(), "teardown: second: stuck") {
		t.Errorf("error %v", err)
	}
	if s.teardown() != nil || len(order) != 3 {
		t.Errorf("a second teardown must do nothing")
	}
}

func TestLiveTracksNamespaces(t *testing.T) {
	r := &Runner{}
	r.track("kg-a", true)
	r.track("kg-b", true)
	r.track("kg-a", false)
	if got := r.Live(); !slices.Equal(got, []string{"kg-b"}) {
		t.Errorf("live %v", got)
	}
}

// On four nodes with four at once, every scenario gets a node of its own,
// whether it needs one or not; on one node two share it, and one that
// needs the node to itself waits until the node is free, while shared ones
// still start (the first waiting one that fits).
func TestPlaces(t *testing.T) {
	alone := func(i int) bool { return i == 1 }
	p := newPlaces([]string{"a", "b", "c", "d"}, 4)
	used := map[string]bool{}
	for range 4 {
		k, n, ok := p.fit([]int{0, 1}, func(int) bool { return false })
		if !ok || used[n] {
			t.Fatalf("fit %d %q %v; used %v", k, n, ok, used)
		}
		used[n] = true
		p.hold(n, false)
	}
	if _, _, ok := p.fit([]int{0}, alone); ok {
		t.Error("a fifth started with four at once")
	}

	one := newPlaces(nil, 2)
	k, n, ok := one.fit([]int{0}, alone)
	if !ok || k != 0 || n != "" {
		t.Fatalf("one node: %d %q %v", k, n, ok)
	}
	one.hold(n, false)
	k, _, ok = one.fit([]int{1, 2}, alone)
	if !ok || k != 1 {
		t.Fatalf("with a shared one running, the one needing the node alone must wait and the next shared start: %d %v", k, ok)
	}
	one.hold("", false)
	if _, _, ok := one.fit([]int{1}, alone); ok {
		t.Error("started beyond parallel")
	}
	one.release("", false)
	one.release("", false)
	k, _, ok = one.fit([]int{1, 2}, alone)
	if !ok || k != 0 {
		t.Fatalf("the node is free: the one needing it alone goes first: %d %v", k, ok)
	}
	one.hold("", true)
	if _, _, ok := one.fit([]int{2}, alone); ok {
		t.Error("a shared one started beside one that needs the node alone")
	}
}

// fakeClient is a cluster client that is never called: the steps of these
// tests do not touch the cluster.
type fakeClient struct{ klient.Client }

func (fakeClient) RESTConfig() *rest.Config { return &rest.Config{Host: "http://127.0.0.1:1"} }

// A step that panics fails its scenario with the panic and where it
// happened, as its error; the scenario's teardown still runs, and the other
// scenarios go on. The scenario ends in the pod index either way.
func TestRunAllRecoversAPanickingStep(t *testing.T) {
	idx := observe.NewPodIndex()
	var mu sync.Mutex
	tornDown := map[string]bool{}
	r := &Runner{Client: fakeClient{}, PodIndex: idx, steps: []Step{
		{"create", PhaseSetup, func(_ context.Context, s *State) error {
			idx.Put("uid-"+s.Spec.Name, observe.PodRef{Scenario: s.Spec.Name, Pod: s.Spec.Name + "-0"})
			s.OnTeardown("delete", func(context.Context) error {
				mu.Lock()
				defer mu.Unlock()
				tornDown[s.Spec.Name] = true
				return nil
			})
			return nil
		}},
		{"faults", PhaseFaults, func(_ context.Context, s *State) error {
			if s.Spec.Name == "broken" {
				var m map[string]int
				m["x"]++ // a harness bug
			}
			return nil
		}},
		{"settle", PhaseSettle, func(context.Context, *State) error { return nil }},
	}}
	specs := []scenario.Spec{{Name: "broken"}, {Name: "fine"}}
	res := r.RunAll(context.Background(), specs, 2, timeline.NewRecorder(time.Now()))
	t.Logf("broken: %v", res[0].Err)
	var pe *PanicError
	if err := res[0].Err; !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "faults: panic: assignment to entry in nil map") ||
		!strings.Contains(pe.Stack, "run_test.go") {
		t.Errorf("broken: error %v; want the step, the panic and where it happened", err)
	}
	if n := len(res[0].Steps); n != 3 || res[0].Steps[1].Error == "" || res[0].Steps[2].Name != "teardown" {
		t.Errorf("broken: steps %+v; want create, faults (failed), teardown", res[0].Steps)
	}
	if res[1].Err != nil || len(res[1].Steps) != 4 {
		t.Errorf("fine: %v, steps %+v", res[1].Err, res[1].Steps)
	}
	if !tornDown["broken"] || !tornDown["fine"] {
		t.Errorf("torn down: %v", tornDown)
	}
	if got := idx.Running(time.Now(), time.Now()); len(got) != 0 {
		t.Errorf("scenarios still running in the pod index after RunAll: %v", got)
	}
}

// A cleanup that panics is a teardown error; the older cleanups still run.
func TestTeardownRecoversAPanickingCleanup(t *testing.T) {
	ran := false
	s := &State{}
	s.OnTeardown("older", func(context.Context) error { ran = true; return nil })
	s.OnTeardown("newer", func(context.Context) error { panic("cleanup broke") })
	err := s.teardown()
	if !ran || err == nil || !strings.Contains(err.Error(), "teardown: newer: panic: cleanup broke") {
		t.Errorf("ran %v, err %v", ran, err)
	}
}
