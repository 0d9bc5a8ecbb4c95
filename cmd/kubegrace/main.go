// Command kubegrace drives the harness: scenario runs, report checks, and
// the kind cluster and images they need.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/run"
)

// leftBehind, once a command has created something, lists what an
// interrupted run would leave and how to delete it.
var leftBehind = func() []string { return nil }

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go handleInterrupts(cancel)
	root := &cobra.Command{
		Use:           "kubegrace",
		Short:         "Chaos / end-to-end harness for Kubernetes graceful shutdown and Consul registry staleness",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newClusterCommand(), newImagesCommand(), newInitCommand(), newKernelAgentCommand(), newPreflightCommand(), newProbeCommand(), newReportCommand(), newRunCommand(), newSpecCommand())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "kubegrace: %v\n", err)
		os.Exit(1)
	}
}

// errInterrupted is the cause a first Ctrl-C cancels the run with, so
// every wait it cuts short says so.
var errInterrupted = errors.New("interrupted (Ctrl-C)")

// handleInterrupts: the first Ctrl-C (or SIGTERM) cancels the run, which
// then cleans up what it created and writes its report; the second leaves
// at once, saying what was left behind.
func handleInterrupts(cancel context.CancelCauseFunc) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Fprintf(os.Stderr, "\nkubegrace: interrupted: stopping, cleaning up what this run created (each scenario's namespace: up to %s, after up to %s removing IP reuse filler pods) and writing the report; press Ctrl-C again to leave at once\n",
		run.TeardownTimeout, fault.FillerRemovalTimeout)
	cancel(errInterrupted)
	<-sig
	fmt.Fprintln(os.Stderr, "\nkubegrace: leaving at once.")
	if left := leftBehind(); len(left) > 0 {
		fmt.Fprintln(os.Stderr, "Left behind:")
		for _, l := range left {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
	} else {
		fmt.Fprintln(os.Stderr, "Nothing of this run's scenarios is left behind (a cluster this run was creating may be; `kubegrace cluster delete` removes it).")
	}
	os.Exit(130)
}
