// Package env is the environment a run meets, built once: the cluster
// (created, reused, or someone else's reached through its kubeconfig), the
// images it holds, how faults reach its nodes, whether the kernel is
// observed, and what the preflight found. Start answers those questions
// once and returns one value (Env) with one Stop; the job, the probe and
// the kind tier are built from it, and nothing below asks them again.
package env

import (
	"fmt"
	"io"
	"time"

	"github.com/kubegrace/kubegrace/harness/nodeaccess"
)

// Options are the flags that shape the environment.
type Options struct {
	// Repo is the repository root (kind-config.yaml, images/ scripts).
	Repo string
	// Name of the kind cluster (cluster.DefaultName if empty).
	Name string
	// ConfigPath is the kind config (default Repo/kind-config.yaml).
	ConfigPath string
	// NodeImage, if set, is used as is.
	NodeImage string
	// Nodes is the cluster's size (0: as kind-config.yaml says).
	Nodes int
	// Kubeconfig, if set, names a cluster the harness did not create (its
	// Context, or the current one): it is used as it is, never created,
	// recreated nor deleted, and a preflight says what it allows.
	Kubeconfig, Context string
	// ImageRegistry, if set, is where the run's images are pushed for the
	// cluster to pull (host[:port][/path]), instead of loading them into
	// kind nodes: the way to a cluster that is not kind on this host.
	ImageRegistry string
	// AllowPrivileged lets the run create privileged pods on a cluster
	// that is not kind on this host: the node access and kernel agent
	// DaemonSets (nodeaccess.ModePods), nothing else. Off by default.
	AllowPrivileged bool
	// NodeAccess is how faults reach nodes (nodeaccess.ModeAuto when
	// empty; see NodeAccessMode).
	NodeAccess string
	// KernelAgentHostProc, if set, is a node path holding the kernel's
	// first PID namespace's /proc, for kernel agents on nodes that do not
	// run in it (kind nodes: the kind tier mounts this host's /proc there).
	KernelAgentHostProc string
	// Kernel says whether signals are observed in the kernel.
	Kernel KernelMode
	// Keep leaves a cluster this call created when it fails or is
	// interrupted.
	Keep bool
	// LogDir receives kind's logs when creation fails.
	LogDir string
	// ReadyTimeout bounds creation until a Ready node and CoreDNS.
	ReadyTimeout time.Duration
	// SkipImages: do not build or load the project's images (a probe, a
	// preflight).
	SkipImages bool
	// Log receives progress.
	Log io.Writer
}

// KernelMode is the user's --kernel choice.
type KernelMode string

// The modes.
const (
	KernelAuto     KernelMode = ""        // where the host allows; else fall back, and say so
	KernelOff      KernelMode = "off"     // never: signal verdicts rest on app logs and exit codes
	KernelRequired KernelMode = "require" // fail if the kernel cannot be observed
)

// ParseKernelMode reads a --kernel flag value.
func ParseKernelMode(s string) (KernelMode, error) {
	switch s {
	case "", "auto":
		return KernelAuto, nil
	case "off":
		return KernelOff, nil
	case "require", "required":
		return KernelRequired, nil
	}
	return "", fmt.Errorf("--kernel %q: want auto, off or require", s)
}

// NodeAccessMode is the node access o asks for, resolved for a cluster
// (kind: its nodes are this host's kind nodes), or why it cannot be had
// ("" mode: no node access).
func NodeAccessMode(o Options, clusterName string, kind bool) (string, error) {
	switch o.NodeAccess {
	case "", nodeaccess.ModeAuto:
		switch {
		case kind:
			return nodeaccess.ModeDocker, nil
		case o.AllowPrivileged:
			return nodeaccess.ModePods, nil
		}
		return "", nil
	case nodeaccess.ModeDocker:
		if !kind {
			return "", fmt.Errorf("--node-access docker: the nodes of cluster %s are not kind nodes of this host's Docker", clusterName)
		}
		return nodeaccess.ModeDocker, nil
	case nodeaccess.ModePods:
		if !o.AllowPrivileged {
			return "", fmt.Errorf("--node-access pods runs a privileged DaemonSet (host network and PID namespace, the nodes' %s) on cluster %s: give --allow-privileged too", nodeaccess.MountsText(), clusterName)
		}
		return nodeaccess.ModePods, nil
	}
	return "", fmt.Errorf("--node-access %q: want %s, %s or %s", o.NodeAccess, nodeaccess.ModeAuto, nodeaccess.ModeDocker, nodeaccess.ModePods)
}
