package main

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/observe"
)

// newKernelAgentCommand is what the kernel observer DaemonSet runs on each
// node of a cluster whose nodes are not on this host (run
// --allow-privileged): signals and processes of that node's pods, as JSON
// lines on stdout, which the harness follows. It stops on SIGTERM (the
// pod's deletion) or SIGINT; the library only sees a context.
func newKernelAgentCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "kernel-agent",
		Short:  "Observe signals and processes of a node's pods in its kernel (run by the harness on the node)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			root := os.Getenv("KUBEGRACE_PROC_ROOT")
			if root == "" {
				root = "/proc"
			}
			// main's interrupt handler cancels cmd.Context() too; this one
			// does not depend on it.
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return observe.RunAgent(ctx, root, os.Stdout)
		},
	}
}
