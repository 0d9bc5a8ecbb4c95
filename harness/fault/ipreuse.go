package fault

import (
	"context"
	"fmt"
	"net"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// IPReuse makes a pod of service By take the address of a pod of Victim,
// deterministically and with any IPAM, by pool exhaustion. host-local
// (kindnetd's IPAM too) hands addresses out round-robin, so without this an
// address comes back only after the whole range has cycled. The steps:
//
//  1. delete the victim pod (its entrypoint decides how it ends) and wait
//     until it is gone, so its address is free;
//  2. fill the node's pod IP pool with filler pause pods pinned to that
//     node, until some get no address;
//  3. delete the address-less fillers (they would grab the next freed
//     address), then the one holding the victim's address;
//  4. start a pod of By on that node from By's own pod template (read from
//     its Deployment): the only free address is the victim's;
//  5. remove the remaining fillers (always, and an error doing so is
//     reported).
type IPReuse struct {
	Victim string // service
	Index  int
	By     string // service whose new pod takes the address
	// Timeout bounds the whole fault (default 3m).
	Timeout time.Duration
}

func (f IPReuse) Name() string {
	return fmt.Sprintf("IP reuse: a pod of %s takes the address of pod %d of %s", f.By, f.Index, f.Victim)
}

// Needs: the node's IP pool to itself, since pods of any other scenario on
// that node would take the freed addresses.
func (f IPReuse) Needs() Needs { return Needs{NodeToItself: true} }

// fillerLabel selects the filler pods of a namespace.
const fillerLabel = timeline.RoleLabel + "=" + timeline.RoleIPFiller

// gentle deletes with a 1 s grace, not forced: a forced delete drops the
// API object at once while the kubelet may still be setting up or tearing
// down the pod's network, so its address would be taken or freed later,
// behind our back. A graceful delete ends only when the kubelet is done.
var gentle = metav1.DeleteOptions{GracePeriodSeconds: new(int64(1))}

// reuse is one IP reuse in progress: what each step learns for the next.
type reuse struct {
	f      IPReuse
	env    *Env
	start  time.Time
	victim corev1.Pod
	ip     string
	node   string
	holder string   // the filler holding the victim's address
	spare  []string // fillers that got no address
	taker  string   // the pod of By
	got    string   // the address it got
}

func (f IPReuse) Inject(ctx context.Context, env *Env) (detail string, err error) {
	if f.Timeout == 0 {
		f.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.Timeout, fmt.Errorf("the ipReuse fault's timeout of %s", f.Timeout))
	defer cancel()
	r := &reuse{f: f, env: env}
	defer func() { err = errs(err, r.removeFillers()) }()
	for _, step := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"find the victim", r.findVictim},
		{"delete the victim", r.deleteVictim},
		{"fill the pool", r.fillPool},
		{"free the victim's address", r.freeAddress},
		{"start a pod of " + f.By, r.startTaker},
	} {
		if err := step.do(ctx); err != nil {
			return r.detail(), fmt.Errorf("%s: %w", step.name, err)
		}
	}
	if r.got != r.ip {
		return r.detail(), fmt.Errorf("address not reused: new pod %s of %s got %s, not the victim's %s", r.taker, f.By, r.got, r.ip)
	}
	return r.detail(), nil
}

func (r *reuse) detail() string {
	if r.got == "" {
		return fmt.Sprintf("victim %s (%s)", r.victim.Name, r.ip)
	}
	return fmt.Sprintf("%s of pod %s (%s) taken by pod %s (%s), %s after the victim's deletion", r.ip, r.victim.Name, r.f.Victim, r.taker, r.f.By,
		time.Since(r.start).Round(time.Millisecond))
}

func (r *reuse) findVictim(ctx context.Context) error {
	v, err := podAt(ctx, r.env, r.f.Victim, r.f.Index)
	if err != nil {
		return err
	}
	r.victim, r.ip, r.node = v, v.Status.PodIP, v.Spec.NodeName
	if r.ip == "" {
		return fmt.Errorf("victim pod %s has no address in the API yet", v.Name)
	}
	return nil
}

