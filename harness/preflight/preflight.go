// Package preflight says what a cluster allows before anything runs on it:
// its nodes and their pod address pools, the IPAM and the way an address
// can be reused there, whether images can be loaded and the kernel
// observed, and what a run would create. The job runs it on every
// cluster; on one the harness did not create, it is printed first.
package preflight

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/scenario"
)

// Report is what the preflight found, item by item, in words.
type Report struct {
	Cluster string `json:"cluster"`
	// Nodes says how many nodes there are and how many run pods.
	Nodes string `json:"nodes"`
	// PodCIDR is the nodes' pod address pools.
	PodCIDR string `json:"pod_cidr"`
	// IPAM is the network's address management: as the nodes' CNI
	// configs say (WithNetworks), else as its kube-system objects hint.
	IPAM string `json:"ipam"`
	// Networks are the pod networks the nodes' runtimes use, read through
	// node access (the CNI config file, plugins, IPAM, host-local's state
	// folder and ranges), one line per distinct network with its nodes;
	// and the nodes that could not be read, with why.
	Networks []string `json:"networks,omitempty"`
	// IPAMFamily is the IPAM where the IP reuse fault has a way of its own
	// for it: fault.IPAMHostLocal, fault.IPAMCalico, fault.IPAMAWSVPC, or "".
	IPAMFamily string `json:"ipam_family,omitempty"`
	// IPCooldownSeconds is the AWS VPC CNI's IP_COOLDOWN_PERIOD, where its
	// DaemonSet sets one.
	IPCooldownSeconds int `json:"ip_cooldown_s,omitempty"`
	// IPReuse is how the IP reuse fault can force an address's reuse here,
	// or why it cannot (its scenarios are then inconclusive).
	IPReuse string `json:"ip_reuse"`
	// NodeAccess says whether faults can run commands on nodes.
	NodeAccess string `json:"node_access"`
	// Images says where the scenarios' images come from.
	Images string `json:"images"`
	// Kernel says whether the kernel signal observer can watch the pods.
	Kernel string `json:"kernel"`
	// Creates lists what the run would create on the cluster.
	Creates []string `json:"creates,omitempty"`

	nodeAccess string // Options.NodeAccess
	fill       bool   // every node's pool can be filled
	fillWhy    string // why not
}

// Options are what the run would do that the preflight cannot see in the
// cluster.
type Options struct {
	// Registry is where images would be pushed ("": loaded into kind
	// nodes).
	Registry string
	// NodeAccess is how faults would reach nodes: nodeaccess.ModeDocker (kind nodes of
	// this host), nodeaccess.ModePods (the privileged node access DaemonSet,
	// --allow-privileged) or "" (none).
	NodeAccess string
}

// Check inspects c for specs as o would run them. It only reads.
func Check(ctx context.Context, c *cluster.Cluster, specs []scenario.Spec, o Options) (Report, error) {
	r := Report{Cluster: c.Name}
	var nodes corev1.NodeList
	if err := c.Client.Resources().List(ctx, &nodes); err != nil {
		return r, fmt.Errorf("preflight: list nodes: %w", err)
	}
	schedulable, err := c.SchedulableNodes(ctx)
	if err != nil {
		return r, err
	}
	r.Nodes = fmt.Sprintf("%d, %d of them run pods (%s)", len(nodes.Items), len(schedulable), strings.Join(schedulable, ", "))
	r.PodCIDR = podCIDRs(nodes.Items)
	cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
	if err != nil {
		return r, fmt.Errorf("preflight: client: %w", err)
	}
	ipam, family, cooldown := ipamOf(ctx, cs)
	r.IPAM, r.IPAMFamily, r.IPCooldownSeconds = ipam, family, cooldown
	switch o.NodeAccess {
	case nodeaccess.ModeDocker:
		r.NodeAccess = "yes: kind nodes in this host's Docker (docker exec)"
	case nodeaccess.ModePods:
		r.NodeAccess = fmt.Sprintf("yes: privileged node access pods (--allow-privileged): DaemonSet %s/%s, host network and PID namespace, the nodes' %s mounted", nodeaccess.Namespace, nodeaccess.DaemonSet, nodeaccess.MountsText())
	default:
		r.NodeAccess = "no: the nodes are not kind nodes of this host; --allow-privileged would let the harness run a node access DaemonSet"
	}
	switch {
	case o.NodeAccess == nodeaccess.ModePods:
		r.Kernel = fmt.Sprintf("a kernel agent on each node (DaemonSet %s/%s: privileged, the host's PID namespace and network); where one cannot trace, the run falls back and says why", nodeaccess.Namespace, nodeaccess.AgentDaemonSet)
	case c.Kind:
		r.Kernel = "can run here: the nodes' processes are this host's (tracefs, root)"
	default:
		r.Kernel = "cannot run: the nodes' processes are not on this host (--allow-privileged runs a kernel agent on each); signal verdicts rest on the apps' logs and exit codes"
	}
	switch {
	case o.Registry != "":
		r.Images = "pushed to " + o.Registry + " for the cluster to pull (it must be able to)"
	case c.Kind:
		r.Images = "loaded into the nodes from this host's Docker engine"
	default:
		r.Images = "cannot be loaded into the nodes (not this host's kind nodes): give --image-registry"
	}
	r.nodeAccess = o.NodeAccess
	r.fill, r.fillWhy = fillable(nodes.Items)
	r.IPReuse = r.reuse(false)
	r.Creates = creates(specs, o.NodeAccess == nodeaccess.ModePods)
	return r, nil
}

