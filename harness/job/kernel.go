package job

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/timeline"
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
		meta.Kernel.Reason = "the cluster's nodes are not on this host"
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
		s := obs.Stats()
		if lost, lerr := tr.Lost(); lerr == nil {
			s.Lost = lost
		}
		s.Unparsed = tr.Unparsed()
		*meta.Kernel = reports.KernelObserver{Available: true, Events: s.Events, Recorded: s.Recorded, Lost: s.Lost,
			Unparsed: s.Unparsed, LatencyP50MS: s.LatencyP50MS, LatencyMaxMS: s.LatencyMaxMS}
		return errors.Join(err, tr.Close())
	}
}
