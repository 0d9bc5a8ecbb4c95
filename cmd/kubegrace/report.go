package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/check"
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
		Example: "  kubegrace report check reports/20261124-101500",
		// The difference is the message; usage text would bury it.
		SilenceUsage: true,
		Args:         cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportCheck(cmd.OutOrStdout(), args[0])
		},
	}
	var names []string
	var recompute bool
	compare := &cobra.Command{
		Use:   "compare A B",
		Short: "Compare two runs' per-pod kernel verdicts: does the kernel tell the same story twice?",
		Long: `Sets the per-pod verdicts of two report folders side by side. Pod names
are random, so a pod is matched by its scenario, its service, and its place
among that service's pods in the order their end began (deletion, or a
container's first end). Prints every verdict that differs, with each run's
shutdown window beside it (an app killed a millisecond after its SIGTERM
was queued can go either way), and exits non-zero when any differs. By default it compares what the
kernel did with the stop signal: signal_delivered, sigterm_dropped and
killed_by_sigkill. With --recompute, both runs' verdicts are recomputed from
their timelines by the current checks first, so reports written by older
checks compare like new ones.`,
		Example:      "  kubegrace report compare reports/20261125-115624 reports/latest",
		SilenceUsage: true,
		Args:         cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportCompare(cmd.OutOrStdout(), args[0], args[1], names, recompute)
		},
	}
	compare.Flags().StringSliceVar(&names, "verdicts", reports.KernelSignalVerdicts, "the per-pod verdicts to compare")
	compare.Flags().BoolVar(&recompute, "recompute", false, "recompute both runs' verdicts with the current checks first")
	var markdown bool
	spread := &cobra.Command{
		Use:   "spread DIR...",
		Short: "Each expectation's values over several runs: min, median, max, how often met",
		Long: `Reads the run.json of every report folder given and prints, per
expectation (scenario, verdict, subject, operator, value), every value the
runs compared: how many runs judged it, how many met it, and the values'
minimum, median and maximum. A threshold is right when what the mechanism
guarantees is on one side and the measured maximum (or minimum) on the other.`,
		Example:      "  kubegrace report spread reports/2026*",
		SilenceUsage: true,
		Args:         cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReportSpread(cmd.OutOrStdout(), args, markdown)
		},
	}
	spread.Flags().BoolVar(&markdown, "markdown", false, "print a Markdown table")
	cmd.AddCommand(check, compare, spread)
	return cmd
}

func runReportSpread(out io.Writer, dirs []string, markdown bool) error {
	rows, err := reports.Spread(dirs...)
	if err != nil {
		return err
	}
	head := []string{"SCENARIO", "EXPECTATION", "RUNS", "MET", "MIN", "MEDIAN", "MAX", "UNIT"}
	line := func(cells []string) string { return strings.Join(cells, "\t") }
	if markdown {
		line = func(cells []string) string { return "| " + strings.Join(cells, " | ") + " |" }
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, line(head))
	if markdown {
		fmt.Fprintln(tw, "|"+strings.Repeat("---|", len(head)))
	}
	for _, r := range rows {
		what := strings.TrimSpace(fmt.Sprintf("%s(%s) %s %g", r.Verdict, r.Subject, r.Op, r.Want))
		met := fmt.Sprintf("%d", r.Met)
		if r.Inconclusive > 0 {
			met += fmt.Sprintf(" (%d inconclusive)", r.Inconclusive)
		}
		fmt.Fprintln(tw, line([]string{r.Scenario, what, fmt.Sprint(r.Runs), met,
			fmt.Sprintf("%g", r.Min()), fmt.Sprintf("%g", r.Median()), fmt.Sprintf("%g", r.Max()), r.Unit}))
	}
	return tw.Flush()
}

func runReportCompare(out io.Writer, a, b string, names []string, recompute bool) error {
	c, err := reports.Compare(a, b, names, recompute)
	if err != nil {
		return err
	}
	for _, k := range c.OnlyA {
		fmt.Fprintf(out, "only in %s: %s\n", a, k)
	}
	for _, k := range c.OnlyB {
		fmt.Fprintf(out, "only in %s: %s\n", b, k)
	}
	if len(c.Differences) > 0 {
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "POD\tVERDICT\tA\tB\tSHUTDOWN WINDOW A\tSHUTDOWN WINDOW B")
		for _, d := range c.Differences {
			fmt.Fprintf(tw, "%s\t%s\t%g\t%g\t%s\t%s\n", d.Pod, d.Verdict, d.A.Value, d.B.Value, windowOf(d.WindowA), windowOf(d.WindowB))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, d := range c.Differences {
			fmt.Fprintf(out, "\n%s %s:\n  A: %s\n  B: %s\n", d.Pod, d.Verdict, d.A.Message, d.B.Message)
		}
	}
	fmt.Fprintf(out, "\n%d verdicts of %d pods compared (%s): %d differ\n", c.Compared, c.Pods, strings.Join(names, ", "), len(c.Differences))
	if len(c.Differences) > 0 || len(c.OnlyA)+len(c.OnlyB) > 0 {
		return fmt.Errorf("runs %s and %s differ", a, b)
	}
	return nil
}

func windowOf(v check.Verdict) string {
	switch {
	case v.Name == "":
		return "-"
	case v.Value < 0:
		return "none"
	}
	return fmt.Sprintf("%g ms", v.Value)
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
