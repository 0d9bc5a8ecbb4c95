package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
)

// envFlags are the flags every command that meets a cluster shares.
type envFlags struct {
	repo, cluster, nodeImage string
	reports, kernel          string
	keep                     bool
}

// repoHelp is --repo's help, the same for every command.
const repoHelp = "a kubegrace checkout to take kind-config.yaml, images/ and the built-in specs from (default: the current folder if it is one, else the copy built into this binary)"

// register adds the shared flags to fs; what names the command's product
// ("run", "probe") in the help texts.
func (f *envFlags) register(fs *pflag.FlagSet, what string) {
	fs.StringVar(&f.repo, "repo", "", repoHelp)
	fs.StringVar(&f.cluster, "cluster", cluster.DefaultName, "kind cluster name (created if absent, reused if healthy)")
	fs.StringVar(&f.nodeImage, "node-image", os.Getenv("KUBEGRACE_NODE_IMAGE"), "node image (env KUBEGRACE_NODE_IMAGE)")
	fs.StringVar(&f.reports, "reports", "reports", "reports folder (<run-id>/ and the link latest go there)")
	fs.StringVar(&f.kernel, "kernel", "auto", "observe signals in the kernel (tracefs, root on the Docker host): auto (fall back to app logs and exit codes where it cannot run, and say so), off, require")
	fs.BoolVar(&f.keep, "keep-cluster", false, "keep a cluster this "+what+" created even if it fails")
}

// options are the environment options the shared flags give, with the
// checkout (or embedded files) root.
func (f envFlags) options(root string) (env.Options, error) {
	km, err := env.ParseKernelMode(f.kernel)
	if err != nil {
		return env.Options{}, err
	}
	return env.Options{Repo: root, Name: f.cluster, NodeImage: f.nodeImage, Keep: f.keep, Kernel: km, Log: os.Stderr}, nil
}
