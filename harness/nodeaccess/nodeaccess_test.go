package nodeaccess

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The DaemonSet takes no pod address (host network), runs on every node
// (tolerates every taint), mounts only the CNI configs (read-only) and
// state, as directories that must exist, is labelled as the harness's, and stops at once.
func TestDaemonSetIsNarrowAndLabelled(t *testing.T) {
	ds := daemonSet("kubegrace/fixture:x", false)
	p := ds.Spec.Template.Spec
	if !p.HostNetwork || !p.HostPID || p.HostIPC {
		t.Errorf("host namespaces: network %v pid %v ipc %v; want the network and PIDs (pod-kill) only", p.HostNetwork, p.HostPID, p.HostIPC)
	}
	if len(p.Tolerations) != 1 || p.Tolerations[0].Operator != corev1.TolerationOpExists || p.Tolerations[0].Key != "" {
		t.Errorf("tolerations %+v: want one that tolerates every taint", p.Tolerations)
	}
	c := p.Containers[0]
	for i, want := range []struct {
		path     string
		readOnly bool
	}{{"/etc/cni/net.d", true}, {"/var/lib/cni", false}} {
		if len(p.Volumes) != 2 || p.Volumes[i].HostPath == nil || p.Volumes[i].HostPath.Path != want.path || *p.Volumes[i].HostPath.Type != corev1.HostPathDirectory {
			t.Fatalf("volumes %+v: want the CNI configs and /var/lib/cni only, as existing directories", p.Volumes)
		}
		if m := c.VolumeMounts[i]; m.MountPath != want.path || m.ReadOnly != want.readOnly {
			t.Errorf("mount %+v: want %s, read-only %v", m, want.path, want.readOnly)
		}
	}
	if c.SecurityContext.Privileged != nil || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("container %+v", c)
	}
	if ds.Namespace != Namespace || ds.Labels["app.kubernetes.io/part-of"] != "kubegrace" || ds.Spec.Template.Labels["kubegrace.io/role"] != "node-access" {
		t.Errorf("not in %s or not labelled: %+v %+v", Namespace, ds.ObjectMeta, ds.Spec.Template.Labels)
	}
	if *p.TerminationGracePeriodSeconds != 0 {
		t.Errorf("grace %d", *p.TerminationGracePeriodSeconds)
	}
	if daemonSet("r/x", true).Spec.Template.Spec.Containers[0].ImagePullPolicy != corev1.PullAlways {
		t.Error("a pulled image is not pulled")
	}
}

// The kernel agent: privileged in the host's PID namespace and network,
// running kernel-agent, and reading another /proc only when told to.
func TestAgentDaemonSet(t *testing.T) {
	ds := agentDaemonSet(AgentOptions{Image: "kubegrace/kernel-agent:x"})
	p := ds.Spec.Template.Spec
	c := p.Containers[0]
	if !p.HostPID || !p.HostNetwork || c.SecurityContext.Privileged == nil || !*c.SecurityContext.Privileged {
		t.Errorf("hostPID %v hostNetwork %v privileged %v", p.HostPID, p.HostNetwork, c.SecurityContext.Privileged)
	}
	if c.Command[1] != "kernel-agent" || len(c.Env) != 0 || len(p.Volumes) != 0 || ds.Labels["kubegrace.io/role"] != "kernel-observer" {
		t.Errorf("container %+v volumes %+v labels %v", c, p.Volumes, ds.Labels)
	}
	kind := agentDaemonSet(AgentOptions{Image: "x", HostProc: "/hostproc"}).Spec.Template.Spec
	if kind.Volumes[0].HostPath.Path != "/hostproc" || kind.Containers[0].Env[0].Value != "/host/proc" || !kind.Containers[0].VolumeMounts[0].ReadOnly {
		t.Errorf("host proc: %+v %+v", kind.Volumes, kind.Containers[0])
	}
}
