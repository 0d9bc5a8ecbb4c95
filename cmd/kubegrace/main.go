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
	"time"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/run"
)

func main() {
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	leave := make(chan struct{})
	// The kernel agent handles its own signals (kernelagent.go); the
	// CLI's Ctrl-C text would land in its log stream.
	if len(os.Args) < 2 || os.Args[1] != "kernel-agent" {
		go handleInterrupts(cancel, leave)
	}
	root := &cobra.Command{
		Use:           "kubegrace",
		Short:         "Chaos / end-to-end harness for Kubernetes graceful shutdown and Consul registry staleness",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newClusterCommand(), newImagesCommand(), newInitCommand(), newKernelAgentCommand(), newPreflightCommand(), newProbeCommand(), newReportCommand(), newRunCommand(leave), newSpecCommand())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "kubegrace: %v\n", err)
		os.Exit(1)
	}
}

// errInterrupted is the cause a first Ctrl-C cancels the run with, so
// every wait it cuts short says so.
var errInterrupted = errors.New("interrupted (Ctrl-C)")

// leaveWait is how long a second Ctrl-C waits for the command to say what
// it leaves behind before leaving anyway.
const leaveWait = 3 * time.Second

// handleInterrupts: the first Ctrl-C (or SIGTERM) cancels the run, which
// then cleans up what it created and writes its report; the second closes
// leave: a command that listens (run) returns at once, prints what it
// leaves behind and exits; for the others the process leaves after
// leaveWait.
func handleInterrupts(cancel context.CancelCauseFunc, leave chan<- struct{}) {
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Fprintf(os.Stderr, "\nkubegrace: interrupted: stopping, cleaning up what this run created (each scenario's namespace: up to %s, after up to %s removing IP reuse filler pods) and writing the report; press Ctrl-C again to leave at once\n",
		run.TeardownTimeout, fault.FillerRemovalTimeout)
	cancel(errInterrupted)
	<-sig
	fmt.Fprintln(os.Stderr, "\nkubegrace: leaving at once.")
	close(leave)
	time.Sleep(leaveWait)
	fmt.Fprintf(os.Stderr, "What this command created may be left behind: `kubectl get namespaces -l %s` lists it (a cluster it was creating: `kubegrace cluster delete`).\n", labels.PartOfSelector)
	os.Exit(130)
}

// printLeftBehind says what a command that left at once leaves behind.
func printLeftBehind(left []string) {
	if len(left) == 0 {
		fmt.Fprintln(os.Stderr, "Nothing of this run's scenarios is left behind (a cluster this run was creating may be; `kubegrace cluster delete` removes it).")
		return
	}
	fmt.Fprintln(os.Stderr, "Left behind:")
	for _, l := range left {
		fmt.Fprintln(os.Stderr, "  "+l)
	}
}
