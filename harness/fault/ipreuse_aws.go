// IP reuse on the AWS VPC CNI: fillers hold the node's other addresses
// while the victim's cools down.

package fault

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// coolDown is the AWS VPC CNI method: fillers take every free address of
// the node but the victim's, still cooling down; fillers left without one
// are deleted (they would take it the moment it is free), and a filler
// that got it anyway gives it back, which starts its cooldown again. Then
// it waits out the cooldown: the victim's address is the one left.
func (r *reuse) coolDown(ctx context.Context) error {
	slots, err := freeSlots(ctx, r.env, r.node, r.victim.Name)
	if err != nil {
		return err
	}
	if err := r.fillPool(ctx, slots, false); err != nil {
		return err
	}
	cooled := r.gone
	if err := r.freeAddress(ctx); err != nil {
		return err
	}
	if r.holder != "" {
		cooled = time.Now()
	}
	cooldown := r.env.IPCooldown
	if cooldown == 0 {
		cooldown = AWSCooldown
	}
	wait := time.Until(cooled.Add(cooldown + time.Second))
	r.env.Logf("ip-reuse: %d filler(s) hold the node's other addresses; waiting %s for %s to cool down", slots-len(r.spare), wait.Round(time.Second), r.ip)
	return poll.Sleep(ctx, wait)
}

// freeSlots is how many more pods node can run (its allocatable pods less
// those on it, not counting the pod named except): how many fillers take
// every address a node of the AWS VPC CNI has (its pod limit follows from
// its addresses).
func freeSlots(ctx context.Context, env *Env, node, except string) (int, error) {
	n, err := env.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get node %s: %w", node, err)
	}
	limit, ok := n.Status.Allocatable[corev1.ResourcePods]
	if !ok {
		return 0, fmt.Errorf("node %s does not say how many pods it runs (allocatable pods)", node)
	}
	list, err := env.Clientset.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return 0, fmt.Errorf("pods on node %s: %w", node, err)
	}
	used := 0
	for _, p := range list.Items {
		if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed && p.Name != except && !p.Spec.HostNetwork {
			used++
		}
	}
	return max(int(limit.Value())-used, 0), nil
}
