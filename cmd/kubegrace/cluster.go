package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/kubegrace/kubegrace/harness/assets"
	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/images"
)

type clusterFlags struct {
	name, config, nodeImage, repo, logDir string
	keep, skipImages                      bool
	timeout                               time.Duration
	nodes                                 int
}

func newClusterCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Create, reuse or delete the harness's kind cluster",
	}
	var f clusterFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Create the cluster (or reuse a healthy one by name), with the project's images loaded",
		Long: `Creates the kind cluster from kind-config.yaml, or reuses one of the same name
after checking it is healthy (recreating it if not). Node image: --node-image
if given; otherwise kind's default kindest/node when it can be pulled;
otherwise the offline node image, built on demand from Debian packages and the
Go module proxy. Then builds (or finds) the Consul and fixture images and loads
them into every node. Ctrl-C deletes a cluster this command created, unless
--keep.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runClusterCreate(cmd.Context(), f) },
	}
	create.Flags().StringVar(&f.name, "name", cluster.DefaultName, "kind cluster name")
	create.Flags().StringVar(&f.config, "config", "", "kind cluster config (default: the kubegrace kind-config.yaml)")
	create.Flags().StringVar(&f.nodeImage, "node-image", os.Getenv("KUBEGRACE_NODE_IMAGE"), "node image to use as is (env KUBEGRACE_NODE_IMAGE)")
	create.Flags().StringVar(&f.repo, "repo", "", repoHelp)
	create.Flags().StringVar(&f.logDir, "log-dir", "", "where to export kind logs if creation fails (default reports/cluster-logs-<time>)")
	create.Flags().BoolVar(&f.keep, "keep", false, "keep a cluster this command created even if creation fails or is interrupted")
	create.Flags().BoolVar(&f.skipImages, "skip-images", false, "do not build or load the project images")
	create.Flags().DurationVar(&f.timeout, "timeout", 5*time.Minute, "deadline for creation until a Ready node and CoreDNS")
	create.Flags().IntVar(&f.nodes, "nodes", cluster.NodesFromEnv(), "cluster size: one control plane and N-1 workers, all running pods (env KUBEGRACE_NODES; default from this machine's memory, at most 4)")

	var delName string
	del := &cobra.Command{
		Use:   "delete",
		Short: "Delete the cluster (no error if it does not exist)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cluster.Delete(delName, kindcmd.NewLogger())
		},
	}
	del.Flags().StringVar(&delName, "name", cluster.DefaultName, "kind cluster name")
	cmd.AddCommand(create, del)
	return cmd
}

func runClusterCreate(ctx context.Context, f clusterFlags) error {
	start := time.Now()
	root, err := assets.Root(f.repo)
	if err != nil {
		return err
	}
	f.repo = root
	if f.logDir == "" {
		f.logDir = filepath.Join("reports", "cluster-logs-"+time.Now().Format("20060102-150405"))
	}
	p, err := env.PrepareCluster(ctx, env.Options{
		Repo: f.repo, Name: f.name, ConfigPath: f.config, NodeImage: f.nodeImage, Nodes: f.nodes, Keep: f.keep,
		LogDir: f.logDir, ReadyTimeout: f.timeout, SkipImages: f.skipImages, Log: os.Stderr,
	})
	if err != nil {
		return err
	}
	if !f.skipImages {
		fmt.Fprintf(os.Stderr, "images loaded: %s %s\n", p.Images.Consul, p.Images.Fixture)
	}
	fmt.Printf("cluster %s ready in %.1fs; kubeconfig: %s\n", p.Cluster.Name, time.Since(start).Seconds(), p.Cluster.KubeconfigPath)
	return nil
}

func newImagesCommand() *cobra.Command {
	var repo string
	var node bool
	cmd := &cobra.Command{
		Use:   "images",
		Short: "Build (or find) the project's images: Consul and the fixture; --node adds the offline kind node image",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, err := assets.Root(repo)
			if err != nil {
				return err
			}
			p, err := images.BuildProject(cmd.Context(), repo, os.Stderr)
			if err != nil {
				return err
			}
			fmt.Printf("consul:  %s\nfixture: %s\n", p.Consul, p.Fixture)
			if node {
				ref, err := images.OfflineNode(cmd.Context(), repo, os.Stderr)
				if err != nil {
					return err
				}
				fmt.Printf("node:    %s\n", ref)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&repo, "repo", "", repoHelp)
	cmd.Flags().BoolVar(&node, "node", false, "also build the offline kind node image")
	return cmd
}
