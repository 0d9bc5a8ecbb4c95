package preflight

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// The AWS VPC CNI's cooldown comes from its DaemonSet's environment, where
// set; otherwise the fault takes the CNI's default.
func TestCooldownOf(t *testing.T) {
	ds := func(env ...corev1.EnvVar) appsv1.DaemonSet {
		var d appsv1.DaemonSet
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "aws-node", Env: env}}
		return d
	}
	for want, d := range map[int]appsv1.DaemonSet{
		45: ds(corev1.EnvVar{Name: "WARM_IP_TARGET", Value: "2"}, corev1.EnvVar{Name: "IP_COOLDOWN_PERIOD", Value: "45"}),
		0:  ds(corev1.EnvVar{Name: "IP_COOLDOWN_PERIOD", Value: "soon"}),
	} {
		if got := cooldownOf(d); got != want {
			t.Errorf("cooldownOf = %d, want %d", got, want)
		}
	}
}

// What a run would create: nothing privileged without node access pods,
// and the DaemonSets first, named with their labels, with them.
func TestCreates(t *testing.T) {
	specs := []scenario.Spec{{Name: "s", Services: []scenario.ServiceSpec{{Name: "orders", Replicas: 2}}}}
	plain := creates(specs, false)
	if len(plain) != 2 || plain[1] != "nothing privileged; all of it deleted with the namespaces at the end, and on Ctrl-C" {
		t.Errorf("without node access pods: %q", plain)
	}
	priv := creates(specs, true)
	if len(priv) != 4 || !strings.HasPrefix(priv[1], "namespace kubegrace-system: DaemonSet kubegrace-kernel-observer, a pod per node, privileged (host PID namespace and network") || priv[0] != "namespace kubegrace-system: DaemonSet kubegrace-node-access, a pod per node, privileged (host network; the nodes' /var/lib/cni mounted, as root), labelled app.kubernetes.io/part-of=kubegrace,kubegrace.io/role=node-access" {
		t.Errorf("with node access pods: %q", priv)
	}
}
