package fault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// IPReuse makes a pod of service By take the address of a pod of Victim.
// host-local (kindnetd's IPAM, and the offline node's) hands addresses out
// round-robin after the last one it reserved, so without help an address
// comes back only after the whole range has cycled. Four methods, chosen
// per victim in this order (chooseMethod), unless the spec forces one:
//
//   - Calico's own (MethodCalico), where the IPAM is calico-ipam and Calico
//     networks the victim (it annotates its pods with
//     cni.projectcalico.org/podIP): the new pod asks for the address with
//     the cni.projectcalico.org/ipAddrs annotation, which Calico IPAM
//     honours once the address is free. No node access.
//
//   - host-local state (MethodHostLocal), where the node's pod network (the
//     CNI config its runtime uses) is host-local and the harness can run
//     commands on the node: host-local keeps a file per address in use and
//     a cursor per range set (last_reserved_ip.N) in its state folder
//     (dataDir/<network>; kindnetd's is /run/cni-ipam-state/kindnet). Once
//     the victim's address file is gone, write the cursor that makes the
//     victim's address the next free one (cni.Network.Steer), under
//     host-local's lock; the next pod on the node gets it.
//
//   - AWS VPC CNI cooldown (MethodAWS), where the node's IPAM is
//     the AWS VPC CNI: it hands out no address for a while after
//     its pod ends (IP_COOLDOWN_PERIOD, 30 s by default). Filler pods take
//     every other free address meanwhile (and a filler that got the
//     victim's address gives it back, which cools it down again); once the
//     cooldown is over, the victim's address is the only free one on the
//     node once the cooldown and a second have passed.
//
//   - pool exhaustion (MethodPoolFill), with any IPAM: fill the node's pod IP
//     pool with filler pause pods pinned to it until some get no address,
//     delete the address-less ones and then the one holding the victim's
//     address, so the victim's is the only free one.
//
// The steps: find the victim and choose the method; delete the victim (its
// entrypoint decides how it ends) and wait until it is gone; free the
// victim's address for the next pod (steer, or fill and free); start a pod
// of By on that node from By's own pod template (read from its Deployment);
// check it got the victim's address (never a pass otherwise); remove the
// fillers (always; an error doing so is reported).
type IPReuse struct {
	Victim string // service
	Index  int
	By     string // service whose new pod takes the address
	// Timeout bounds the whole fault (default 3m).
	Timeout time.Duration
	// Method, if set, forces one of Methods (its Detail name); by default
	// it is chosen per victim (chooseMethod).
	Method string
}

func (f IPReuse) Name() string {
	return fmt.Sprintf("IP reuse: a pod of %s takes the address of pod %d of %s", f.By, f.Index, f.Victim)
}

// Needs: the node's IP pool to itself, since pods of any other scenario on
// that node would take the freed addresses.
func (f IPReuse) Needs() Needs { return Needs{NodeToItself: true} }

// The reuse methods (in the fault's detail, so run.json records which).
const (
	MethodHostLocal = "host-local state"
	MethodPoolFill  = "pool exhaustion"
	MethodCalico    = "Calico ipAddrs annotation"
	MethodAWS       = "AWS VPC CNI cooldown"
)

// Methods is the one table of reuse methods: the name a spec forces one
// by (ipReuse.method) and the name the fault's detail records. Spec
// validation, the JSON Schema and the fault read it.
var Methods = []struct{ Spec, Detail string }{
	{"host-local", MethodHostLocal},
	{"calico", MethodCalico},
	{"aws", MethodAWS},
	{"pool", MethodPoolFill},
}

// MethodSpecNames are the names a spec may force a method by.
func MethodSpecNames() []string {
	out := make([]string, len(Methods))
	for i, m := range Methods {
		out[i] = m.Spec
	}
	return out
}

// MethodOfSpec is the method a spec's ipReuse.method names ("" for none
// or an unknown name).
func MethodOfSpec(name string) string {
	for _, m := range Methods {
		if m.Spec == name {
			return m.Detail
		}
	}
	return ""
}

// The IPAM families the IP reuse fault has a way of its own for
// (Env.IPAM, from the preflight; cni's one vocabulary).
const (
	IPAMHostLocal = cni.FamilyHostLocal
	IPAMCalico    = cni.FamilyCalico
	IPAMAWSVPC    = cni.FamilyAWSVPC
)

// AWSCooldown is the AWS VPC CNI's default IP cooldown.
const AWSCooldown = 30 * time.Second

// Calico's pod annotations: the address it gave a pod, and the addresses a
// pod asks for.
const (
	calicoPodIP   = "cni.projectcalico.org/podIP"
	calicoIPAddrs = "cni.projectcalico.org/ipAddrs"
)

