package run

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// Steps is one scenario run, in order. Teardown is not a step: it runs
// the cleanups the steps registered, whatever happened.
func Steps() []Step {
	return []Step{
		{"namespace", PhaseSetup, createNamespace},
		{"observe pods", PhaseSetup, observePods},
		// Consul ready (known leader) before the services start: apps that
		// registered while Consul was still starting were seen to get 404s
		// for 30 s and restart, which costs more than waiting the ~2 s.
		{"consul", PhaseSetup, deployConsul},
		// Callers start with the services (they wait for a passing
		// instance before their first call), so their pods start while the
		// apps do: 1.5-2.5 s less per scenario than starting them after.
		{"services", PhaseSetup, createServices},
		{"callers", PhaseSetup, createCallers},
		{"observe consul", PhaseSetup, observeConsul},
		{"services ready", PhaseSetup, servicesReady},
		{"callers ready", PhaseSetup, callersReady},
		{"faults", PhaseFaults, injectFaults},
		{"drain", PhaseDrain, drain},
		{"settle", PhaseSettle, settle},
	}
}

// nodeSelector pins a pod to the scenario's node, if it has one.
func (s *State) nodeSelector() map[string]string {
	if s.Node == "" {
		return nil
	}
	return map[string]string{corev1.LabelHostname: s.Node}
}

// createNamespace deletes a leftover of an interrupted run, creates the
// scenario's namespace and registers its teardown.
func createNamespace(ctx context.Context, s *State) error {
	if err := deleteNamespace(ctx, s, true); err != nil {
		return fmt.Errorf("leftover of an earlier run: %w", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.Namespace,
		Labels: labels.PartOf()}}
	if _, err := s.Clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", s.Namespace, err)
	}
	s.Runner.track(s.Namespace, true)
	s.OnTeardown("delete namespace "+s.Namespace, func(ctx context.Context) error {
		err := deleteNamespace(ctx, s, false)
		if err == nil {
			s.Runner.track(s.Namespace, false)
		}
		return err
	})
	return nil
}

// deleteNamespace deletes the scenario's namespace. Its pods are stopped
// at once (1 s grace, not forced: a pod is gone only once the kubelet has
// released its address, which the next scenario needs) and waited for.
// With whole, it also waits for the namespace object itself, which the
// namespace controller finalizes some seconds later; the end of a scenario
// does not need to wait for that.
func deleteNamespace(ctx context.Context, s *State, whole bool) error {
	cs, ns := s.Clientset, s.Namespace
	err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	one := int64(1)
	if err := cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &one}, metav1.ListOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete pods of %s: %w", ns, err)
	}
	if !whole {
		return poll.Until(ctx, "pods of namespace "+ns+" gone", poll.Steady.For(TeardownTimeout), poll.PodsGone(cs, ns, ""))
	}
	return poll.Until(ctx, "namespace "+ns+" gone", poll.Steady.For(TeardownTimeout), poll.NamespaceGone(cs, ns))
}

func observePods(ctx context.Context, s *State) error {
	w := observe.Start(ctx, &observe.Pods{Clientset: s.Clientset, Namespace: s.Namespace, Rec: s.Rec, Scenario: s.Spec.Name, Index: s.Runner.PodIndex})
	s.OnTeardown("stop the pod observer", func(context.Context) error { return w.Stop() })
	return nil
}

func deployConsul(ctx context.Context, s *State) error {
	s.Logf("deploying Consul, then %d service(s), in namespace %s", len(s.Spec.Services), s.Namespace)
	c, err := consul.Deploy(ctx, s.Runner.Client, consul.DeployOptions{Namespace: s.Namespace, Image: s.Runner.Images.Consul, NodeSelector: s.nodeSelector()})
	s.Consul = c
	if c != nil {
		// Registered before the Consul observer's stop, so it runs after it.
		s.OnTeardown("close the tunnel to Consul", func(context.Context) error {
			if n, last := c.Tunnel.Reforwards(); n > 0 {
				s.Logf("the tunnel to Consul was re-opened %d time(s); last break: %v", n, last)
			}
			c.Close()
			return nil
		})
	}
	return err
}

func createServices(ctx context.Context, s *State) error {
	for _, svc := range s.Spec.Services {
		w := svc.Workload()
		w.Pull = s.Runner.Images.Pulled
		d, err := workload.Deployment(s.Namespace, w, s.Runner.Images.Fixture, s.Consul.ServiceAddr)
		if err == nil {
			d.Spec.Template.Spec.NodeSelector = s.nodeSelector()
			_, err = s.Clientset.AppsV1().Deployments(s.Namespace).Create(ctx, d, metav1.CreateOptions{})
		}
		if err != nil {
			return fmt.Errorf("create service %s: %w", svc.Name, err)
		}
	}
	return nil
}

func observeConsul(ctx context.Context, s *State) error {
	w := observe.Start(ctx, &observe.Consul{Client: s.Consul.Client, Services: s.Spec.ServiceNames(), Rec: s.Rec, Scenario: s.Spec.Name})
	s.OnTeardown("stop the Consul observer", func(context.Context) error { return w.Stop() })
	return nil
}

