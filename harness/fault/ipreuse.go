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
)

// IPReuse makes a pod of service By take the address of a pod of Victim,
// deterministically and with any IPAM, by pool exhaustion:
//
//  1. delete the victim pod (its entrypoint decides how it ends) and wait
//     until it is gone, so its address is free;
//  2. fill the node's pod IP pool with throwaway pause pods pinned to that
//     node, until some get no address;
//  3. delete the address-less throwaways (they would grab the next freed
//     address), then the one holding the victim's address;
//  4. start a pod of By on that node: the only free address is the victim's;
//  5. remove the remaining throwaways.
//
// host-local (kindnetd's IPAM too) hands addresses out round-robin, so
// without this an address comes back only after the whole range has cycled.
type IPReuse struct {
	Victim  string // service
	Index   int
	By      string // service whose new pod takes the address
	Timeout time.Duration
	// NewPod builds the pod of By to start (the scenario's pod template for
	// By, with labels that keep its Deployment from adopting it).
	NewPod func(name, node string) (*corev1.Pod, error)
}

func (f IPReuse) Name() string {
	return fmt.Sprintf("IP reuse: a pod of %s takes the address of pod %d of %s", f.By, f.Index, f.Victim)
}

const throwawayLabel = "kubegrace.io/throwaway"

func (f IPReuse) Inject(ctx context.Context, env *Env) (string, error) {
	if f.Timeout == 0 {
		f.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, f.Timeout)
	defer cancel()
	pods := env.Clientset.CoreV1().Pods(env.Namespace)

	victim, err := podAt(ctx, env, f.Victim, f.Index)
	if err != nil {
		return "", err
	}
	ip, node := victim.Status.PodIP, victim.Spec.NodeName
	if ip == "" {
		return "", fmt.Errorf("victim pod %s has no address", victim.Name)
	}
	start := time.Now()
	if err := pods.Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return "", fmt.Errorf("delete victim %s: %w", victim.Name, err)
	}
	if err := waitGone(ctx, env, victim.Name, graceOf(victim)+time.Minute); err != nil {
		return "", err
	}
	env.Logf("ip-reuse: victim %s (%s on %s) gone after %s; filling the pool", victim.Name, ip, node, time.Since(start).Round(time.Millisecond))

	// Throwaways are deleted with a 1 s grace, not forced: a forced delete
	// drops the API object at once while the kubelet may still be setting
	// up or tearing down the pod's network, so its address would be taken
	// or freed later, behind our back. A graceful delete ends only when the
	// kubelet is done with the pod.
	one := int64(1)
	gentle := metav1.DeleteOptions{GracePeriodSeconds: &one}
	// Always clean up the throwaways, whatever happens below, and wait
	// until they are gone so the next scenario finds the pool free.
	defer func() {
		bg, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		sel := metav1.ListOptions{LabelSelector: throwawayLabel}
		_ = pods.DeleteCollection(bg, gentle, sel)
		_ = poll.Until(bg, "throwaway pods gone", 250*time.Millisecond, 2*time.Minute, func(ctx context.Context) (bool, error) {
			l, err := pods.List(ctx, sel)
			if err != nil || len(l.Items) > 0 {
				return poll.Not("%d left", len(l.Items))
			}
			return true, nil
		})
	}()

	size, err := poolSize(ctx, env, node)
	if err != nil {
		return "", err
	}
	zero := int64(0)
	for i := range size {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ipfill-%02d", i), Namespace: env.Namespace, Labels: map[string]string{throwawayLabel: "true"}},
			Spec: corev1.PodSpec{
				NodeName:                      node, // no scheduler round trip
				TerminationGracePeriodSeconds: &zero,
				Containers:                    []corev1.Container{{Name: "pause", Image: env.PauseImage, ImagePullPolicy: corev1.PullIfNotPresent}},
			},
		}
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return "", fmt.Errorf("create throwaway pod: %w", err)
		}
	}
	// The pool is full when every throwaway either has an address or has
	// been refused one (sandbox creation failing) while the rest settled.
	var holder string
	var without []string
	stable := 0
	last := -1
	err = poll.Until(ctx, "node "+node+" pod IP pool full", 250*time.Millisecond, f.Timeout, func(ctx context.Context) (bool, error) {
		list, err := pods.List(ctx, metav1.ListOptions{LabelSelector: throwawayLabel})
		if err != nil {
			return poll.Not("%v", err)
		}
		holder, without = "", nil
		with := 0
		for _, p := range list.Items {
			switch {
			case p.Status.PodIP == ip:
				holder = p.Name
				with++
			case p.Status.PodIP != "":
				with++
			default:
				without = append(without, p.Name)
			}
		}
		if with != last {
			last, stable = with, 0
		} else {
			stable++
		}
		// Done when the victim's address is held and the count of pods
		// with an address has not moved for 3 s (12 polls).
		if holder != "" && (len(without) == 0 || stable >= 12) {
			return true, nil
		}
		return poll.Not("%d throwaways with an address, %d without; victim address %s held by %q", with, len(without), ip, holder)
	})
	if err != nil {
		return "", fmt.Errorf("could not force reuse of %s: %w", ip, err)
	}
	for _, name := range without {
		_ = pods.Delete(ctx, name, gentle)
	}
	for _, name := range without {
		if err := waitGone(ctx, env, name, time.Minute); err != nil {
			return "", err
		}
	}
	if err := pods.Delete(ctx, holder, gentle); err != nil {
		return "", fmt.Errorf("free %s: %w", ip, err)
	}
	if err := waitGone(ctx, env, holder, time.Minute); err != nil {
		return "", err
	}
	np, err := f.NewPod(fmt.Sprintf("%s-reuse-%d", f.By, time.Now().Unix()%100000), node)
	if err != nil {
		return "", err
	}
	if _, err := pods.Create(ctx, np, metav1.CreateOptions{}); err != nil {
		return "", fmt.Errorf("create pod of %s: %w", f.By, err)
	}
	var got string
	err = poll.Until(ctx, "new pod "+np.Name+" gets an address", 100*time.Millisecond, time.Minute, func(ctx context.Context) (bool, error) {
		p, err := pods.Get(ctx, np.Name, metav1.GetOptions{})
		if err != nil || p.Status.PodIP == "" {
			return poll.Not("no address yet")
		}
		got = p.Status.PodIP
		return true, nil
	})
	if err != nil {
		return "", err
	}
	if got != ip {
		return "", fmt.Errorf("could not force IP reuse: new pod %s of %s got %s, not the victim's %s", np.Name, f.By, got, ip)
	}
	return fmt.Sprintf("%s of pod %s (%s) taken by pod %s (%s), %s after the victim's deletion", ip, victim.Name, f.Victim, np.Name, f.By,
		time.Since(start).Round(time.Millisecond)), nil
}

// poolSize is the number of pod addresses the node's pod CIDR offers at
// most (a throwaway per address is enough to fill it).
func poolSize(ctx context.Context, env *Env, node string) (int, error) {
	n, err := env.Clientset.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return 0, fmt.Errorf("get node %s: %w", node, err)
	}
	_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
	if err != nil {
		return 0, fmt.Errorf("node %s pod CIDR %q: %w", node, n.Spec.PodCIDR, err)
	}
	ones, bits := cidr.Mask.Size()
	if bits-ones > 8 {
		return 0, fmt.Errorf("node %s pod CIDR %s is larger than /24: filling it would take too many pods; use a smaller node-cidr-mask-size (kind-config.yaml uses /27)", node, cidr)
	}
	return 1<<(bits-ones) - 2, nil
}
