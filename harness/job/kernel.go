package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/images"
	"github.com/kubegrace/kubegrace/reports"
)

// KernelMode says whether a job observes signals in the kernel.
type KernelMode string

// The modes.
const (
	KernelAuto     KernelMode = ""        // where the host allows; else fall back, and say so
	KernelOff      KernelMode = "off"     // never: signal verdicts rest on app logs and exit codes
	KernelRequired KernelMode = "require" // fail the job if the kernel cannot be observed
	// KernelUnreachable: the job found the cluster's nodes are not on this
	// host (not a user's choice).
	KernelUnreachable KernelMode = "unreachable"
)

// ParseKernelMode reads a --kernel flag value.
func ParseKernelMode(s string) (KernelMode, error) {
	switch s {
	case "", "auto":
		return KernelAuto, nil
	case "off":
		return KernelOff, nil
	case "require", "required":
		return KernelRequired, nil
	}
	return "", fmt.Errorf("--kernel %q: want auto, off or require", s)
}

// StartKernel opens the kernel tracer (one per job: every kind node shares
// this host's kernel) and starts the kernel observer over the runner's pod
// index. Where it cannot run it says why, once, and the runner's scenarios
// fall back. The returned stop ends the observer, removes the trace
// instance and fills meta.Kernel with what the observer measured.
func StartKernel(ctx context.Context, mode KernelMode, rec *timeline.Recorder, runner *run.Runner, meta *reports.Meta, log io.Writer) (stop func() error) {
	meta.Kernel = &reports.KernelObserver{}
	if mode == KernelUnreachable {
		meta.Kernel.Reason = "the cluster's nodes are not on this host (--allow-privileged runs a kernel agent on each)"
		fmt.Fprintf(log, "kernel signal observer: cannot run (%s); signal verdicts rest on the apps' logs and exit codes\n", meta.Kernel.Reason)
		return func() error { return nil }
	}
	if mode == KernelOff {
		meta.Kernel.Reason = "turned off (--kernel off)"
		fmt.Fprintf(log, "kernel signal observer: off (--kernel off); signal verdicts rest on the apps' logs and exit codes\n")
		return func() error { return nil }
	}
	tr, err := kernel.Open(kernel.Options{Name: fmt.Sprintf("kubegrace-%d", os.Getpid())})
	if err != nil {
		meta.Kernel.Reason = err.Error()
		fmt.Fprintf(log, "%v\n  signal verdicts fall back to the apps' logs and exit codes, and say so\n", err)
		return func() error { return nil }
	}
	idx := observe.NewPodIndex()
	runner.PodIndex, runner.Kernel = idx, true
	meta.Kernel.Available = true
	obs := &observe.Kernel{Tracer: tr, Index: idx, Rec: rec}
	set := observe.Start(ctx, obs)
	fmt.Fprintf(log, "kernel signal observer: on (tracefs instance, signals and processes of the scenarios' pods)\n")
	return func() error {
		err := set.Stop()
		*meta.Kernel = KernelReport(obs.Stats(), tr)
		return errors.Join(err, tr.Close())
	}
}

// KernelReport is what the report says of a kernel observer that ran:
// its own counts, and tr's lost and unparsed counts where it read this
// host's tracefs (nil: agents, whose lost counts came with their streams).
func KernelReport(s observe.KernelStats, tr *kernel.Tracer) reports.KernelObserver {
	if tr != nil {
		if lost, err := tr.Lost(); err == nil {
			s.Lost = lost
		}
		s.Unparsed = tr.Unparsed()
	}
	return reports.KernelObserver{Available: true, Events: s.Events, Recorded: s.Recorded, Lost: s.Lost,
		Unparsed: s.Unparsed, LatencyP50MS: s.LatencyP50MS, LatencyMaxMS: s.LatencyMaxMS}
}

// startKernelAgents is StartKernel for a cluster whose nodes are not on
// this host, with --allow-privileged: the kernel agent image is built and
// provided like the project's, its DaemonSet started in the harness's
// namespace, and its pods' streams fed into one observer here. Where any
// node has no running agent, or an agent cannot trace, the run falls back
// (and says why): a verdict never rests on some nodes' kernels only.
func (p *Prepared) startKernelAgents(ctx context.Context, o ClusterOptions, rec *timeline.Recorder, runner *run.Runner, meta *reports.Meta, log io.Writer) (stop func() error) {
	meta.Kernel = &reports.KernelObserver{}
	noop := func() error { return nil }
	fail := func(err error) func() error {
		meta.Kernel.Reason = err.Error()
		fmt.Fprintf(log, "kernel signal observer: cannot run (%v); signal verdicts rest on the apps' logs and exit codes\n", err)
		return noop
	}
	img, err := images.KernelAgent(ctx, o.Repo, log)
	if err != nil {
		return fail(err)
	}
	refs, err := p.provide(ctx, log, img)
	if err != nil {
		return fail(fmt.Errorf("kernel agent image: %w", err))
	}
	agents, err := nodeaccess.StartKernelAgents(ctx, p.Cluster.Client.RESTConfig(),
		nodeaccess.AgentOptions{Image: refs[0], Pull: p.Registry != "", HostProc: o.KernelAgentHostProc}, runner.Nodes, 2*time.Minute)
	if err != nil {
		return fail(err)
	}
	if len(agents.Missing) > 0 {
		agents.Close()
		var why []string
		for n, w := range agents.Missing {
			why = append(why, n+": "+w)
		}
		slices.Sort(why)
		return fail(fmt.Errorf("no kernel agent runs on %s", strings.Join(why, "; ")))
	}
	idx := observe.NewPodIndex()
	obs := &observe.Kernel{Index: idx, Rec: rec}
	first := make(chan error, len(agents.Streams))
	var feeds sync.WaitGroup
	for node, r := range agents.Streams {
		feeds.Go(func() { obs.Feed(r, node, first) })
		meta.Kernel.Agents = append(meta.Kernel.Agents, node)
	}
	slices.Sort(meta.Kernel.Agents)
	var errs []error
	for range agents.Streams {
		select {
		case err := <-first:
			errs = append(errs, err)
		case <-time.After(time.Minute):
			errs = append(errs, errors.New("a kernel agent did not say within a minute whether it runs"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		agents.Close()
		feeds.Wait()
		meta.Kernel.Agents = nil
		return fail(err)
	}
	runner.PodIndex, runner.Kernel = idx, true
	meta.Kernel.Available = true
	fmt.Fprintf(log, "kernel signal observer: on, a kernel agent on each of %d node(s) (DaemonSet %s/%s)\n", len(agents.Streams), nodeaccess.Namespace, nodeaccess.AgentDaemonSet)
	return func() error {
		// The agents' last events (the teardowns') reach their logs a
		// moment after they happened: read until a second passes with
		// none, for at most 10 s (even after an interrupt); then the
		// streams close whatever still comes, so the timeout is no error.
		last := -1
		_ = poll.Until(context.Background(), "the kernel agents' last events", poll.Slow.For(10*time.Second), func(context.Context) (bool, error) {
			n := obs.Stats().Events
			if n == last {
				return true, nil
			}
			last = n
			return poll.Not("%d events so far", n)
		})
		agents.Close()
		feeds.Wait()
		// The DaemonSet goes with the harness's namespace: the node access
		// stop, which runs after this one, deletes it.
		agents := meta.Kernel.Agents
		*meta.Kernel = KernelReport(obs.Stats(), nil)
		meta.Kernel.Agents = agents
		return nil
	}
}
