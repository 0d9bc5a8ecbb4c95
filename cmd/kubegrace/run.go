package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/scenario"
)

type runFlags struct {
	list, keep          bool
	labels              []string
	repo, name, nodeImg string
	reports             string
	parallel            int
}

func newRunCommand() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [SPEC.yaml...]",
		Short: "Run scenario specs on the harness's kind cluster and write a report",
		Long: `Runs scenario specs (YAML; see README "Write a spec for your own incident")
on the harness's own kind cluster, created if absent (see 'kubegrace cluster
create'), and writes reports/<run-id>/ (run.json, timeline.jsonl,
verdicts.json, report.md, report.html) plus the link reports/latest.
Without files it runs the built-in scenarios in scenarios/specs. Exits non-zero
when a scenario fails or any expectation is not met.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			specs, err := loadSpecs(f.repo, args, f.labels)
			if err != nil {
				return err
			}
			if f.list {
				tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tLABELS\tEXCLUSIVE\tDESCRIPTION")
				for _, s := range specs {
					desc := strings.Join(strings.Fields(s.Description), " ")
					if len(desc) > 90 {
						desc = desc[:87] + "..."
					}
					fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", s.Name, strings.Join(s.Labels, ","), s.Exclusive, desc)
				}
				return tw.Flush()
			}
			res, err := scenario.RunJob(cmd.Context(), scenario.JobOptions{
				Specs: specs, Repo: f.repo, ClusterName: f.name, NodeImage: f.nodeImg,
				ReportsDir: f.reports, Parallel: f.parallel, KeepCluster: f.keep, Log: os.Stderr,
			})
			fmt.Println()
			fmt.Print(scenario.Summary(res))
			fmt.Printf("\nreport: %s (also %s)\n", filepath.Join(res.Dir, "report.html"), filepath.Join(filepath.Dir(res.Dir), "latest", "report.md"))
			if err != nil {
				return err
			}
			if unmet := res.Unmet(); len(unmet) > 0 {
				return fmt.Errorf("%d expectation(s) not met", len(unmet))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.list, "list", false, "list the scenarios (built-in, or the given files) and exit")
	cmd.Flags().StringSliceVar(&f.labels, "label", nil, "only scenarios with one of these labels")
	cmd.Flags().StringVar(&f.repo, "repo", ".", "repository root (kind-config.yaml, images/, scenarios/specs)")
	cmd.Flags().StringVar(&f.name, "cluster", cluster.DefaultName, "kind cluster name (created if absent, reused if healthy)")
	cmd.Flags().StringVar(&f.nodeImg, "node-image", os.Getenv("KUBEGRACE_NODE_IMAGE"), "node image (env KUBEGRACE_NODE_IMAGE)")
	cmd.Flags().StringVar(&f.reports, "reports", "", "reports folder (default <repo>/reports)")
	cmd.Flags().IntVar(&f.parallel, "parallel", 2, "how many non-exclusive scenarios run side by side")
	cmd.Flags().BoolVar(&f.keep, "keep-cluster", false, "keep a cluster this run created even if the run fails")
	return cmd
}

// loadSpecs reads the given files, or every built-in spec, filtered by label.
func loadSpecs(repo string, files, labels []string) ([]scenario.Spec, error) {
	if len(files) == 0 {
		var err error
		files, err = filepath.Glob(filepath.Join(repo, "scenarios", "specs", "*.yaml"))
		if err != nil || len(files) == 0 {
			return nil, fmt.Errorf("no built-in scenarios under %s (run from the repository root or pass --repo)", filepath.Join(repo, "scenarios", "specs"))
		}
	}
	var specs []scenario.Spec
	seen := map[string]string{}
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Name]; dup {
			return nil, fmt.Errorf("scenario name %q is used by %s and %s", s.Name, prev, f)
		}
		seen[s.Name] = f
		if len(labels) > 0 && !slices.ContainsFunc(labels, func(l string) bool { return slices.Contains(s.Labels, l) || l == s.Name }) {
			continue
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("no scenario matches labels %v", labels)
	}
	return specs, nil
}
