package fault

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"

	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// IPReuse makes a pod of service By take the address of a pod of Victim.
// host-local (kindnetd's IPAM, and the offline node's) hands addresses out
// round-robin after the last one it reserved, so without help an address
// comes back only after the whole range has cycled. Four methods, chosen
// per victim in this order (chooseMethod), unless the spec forces one:
//
//   - Calico's own (MethodCalico), where Calico networks the victim (it
//     annotates its pods with cni.projectcalico.org/podIP): the new pod asks
//     for the address with the cni.projectcalico.org/ipAddrs annotation,
//     which Calico IPAM honours once the address is free. No node access.
//
//   - host-local state (MethodHostLocal), where the node's host-local keeps
//     its state in /var/lib/cni/networks/<network>/ (a file per address in
//     use, and last_reserved_ip.0) and the harness can run commands on the
//     node: once the victim's address file is gone, write the address
//     before it as the last reserved one; the next pod on the node gets the
//     victim's address.
//
//   - AWS VPC CNI cooldown (MethodAWS), where the cluster's IPAM is
//     the AWS VPC CNI (Env.IPAM): it hands out no address for a while after
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

// fillerLabel selects the filler pods of a namespace.
const fillerLabel = timeline.RoleLabel + "=" + timeline.RoleIPFiller

// gentle deletes with a 1 s grace, not forced: a forced delete drops the
// API object at once while the kubelet may still be setting up or tearing
// down the pod's network, so its address would be taken or freed later,
// behind our back. A graceful delete ends only when the kubelet is done.
var gentle = metav1.DeleteOptions{GracePeriodSeconds: new(int64(1))}

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
// (Env.IPAM, from the preflight).
const (
	IPAMHostLocal = "host-local"
	IPAMCalico    = "calico"
	IPAMAWSVPC    = "aws-vpc-cni"
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
	f        IPReuse
	env      *Env
	method   string
	stateDir string // host-local's state folder on the node
	start    time.Time
	gone     time.Time // the victim's pod object gone
	victim   corev1.Pod
	ip       string
	node     string
	holder   string    // the filler holding the victim's address
	spare    []string  // fillers that got no address
	taker    string    // the pod of By
	got      string    // the address it got
	reused   time.Time // the taker had the victim's address
	served   time.Time // the taker's readiness probe passed
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

// chooseMethod takes the method the spec forces, else: Calico's where
// Calico annotates the victim, the AWS cooldown where the IPAM is the AWS
// VPC CNI, host-local state where the node shows it (a file named by the
// victim's address in /var/lib/cni/networks/<network>/) and the harness
// can run commands there; otherwise it fills the pool.
func (r *reuse) chooseMethod(ctx context.Context) error {
	if _, ok := r.victim.Annotations[calicoPodIP]; ok && (r.f.Method == "" || r.f.Method == MethodCalico) {
		r.method = MethodCalico
		return nil
	}
	if r.f.Method == MethodCalico {
		return fmt.Errorf("method calico: pod %s shows no %s annotation: Calico does not network it: %w", r.victim.Name, calicoPodIP, ErrCannotForce)
	}
	if r.env.IPAM == IPAMAWSVPC && (r.f.Method == "" || r.f.Method == MethodAWS) {
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

// steerable sets MethodHostLocal where the node shows host-local state for
// the victim's address and the harness can run commands there.
func (r *reuse) steerable(ctx context.Context) error {
	if r.f.Method == MethodPoolFill {
		return nil
	}
	if r.env.NodeExec == nil {
		if r.f.Method == MethodHostLocal {
			return fmt.Errorf("method host-local needs access to the node's files, which this cluster does not give: %w", ErrCannotForce)
		}
		return nil
	}
	out, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `for d in /var/lib/cni/networks/*/; do [ -e "$d$1" ] && echo "$d"; done; true`, "_", r.ip)
	if err != nil {
		r.env.Logf("ip-reuse: cannot look for host-local state on %s (%v): filling the pool", r.node, err)
		return nil
	}
	dirs := strings.Fields(out)
	if len(dirs) == 1 {
		r.method, r.stateDir = MethodHostLocal, dirs[0]
	} else if r.f.Method == MethodHostLocal {
		return fmt.Errorf("method host-local: node %s shows no host-local state for %s under /var/lib/cni/networks/: %w", r.node, r.ip, ErrCannotForce)
	} else {
		r.env.Logf("ip-reuse: node %s shows no single host-local state for %s under /var/lib/cni/networks/ (found %q): filling the pool", r.node, r.ip, out)
	}
	return nil
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

// steer waits until host-local has released the victim's address (its
// address file is gone: the kubelet releases it when it tears the sandbox
// down), then records the address before it as the last one reserved:
// host-local hands out the next free address after it. For the first
// address of the range the one before is outside the range, and host-local
// then starts at the range's start: the victim's address again.
func (r *reuse) steer(ctx context.Context) error {
	addr := r.stateDir + r.ip
	err := poll.Until(ctx, "host-local released "+r.ip+" on "+r.node, poll.Quick, func(ctx context.Context) (bool, error) {
		out, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `[ -e "$1" ] && echo held || echo free`, "_", addr)
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(out) != "free" {
			return poll.Not("%s still held", r.ip)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	prev, err := previousIP(r.ip)
	if err != nil {
		return err
	}
	if _, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `printf %s "$1" > "$2"`, "_", prev, r.stateDir+"last_reserved_ip.0"); err != nil {
		return fmt.Errorf("steer host-local on %s: %w", r.node, err)
	}
	return nil
}

// previousIP is the IPv4 address before ip.
func previousIP(ip string) (string, error) {
	a := net.ParseIP(ip).To4()
	if a == nil {
		return "", fmt.Errorf("%q is not an IPv4 address (host-local steering is IPv4 only)", ip)
	}
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n--
	return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).String(), nil
}

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
