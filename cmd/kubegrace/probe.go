package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/assets"
	"github.com/kubegrace/kubegrace/harness/probe"
	"github.com/kubegrace/kubegrace/harness/workload"
	"github.com/kubegrace/kubegrace/reports"
)

type probeFlags struct {
	command []string
	app     string
	grace   time.Duration
	envFlags
	asJSON bool
}

func newProbeCommand() *cobra.Command {
	var f probeFlags
	cmd := &cobra.Command{
		Use:   "probe IMAGE",
		Short: "Does SIGTERM reach the app in IMAGE? One pod, deleted, watched in the kernel",
		Long: `Audits one image from the local Docker engine (it is loaded into the kind
cluster, never pulled): starts one pod of it, waits until its process tree
settles, snapshots the tree from the host's /proc (PID, parent, program,
command line, whether SIGTERM is caught or ignored), deletes the pod and
says, as the kernel saw it, who got SIGTERM, who dropped it, and what ended
the app. Writes a report folder (reports/probe-<time>/) with the timeline
picture. Exits non-zero when the app process did not get the stop signal, so
CI can gate on it. Needs root on the Docker host for the kernel's view
(tracefs); without it the probe says so and reads exit codes only.`,
		Example: `  kubegrace probe my-service:1.4
  kubegrace probe --command /start.sh --grace 10s my-service:1.4`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := assets.Root(f.repo)
			if err != nil {
				return err
			}
			eo, err := f.options(root)
			if err != nil {
				return err
			}
			res, err := probe.Run(cmd.Context(), probe.Options{
				Image: args[0], Command: f.command, App: f.app, Grace: f.grace, ReportsDir: f.reports, Kernel: eo.Kernel, Log: eo.Log, Cluster: eo,
			})
			if f.asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				_ = enc.Encode(res)
			} else if res.Summary != "" {
				printTree(res)
				fmt.Println()
				fmt.Print(res.Summary)
				fmt.Printf("\nreport: %s (%.1f s)\n", filepath.Join(res.Dir, reports.HTMLFile), res.Duration.Seconds())
			}
			if err != nil {
				return err
			}
			if !res.Pass {
				return fmt.Errorf("probe of %s: the app process did not get the stop signal", args[0])
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&f.command, "command", nil, "the pod's command, replacing the image's entrypoint (comma-separated argv)")
	cmd.Flags().StringVar(&f.app, "app", "", "the app process's program name (or its script's file name), when it is a shell or an init the probe would pass over")
	cmd.Flags().DurationVar(&f.grace, "grace", workload.DefaultGrace, "terminationGracePeriodSeconds of the probe pod")
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	f.register(cmd.Flags(), "probe")
	return cmd
}

func printTree(res probe.Result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tPPID\tPROGRAM\tSIGTERM\tCOMMAND")
	for _, p := range res.Tree {
		term := p.TermHandling()
		cmdline := p.Cmdline
		if len(cmdline) > 70 {
			cmdline = cmdline[:67] + "..."
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", p.PID, p.PPID, p.Comm, term, strings.TrimSpace(cmdline))
	}
	_ = tw.Flush()
}
