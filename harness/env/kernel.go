package env

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
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/images"
	"github.com/kubegrace/kubegrace/reports"
)

// Kernel is the kernel signal observer of an environment.
type Kernel struct {
	// Index gets every pod the scenarios' pod observers see, for the
	// observer to attribute processes; nil when the observer does not run.
	Index *observe.PodIndex
	// Report is what the report says of the observer: why it does not
	// run, or what it measured (filled when it stops).
	Report reports.KernelObserver
}

// startKernel starts the kernel observer the options and the cluster
// allow: this host's tracefs where the nodes are this host's kind nodes,
// kernel agents on the nodes with node access pods, or none (and why).
// Only KernelRequired makes its absence an error.
func (e *Env) startKernel(ctx context.Context, o Options, rec *timeline.Recorder) error {
	var err error
	switch {
	case o.Kernel == KernelOff:
		e.Kernel.Report.Reason = "turned off (--kernel off)"
		fmt.Fprintf(o.Log, "kernel signal observer: off (--kernel off); signal verdicts rest on the apps' logs and exit codes\n")
		return nil
	case e.NodeAccess == nodeaccess.ModePods:
		err = e.startKernelAgents(ctx, o, rec)
	case !e.Cluster.Kind:
		err = errors.New("the cluster's nodes are not on this host (--allow-privileged runs a kernel agent on each)")
	default:
		err = e.startHostKernel(ctx, rec, o.Log)
	}
	if err == nil {
		return nil
	}
	e.Kernel.Report.Reason = err.Error()
	if o.Kernel == KernelRequired {
		return fmt.Errorf("the kernel signal observer is required (--kernel require) but cannot run: %w", err)
	}
	fmt.Fprintf(o.Log, "kernel signal observer: cannot run (%v); signal verdicts rest on the apps' logs and exit codes\n", err)
	return nil
}

// startHostKernel opens one tracefs tracer on this host (every kind node
// shares its kernel) over a pod index the pod observers fill.
func (e *Env) startHostKernel(ctx context.Context, rec *timeline.Recorder, log io.Writer) error {
	tr, err := kernel.Open(kernel.Options{Name: fmt.Sprintf("kubegrace-%d", os.Getpid())})
	if err != nil {
		return err
	}
	idx := observe.NewPodIndex()
	obs := &observe.Kernel{Tracer: tr, Index: idx, Rec: rec}
	set := observe.Start(ctx, obs)
	e.Kernel.Index, e.Kernel.Report.Available = idx, true
	fmt.Fprintf(log, "kernel signal observer: on (tracefs instance, signals and processes of the scenarios' pods)\n")
	e.onStop(func() error {
		err := set.Stop()
		e.Kernel.Report = KernelReport(obs.Stats(), tr)
		return errors.Join(err, tr.Close())
	})
	return nil
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

// agentWait bounds how long all kernel agents together may take to say
// whether they run.
const agentWait = time.Minute

// startKernelAgents observes the kernel of nodes that are not on this
// host: the kernel agent image is built and provided like the project's,
// its DaemonSet started in the harness's namespace (removed with node
// access), and its pods' streams fed into one observer here. Where any
// node has no running agent, or an agent cannot trace, there is no kernel
// observer: a verdict never rests on some nodes' kernels only.
func (e *Env) startKernelAgents(ctx context.Context, o Options, rec *timeline.Recorder) error {
	img, err := images.KernelAgent(ctx, o.Repo, o.Log)
	if err != nil {
		return err
	}
	refs, err := e.Provide(ctx, o.Log, img)
	if err != nil {
		return fmt.Errorf("kernel agent image: %w", err)
	}
	agents, err := nodeaccess.StartKernelAgents(ctx, e.Cluster.Client.RESTConfig(),
		nodeaccess.AgentOptions{Image: refs[0], Pull: e.Registry != "", HostProc: o.KernelAgentHostProc}, e.Nodes, 2*time.Minute)
	if err != nil {
		return err
	}
	if len(agents.Missing) > 0 {
		agents.Close()
		var why []string
		for n, w := range agents.Missing {
			why = append(why, n+": "+w)
		}
		slices.Sort(why)
		return fmt.Errorf("no kernel agent runs on %s", strings.Join(why, "; "))
	}
	idx := observe.NewPodIndex()
	obs := &observe.Kernel{Index: idx, Rec: rec}
	first := make(chan error, len(agents.Streams))
	var feeds sync.WaitGroup
	var nodes []string
	for node, r := range agents.Streams {
		feeds.Go(func() { obs.Feed(r, node, first) })
		nodes = append(nodes, node)
	}
	slices.Sort(nodes)
	if err := awaitAgents(first, len(agents.Streams), time.After(agentWait)); err != nil {
		agents.Close()
		feeds.Wait()
		return err
	}
	e.Kernel.Index = idx
	e.Kernel.Report = reports.KernelObserver{Available: true, Agents: nodes}
	fmt.Fprintf(o.Log, "kernel signal observer: on, a kernel agent on each of %d node(s) (DaemonSet %s/%s)\n", len(nodes), nodeaccess.Namespace, nodeaccess.AgentDaemonSet)
	e.onStop(func() error {
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
		e.Kernel.Report = KernelReport(obs.Stats(), nil)
		e.Kernel.Report.Agents = nodes
		return nil
	})
	return nil
}

// awaitAgents collects n agents' first answers (nil: it traces) until
// deadline fires, which bounds the wait for all of them together.
func awaitAgents(first <-chan error, n int, deadline <-chan time.Time) error {
	var errs []error
	for i := 0; i < n; i++ {
		select {
		case err := <-first:
			errs = append(errs, err)
		case <-deadline:
			errs = append(errs, fmt.Errorf("%d of %d kernel agents did not say within %s whether they run", n-i, n, agentWait))
			return errors.Join(errs...)
		}
	}
	return errors.Join(errs...)
}
