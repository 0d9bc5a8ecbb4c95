// Package run runs one scenario on a cluster as a list of named steps
// (kind's create actions: each step is small, the list times them), and
// several scenarios side by side. A step that creates something registers
// its cleanup at once; teardown runs them, newest first, whatever happened.
// Verdicts and reports are made elsewhere (reports), from the timeline this
// package records.
package run

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Runner runs scenarios on one cluster.
type Runner struct {
	Client klient.Client
	Images Images
	// NodeExec runs a command on a node (kind's node handle); nil where
	// the harness has no node access (faults that need it then fail).
	NodeExec func(ctx context.Context, node string, argv ...string) (string, error)
	// Log receives progress lines.
	Log io.Writer
	// PodIndex, if set, gets every pod the scenarios' pod observers see,
	// for the kernel observer (one per job) to attribute processes; a
	// scenario ends in it when its teardown is over, so that events lost
	// later are not charged to it.
	PodIndex *observe.PodIndex
	// Kernel says the kernel signal observer runs: the scenarios' signal
	// verdicts rest on it (Result.Kernel).
	Kernel bool
	// Nodes are the nodes scenarios may run on. With several, RunAll pins
	// every scenario to one of them; with none or one, nothing is pinned
	// (RunAll says how scenarios share them).
	Nodes []string
	// IPAM and IPCooldown are the cluster's IPAM where faults have a way
	// of their own for it, and its IP cooldown (fault.Env).
	IPAM       string
	IPCooldown time.Duration
	// Networks are the nodes' pod networks as their runtimes use them
	// (fault.Env).
	Networks map[string]cni.Network
	// Durations, if set, are scenarios' measured wall times (by name) from
	// earlier runs: RunAll starts the longest first, by these where known,
	// else by Spec.Estimate.
	Durations map[string]time.Duration

	mu   sync.Mutex
	live []string // namespaces created and not yet torn down

	steps []Step // the run's steps; nil: Steps() (tests set others)
}

// Images are the images the cluster holds for a run.
type Images struct {
	Fixture, Consul string
	// Pause is an image every node holds, for IP-pool filler pods.
	Pause string
	// Pulled: the images are in a registry the cluster pulls from, not
	// loaded into its nodes (services' own images are pulled too).
	Pulled bool
}

// Phase groups steps for the report's timings: setup and teardown are the
// harness's overhead, faults, drain and settle what the scenario asks for.
type Phase string

// The phases.
const (
	PhaseSetup    Phase = "setup"
	PhaseFaults   Phase = "faults"
	PhaseDrain    Phase = "drain"
	PhaseSettle   Phase = "settle"
	PhaseTeardown Phase = "teardown"
)

// Step is one named step of a scenario run.
type Step struct {
	Name  string
	Phase Phase
	Do    func(ctx context.Context, s *State) error
}

