package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

type fakeFault struct {
	needs  Needs
	detail string
	err    error
	ran    bool
}

func (f *fakeFault) Name() string { return "fake" }
func (f *fakeFault) Needs() Needs { return f.needs }
func (f *fakeFault) Inject(context.Context, *Env) (Outcome, error) {
	f.ran = true
	time.Sleep(5 * time.Millisecond)
	return Outcome{Detail: f.detail, Forcing: time.Millisecond}, f.err
}

func TestInjectRecordsStartAndEnd(t *testing.T) {
	rec := timeline.NewRecorder(time.Now())
	f := &fakeFault{detail: "pod a (10.0.0.1)", err: errors.New("pod a still there")}
	got, err := Inject(context.Background(), f, 3, &Env{}, rec, "s")
	if !errors.Is(err, f.err) || got.Detail != "fake: pod a (10.0.0.1)" || got.Forcing != time.Millisecond {
		t.Fatalf("Inject = %+v, %v; want the end's detail and the fault's own forcing time", got, err)
	}
	ev := rec.Snapshot().Events
	if len(ev) != 2 {
		t.Fatalf("events %+v", ev)
	}
	start, end := ev[0], ev[1]
	if start.Kind != timeline.FaultStart || start.Detail != "fake" || start.Scenario != "s" || start.Source != timeline.SourceFault {
		t.Errorf("start %+v", start)
	}
	if end.Kind != timeline.FaultEnd || end.Detail != "fake: pod a (10.0.0.1)" || end.Reason != "pod a still there" || end.At < start.At+5*time.Millisecond {
		t.Errorf("end %+v (start at %v)", end, start.At)
	}
	if start.Index != 3 || end.Index != 3 {
		t.Errorf("start and end carry the fault's place: %d, %d; want 3", start.Index, end.Index)
	}
}

func TestInjectRefusesAFaultWhoseNeedsAreNotMet(t *testing.T) {
	rec := timeline.NewRecorder(time.Now())
	f := &fakeFault{needs: Needs{NodeAccess: true}}
	_, err := Inject(context.Background(), f, 1, &Env{}, rec, "s")
	if err == nil || !strings.Contains(err.Error(), "needs access to the cluster's nodes") || f.ran {
		t.Fatalf("err %v, ran %v", err, f.ran)
	}
	if n := len(rec.Snapshot().Events); n != 0 {
		t.Errorf("a refused fault recorded %d events", n)
	}
}

func TestFaultsDeclareTheirNeeds(t *testing.T) {
	if !(IPReuse{}).Needs().NodeToItself || (PodDelete{}).Needs().NodeToItself || !(PodKill{}).Needs().NodeAccess || (Wait{}).Needs() != (Needs{}) {
		t.Error("needs: IP reuse needs its node, pod kill node access, the others nothing")
	}
}

// The pod that takes the address is made from its service's own pod
// template, read from the cluster, with labels its Deployment does not
// select.
func TestIPReuseTakerFromTheServicesTemplate(t *testing.T) {
	sel := map[string]string{workload.ServiceLabel: "billing", "app.kubernetes.io/part-of": "kubegrace"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "billing", Namespace: "ns"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: sel},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sel},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "fixture:x", Env: []corev1.EnvVar{{Name: "FIXTURE_SERVICE_NAME", Value: "billing"}}}}},
			},
		},
	}
	cs := fake.NewClientset(dep)
	r := &reuse{f: IPReuse{By: "billing"}, env: &Env{Clientset: cs, Namespace: "ns"}, node: "node-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = r.startTaker(ctx) // the fake API never assigns an address
	p, err := cs.CoreV1().Pods("ns").Get(context.Background(), r.taker, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("taker pod: %v", err)
	}
	if p.Spec.NodeName != "node-1" || p.Spec.Containers[0].Image != "fixture:x" || p.Spec.Containers[0].Env[0].Value != "billing" {
		t.Errorf("taker spec %+v", p.Spec)
	}
	if p.Labels[workload.ServiceLabel] != "billing" || p.Labels["app.kubernetes.io/part-of"] != "" {
		t.Errorf("taker labels %v: the Deployment must not adopt it", p.Labels)
	}

	// A Deployment selecting by the service label alone would adopt it.
	solo := dep.DeepCopy()
	solo.Spec.Selector.MatchLabels = map[string]string{workload.ServiceLabel: "billing"}
	cs2 := fake.NewClientset(solo)
	r2 := &reuse{f: IPReuse{By: "billing"}, env: &Env{Clientset: cs2, Namespace: "ns"}, node: "node-1"}
	if err := r2.startTaker(context.Background()); err == nil || !strings.Contains(err.Error(), "would adopt") {
		t.Errorf("err %v", err)
	}
}

