package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/assets"
	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/reports"
)

type runFlags struct {
	envFlags
	list                bool
	labels              []string
	kubeconfig, context string
	registry, access    string
	privileged          bool
	parallel, nodes     int
}

func newRunCommand(leave <-chan struct{}) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [SPEC.yaml...]",
		Short: "Run scenario specs on the harness's kind cluster and write a report",
		Long: `Runs scenario specs (YAML; see README "Write a spec for your own incident")
on the harness's own kind cluster, created if absent (see 'kubegrace cluster
create'), and writes reports/<run-id>/ (run.json, timeline.jsonl,
verdicts.json, report.md, report.html) plus the link reports/latest.
Without files it runs the built-in scenarios (scenarios/specs of a checkout,
or the copy built into the binary). Reports go to ./reports. Exits non-zero
when a scenario fails or any expectation is not met. Ctrl-C stops the run,
tears down what it created and still writes the report; a second Ctrl-C
leaves at once and says what was left behind.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, specs, err := loadSpecs(f.repo, args, f.labels)
			if err != nil {
				return err
			}
			if len(specs) == 0 {
				return fmt.Errorf("no scenario matches labels %v", f.labels)
			}
			if f.list {
				return listSpecs(specs)
			}
			eo, err := f.options(root)
			if err != nil {
				return err
			}
			eo.Nodes, eo.Kubeconfig, eo.Context, eo.ImageRegistry = f.nodes, f.kubeconfig, f.context, f.registry
			eo.AllowPrivileged, eo.NodeAccess = f.privileged, f.access
			res, err := job.Run(cmd.Context(), job.Options{Specs: specs, Env: eo, ReportsDir: f.reports, Parallel: f.parallel, Log: os.Stderr, Leave: leave})
			if errors.Is(err, job.ErrLeft) {
				printLeftBehind(namespaceLeftovers(f.kubectl(), res.LeftBehind))
				os.Exit(130)
			}
			fmt.Println()
			fmt.Print(reports.Summary(res.Run))
			fmt.Printf("\nreport: %s (also %s)\n", filepath.Join(res.Dir, reports.HTMLFile), filepath.Join(filepath.Dir(res.Dir), "latest", reports.MarkdownFile))
			if err != nil {
				return err
			}
			if unmet := res.Run.Unmet(); len(unmet) > 0 {
				return fmt.Errorf("%d expectation(s) not met", len(unmet))
			}
			if n := len(res.Run.Inconclusive); n > 0 {
				return fmt.Errorf("%d scenario(s) inconclusive: their faults could not be forced on this cluster (see the report)", n)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&f.list, "list", false, "list the scenarios (built-in, or the given files) and exit")
	cmd.Flags().StringSliceVar(&f.labels, "label", nil, "only scenarios with one of these labels (or names)")
	f.register(cmd.Flags(), "run")
	cmd.Flags().IntVar(&f.parallel, "parallel", 0, "how many scenarios run side by side, each pinned to a node (alone there if a fault needs the node to itself); default: as many as the cluster has nodes, at least 2")
	cmd.Flags().IntVar(&f.nodes, "nodes", cluster.NodesFromEnv(), "cluster size: scenarios that need a node to themselves run side by side, one per node (env KUBEGRACE_NODES; default from this machine's memory, at most 4); a cluster of another size is recreated")
	cmd.Flags().StringVar(&f.kubeconfig, "kubeconfig", "", "run on the cluster of this kubeconfig, which the harness did not create: used as it is (never created, recreated or deleted); a preflight says first what it allows (see 'kubegrace preflight')")
	cmd.Flags().StringVar(&f.context, "context", "", "the kubeconfig's context to use (default: its current one)")
	cmd.Flags().StringVar(&f.registry, "image-registry", "", "push the run's images (Consul, the fixture, the services' own) to this registry (host[:port][/path]) for the cluster to pull, instead of loading them into kind nodes: needed for a cluster that is not kind on this host")
	cmd.Flags().BoolVar(&f.privileged, "allow-privileged", false, "on a cluster that is not kind on this host, let the run create privileged pods: a node access DaemonSet (host network and PID namespace, the nodes' "+nodeaccess.MountsText()+" and the host-local state folder their CNI config names) in namespace "+nodeaccess.Namespace+", labelled and removed at the end and on Ctrl-C, so IP reuse can steer host-local state, and a kernel agent DaemonSet (privileged, host PID namespace) so signal verdicts rest on each node's kernel; off: nothing privileged is created")
	cmd.Flags().StringVar(&f.access, "node-access", nodeaccess.ModeAuto, "how faults reach nodes: auto (docker exec into kind nodes of this host; elsewhere node access pods if --allow-privileged, else none), docker, or pods (needs --allow-privileged)")
	return cmd
}

func listSpecs(specs []scenario.Spec) error {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tLABELS\tNODE TO ITSELF\tDESCRIPTION")
	for _, s := range specs {
		desc := strings.Join(strings.Fields(s.Description), " ")
		if len(desc) > 90 {
			desc = desc[:87] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", s.Name, strings.Join(s.Labels, ","), s.NeedsNodeToItself(), desc)
	}
	return tw.Flush()
}

// loadSpecs finds the repo (a checkout or the embedded files) and loads the
// spec files given, or else the built-in specs, keeping those with one of
// labels (all if none).
func loadSpecs(repo string, files, labels []string) (root string, specs []scenario.Spec, err error) {
	if root, err = assets.Root(repo); err != nil {
		return "", nil, err
	}
	if len(files) == 0 {
		files = []string{filepath.Join(root, "scenarios", "specs")}
	}
	all, err := scenario.LoadAll(files...)
	if err != nil {
		return "", nil, err
	}
	return root, scenario.Select(all, labels), nil
}

// kubectl is the kubectl flags that reach the run's cluster.
func (f runFlags) kubectl() string {
	if f.kubeconfig == "" {
		return "--context kind-" + f.cluster
	}
	s := "--kubeconfig " + f.kubeconfig
	if f.context != "" {
		s += " --context " + f.context
	}
	return s
}

// namespaceLeftovers says how to delete what an interrupted run left.
func namespaceLeftovers(kubectlFlags string, namespaces []string) []string {
	if len(namespaces) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("namespaces %s: delete with `kubectl %s delete namespace %s`",
		strings.Join(namespaces, ", "), kubectlFlags, strings.Join(namespaces, " "))}
}
