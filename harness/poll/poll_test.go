package poll

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

var fast = Timing{Interval: time.Millisecond, Timeout: 50 * time.Millisecond}

func TestUntilOwnTimeoutSaysWhatAndLastReason(t *testing.T) {
	err := Until(context.Background(), "the moon", fast, func(context.Context) (bool, error) { return Not("still %s", "cheese") })
	if err == nil || !strings.Contains(err.Error(), "timed out after 50ms waiting for the moon: last seen: still cheese") {
		t.Fatalf("got %v", err)
	}
}

func TestUntilNamesTheOuterDeadline(t *testing.T) {
	cause := errors.New("the ipReuse fault's timeout of 20ms")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 20*time.Millisecond, cause)
	defer cancel()
	err := Until(ctx, "pod x gone", fast.For(time.Minute), func(context.Context) (bool, error) { return Not("there") })
	var st *Stopped
	if !errors.As(err, &st) || !errors.Is(err, cause) {
		t.Fatalf("want Stopped by %v, got %v", cause, err)
	}
	if !strings.Contains(err.Error(), "stopped after") || !strings.Contains(err.Error(), "ipReuse fault's timeout") || strings.Contains(err.Error(), "1m0s") {
		t.Fatalf("message: %v", err)
	}
}

func TestUntilSaysInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel(errors.New("interrupted (Ctrl-C)")) }()
	err := Until(ctx, "x", fast.For(time.Minute), func(context.Context) (bool, error) { return Not("no") })
	if err == nil || !strings.Contains(err.Error(), "interrupted (Ctrl-C)") {
		t.Fatalf("got %v", err)
	}
}

func TestUntilConditionErrorEndsAtOnce(t *testing.T) {
	boom := errors.New("boom")
	start := time.Now()
	err := Until(context.Background(), "x", fast.For(time.Minute), func(context.Context) (bool, error) { return false, boom })
	if !errors.Is(err, boom) || time.Since(start) > time.Second {
		t.Fatalf("got %v after %s", err, time.Since(start))
	}
}

func TestConditionsOnAFakeAPI(t *testing.T) {
	ctx := context.Background()
	now := metav1.Now()
	cs := fake.NewClientset(
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"s": "x"}}, Status: corev1.PodStatus{PodIP: "10.0.0.1"}},
		&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", Namespace: "ns", Labels: map[string]string{"s": "x"}, DeletionTimestamp: &now, Finalizers: []string{"f"}}},
	)
	check := func(name string, c Condition, want bool) {
		t.Helper()
		ok, err := c(ctx)
		var ny *notYet
		if err != nil && !errors.As(err, &ny) {
			t.Fatalf("%s: %v", name, err)
		}
		if ok != want {
			t.Fatalf("%s: got %v, want %v (%v)", name, ok, want, err)
		}
	}
	check("PodGone a", PodGone(cs, "ns", "a"), false)
	check("PodGone z", PodGone(cs, "ns", "z"), true)
	check("PodsGone", PodsGone(cs, "ns", "s=x"), false)
	check("PodsGone other", PodsGone(cs, "ns", "s=y"), true)
	check("NoPodTerminating", NoPodTerminating(cs, "ns"), false)
	check("NoPodTerminating other ns", NoPodTerminating(cs, "other"), true)
	var ip string
	check("PodAddressed", PodAddressed(cs, "ns", "a", &ip), true)
	if ip != "10.0.0.1" {
		t.Fatalf("ip %q", ip)
	}
	// b is terminating and not counted; a has an address.
	check("PodsAddressed 1", PodsAddressed(cs, "ns", "s=x", 1), true)
	check("PodsAddressed 2", PodsAddressed(cs, "ns", "s=x", 2), false)
	check("NamespaceGone", NamespaceGone(cs, "ns"), true)
}

// holds reports whether c holds now; a reason to go on (Not) is no error.
func holds(t *testing.T, c Condition) bool {
	t.Helper()
	ok, err := c(context.Background())
	var ny *notYet
	if err != nil && !errors.As(err, &ny) {
		t.Fatalf("condition failed: %v", err)
	}
	return ok
}

func TestDeploymentAvailable(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns"}, Status: appsv1.DeploymentStatus{AvailableReplicas: 1}}
	cs := fake.NewClientset(d)
	if !holds(t, DeploymentAvailable(cs, "ns", "d", 1)) {
		t.Error("1 of 1 available must hold")
	}
	if holds(t, DeploymentAvailable(cs, "ns", "d", 2)) {
		t.Error("1 of 2 available must not hold")
	}
	if holds(t, DeploymentAvailable(cs, "ns", "missing", 1)) {
		t.Error("a missing deployment must not hold")
	}
}

func TestRolloutComplete(t *testing.T) {
	two := int32(2)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "d", Namespace: "ns", Generation: 2}, Spec: appsv1.DeploymentSpec{Replicas: &two},
		// Mid-rollout: one new pod, three in all (an old one still a replica).
		Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2}}
	cs := fake.NewClientset(d)
	if holds(t, RolloutComplete(cs, "ns", "d", 2)) {
		t.Error("a rollout with an old replica left must not be complete")
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}
	if _, err := cs.AppsV1().Deployments("ns").UpdateStatus(context.Background(), d, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !holds(t, RolloutComplete(cs, "ns", "d", 2)) {
		t.Error("all replicas updated and available: complete")
	}
	if holds(t, RolloutComplete(cs, "ns", "d", 3)) {
		t.Error("a generation the controller has not observed yet must not be complete")
	}
}

func TestNamespaceGoneOnceDeleted(t *testing.T) {
	cs := fake.NewClientset(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kg-s"}})
	gone := NamespaceGone(cs, "kg-s")
	if holds(t, gone) {
		t.Fatal("a present namespace is not gone")
	}
	if err := cs.CoreV1().Namespaces().Delete(context.Background(), "kg-s", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !holds(t, gone) {
		t.Error("a deleted namespace is gone")
	}
}

// The CLI cancels with a cause: the error names it, and still says that
// the context was cancelled (or timed out).
func TestStoppedUnwrapsToCauseAndContextError(t *testing.T) {
	interrupted := errors.New("interrupted (Ctrl-C)")
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel(interrupted) }()
	err := Until(ctx, "x", fast.For(time.Minute), func(context.Context) (bool, error) { return Not("no") })
	if !errors.Is(err, interrupted) || !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is: cause %v, Canceled %v; err %v", errors.Is(err, interrupted), errors.Is(err, context.Canceled), err)
	}

	tctx, tcancel := context.WithTimeoutCause(context.Background(), 10*time.Millisecond, errors.New("the fault's timeout"))
	defer tcancel()
	err = Until(tctx, "y", fast.For(time.Minute), func(context.Context) (bool, error) { return Not("no") })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("errors.Is(err, DeadlineExceeded) false: %v", err)
	}

	plain, pcancel := context.WithCancel(context.Background())
	pcancel()
	err = Until(plain, "z", fast.For(time.Minute), func(context.Context) (bool, error) { return Not("no") })
	var st *Stopped
	if !errors.As(err, &st) || !errors.Is(err, context.Canceled) || strings.Count(err.Error(), "canceled") != 1 {
		t.Errorf("without a cause: %v", err)
	}
}