// The fault ends once the reusing pod serves (Ready), not a fixed time
// after it got the address; one that never serves is inconclusive, naming
// what did not happen.
func TestIPReuseWaitsForTheTakerToServe(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "billing-reuse-1", Namespace: "ns"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	cs := fake.NewClientset(pod)
	r := &reuse{f: IPReuse{By: "billing"}, env: &Env{Clientset: cs, Namespace: "ns", Logf: t.Logf}, taker: pod.Name, ip: "10.244.0.9", got: "10.244.0.9",
		reused: time.Now(), serveWait: 300 * time.Millisecond}
	err := r.awaitServing(context.Background())
	if !errors.Is(err, ErrCannotForce) || !strings.Contains(err.Error(), "never served") {
		t.Fatalf("a pod never Ready: %v; want inconclusive (ErrCannotForce) saying it never served", err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		ready := pod.DeepCopy()
		ready.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		_, _ = cs.CoreV1().Pods("ns").UpdateStatus(context.Background(), ready, metav1.UpdateOptions{})
	}()
	r.serveWait = 5 * time.Second
	start := time.Now()
	if err := r.awaitServing(context.Background()); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 150*time.Millisecond || r.served.IsZero() {
		t.Errorf("returned after %s (served %v): before the pod was Ready", waited, r.served)
	}
	if d := r.detail(); !strings.Contains(d, "serving") {
		t.Errorf("detail %q does not say when the pod served", d)
	}
}

// kindnetdNetwork is the pod network kind's kindnetd writes (ptp +
// host-local, state in /run/cni-ipam-state/kindnet) for 10.244.0.0/27.
func kindnetdNetwork(t *testing.T) cni.Network {
	t.Helper()
	n, err := cni.Parse("/etc/cni/net.d/10-kindnet.conflist", []byte(`{"cniVersion": "0.4.0", "name": "kindnet", "plugins": [
		{"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam-state", "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": "10.244.0.0/27"}]]}, "mtu": 1500},
		{"type": "portmap", "capabilities": {"portMappings": true}}]}`), "10.244.0.0/27")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fakeNode answers the commands steering runs on a node: the state
// folder's listing (held) and whether flock is there.
func fakeNode(state string, held []string, flock bool) func(context.Context, string, ...string) (string, error) {
	return func(_ context.Context, _ string, argv ...string) (string, error) {
		switch {
		case len(argv) == 3 && argv[0] == "ls" && argv[2] == state:
			return strings.Join(append([]string{"lock", "last_reserved_ip.0"}, held...), "\n") + "\n", nil
		case len(argv) == 3 && argv[2] == "command -v flock":
			if flock {
				return "/usr/bin/flock\n", nil
			}
			return "", errors.New("exit status 1")
		}
		return "", fmt.Errorf("no such file: %v", argv)
	}
}

// The method is chosen from what the node shows, before anything is
// disturbed: host-local steering where the node's CNI config is
// host-local, its state folder holds the victim's address, host-local's
// own allocator agrees and flock is there; else pool filling where the
// node's pool is small enough; else the fault cannot be forced
// (inconclusive).
func TestChooseMethod(t *testing.T) {
	nodes := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/27"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/16"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vpc"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind24"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}},
	)
	const state = "/run/cni-ipam-state/kindnet"
	kindnet := map[string]cni.Network{"n": kindnetdNetwork(t)}
	for _, tc := range []struct {
		name     string
		node     string
		exec     func(context.Context, string, ...string) (string, error)
		networks map[string]cni.Network
		force    string
		method   string
		cannot   string
	}{
		{name: "kindnetd steered", node: "n", exec: fakeNode(state, []string{"10.244.0.9", "10.244.0.10"}, true), networks: kindnet, method: MethodHostLocal},
		{name: "victim not held there", node: "n", exec: fakeNode(state, []string{"10.244.0.10"}, true), networks: kindnet, method: MethodPoolFill},
		{name: "no flock", node: "n", exec: fakeNode(state, []string{"10.244.0.9"}, false), networks: kindnet, method: MethodPoolFill},
		{name: "node not answering", node: "n", exec: func(context.Context, string, ...string) (string, error) { return "", errors.New("no node") }, networks: kindnet, method: MethodPoolFill},
		{name: "network not read", node: "n", exec: fakeNode(state, []string{"10.244.0.9"}, true), method: MethodPoolFill},
		{name: "no node access", node: "n", networks: kindnet, method: MethodPoolFill},
		{name: "host-local forced, not held", node: "n", exec: fakeNode(state, nil, true), networks: kindnet, force: MethodHostLocal, cannot: "does not hold 10.244.0.9"},
		{name: "a /16", node: "big", cannot: "larger than /24"},
		{name: "no pod CIDR", node: "vpc", cannot: "no pod CIDR"},
		{name: "kind's default /24", node: "kind24", cannot: "254 addresses, and the node runs at most 110 pods"},
	} {
		env := &Env{Logf: t.Logf, Clientset: nodes, NodeExec: tc.exec, Networks: tc.networks}
		r := &reuse{f: IPReuse{Method: tc.force}, env: env, ip: "10.244.0.9", node: tc.node}
		err := r.chooseMethod(context.Background())
		if tc.cannot != "" {
			if !errors.Is(err, ErrCannotForce) || !strings.Contains(err.Error(), tc.cannot) {
				t.Errorf("%s: want an inconclusive error naming %q, got %v", tc.name, tc.cannot, err)
			}
			continue
		}
		if err != nil || r.method != tc.method {
			t.Errorf("%s: method %q, err %v; want %q", tc.name, r.method, err, tc.method)
		}
		if tc.method == MethodHostLocal && r.network.StateDir != state {
			t.Errorf("%s: state dir %q, want kindnetd's %s", tc.name, r.network.StateDir, state)
		}
	}
}

