package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/reports"
)

// newReportCommand returns "kubegrace report", the commands that work on a
// saved run report folder without a cluster.
func newReportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Work with saved run reports (no cluster needed)",
		Long: `A run report is a folder holding run.json (what was run, and the check
contexts), timeline.jsonl (every recorded event), verdicts.json, report.md and
report.html. Verdicts are pure functions of the timeline and the check
contexts, so they can be recomputed from the folder alone, anywhere.`,
	}
	check := &cobra.Command{
		Use:   "check DIR",
		Short: "Recompute a report's verdicts and expectations from its timeline and compare them with what it saved",
		Long: `Loads DIR/run.json and DIR/timeline.jsonl, recomputes every scenario's
verdicts with the current checks, prints them as a table, and compares them
byte for byte with DIR/verdicts.json; then judges the saved expectations
again against the recomputed verdicts. Exits non-zero, listing what differs
verdict by verdict and expectation by expectation, when anything differs:
the saved files or the timeline were edited, or the checks changed since the
report was written.`,
		Example: "  kubegrace report check reports/e2e-20261124-101500",
		// The difference is the message; usage text would bury it.
		SilenceUsage: true,
		Args:         cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportCheck(cmd.OutOrStdout(), args[0])
		},
	}
	cmd.AddCommand(check)
	return cmd
}

func runReportCheck(out io.Writer, dir string) error {
	verdicts, identical, diff, err := reports.Recheck(dir)
	if err != nil {
		return fmt.Errorf("recheck %s: %w", dir, err)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tVERDICT\tSUBJECT\tVALUE\tUNIT")
	for _, v := range verdicts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%g\t%s\n", v.Scenario, v.Name, v.Subject, v.Value, v.Unit)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("print verdicts: %w", err)
	}
	if !identical {
		fmt.Fprintf(out, "\nrecomputed verdicts or expectations differ from what %s saved (%s, %s):\n%s\n", dir, reports.VerdictsFile, reports.RunFile, diff)
		return fmt.Errorf("report %s does not match its recomputation", dir)
	}
	fmt.Fprintf(out, "\n%d verdicts recomputed: identical to %s/%s; saved expectations judged again: the same\n", len(verdicts), dir, reports.VerdictsFile)
	return nil
}
