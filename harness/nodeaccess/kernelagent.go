package nodeaccess

import (
	"context"
	"fmt"
	"io"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubegrace/kubegrace/harness/labels"
)

// AgentDaemonSet is the kernel observer's DaemonSet on nodes that are not
// this host's: `kubegrace kernel-agent` on each, privileged (it opens a
// tracefs instance) in the host's PID namespace (its /proc maps the
// kernel's PIDs to pods) and network (it takes no pod address). Its pods'
// logs are the event streams (observe.AgentLine).
const AgentDaemonSet = "kubegrace-kernel-observer"

// AgentLabels mark the kernel agent's DaemonSet and pods.
var AgentLabels = labels.PartOf("kubegrace.io/role", "kernel-observer")

// AgentOptions configure the kernel agents.
type AgentOptions struct {
	Image string
	Pull  bool
	// HostProc, if set, is a node path holding a /proc of the kernel's
	// first PID namespace, for nodes that do not run in it (kind nodes
	// share this host's kernel but not its PIDs: the kind tier mounts the
	// host's /proc into its test node there).
	HostProc string
}

// Agents are the kernel agents' streams, by node.
type Agents struct {
	Streams map[string]io.ReadCloser
	// Missing says, per node without a running agent, why.
	Missing map[string]string
}

// StartKernelAgents starts the kernel agent DaemonSet, waits up to wait
// for its pods on nodes, and follows each running pod's log.
func StartKernelAgents(ctx context.Context, cfg *rest.Config, o AgentOptions, nodes []string, wait time.Duration) (*Agents, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	running, missing, err := startDaemonSet(ctx, cs, agentDaemonSet(o), nodes, wait)
	if err != nil {
		return nil, fmt.Errorf("kernel agents: %w", err)
	}
	a := &Agents{Streams: map[string]io.ReadCloser{}, Missing: missing}
	for node, pod := range running {
		r, err := cs.CoreV1().Pods(Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: container, Follow: true}).Stream(ctx)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("kernel agent on node %s: follow the log of pod %s/%s: %w", node, Namespace, pod, err)
		}
		a.Streams[node] = r
	}
	return a, nil
}

// Close stops following the streams.
func (a *Agents) Close() {
	for _, r := range a.Streams {
		_ = r.Close()
	}
}

func agentDaemonSet(o AgentOptions) *appsv1.DaemonSet {
	privileged := true
	c := corev1.Container{
		Name: container, Image: o.Image, ImagePullPolicy: pullPolicy(o.Pull),
		Command:         []string{"/usr/local/bin/kubegrace", "kernel-agent"},
		SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
	}
	var vols []corev1.Volume
	if o.HostProc != "" {
		dir := corev1.HostPathDirectory
		vols = append(vols, corev1.Volume{Name: "host-proc", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: o.HostProc, Type: &dir}}})
		c.VolumeMounts = []corev1.VolumeMount{{Name: "host-proc", MountPath: "/host/proc", ReadOnly: true}}
		c.Env = []corev1.EnvVar{{Name: "KUBEGRACE_PROC_ROOT", Value: "/host/proc"}}
	}
	return harnessDaemonSet(AgentDaemonSet, AgentLabels, corev1.PodSpec{
		HostPID:                       true,
		TerminationGracePeriodSeconds: new(int64(10)), // the agent removes its trace instance on TERM
		Containers:                    []corev1.Container{c},
		Volumes:                       vols,
	})
}