// Steering writes, under host-local's lock, the cursor that makes the
// victim's address the next one, once its address file is gone.
func TestSteerWritesTheCursorUnderTheLock(t *testing.T) {
	const state = "/run/cni-ipam-state/kindnet"
	var wrote []string
	node := fakeNode(state, []string{"10.244.0.3", "10.244.0.4"}, true)
	env := &Env{Logf: t.Logf, NodeExec: func(ctx context.Context, n string, argv ...string) (string, error) {
		switch argv[0] {
		case "flock":
			wrote = argv
			return "", nil
		case "sh":
			if len(argv) == 5 && argv[4] == state+"/10.244.0.9" {
				return "free\n", nil
			}
		}
		return node(ctx, n, argv...)
	}}
	r := &reuse{env: env, ip: "10.244.0.9", node: "n", network: kindnetdNetwork(t)}
	if err := r.steer(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"flock", state + "/lock", "sh", "-c", `printf %s "$1" > "$2"`, "_", "10.244.0.8", state + "/last_reserved_ip.0"}
	if !slices.Equal(wrote, want) {
		t.Errorf("wrote %q\nwant  %q", wrote, want)
	}
}

// Where the node's IPAM is calico-ipam and Calico networks the victim (its
// podIP annotation), the new pod asks Calico IPAM for the victim's
// address by annotation: no node access, no filling. Calico annotates
// pods whatever the IPAM (Canal is host-local): there the annotation
// alone does not choose it, and forcing calico is inconclusive, with the
// reason.
func TestIPReuseWithCalico(t *testing.T) {
	calico, err := cni.Parse("/etc/cni/net.d/10-calico.conflist", []byte(`{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico", "ipam": {"type": "calico-ipam"}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}`), "")
	if err != nil {
		t.Fatal(err)
	}
	canal, err := cni.Parse("/etc/cni/net.d/10-canal.conflist", []byte(`{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico", "ipam": {"type": "host-local", "subnet": "usePodCidr"}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}`), "10.0.3.0/24")
	if err != nil {
		t.Fatal(err)
	}
	victim := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-1", Annotations: map[string]string{"cni.projectcalico.org/podIP": "10.0.3.7/32"}}}
	r := &reuse{env: &Env{Logf: t.Logf, Networks: map[string]cni.Network{"n": calico}}, victim: victim, ip: "10.0.3.7", node: "n"}
	if err := r.chooseMethod(context.Background()); err != nil || r.method != MethodCalico {
		t.Fatalf("method %q, err %v; want %q", r.method, err, MethodCalico)
	}
	if err := r.freeForNext(context.Background()); err != nil {
		t.Errorf("freeForNext with Calico: %v", err)
	}
	if got := r.takerAnnotations()["cni.projectcalico.org/ipAddrs"]; got != `["10.0.3.7"]` {
		t.Errorf("ipAddrs annotation %q", got)
	}
	// Without node access, the preflight's hint (calico-node) stands in.
	hinted := &reuse{env: &Env{Logf: t.Logf, IPAM: IPAMCalico}, victim: victim, ip: "10.0.3.7", node: "n"}
	if err := hinted.chooseMethod(context.Background()); err != nil || hinted.method != MethodCalico {
		t.Errorf("hinted: method %q, err %v", hinted.method, err)
	}

	onCanal := &reuse{f: IPReuse{Method: MethodCalico}, env: &Env{Logf: t.Logf, Networks: map[string]cni.Network{"n": canal}}, victim: victim, ip: "10.0.3.7", node: "n"}
	if err := onCanal.chooseMethod(context.Background()); !errors.Is(err, ErrCannotForce) || !strings.Contains(err.Error(), "not Calico IPAM") {
		t.Errorf("forced calico on Canal (host-local): %v", err)
	}
	canalPod := &reuse{env: &Env{Logf: t.Logf, Networks: map[string]cni.Network{"n": canal}, Clientset: fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.3.0/27"}})}, victim: victim, ip: "10.0.3.7", node: "n"}
	if err := canalPod.chooseMethod(context.Background()); err != nil || canalPod.method == MethodCalico {
		t.Errorf("an annotated pod on Canal: method %q, err %v; want anything but calico", canalPod.method, err)
	}
	plain := &reuse{f: IPReuse{Method: MethodCalico}, env: &Env{Logf: t.Logf, Networks: map[string]cni.Network{"n": calico}}, victim: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-2"}}, ip: "10.244.0.9", node: "n"}
	if err := plain.chooseMethod(context.Background()); !errors.Is(err, ErrCannotForce) || !strings.Contains(err.Error(), "Calico does not network it") {
		t.Errorf("forced calico on a pod Calico does not network: %v", err)
	}
	if (&reuse{method: MethodHostLocal}).takerAnnotations() != nil {
		t.Error("annotations without Calico")
	}
}

// On the AWS VPC CNI, the method is its cooldown: fillers for the node's
// free pod slots (its allocatable pods less those on it, the victim and
// host-network pods not counted), the ones left without an address
// deleted, then the cooldown waited out from the victim's end.
func TestIPReuseWithTheAWSCooldown(t *testing.T) {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-5"},
		Status: corev1.NodeStatus{Allocatable: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("6")}}}
	on := func(ns, name string, host bool, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: corev1.PodSpec{NodeName: "ip-10-0-1-5", HostNetwork: host}, Status: corev1.PodStatus{Phase: phase}}
	}
	cs := fake.NewClientset(node, on("kube-system", "aws-node-x", true, corev1.PodRunning), on("kube-system", "coredns-1", false, corev1.PodRunning),
		on("ns", "orders-1", false, corev1.PodRunning), on("ns", "done", false, corev1.PodSucceeded))
	env := &Env{Clientset: cs, Namespace: "ns", Logf: t.Logf, IPAM: IPAMAWSVPC, IPCooldown: 4 * time.Second, PauseImage: "pause"}
	r := &reuse{env: env, victim: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-1"}}, ip: "10.0.1.77", node: "ip-10-0-1-5"}
	if err := r.chooseMethod(context.Background()); err != nil || r.method != MethodAWS {
		t.Fatalf("method %q, err %v; want %q", r.method, err, MethodAWS)
	}
	if n, err := freeSlots(context.Background(), env, r.node, "orders-1"); err != nil || n != 5 {
		t.Errorf("free slots %d, %v; want 6 less coredns", n, err)
	}
	r.gone = time.Now()
	if err := r.freeForNext(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The fake API gives no filler an address: all are deleted again.
	left, err := cs.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{LabelSelector: fillerLabel})
	if err != nil || len(left.Items) != 0 || len(r.spare) != 5 {
		t.Errorf("fillers left %d (err %v), spare %d; want 5 created, all deleted", len(left.Items), err, len(r.spare))
	}
	// Filling settles in 3 s here; the 4 s cooldown and a second's margin
	// are waited out from the victim's end.
	if since := time.Since(r.gone); since < env.IPCooldown+time.Second {
		t.Errorf("returned %s after the victim was gone: the cooldown (and a second's margin) was not waited out", since)
	}

	noLimit := &reuse{env: &Env{Clientset: fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}}), Logf: t.Logf, IPAM: IPAMAWSVPC}, ip: "10.0.0.1", node: "n"}
	if err := noLimit.chooseMethod(context.Background()); !errors.Is(err, ErrCannotForce) {
		t.Errorf("a node that does not say its pod limit: %v", err)
	}
}