// reuse is one IP reuse in progress: what each step learns for the next.
type reuse struct {
	f       IPReuse
	env     *Env
	method  string
	network cni.Network // the victim node's pod network, where steered
	start   time.Time
	gone    time.Time // the victim's pod object gone
	victim  corev1.Pod
	ip      string
	node    string
	holder  string    // the filler holding the victim's address
	spare   []string  // fillers that got no address
	taker   string    // the pod of By
	got     string    // the address it got
	reused  time.Time // the taker had the victim's address
	served  time.Time // the taker's readiness probe passed
	// serveWait bounds awaitServing (ServeTimeout unless a test says).
	serveWait time.Duration
}

func (f IPReuse) Inject(ctx context.Context, env *Env) (out Outcome, err error) {
	if f.Timeout == 0 {
		f.Timeout = 3 * time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, f.Timeout, fmt.Errorf("the ipReuse fault's timeout of %s", f.Timeout))
	defer cancel()
	r := &reuse{f: f, env: env, serveWait: ServeTimeout}
	defer func() {
		err = errors.Join(err, r.removeFillers())
		out.Detail = r.detail()
		if !r.gone.IsZero() {
			// Waiting for the victim to end is the scenario's, and so is
			// the taker's app starting; between them is the harness
			// forcing the reuse.
			out.Forcing = cmp.Or(r.reused, time.Now()).Sub(r.gone)
		}
	}()
	for _, step := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"find the victim", r.findVictim},
		{"choose the method", r.chooseMethod},
		{"delete the victim", r.deleteVictim},
		{"make the victim's address the next one", r.freeForNext},
		{"start a pod of " + f.By, r.startTaker},
		{"the pod of " + f.By + " serves", r.awaitServing},
	} {
		if err := step.do(ctx); err != nil {
			return out, fmt.Errorf("%s: %w", step.name, err)
		}
	}
	return out, nil
}

// ServeTimeout bounds the wait for the reusing pod to serve: a cold JVM
// takes seconds, an image that never serves makes the fault inconclusive.
const ServeTimeout = 2 * time.Minute

