// IP reuse by pool exhaustion: filler pods hold every other address of
// the node's pool, so the victim's is the only one left.

package fault

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// fillerLabel selects the filler pods of a namespace.
const fillerLabel = timeline.RoleLabel + "=" + timeline.RoleIPFiller

// gentle deletes with a 1 s grace, not forced: a forced delete drops the
// API object at once while the kubelet may still be setting up or tearing
// down the pod's network, so its address would be taken or freed later,
// behind our back. A graceful delete ends only when the kubelet is done.
var gentle = metav1.DeleteOptions{GracePeriodSeconds: new(int64(1))}

// fillPool creates size fillers on the node and waits until every filler
// either has an address or has been refused one while the rest settled,
// with the victim's address among those held if needHolder.
func (r *reuse) fillPool(ctx context.Context, size int, needHolder bool) error {
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	for i := range size {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ipfill-%02d", i), Namespace: r.env.Namespace,
				Labels: map[string]string{timeline.RoleLabel: timeline.RoleIPFiller}},
			Spec: corev1.PodSpec{
				NodeName:                      r.node, // no scheduler round trip
				TerminationGracePeriodSeconds: new(int64(0)),
				Containers:                    []corev1.Container{{Name: "pause", Image: r.env.PauseImage, ImagePullPolicy: corev1.PullIfNotPresent}},
			},
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create filler pod: %w", err)
		}
	}
	stable, last := 0, -1
	return poll.Until(ctx, "node "+r.node+" pod IP pool full", poll.Steady, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: fillerLabel})
		if err != nil {
			return poll.Not("%v", err)
		}
		r.holder, r.spare = "", nil
		with := 0
		for _, p := range list.Items {
			switch {
			case p.Status.PodIP == r.ip:
				r.holder = p.Name
				with++
			case p.Status.PodIP != "":
				with++
			default:
				r.spare = append(r.spare, p.Name)
			}
		}
		if with != last {
			last, stable = with, 0
		} else {
			stable++
		}
		// Done when the victim's address is held (if it must be) and the
		// count of pods with an address has not moved for 3 s (12 polls).
		if (r.holder != "" || !needHolder) && (len(r.spare) == 0 || stable >= 12) {
			return true, nil
		}
		return poll.Not("%d fillers with an address, %d without; victim address %s held by %q", with, len(r.spare), r.ip, r.holder)
	})
}

// freeAddress deletes the fillers left without an address and the one
// holding the victim's (if one does), and waits until they are gone.
func (r *reuse) freeAddress(ctx context.Context) error {
	give := r.spare
	if r.holder != "" {
		give = append(give, r.holder)
	}
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	for _, name := range give {
		if err := pods.Delete(ctx, name, gentle); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete filler %s: %w", name, err)
		}
	}
	for _, name := range give {
		if err := poll.Until(ctx, "filler "+name+" gone", poll.Quick, poll.PodGone(r.env.Clientset, r.env.Namespace, name)); err != nil {
			return err
		}
	}
	return nil
}

// FillerRemovalTimeout bounds removing an IP reuse's filler pods, which
// happens even after an interrupt, before the scenario's teardown.
const FillerRemovalTimeout = 2 * time.Minute

// removeFillers deletes every filler and waits until they are gone, so the
// next scenario finds the pool free. It runs whatever happened before, on
// its own deadline, and its error is the fault's too.
func (r *reuse) removeFillers() error {
	ctx, cancel := context.WithTimeout(context.Background(), FillerRemovalTimeout)
	defer cancel()
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	if err := pods.DeleteCollection(ctx, gentle, metav1.ListOptions{LabelSelector: fillerLabel}); err != nil {
		return fmt.Errorf("remove filler pods: %w", err)
	}
	if err := poll.Until(ctx, "filler pods gone", poll.Steady.For(FillerRemovalTimeout), poll.PodsGone(r.env.Clientset, r.env.Namespace, fillerLabel)); err != nil {
		return fmt.Errorf("remove filler pods: %w", err)
	}
	return nil
}

// poolSize is the number of pod addresses the node's pod CIDR offers at
// most (a filler per address is enough to fill it).
func poolSize(ctx context.Context, env *Env, node string) (int, error) {
	n, err := env.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get node %s: %w", node, err)
	}
	return FillablePool(*n)
}

// FillablePool is the number of pod addresses of node n's pool, or why
// filler pods cannot fill it (no per-node pod CIDR, one too large).
func FillablePool(n corev1.Node) (int, error) {
	node := n.Name
	if n.Spec.PodCIDR == "" {
		return 0, fmt.Errorf("node %s has no pod CIDR (its IPAM hands out addresses some other way): its pool cannot be filled", node)
	}
	_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
	if err != nil {
		return 0, fmt.Errorf("node %s pod CIDR %q: %w", node, n.Spec.PodCIDR, err)
	}
	ones, bits := cidr.Mask.Size()
	if bits-ones > 8 {
		return 0, fmt.Errorf("node %s pod CIDR %s is larger than /24: filling it would take too many pods; use a smaller node-cidr-mask-size (kind-config.yaml uses /27)", node, cidr)
	}
	size := 1<<(bits-ones) - 2
	// The kubelet runs at most its pod capacity (110 by default): a
	// larger pool cannot be filled.
	if capacity, ok := n.Status.Capacity[corev1.ResourcePods]; ok && int64(size) >= capacity.Value() {
		return 0, fmt.Errorf("node %s pod CIDR %s has %d addresses, and the node runs at most %d pods: its pool cannot be filled; use a smaller node-cidr-mask-size (kind-config.yaml uses /27)", node, cidr, size, capacity.Value())
	}
	return size, nil
}
