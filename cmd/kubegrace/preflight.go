package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/preflight"
)

func newPreflightCommand() *cobra.Command {
	var kubeconfig, context, repo, registry string
	var labels []string
	var asJSON, rbac, privileged bool
	var access string
	cmd := &cobra.Command{
		Use:   "preflight --kubeconfig FILE [SPEC.yaml...]",
		Short: "Say what a cluster the harness did not create allows, and what a run of the specs would create there; changes nothing",
		Long: `Reads the cluster (it creates nothing) and says: its nodes and their pod
address pools, its IPAM and how the IP reuse fault can force an address's reuse
there (or that those scenarios are inconclusive), whether faults can reach the
nodes, where images come from, whether the kernel signal observer can run, and
what 'kubegrace run --kubeconfig' with these specs (default: the built-ins)
would create.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if rbac {
				b, err := yaml.Marshal(preflight.RunnerRole("kubegrace-runner", privileged))
				if err != nil {
					return err
				}
				fmt.Printf("# The least a kubegrace run needs of a cluster: bind it to the identity\n# the run's kubeconfig uses (a ClusterRoleBinding).\n%s", b)
				return nil
			}
			if kubeconfig == "" {
				return fmt.Errorf("--kubeconfig is required: the cluster to inspect")
			}
			root, specs, err := loadSpecs(repo, args, labels)
			if err != nil {
				return err
			}
			o := env.Options{Repo: root, Kubeconfig: kubeconfig, Context: context, SkipImages: true, Log: os.Stderr,
				AllowPrivileged: privileged, NodeAccess: access}
			p, err := env.PrepareCluster(cmd.Context(), o)
			if err != nil {
				return err
			}
			mode, err := env.NodeAccessMode(o, p.Cluster.Name, p.Cluster.Kind)
			if err != nil {
				return err
			}
			r, err := preflight.Check(cmd.Context(), p.Cluster, specs, preflight.Options{Registry: registry, NodeAccess: mode})
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Print(r.String())
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "the cluster's kubeconfig")
	cmd.Flags().StringVar(&context, "context", "", "the kubeconfig's context (default: its current one)")
	cmd.Flags().StringSliceVar(&labels, "label", nil, "only scenarios with one of these labels (or names)")
	cmd.Flags().StringVar(&repo, "repo", "", "a kubegrace checkout to take the built-in specs from (default: the current folder if it is one, else the copy built into this binary)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.Flags().StringVar(&registry, "image-registry", "", "the registry a run would push its images to (see 'kubegrace run --image-registry')")
	cmd.Flags().BoolVar(&rbac, "rbac", false, "print the ClusterRole with the least a run needs (with --allow-privileged: and its node access pods), and exit")
	cmd.Flags().BoolVar(&privileged, "allow-privileged", false, "as a run would with --allow-privileged (see 'kubegrace run')")
	cmd.Flags().StringVar(&access, "node-access", nodeaccess.ModeAuto, "as a run would with --node-access (see 'kubegrace run')")
	return cmd
}