// reuse says how the IP reuse fault can force a reuse here. read: the
// family comes from the nodes' CNI configs, so host-local can be steered.
func (r Report) reuse(read bool) string {
	switch family := r.IPAMFamily; {
	case family == fault.IPAMAWSVPC:
		cd := fault.AWSCooldown
		if r.IPCooldownSeconds > 0 {
			cd = time.Duration(r.IPCooldownSeconds) * time.Second
		}
		return fmt.Sprintf("AWS VPC CNI cooldown: fillers hold the node's other addresses while the victim's cools down (%s), then it is the only free one", cd)
	case family == fault.IPAMCalico:
		return "Calico's ipAddrs annotation: the new pod asks Calico IPAM for the victim's address (no node access, no filling)"
	case family == fault.IPAMHostLocal && read:
		return "host-local state, steered on the node (its CNI config names the state folder; host-local's own allocator checks the steering)"
	case family == fault.IPAMHostLocal && r.nodeAccess != "":
		return "host-local state, steered on the node, once its CNI config is read there"
	case r.fill:
		return "pool exhaustion (pause pods fill the node's pool; about 20 s)"
	}
	return "none: " + r.fillWhy + "; scenarios with an IP-reuse fault are inconclusive here"
}

// WithNetworks is r with what the nodes' CNI configs say (nets, read
// through node access; unread: the nodes that could not be read, and
// why): they, not kube-system's DaemonSet names, decide the IPAM where
// every node was read and all agree.
func (r Report) WithNetworks(nets map[string]cni.Network, unread map[string]string) Report {
	byNet := map[string][]string{}
	families := map[string]bool{}
	var ipams []string
	for node, n := range nets {
		byNet[n.String()] = append(byNet[n.String()], node)
		families[n.Family()] = true
		ipams = append(ipams, n.IPAM)
	}
	r.Networks = nil
	for desc, nodes := range byNet {
		slices.Sort(nodes)
		r.Networks = append(r.Networks, fmt.Sprintf("%s on %s", desc, strings.Join(nodes, ", ")))
	}
	for node, why := range unread {
		r.Networks = append(r.Networks, fmt.Sprintf("node %s not read: %s", node, why))
	}
	slices.Sort(r.Networks)
	if len(nets) == 0 || len(unread) > 0 || len(families) != 1 {
		return r
	}
	for f := range families {
		r.IPAMFamily = f
	}
	slices.Sort(ipams)
	r.IPAM = fmt.Sprintf("%s (the nodes' CNI configs)", slices.Compact(ipams)[0])
	r.IPReuse = r.reuse(true)
	return r
}

// String is the report as lines for a terminal.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "preflight of cluster %s:\n", r.Cluster)
	for _, kv := range [][2]string{{"nodes", r.Nodes}, {"pod CIDR", r.PodCIDR}, {"IPAM", r.IPAM}, {"IP reuse", r.IPReuse},
		{"node access", r.NodeAccess}, {"images", r.Images}, {"kernel observer", r.Kernel}} {
		fmt.Fprintf(&b, "  %-16s %s\n", kv[0]+":", kv[1])
	}
	for _, n := range r.Networks {
		fmt.Fprintf(&b, "  %-16s %s\n", "pod network:", n)
	}
	if len(r.Creates) > 0 {
		fmt.Fprintf(&b, "  %-16s %s\n", "would create:", r.Creates[0])
		for _, c := range r.Creates[1:] {
			fmt.Fprintf(&b, "  %-16s %s\n", "", c)
		}
	}
	return b.String()
}

// podCIDRs describes the nodes' pod CIDRs by size.
func podCIDRs(nodes []corev1.Node) string {
	var parts []string
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" {
			parts = append(parts, n.Name+": none (addresses come from the IPAM, not a per-node range)")
			continue
		}
		_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
		if err != nil {
			parts = append(parts, fmt.Sprintf("%s: %q does not parse", n.Name, n.Spec.PodCIDR))
			continue
		}
		ones, bits := cidr.Mask.Size()
		parts = append(parts, fmt.Sprintf("%s: %s (%d addresses)", n.Name, cidr, 1<<(bits-ones)-2))
	}
	return strings.Join(parts, "; ")
}

