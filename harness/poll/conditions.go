package poll

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The Kubernetes conditions the harness waits on, each written once (as
// e2e-framework's klient/wait/conditions names them).

// PodGone holds once the pod object no longer exists: the kubelet has
// finished with it and its address is free.
func PodGone(cs kubernetes.Interface, ns, name string) Condition {
	return func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return Not("get pod: %v", err)
		}
		return Not("pod %s still there", name)
	}
}

// PodsGone holds once no pod matching selector ("" for all) is left in ns.
func PodsGone(cs kubernetes.Interface, ns, selector string) Condition {
	return func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return Not("list pods: %v", err)
		}
		if n := len(l.Items); n > 0 {
			return Not("%d pod(s) left, e.g. %s", n, l.Items[0].Name)
		}
		return true, nil
	}
}

// NoPodTerminating holds once no pod of ns has a deletion timestamp: every
// pod being deleted has finished its grace period.
func NoPodTerminating(cs kubernetes.Interface, ns string) Condition {
	return func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return Not("list pods: %v", err)
		}
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil {
				return Not("pod %s still terminating", p.Name)
			}
		}
		return true, nil
	}
}

// NamespaceGone holds once the namespace object no longer exists.
func NamespaceGone(cs kubernetes.Interface, ns string) Condition {
	return func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return Not("get namespace: %v", err)
		}
		return Not("namespace %s still there", ns)
	}
}

// DeploymentAvailable holds once the deployment has at least want
// available replicas.
func DeploymentAvailable(cs kubernetes.Interface, ns, name string, want int32) Condition {
	return func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Not("get deployment: %v", err)
		}
		if d.Status.AvailableReplicas < want {
			return Not("%d of %d available", d.Status.AvailableReplicas, want)
		}
		return true, nil
	}
}

// RolloutComplete holds once the deployment has observed generation gen
// and all its replicas are updated and available, with no old ones left
// (old pods may still be terminating: they are no longer replicas).
func RolloutComplete(cs kubernetes.Interface, ns, name string, gen int64) Condition {
	return func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Not("get deployment: %v", err)
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		st := d.Status
		if st.ObservedGeneration < gen || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
			return Not("updated %d, available %d, total %d of %d", st.UpdatedReplicas, st.AvailableReplicas, st.Replicas, want)
		}
		return true, nil
	}
}

// PodAddressed holds once the pod has an address in the API, and stores it
// in *ip.
func PodAddressed(cs kubernetes.Interface, ns, name string, ip *string) Condition {
	return func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return Not("get pod: %v", err)
		}
		if p.Status.PodIP == "" {
			return Not("pod %s has no address yet (phase %s)", name, p.Status.Phase)
		}
		*ip = p.Status.PodIP
		return true, nil
	}
}

// PodsAddressed holds once at least want live pods match selector and every
// live one has an address in the API: faults that act on addresses (IP
// reuse) need them, and the kubelet reports them some time after the app
// inside is already serving.
func PodsAddressed(cs kubernetes.Interface, ns, selector string, want int) Condition {
	return func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return Not("list pods: %v", err)
		}
		live := 0
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
				continue
			}
			if p.Status.PodIP == "" {
				return Not("pod %s has no address yet", p.Name)
			}
			live++
		}
		if live < want {
			return Not("%d of %d pods", live, want)
		}
		return true, nil
	}
}

// PodReady holds once a live pod matching selector is Ready, and stores
// its name in *name: a tunnel to a pod needs one whose app listens.
func PodReady(cs kubernetes.Interface, ns, selector string, name *string) Condition {
	return func(ctx context.Context) (bool, error) {
		l, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return Not("list pods: %v", err)
		}
		seen := []string{}
		for _, p := range l.Items {
			if p.DeletionTimestamp != nil {
				continue
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					*name = p.Name
					return true, nil
				}
			}
			seen = append(seen, p.Name+" "+string(p.Status.Phase))
		}
		if len(seen) == 0 {
			return Not("no pod matches %s yet", selector)
		}
		return Not("no pod ready yet: %s", strings.Join(seen, ", "))
	}
}
