// Package fault holds the faults a scenario applies, each a small value
// behind one interface. The runner records every fault's start and end on
// the timeline; a fault records what it did (victim, IPs) in its Detail.
package fault

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// Env is what faults act on: one scenario's namespace.
type Env struct {
	Clientset kubernetes.Interface
	Namespace string
	// NodeExec runs a command on a cluster node (kind's node handle), for
	// faults that must act below the Kubernetes API (SIGKILL a container).
	NodeExec func(ctx context.Context, node string, argv ...string) error
	// PauseImage is an image every node holds, for the pods that fill an IP pool.
	PauseImage string
	// Logf reports progress.
	Logf func(format string, args ...any)
}

// Fault is one disturbance of a running scenario.
type Fault interface {
	// Name says what the fault does, for the timeline and the report.
	Name() string
	// Inject applies the fault and returns once it is done (a rollout
	// complete, a pod gone), or an error saying why it could not be.
	// detail describes what was done (which pod, which IP).
	Inject(ctx context.Context, env *Env) (detail string, err error)
}

// Pods returns the live (not terminating) pods of service, oldest first.
func Pods(ctx context.Context, env *Env, service string) ([]corev1.Pod, error) {
	list, err := env.Clientset.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: observe.ServiceLabel + "=" + service,
	})
	if err != nil {
		return nil, fmt.Errorf("list pods of %s: %w", service, err)
	}
	var live []corev1.Pod
	for _, p := range list.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			live = append(live, p)
		}
	}
	slices.SortFunc(live, func(a, b corev1.Pod) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return live, nil
}

func podAt(ctx context.Context, env *Env, service string, index int) (corev1.Pod, error) {
	pods, err := Pods(ctx, env, service)
	if err != nil {
		return corev1.Pod{}, err
	}
	if index >= len(pods) {
		return corev1.Pod{}, fmt.Errorf("service %s has %d live pods, no pod %d", service, len(pods), index)
	}
	return pods[index], nil
}

// waitGone waits until the named pod object no longer exists.
func waitGone(ctx context.Context, env *Env, name string, timeout time.Duration) error {
	return poll.Until(ctx, "pod "+name+" gone", 100*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		_, err := env.Clientset.CoreV1().Pods(env.Namespace).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return poll.Not("still there (%v)", err)
	})
}

func graceOf(p corev1.Pod) time.Duration {
	if p.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return 30 * time.Second
}

// RollingUpdate restarts a service's Deployment (a new template
// annotation, as `kubectl rollout restart` does) with the given strategy and
// waits until the rollout is complete. Old pods may still be terminating
// then: that is where the scenario's observation goes on.
type RollingUpdate struct {
	Service                  string
	MaxSurge, MaxUnavailable *int32
	Timeout                  time.Duration
}

func (f RollingUpdate) Name() string { return "rolling update of " + f.Service }

func (f RollingUpdate) Inject(ctx context.Context, env *Env) (string, error) {
	deps := env.Clientset.AppsV1().Deployments(env.Namespace)
	d, err := deps.Get(ctx, f.Service, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("get deployment %s: %w", f.Service, err)
	}
	ru := &appsv1.RollingUpdateDeployment{}
	if f.MaxSurge != nil {
		v := intstr.FromInt32(*f.MaxSurge)
		ru.MaxSurge = &v
	}
	if f.MaxUnavailable != nil {
		v := intstr.FromInt32(*f.MaxUnavailable)
		ru.MaxUnavailable = &v
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: ru}
	if d.Spec.Template.Annotations == nil {
		d.Spec.Template.Annotations = map[string]string{}
	}
	d.Spec.Template.Annotations["kubegrace.io/restartedAt"] = time.Now().UTC().Format(time.RFC3339Nano)
	if d, err = deps.Update(ctx, d, metav1.UpdateOptions{}); err != nil {
		return "", fmt.Errorf("restart deployment %s: %w", f.Service, err)
	}
	gen := d.Generation
	timeout := f.Timeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	err = poll.Until(ctx, "rollout of "+f.Service+" complete", 250*time.Millisecond, timeout, func(ctx context.Context) (bool, error) {
		d, err := deps.Get(ctx, f.Service, metav1.GetOptions{})
		if err != nil {
			return poll.Not("%v", err)
		}
		want := *d.Spec.Replicas
		st := d.Status
		if st.ObservedGeneration < gen || st.UpdatedReplicas != want || st.AvailableReplicas != want || st.Replicas != want {
			return poll.Not("updated %d, available %d, total %d of %d", st.UpdatedReplicas, st.AvailableReplicas, st.Replicas, want)
		}
		return true, nil
	})
	return fmt.Sprintf("maxSurge %s, maxUnavailable %s", intOr(f.MaxSurge, "25%"), intOr(f.MaxUnavailable, "25%")), err
}

func intOr(p *int32, def string) string {
	if p == nil {
		return def
	}
	return fmt.Sprint(*p)
}

// PodDelete deletes one pod with its own grace period (the kubelet sends
// SIGTERM to PID 1, SIGKILL after the grace) and waits until it is gone.
type PodDelete struct {
	Service string
	Index   int
}

func (f PodDelete) Name() string { return fmt.Sprintf("delete pod %d of %s", f.Index, f.Service) }

func (f PodDelete) Inject(ctx context.Context, env *Env) (string, error) {
	p, err := podAt(ctx, env, f.Service, f.Index)
	if err != nil {
		return "", err
	}
	if err := env.Clientset.CoreV1().Pods(env.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
		return "", fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	detail := fmt.Sprintf("pod %s (%s)", p.Name, p.Status.PodIP)
	return detail, waitGone(ctx, env, p.Name, graceOf(p)+time.Minute)
}

// PodKill SIGKILLs a pod's app container on its node (crictl stop
// --timeout 0), as an OOM kill or crash would: no SIGTERM, no shutdown hook.
// The pod stays and the kubelet restarts the container.
type PodKill struct {
	Service string
	Index   int
}

func (f PodKill) Name() string { return fmt.Sprintf("SIGKILL pod %d of %s", f.Index, f.Service) }

func (f PodKill) Inject(ctx context.Context, env *Env) (string, error) {
	p, err := podAt(ctx, env, f.Service, f.Index)
	if err != nil {
		return "", err
	}
	var id string
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == observe.AppContainer {
			_, id, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if id == "" {
		return "", fmt.Errorf("pod %s has no running app container", p.Name)
	}
	if env.NodeExec == nil {
		return "", fmt.Errorf("pod kill needs node access")
	}
	if err := env.NodeExec(ctx, p.Spec.NodeName, "crictl", "stop", "--timeout", "0", id); err != nil {
		return "", fmt.Errorf("SIGKILL container of pod %s on %s: %w", p.Name, p.Spec.NodeName, err)
	}
	return fmt.Sprintf("pod %s (%s), container %.12s", p.Name, p.Status.PodIP, id), nil
}

// Wait does nothing for a while: time for checks to run, windows to open.
type Wait struct{ For time.Duration }

func (f Wait) Name() string { return "wait " + f.For.String() }

func (f Wait) Inject(ctx context.Context, _ *Env) (string, error) {
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case <-time.After(f.For):
		return "", nil
	}
}
