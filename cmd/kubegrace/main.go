// Command kubegrace drives the harness: cluster lifecycle now; scenario
// runs and report checks plug in here as they land.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	// Ctrl-C cancels the context; every command cleans up what it created.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := &cobra.Command{
		Use:           "kubegrace",
		Short:         "Chaos / end-to-end harness for Kubernetes graceful shutdown and Consul registry staleness",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newClusterCommand(), newImagesCommand(), newReportCommand(), newRunCommand())
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "kubegrace: %v\n", err)
		os.Exit(1)
	}
}
