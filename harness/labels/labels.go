// Package labels is the contract between the harness and what it creates
// on a cluster: every namespace, pod, Deployment, DaemonSet and role it
// makes carries PartOf, which is how a run's leftovers are found and how
// a scenario's Deployments select their own pods. A pod of a service
// without it (the IP reuse fault's taker) is never adopted by the
// service's ReplicaSet, whose selector includes it.
package labels

// PartOfKey and PartOfValue mark what the harness creates.
const (
	PartOfKey   = "app.kubernetes.io/part-of"
	PartOfValue = "kubegrace"
	// PartOfSelector selects it (kubectl -l).
	PartOfSelector = PartOfKey + "=" + PartOfValue
)

// PartOf is the labels of something the harness creates, with extra ones
// (key, value pairs).
func PartOf(kv ...string) map[string]string {
	m := map[string]string{PartOfKey: PartOfValue}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}