// servicesReady waits until every service has its replicas passing in
// Consul and their pods' addresses in the API: the app can register and
// pass its check before the kubelet has reported the pod's IP, and faults
// that act on addresses need it.
func servicesReady(ctx context.Context, s *State) error {
	s.Logf("waiting for %d service(s) to pass their Consul checks", len(s.Spec.Services))
	for _, svc := range s.Spec.Services {
		want := int(max(svc.Replicas, 1))
		sel := workload.ServiceLabel + "=" + svc.Name
		var err error
		if svc.RegistersInConsul() {
			err = poll.Until(ctx, fmt.Sprintf("%d passing instances of %s", want, svc.Name), poll.Steady, consul.Passing(s.Consul.Client, svc.Name, want))
		} else {
			err = poll.Until(ctx, fmt.Sprintf("%d ready pods of %s", want, svc.Name), poll.Steady, poll.DeploymentAvailable(s.Clientset, s.Namespace, svc.Name, int32(want)))
		}
		if err == nil {
			err = poll.Until(ctx, fmt.Sprintf("addresses of the %d pods of %s", want, svc.Name), poll.Steady, poll.PodsAddressed(s.Clientset, s.Namespace, sel, want))
		}
		if err != nil {
			hint := ""
			if svc.Image != "" {
				port := svc.Port
				if port == 0 {
					port = workload.DefaultPort
				}
				hint = fmt.Sprintf(" (service %s: image %s; its readiness probe checks port %d%s: is that the port the app opens?)", svc.Name, svc.Image, port, map[bool]string{true: " path " + svc.HealthPath}[svc.HealthPath != ""])
			}
			return fmt.Errorf("%w%s%s", err, hint, logTail(s, sel))
		}
	}
	return nil
}

// logTail is the last lines of the app containers' logs of the pods
// matching sel, for an error that says why a service never got ready.
func logTail(s *State, sel string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pods, err := s.Clientset.CoreV1().Pods(s.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil || len(pods.Items) == 0 {
		return ""
	}
	var b strings.Builder
	lines := int64(15)
	for _, p := range pods.Items {
		raw, err := s.Clientset.CoreV1().Pods(s.Namespace).GetLogs(p.Name, &corev1.PodLogOptions{Container: workload.AppContainer, TailLines: &lines}).DoRaw(ctx)
		if err != nil {
			fmt.Fprintf(&b, "\n  pod %s: no log (%v)", p.Name, err)
			continue
		}
		fmt.Fprintf(&b, "\n  last lines of pod %s:", p.Name)
		for _, l := range strings.Split(strings.TrimRight(string(raw), "\n"), "\n") {
			b.WriteString("\n    " + l)
		}
	}
	return b.String()
}

func createCallers(ctx context.Context, s *State) error {
	for i, c := range s.Spec.Callers {
		iv := c.Interval.D()
		if iv == 0 {
			iv = workload.DefaultCallInterval
		}
		d := workload.Caller(s.Namespace, callerName(i, c.Service), c.Service, s.Runner.Images.Fixture, s.Consul.ServiceAddr, iv)
		d.Spec.Template.Spec.NodeSelector = s.nodeSelector()
		if _, err := s.Clientset.AppsV1().Deployments(s.Namespace).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create caller of %s: %w", c.Service, err)
		}
	}
	return nil
}

func callersReady(ctx context.Context, s *State) error {
	for i, c := range s.Spec.Callers {
		name := callerName(i, c.Service)
		if err := poll.Until(ctx, "caller "+name+" available", poll.Steady, poll.DeploymentAvailable(s.Clientset, s.Namespace, name, 1)); err != nil {
			return err
		}
	}
	return nil
}

func callerName(i int, service string) string { return fmt.Sprintf("caller-%d-%s", i, service) }

// injectFaults runs the spec's faults in order, each recorded by
// fault.Inject.
func injectFaults(ctx context.Context, s *State) error {
	env := &fault.Env{Clientset: s.Clientset, Namespace: s.Namespace, NodeExec: s.Runner.NodeExec, PauseImage: s.Runner.Images.Pause, Logf: s.Logf,
		IPAM: s.Runner.IPAM, IPCooldown: s.Runner.IPCooldown, Networks: s.Runner.Networks,
		DeleteRequested: func(pod string) {
			s.Rec.Record(time.Now(), timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessDeleteRequested, Scenario: s.Spec.Name, Pod: pod})
		}}
	for i, fs := range s.Spec.Faults {
		f := fs.Fault()
		s.Logf("fault %d: %s", i+1, f.Name())
		out, err := fault.Inject(ctx, f, i+1, env, s.Rec, s.Spec.Name)
		s.Result.Faults = append(s.Result.Faults, out.Detail)
		s.Result.Forcing += out.Forcing
		if err != nil {
			return fmt.Errorf("fault %d (%s): %w", i+1, f.Name(), err)
		}
	}
	return nil
}

// drain waits until pods still terminating have finished (their grace
// periods): the longest grace of the spec, plus time for the kubelet.
func drain(ctx context.Context, s *State) error {
	var longest time.Duration
	for _, svc := range s.Spec.Services {
		longest = max(longest, svc.Grace())
	}
	return poll.Until(ctx, "terminating pods gone", poll.Steady.For(longest+2*time.Minute), poll.NoPodTerminating(s.Clientset, s.Namespace))
}

func settle(ctx context.Context, s *State) error { return poll.Sleep(ctx, s.Spec.Settle.D()) }
