package preflight

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
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
	if len(priv) != 4 || !strings.HasPrefix(priv[1], "namespace kubegrace-system: DaemonSet kubegrace-kernel-observer, a pod per node, privileged (host PID namespace and network") || priv[0] != "namespace kubegrace-system: DaemonSet kubegrace-node-access, a pod per node, privileged (host network and PID namespace; the nodes' /etc/cni/net.d (read-only), /var/lib/cni mounted, as root), labelled app.kubernetes.io/part-of=kubegrace,kubegrace.io/role=node-access" {
		t.Errorf("with node access pods: %q", priv)
	}
}

// The IPAM, and the family that picks the IP reuse method, from what the
// network's installer leaves in kube-system; anything else is unknown,
// saying what was seen, and an unreadable kube-system says why.
func TestIPAMOf(t *testing.T) {
	daemonSet := func(name string, env ...corev1.EnvVar) *appsv1.DaemonSet {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}}
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: name, Env: env}}
		return d
	}
	for _, tc := range []struct {
		name     string
		objects  []runtime.Object
		family   string
		ipam     string
		cooldown int
	}{
		{"offline node network", []runtime.Object{&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kubegrace-cni", Namespace: "kube-system"}}, daemonSet("kube-proxy")}, fault.IPAMHostLocal, "kubegrace's offline ptp network", 0},
		{"kindnet", []runtime.Object{daemonSet("kube-proxy"), daemonSet("kindnet")}, fault.IPAMHostLocal, "kindnetd", 0},
		{"calico", []runtime.Object{daemonSet("calico-node")}, fault.IPAMCalico, "Calico IPAM", 0},
		{"aws", []runtime.Object{daemonSet("aws-node", corev1.EnvVar{Name: "IP_COOLDOWN_PERIOD", Value: "45"})}, fault.IPAMAWSVPC, "AWS VPC CNI", 45},
		{"cilium", []runtime.Object{daemonSet("cilium")}, "", "Cilium", 0},
		{"unknown", []runtime.Object{daemonSet("kube-proxy"), daemonSet("weave-net")}, "", "unknown (kube-system DaemonSets: kube-proxy, weave-net)", 0},
	} {
		ipam, family, cooldown := ipamOf(context.Background(), fake.NewClientset(tc.objects...))
		if family != tc.family || !strings.Contains(ipam, tc.ipam) || cooldown != tc.cooldown {
			t.Errorf("%s: %q, family %q, cooldown %d; want %q, %q, %d", tc.name, ipam, family, cooldown, tc.ipam, tc.family, tc.cooldown)
		}
	}
	denied := fake.NewClientset()
	denied.PrependReactor("get", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), "kubegrace-cni", errors.New("no rights"))
	})
	if ipam, family, _ := ipamOf(context.Background(), denied); family != "" || !strings.Contains(ipam, "cannot read kube-system") {
		t.Errorf("forbidden: %q, family %q", ipam, family)
	}
}

// The nodes' CNI configs, once read through node access, decide the IPAM
// over kube-system's names (a Canal cluster's calico-node DaemonSet would
// say Calico IPAM; its conflist says host-local), and are listed with
// their nodes; a node not read leaves the hint standing, and says why.
func TestWithNetworks(t *testing.T) {
	canal, err := cni.Parse("/etc/cni/net.d/10-canal.conflist", []byte(`{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico", "ipam": {"type": "host-local", "subnet": "usePodCidr"}}, {"type": "portmap"}]}`), "10.244.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	hinted := Report{IPAM: "Calico IPAM (DaemonSet kube-system/calico-node)", IPAMFamily: fault.IPAMCalico, nodeAccess: nodeaccess.ModePods}
	hinted.IPReuse = hinted.reuse(false)
	r := hinted.WithNetworks(map[string]cni.Network{"a": canal, "b": canal}, nil)
	if r.IPAMFamily != fault.IPAMHostLocal || !strings.HasPrefix(r.IPAM, "host-local (the nodes' CNI configs)") || !strings.HasPrefix(r.IPReuse, "host-local state, steered on the node") {
		t.Errorf("read: %+v", r)
	}
	if len(r.Networks) != 1 || !strings.Contains(r.Networks[0], "state in /var/lib/cni/networks/k8s-pod-network") || !strings.HasSuffix(r.Networks[0], " on a, b") {
		t.Errorf("networks %q", r.Networks)
	}
	part := hinted.WithNetworks(map[string]cni.Network{"a": canal}, map[string]string{"b": "no node access there"})
	if part.IPAMFamily != fault.IPAMCalico || len(part.Networks) != 2 || part.Networks[1] != "node b not read: no node access there" {
		t.Errorf("partly read: %+v", part)
	}
	if s := r.String(); !strings.Contains(s, "pod network:") {
		t.Errorf("String() does not list the networks:\n%s", s)
	}
}