// fillable says whether every node's pool can be filled with pause pods,
// as the IP reuse fault would judge it (fault.FillablePool).
func fillable(nodes []corev1.Node) (bool, string) {
	for _, n := range nodes {
		if _, err := fault.FillablePool(n); err != nil {
			return false, err.Error()
		}
	}
	return true, ""
}

// ipamOf names the network's IPAM from the objects its installers leave
// in kube-system, and its family where the IP reuse fault has a way for
// it: "host-local" (a state file per address on the node, which it can
// steer), "calico" (the ipAddrs annotation) or fault.IPAMAWSVPC (with its
// IP cooldown in seconds, where its DaemonSet sets IP_COOLDOWN_PERIOD).
func ipamOf(ctx context.Context, cs kubernetes.Interface) (string, string, int) {
	if _, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubegrace-cni", metav1.GetOptions{}); err == nil {
		return "host-local (kubegrace's offline ptp network, ConfigMap kube-system/kubegrace-cni)", fault.IPAMHostLocal, 0
	} else if !apierrors.IsNotFound(err) {
		return fmt.Sprintf("unknown (cannot read kube-system: %v)", err), "", 0
	}
	ds, err := cs.AppsV1().DaemonSets("kube-system").List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Sprintf("unknown (cannot list DaemonSets in kube-system: %v)", err), "", 0
	}
	var names []string
	for _, d := range ds.Items {
		names = append(names, d.Name)
	}
	known := []struct {
		daemonSet, ipam, family string
	}{
		{"kindnet", "host-local (kindnetd, DaemonSet kube-system/kindnet)", fault.IPAMHostLocal},
		{"calico-node", "Calico IPAM (DaemonSet kube-system/calico-node)", fault.IPAMCalico},
		{"aws-node", "AWS VPC CNI (DaemonSet kube-system/aws-node)", fault.IPAMAWSVPC},
		{"cilium", "Cilium (DaemonSet kube-system/cilium)", ""},
	}
	for _, k := range known {
		if i := slices.Index(names, k.daemonSet); i >= 0 {
			return k.ipam, k.family, cooldownOf(ds.Items[i])
		}
	}
	return fmt.Sprintf("unknown (kube-system DaemonSets: %s)", strings.Join(names, ", ")), "", 0
}

// cooldownOf is the IP_COOLDOWN_PERIOD (seconds) an AWS VPC CNI DaemonSet
// sets, or 0.
func cooldownOf(ds appsv1.DaemonSet) int {
	for _, c := range ds.Spec.Template.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "IP_COOLDOWN_PERIOD" {
				if n, err := strconv.Atoi(e.Value); err == nil && n > 0 {
					return n
				}
			}
		}
	}
	return 0
}

// creates lists what running specs would create: a namespace per scenario
// with its Consul and services, and, with node access pods, the harness's
// own namespace with the privileged DaemonSet.
func creates(specs []scenario.Spec, accessPods bool) []string {
	var out []string
	if accessPods {
		out = append(out, fmt.Sprintf("namespace %s: DaemonSet %s, a pod per node, privileged (host network and PID namespace; the nodes' %s mounted, as root), labelled %s",
			nodeaccess.Namespace, nodeaccess.DaemonSet, nodeaccess.MountsText(), labelText(nodeaccess.Labels)),
			fmt.Sprintf("namespace %s: DaemonSet %s, a pod per node, privileged (host PID namespace and network; a tracefs instance), labelled %s (unless --kernel off)",
				nodeaccess.Namespace, nodeaccess.AgentDaemonSet, labelText(nodeaccess.AgentLabels)))
	}
	for _, s := range specs {
		what := []string{"Consul (a Deployment and a ClusterIP Service; the harness reaches it by port-forward through the API server)"}
		for _, svc := range s.Services {
			what = append(what, fmt.Sprintf("Deployment %s (%d)", svc.Name, max(svc.Replicas, 1)))
		}
		if n := len(s.Callers); n > 0 {
			what = append(what, fmt.Sprintf("%d caller Deployment(s)", n))
		}
		if s.NeedsNodeToItself() {
			what = append(what, "IP-reuse pods on one node")
		}
		out = append(out, fmt.Sprintf("namespace %s: %s", s.Namespace(), strings.Join(what, ", ")))
	}
	switch {
	case accessPods:
		out = append(out, "all of it deleted with the namespaces at the end, and on Ctrl-C")
	case len(out) > 0:
		out = append(out, "nothing privileged; all of it deleted with the namespaces at the end, and on Ctrl-C")
	}
	return out
}

func labelText(l map[string]string) string {
	var kv []string
	for k, v := range l {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}