// StepTiming is how long a step took, and its error.
type StepTiming struct {
	Name     string        `json:"name"`
	Phase    Phase         `json:"phase"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

// Result is one scenario's run.
type Result struct {
	Spec  scenario.Spec
	Steps []StepTiming
	// Kernel says the kernel signal observer ran for the scenario
	// (Runner.Kernel): its signal verdicts rest on it.
	Kernel   bool
	Started  time.Time
	Finished time.Time
	// Faults describe what each fault did, in order.
	Faults []string
	// Forcing is the part of the faults' time spent forcing them (an
	// address reused), not waiting for what the spec asks: overhead.
	Forcing time.Duration
	// Node is the node the scenario's pods were pinned to ("" on a
	// one-node cluster); it had it to itself if it NeedsNodeToItself.
	Node string
	// Inconclusive says why a fault could not be forced on this cluster
	// (fault.ErrCannotForce): nothing was measured to judge.
	Inconclusive string
	Err          error
}

// Phase is the time spent in the steps of phase p.
func (r Result) Phase(p Phase) time.Duration {
	var d time.Duration
	for _, s := range r.Steps {
		if s.Phase == p {
			d += s.Duration
		}
	}
	return d
}

// Total is the scenario's wall time.
func (r Result) Total() time.Duration { return r.Finished.Sub(r.Started) }

// State is what the steps of one scenario share: the cluster, what
// earlier steps created, and the cleanups to run at teardown.
type State struct {
	Runner    *Runner
	Spec      scenario.Spec
	Namespace string
	// Node is the node every pod of the scenario is pinned to ("" on a
	// one-node cluster: none).
	Node      string
	Clientset kubernetes.Interface
	Rec       *timeline.Recorder
	Consul    *consul.InCluster
	Result    *Result

	cleanups []cleanup
}

type cleanup struct {
	what string
	do   func(ctx context.Context) error
}

// OnTeardown registers a cleanup, run at teardown newest first.
func (s *State) OnTeardown(what string, do func(ctx context.Context) error) {
	s.cleanups = append(s.cleanups, cleanup{what, do})
}

// Logf prints a progress line for the scenario.
func (s *State) Logf(format string, args ...any) { s.Runner.logf(s.Spec.Name, format, args...) }

// TeardownTimeout bounds teardown, which runs even after an interrupt.
const TeardownTimeout = 2 * time.Minute

// Run runs spec, recording onto rec: the steps in order until one fails,
// then teardown. It always tears its namespace down.
func (r *Runner) Run(ctx context.Context, spec scenario.Spec, rec *timeline.Recorder) Result {
	return r.RunOn(ctx, spec, "", rec)
}

// RunOn is Run with every pod of the scenario pinned to node ("": none).
func (r *Runner) RunOn(ctx context.Context, spec scenario.Spec, node string, rec *timeline.Recorder) Result {
	return r.runOn(ctx, spec, node, rec, func() {})
}

// runOn is RunOn, calling stepsDone when the steps have ended, before
// teardown. A panic in a step or a cleanup is that step's (or cleanup's)
// error, so the scenario fails with it and the others go on.
func (r *Runner) runOn(ctx context.Context, spec scenario.Spec, node string, rec *timeline.Recorder, stepsDone func()) Result {
	res := Result{Spec: spec, Started: time.Now(), Kernel: r.Kernel, Node: node}
	st := &State{Runner: r, Spec: spec, Namespace: spec.Namespace(), Node: node, Rec: rec, Result: &res}
	steps := r.steps
	if steps == nil {
		steps = Steps()
	}
	res.Err = guard(func() (err error) {
		st.Clientset, err = r.clientset()
		return err
	})
	if res.Err == nil {
		res.Err = Execute(ctx, steps, st, func(t StepTiming) { res.Steps = append(res.Steps, t) })
		if errors.Is(res.Err, fault.ErrCannotForce) {
			res.Inconclusive, res.Err = res.Err.Error(), nil
		}
	}
	stepsDone()
	if ctx.Err() != nil && len(st.cleanups) > 0 {
		st.Logf("interrupted (%v): tearing down namespace %s (up to %s)", context.Cause(ctx), st.Namespace, TeardownTimeout)
	}
	t := time.Now()
	terr := st.teardown()
	res.Steps = append(res.Steps, StepTiming{Name: "teardown", Phase: PhaseTeardown, Duration: time.Since(t), Error: errText(terr)})
	res.Err = errors.Join(res.Err, terr)
	res.Finished = time.Now()
	// Kernel events lost from now on are no longer this scenario's.
	r.PodIndex.End(spec.Name, res.Finished)
	switch {
	case res.Err != nil:
		st.Logf("FAILED after %s: %v", res.Total().Round(time.Millisecond), res.Err)
	case res.Inconclusive != "":
		st.Logf("INCONCLUSIVE after %s: %s", res.Total().Round(time.Millisecond), res.Inconclusive)
	default:
		st.Logf("done in %s", res.Total().Round(time.Millisecond))
	}
	return res
}

// Execute runs steps in order on st until one fails, passing each step's
// timing to record. The error names the step; a step that panics fails
// with a *PanicError.
func Execute(ctx context.Context, steps []Step, st *State, record func(StepTiming)) error {
	for _, step := range steps {
		if err := context.Cause(ctx); ctx.Err() != nil {
			return fmt.Errorf("%s: not started: %w", step.Name, err)
		}
		t := time.Now()
		err := guard(func() error { return step.Do(ctx, st) })
		record(StepTiming{Name: step.Name, Phase: step.Phase, Duration: time.Since(t), Error: errText(err)})
		if err != nil {
			return fmt.Errorf("%s: %w", step.Name, err)
		}
	}
	return nil
}

// teardown runs the cleanups newest first, on a deadline of its own (the
// run's context may be cancelled already), and joins their errors.
func (s *State) teardown() error {
	ctx, cancel := context.WithTimeoutCause(context.Background(), TeardownTimeout,
		fmt.Errorf("the teardown deadline of %s", TeardownTimeout))
	defer cancel()
	var errs []error
	for _, c := range slices.Backward(s.cleanups) {
		if err := guard(func() error { return c.do(ctx) }); err != nil {
			errs = append(errs, fmt.Errorf("teardown: %s: %w", c.what, err))
		}
	}
	s.cleanups = nil
	return errors.Join(errs...)
}

// Live lists the namespaces of scenarios created and not yet torn down:
// what an interrupted run would leave behind.
func (r *Runner) Live() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.live)
}

func (r *Runner) track(ns string, alive bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = slices.DeleteFunc(r.live, func(s string) bool { return s == ns })
	if alive {
		r.live = append(r.live, ns)
	}
}

func (r *Runner) logf(spec, format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "[%s %s] %s\n", time.Now().Format("15:04:05"), spec, fmt.Sprintf(format, args...))
	}
}

// clientset talks to the cluster without client-go's default QPS limit:
// the IP reuse fault creates tens of pods at once, which that limit would
// spread over seconds.
func (r *Runner) clientset() (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(r.Client.RESTConfig())
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// RunAll runs specs on one cluster, side by side, each in its own
// namespace with its own Consul, at most parallel at once. On a cluster of
// several nodes every scenario is pinned to one node: one whose faults need
// a node to themselves (Spec.NeedsNodeToItself) holds its node alone, the
// others share a node with at most parallel/nodes (rounded up) others. On
// one node nothing is pinned, and a scenario that needs the node to itself
// waits until it is free. The longest scenarios start first (Spec.Estimate,
// a list schedule: whenever a place frees, the first waiting scenario that
// fits takes it), since the last started bounds the run; a scenario's
// time measured before (Durations) beats the estimate. A scenario gives
// its place back as its teardown begins: deleting its namespace creates
// nothing that could take an address; RunAll waits for every teardown.
// Results come back in spec order.
func (r *Runner) RunAll(ctx context.Context, specs []scenario.Spec, parallel int, rec *timeline.Recorder) []Result {
	results := make([]Result, len(specs))
	queue := make([]int, len(specs))
	for i := range queue {
		queue[i] = i
	}
	slices.SortStableFunc(queue, func(a, b int) int { return cmp.Compare(r.estimate(specs[b]), r.estimate(specs[a])) })
	pl := newPlaces(r.Nodes, parallel)
	var all sync.WaitGroup
	pl.mu.Lock()
	for len(queue) > 0 {
		k, node, ok := pl.fit(queue, func(i int) bool { return specs[i].NeedsNodeToItself() })
		if !ok {
			pl.freed.Wait()
			continue
		}
		i, alone := queue[k], specs[queue[k]].NeedsNodeToItself()
		queue = slices.Delete(queue, k, k+1)
		pl.hold(node, alone)
		all.Go(func() {
			release := sync.OnceFunc(func() { pl.release(node, alone) })
			defer release()
			// runOn recovers the steps' and cleanups' panics; this is for
			// its own code, so that no panic here ends the process.
			defer func() {
				if v := recover(); v != nil {
					results[i] = Result{Spec: specs[i], Node: node, Kernel: r.Kernel, Err: newPanicError(v, debug.Stack())}
				}
			}()
			results[i] = r.runOn(ctx, specs[i], node, rec, release)
		})
	}
	pl.mu.Unlock()
	all.Wait()
	return results
}

// estimate is how long spec will take: as measured before, else its own
// estimate.
func (r *Runner) estimate(spec scenario.Spec) time.Duration {
	if d, ok := r.Durations[spec.Name]; ok {
		return d
	}
	return spec.Estimate()
}

// places tracks which scenarios run on which node, for RunAll.
type places struct {
	mu      sync.Mutex
	freed   *sync.Cond // a place was given back
	nodes   []string   // [""] on one node: nothing is pinned
	shared  map[string]int
	alone   map[string]bool
	perNode int // most scenarios sharing one node
	most    int // most running at once
}

// running is how many scenarios hold a place. Called with mu held.
func (p *places) running() int {
	n := len(p.alone)
	for _, s := range p.shared {
		n += s
	}
	return n
}

func newPlaces(nodes []string, parallel int) *places {
	parallel = max(parallel, 1)
	if len(nodes) <= 1 {
		nodes = []string{""}
	}
	p := &places{nodes: nodes, shared: map[string]int{}, alone: map[string]bool{}, most: parallel,
		perNode: (parallel + len(nodes) - 1) / len(nodes)}
	p.freed = sync.NewCond(&p.mu)
	return p
}

// fit finds the first of queue (scenario indexes) that can start now and
// its node: a free node for one that needs a node alone, else the least
// busy node not held alone with room. Called with mu held.
func (p *places) fit(queue []int, needsAlone func(int) bool) (k int, node string, ok bool) {
	if p.running() >= p.most {
		return 0, "", false
	}
	for k, i := range queue {
		best, found := "", false
		for _, n := range p.nodes {
			if p.alone[n] {
				continue
			}
			if needsAlone(i) {
				if p.shared[n] == 0 {
					best, found = n, true
					break
				}
				continue
			}
			if p.shared[n] < p.perNode && (!found || p.shared[n] < p.shared[best]) {
				best, found = n, true
			}
		}
		if found {
			return k, best, true
		}
	}
	return 0, "", false
}

// hold records a scenario started on node. Called with mu held.
func (p *places) hold(node string, alone bool) {
	if alone {
		p.alone[node] = true
	} else {
		p.shared[node]++
	}
}

// release gives a scenario's place back and wakes RunAll.
func (p *places) release(node string, alone bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if alone {
		delete(p.alone, node)
	} else {
		p.shared[node]--
	}
	p.freed.Broadcast()
}