// A rolling update whose write conflicts with the Deployment controller's
// (the object changed since it was read) reads and writes again.
func TestRollingUpdateRetriesAConflict(t *testing.T) {
	dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "orders", Namespace: "ns"}}
	cs := fake.NewClientset(dep)
	conflicts := 0
	cs.PrependReactor("update", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			conflicts++
			return true, nil, apierrors.NewConflict(schema.GroupResource{Group: "apps", Resource: "deployments"}, "orders", errors.New("the object has been modified"))
		}
		return false, nil, nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := RollingUpdate{Service: "orders"}.Inject(ctx, &Env{Clientset: cs, Namespace: "ns"})
	if err != nil && strings.Contains(err.Error(), "restart deployment") {
		t.Fatalf("the conflict was not retried: %v", err)
	}
	got, _ := cs.AppsV1().Deployments("ns").Get(context.Background(), "orders", metav1.GetOptions{})
	if conflicts != 1 || got.Spec.Template.Annotations["kubegrace.io/restartedAt"] == "" {
		t.Errorf("conflicts %d, annotations %v: want one conflict, then the restart written", conflicts, got.Spec.Template.Annotations)
	}
}

// A pod deletion says when it asks the API, before it asks: kubelet_lag
// counts from there.
func TestPodDeleteRecordsItsRequestFirst(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-1", Namespace: "ns", Labels: map[string]string{workload.ServiceLabel: "orders"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	cs := fake.NewClientset(pod)
	var requested []string
	deletedAfter := -1
	cs.PrependReactor("delete", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		deletedAfter = len(requested)
		return false, nil, nil
	})
	env := &Env{Clientset: cs, Namespace: "ns", DeleteRequested: func(p string) { requested = append(requested, p) }}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := (PodDelete{Service: "orders"}).Inject(ctx, env); err != nil {
		t.Fatal(err)
	}
	if len(requested) != 1 || requested[0] != "orders-1" || deletedAfter != 1 {
		t.Errorf("requested %v, deletion sent after %d request(s): want orders-1 recorded before the API call", requested, deletedAfter)
	}
}
