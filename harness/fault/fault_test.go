package fault

import (
	"context"
	"errors"
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

func TestPreviousIP(t *testing.T) {
	for in, want := range map[string]string{"10.244.0.26": "10.244.0.25", "10.244.1.0": "10.244.0.255", "10.244.0.1": "10.244.0.0"} {
		if got, err := previousIP(in); err != nil || got != want {
			t.Errorf("previousIP(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
	if _, err := previousIP("fd00::1"); err == nil {
		t.Error("IPv6 must be refused with a reason")
	}
}

// The method is chosen from what the node shows: a host-local state file
// named by the victim's address, else pool filling where the node's pool
// is small enough, else the fault cannot be forced (inconclusive).
func TestChooseMethod(t *testing.T) {
	nodes := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/27"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "big"}, Spec: corev1.NodeSpec{PodCIDR: "10.0.0.0/16"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vpc"}},
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "kind24"}, Spec: corev1.NodeSpec{PodCIDR: "10.244.0.0/24"},
			Status: corev1.NodeStatus{Capacity: corev1.ResourceList{corev1.ResourcePods: resource.MustParse("110")}}},
	)
	for _, tc := range []struct {
		node   string
		out    string
		err    error
		exec   bool
		method string
		cannot string
	}{
		{node: "n", out: "/var/lib/cni/networks/kubegrace/\n", exec: true, method: MethodHostLocal},
		{node: "n", out: "", exec: true, method: MethodPoolFill},
		{node: "n", err: errors.New("no node"), exec: true, method: MethodPoolFill},
		{node: "n", exec: false, method: MethodPoolFill},
		{node: "big", exec: false, cannot: "larger than /24"},
		{node: "vpc", out: "", exec: true, cannot: "no pod CIDR"},
		{node: "kind24", exec: false, cannot: "254 addresses, and the node runs at most 110 pods"},
	} {
		env := &Env{Logf: t.Logf, Clientset: nodes}
		if tc.exec {
			env.NodeExec = func(context.Context, string, ...string) (string, error) { return tc.out, tc.err }
		}
		r := &reuse{env: env, ip: "10.244.0.9", node: tc.node}
		err := r.chooseMethod(context.Background())
		if tc.cannot != "" {
			if !errors.Is(err, ErrCannotForce) || !strings.Contains(err.Error(), tc.cannot) || !strings.Contains(err.Error(), "the address could not be reused") {
				t.Errorf("%+v: want an inconclusive error naming %q, got %v", tc, tc.cannot, err)
			}
			continue
		}
		if err != nil || r.method != tc.method {
			t.Errorf("%+v: method %q, err %v", tc, r.method, err)
		}
		if tc.method == MethodHostLocal && r.stateDir != "/var/lib/cni/networks/kubegrace/" {
			t.Errorf("state dir %q", r.stateDir)
		}
	}
}

// Where Calico networks the victim (its podIP annotation), the new pod asks
// Calico IPAM for the victim's address by annotation: no node access, no
// filling. Forcing calico elsewhere is inconclusive, with the reason.
func TestIPReuseWithCalico(t *testing.T) {
	victim := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-1", Annotations: map[string]string{"cni.projectcalico.org/podIP": "10.0.3.7/32"}}}
	r := &reuse{env: &Env{Logf: t.Logf}, victim: victim, ip: "10.0.3.7", node: "n"}
	if err := r.chooseMethod(context.Background()); err != nil || r.method != MethodCalico {
		t.Fatalf("method %q, err %v; want %q", r.method, err, MethodCalico)
	}
	if err := r.freeForNext(context.Background()); err != nil {
		t.Errorf("freeForNext with Calico: %v", err)
	}
	if got := r.takerAnnotations()["cni.projectcalico.org/ipAddrs"]; got != `["10.0.3.7"]` {
		t.Errorf("ipAddrs annotation %q", got)
	}

	plain := &reuse{f: IPReuse{Method: MethodCalico}, env: &Env{Logf: t.Logf}, victim: corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "orders-2"}}, ip: "10.244.0.9", node: "n"}
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
