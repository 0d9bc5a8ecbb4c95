package preflight

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegrace/kubegrace/harness/labels"
)

// RunnerRole is the least a run needs of a cluster, as one ClusterRole:
// every call the harness makes, and nothing else. (Namespaces are the
// scenarios' own, kg-<name>, created and deleted by the run, so the rights
// on what is in them cannot be narrowed to a namespace ahead of time.)
// Cluster-wide, it reads nodes (the preflight, pinning, the pod pools) and
// kube-system's kubegrace-cni ConfigMap and DaemonSets (the IPAM). It
// port-forwards to the scenarios' Consul pods.
//
// With privileged, it adds what node access pods need (--allow-privileged):
// creating their DaemonSet, adding a host-local state folder to it (get,
// update), and exec into its pods.
func RunnerRole(name string, privileged bool) *rbacv1.ClusterRole {
	r := &rbacv1.ClusterRole{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels.PartOf()},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "create", "delete"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch", "create", "delete", "deletecollection"}},
			{APIGroups: []string{""}, Resources: []string{"pods/log"}, Verbs: []string{"get"}},
			// The harness reaches each scenario's Consul through the API
			// server: POST (SPDY) is create, a WebSocket upgrade is a GET.
			{APIGroups: []string{""}, Resources: []string{"pods/portforward"}, Verbs: []string{"create", "get"}},
			{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "create"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}},
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch", "create", "update"}},
			{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"list"}},
		},
	}
	if privileged {
		r.Rules = append(r.Rules,
			rbacv1.PolicyRule{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"create", "get", "update"}},
			rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods/exec"}, Verbs: []string{"create", "get"}})
	}
	return r
}