// awaitServing waits until the reusing pod is Ready (its readiness probe,
// the service's health path, passes): only then can a stale registration
// at its address pass again, so what follows the fault (a wait, callers'
// calls) counts from a window that can be open. A pod that never serves
// leaves nothing to measure: inconclusive, saying so.
func (r *reuse) awaitServing(ctx context.Context) error {
	err := poll.Until(ctx, "pod "+r.taker+" of "+r.f.By+" Ready (serving)", poll.Quick.For(r.serveWait), func(ctx context.Context) (bool, error) {
		p, err := r.env.Clientset.CoreV1().Pods(r.env.Namespace).Get(ctx, r.taker, metav1.GetOptions{})
		if err != nil {
			return poll.Not("%v", err)
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return poll.Not("phase %s, not Ready", p.Status.Phase)
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%w: the reusing pod %s never served within %s, so no stale registration could pass at %s: %v", ErrCannotForce, r.taker, r.serveWait, r.ip, err)
	}
	if err == nil {
		r.served = time.Now()
		r.env.Logf("ip-reuse: %s serves at %s %s after it got the address", r.taker, r.ip, r.served.Sub(r.reused).Round(time.Millisecond))
	}
	return err
}

func (r *reuse) detail() string {
	if r.got == "" {
		return fmt.Sprintf("victim %s (%s)", r.victim.Name, r.ip)
	}
	d := fmt.Sprintf("%s of pod %s (%s) taken by pod %s (%s) by %s, %s after the victim was gone (%s after its deletion)", r.ip, r.victim.Name, r.f.Victim, r.taker, r.f.By,
		r.method, cmp.Or(r.reused, time.Now()).Sub(r.gone).Round(time.Millisecond), cmp.Or(r.reused, time.Now()).Sub(r.start).Round(time.Millisecond))
	if !r.served.IsZero() {
		d += fmt.Sprintf("; serving %s later", r.served.Sub(r.reused).Round(time.Millisecond))
	}
	return d
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
	r.env.deleteRequested(r.victim.Name)
	if err := pods.Delete(ctx, r.victim.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete victim %s: %w", r.victim.Name, err)
	}
	if err := waitGone(ctx, r.env, r.victim); err != nil {
		return err
	}
	r.gone = time.Now()
	r.env.Logf("ip-reuse: victim %s (%s on %s) gone after %s; reusing its address by %s", r.victim.Name, r.ip, r.node, time.Since(r.start).Round(time.Millisecond), r.method)
	return nil
}

// chooseMethod takes the method the spec forces, else, by the victim
// node's IPAM family (family): Calico's where the IPAM is calico-ipam
// and Calico annotates the victim, the AWS cooldown where it is the AWS
// VPC CNI, host-local state where the node's network is host-local and
// can be steered (steerable); otherwise it fills the pool. All of it is
// decided before the victim is deleted.
func (r *reuse) chooseMethod(ctx context.Context) error {
	family := r.family()
	_, annotated := r.victim.Annotations[calicoPodIP]
	switch {
	case family == IPAMCalico && annotated && (r.f.Method == "" || r.f.Method == MethodCalico):
		r.method = MethodCalico
		return nil
	case r.f.Method == MethodCalico && family != IPAMCalico:
		// Calico writes its podIP annotation whatever the IPAM, and
		// honours ipAddrs only with calico-ipam (Canal is host-local).
		return fmt.Errorf("method calico: the IPAM on node %s is %s, not Calico IPAM, which alone honours %s: %w", r.node, cmp.Or(family, "unknown"), calicoIPAddrs, ErrCannotForce)
	case r.f.Method == MethodCalico:
		return fmt.Errorf("method calico: pod %s shows no %s annotation: Calico does not network it: %w", r.victim.Name, calicoPodIP, ErrCannotForce)
	case family == IPAMAWSVPC && (r.f.Method == "" || r.f.Method == MethodAWS):
		r.method = MethodAWS
		if _, err := freeSlots(ctx, r.env, r.node, ""); err != nil {
			return fmt.Errorf("the address could not be reused: %w: %w", err, ErrCannotForce)
		}
		return nil
	}
	if err := r.steerable(ctx); err != nil || r.method == MethodHostLocal {
		return err
	}
	// Filling: decided before the victim is deleted, so a pool that cannot
	// be filled leaves the scenario inconclusive, with nothing disturbed.
	r.method = MethodPoolFill
	if _, err := poolSize(ctx, r.env, r.node); err != nil {
		return fmt.Errorf("the address could not be reused: %w: %w", err, ErrCannotForce)
	}
	return nil
}

// family is the victim node's IPAM family: from the CNI config its
// runtime uses, where the harness read it (Env.Networks), else the
// preflight's hint from kube-system's objects (Env.IPAM).
func (r *reuse) family() string {
	if n, ok := r.env.Networks[r.node]; ok {
		return n.Family()
	}
	return r.env.IPAM
}

// freeForNext makes the victim's address the one the node hands out next
// (with Calico, the new pod asks for it by name: nothing to do).
func (r *reuse) freeForNext(ctx context.Context) error {
	switch r.method {
	case MethodCalico:
		return nil
	case MethodAWS:
		return r.coolDown(ctx)
	case MethodPoolFill:
		size, err := poolSize(ctx, r.env, r.node)
		if err != nil {
			return err
		}
		if err := r.fillPool(ctx, size, true); err != nil {
			return err
		}
		return r.freeAddress(ctx)
	}
	return r.steer(ctx)
}

// startTaker starts a pod of By from By's Deployment's pod template, pinned
// to the node, with only the service label: the Deployment selects by the
// service label and part-of (workload), so its ReplicaSet does not adopt
// the pod and scale one of its own down; a selector by the service label
// alone is refused.
func (r *reuse) startTaker(ctx context.Context) error {
	d, err := r.env.Clientset.AppsV1().Deployments(r.env.Namespace).Get(ctx, r.f.By, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("pod template of %s: %w", r.f.By, err)
	}
	spec := *d.Spec.Template.Spec.DeepCopy()
	spec.NodeName = r.node
	labels := map[string]string{workload.ServiceLabel: r.f.By}
	if sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector); err != nil || sel.Matches(k8slabels.Set(labels)) {
		return fmt.Errorf("deployment %s selects by the service label alone: its ReplicaSet would adopt the reusing pod", r.f.By)
	}
	r.taker = fmt.Sprintf("%s-reuse-%d", r.f.By, time.Now().Unix()%100000)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: r.taker, Namespace: r.env.Namespace, Labels: labels, Annotations: r.takerAnnotations()}, Spec: spec}
	if _, err := r.env.Clientset.CoreV1().Pods(r.env.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create pod of %s: %w", r.f.By, err)
	}
	if err := poll.Until(ctx, "new pod "+r.taker+" gets an address", poll.Quick, poll.PodAddressed(r.env.Clientset, r.env.Namespace, r.taker, &r.got)); err != nil {
		return err
	}
	if r.got != r.ip {
		return fmt.Errorf("address not reused: new pod %s of %s got %s, not the victim's %s", r.taker, r.f.By, r.got, r.ip)
	}
	r.reused = time.Now()
	return nil
}

// takerAnnotations are the new pod's annotations: with Calico, the request
// for the victim's address (a JSON list).
func (r *reuse) takerAnnotations() map[string]string {
	if r.method != MethodCalico {
		return nil
	}
	return map[string]string{calicoIPAddrs: fmt.Sprintf("[%q]", r.ip)}
}