func (r *reuse) deleteVictim(ctx context.Context) error {
	r.start = time.Now()
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	if err := pods.Delete(ctx, r.victim.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete victim %s: %w", r.victim.Name, err)
	}
	if err := waitGone(ctx, r.env, r.victim); err != nil {
		return err
	}
	r.env.Logf("ip-reuse: victim %s (%s on %s) gone after %s; filling the pool", r.victim.Name, r.ip, r.node, time.Since(r.start).Round(time.Millisecond))
	return nil
}

// fillPool creates a filler per address of the node's pod CIDR and waits
// until every filler either has an address or has been refused one while
// the rest settled, with the victim's address among those held.
func (r *reuse) fillPool(ctx context.Context) error {
	size, err := poolSize(ctx, r.env, r.node)
	if err != nil {
		return err
	}
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
		// Done when the victim's address is held and the count of pods
		// with an address has not moved for 3 s (12 polls).
		if r.holder != "" && (len(r.spare) == 0 || stable >= 12) {
			return true, nil
		}
		return poll.Not("%d fillers with an address, %d without; victim address %s held by %q", with, len(r.spare), r.ip, r.holder)
	})
}

func (r *reuse) freeAddress(ctx context.Context) error {
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	for _, name := range append(r.spare, r.holder) {
		if err := pods.Delete(ctx, name, gentle); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete filler %s: %w", name, err)
		}
	}
	for _, name := range append(r.spare, r.holder) {
		if err := poll.Until(ctx, "filler "+name+" gone", poll.Quick, poll.PodGone(r.env.Clientset, r.env.Namespace, name)); err != nil {
			return err
		}
	}
	return nil
}

// startTaker starts a pod of By from By's Deployment's pod template, pinned
// to the node, with only the service label: the Deployment's selector must
// not match, or it would adopt the pod and scale one down.
func (r *reuse) startTaker(ctx context.Context) error {
	d, err := r.env.Clientset.AppsV1().Deployments(r.env.Namespace).Get(ctx, r.f.By, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("pod template of %s: %w", r.f.By, err)
	}
	spec := *d.Spec.Template.Spec.DeepCopy()
	spec.NodeName = r.node
	labels := map[string]string{observe.ServiceLabel: r.f.By, "kubegrace.io/ip-reuse": "true"}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || sel.Matches(k8slabels.Set(labels)) {
		return fmt.Errorf("deployment %s selects by the service label alone: its ReplicaSet would adopt the reusing pod", r.f.By)
	}
	r.taker = fmt.Sprintf("%s-reuse-%d", r.f.By, time.Now().Unix()%100000)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: r.taker, Namespace: r.env.Namespace, Labels: labels}, Spec: spec}
	if _, err := r.env.Clientset.CoreV1().Pods(r.env.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod of %s: %w", r.f.By, err)
	}
	return poll.Until(ctx, "new pod "+r.taker+" gets an address", poll.Quick, poll.PodAddressed(r.env.Clientset, r.env.Namespace, r.taker, &r.got))
}

// removeFillers deletes every filler and waits until they are gone, so the
// next scenario finds the pool free. It runs whatever happened before, on
// its own deadline, and its error is the fault's too.
func (r *reuse) removeFillers() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pods := r.env.Clientset.CoreV1().Pods(r.env.Namespace)
	if err := pods.DeleteCollection(ctx, gentle, metav1.ListOptions{LabelSelector: fillerLabel}); err != nil {
		return fmt.Errorf("remove filler pods: %w", err)
	}
	if err := poll.Until(ctx, "filler pods gone", poll.Steady.For(2*time.Minute), poll.PodsGone(r.env.Clientset, r.env.Namespace, fillerLabel)); err != nil {
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
