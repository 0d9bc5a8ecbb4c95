package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/e2e-framework/klient"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// Runner runs scenarios on one cluster.
type Runner struct {
	Client klient.Client
	// Images: the fixture and Consul images loaded into the cluster, and
	// an image every node holds for IP-pool filler pods.
	FixtureImage, ConsulImage, PauseImage string
	// NodeExec runs a command on a node (kind's node handle).
	NodeExec func(ctx context.Context, node string, argv ...string) error
	// Log receives progress lines.
	Log io.Writer
}

// Phases are the wall times of one scenario's steps, so a report can tell
// the harness's own overhead from the waits the scenario is made of
// (reports.NewTiming: faults, drain and settle are inherent, the rest is
// overhead).
type Phases struct {
	Setup    time.Duration `json:"setup_ns"`    // namespace, Consul, services passing, callers
	Faults   time.Duration `json:"faults_ns"`   // every fault, in order
	Drain    time.Duration `json:"drain_ns"`    // terminating pods finishing (grace periods)
	Settle   time.Duration `json:"settle_ns"`   // the spec's settle time
	Teardown time.Duration `json:"teardown_ns"` // namespace deletion
	Total    time.Duration `json:"total_ns"`
}

// Result is one scenario's run.
type Result struct {
	Spec     Spec
	Context  check.Context
	Phases   Phases
	Started  time.Time
	Finished time.Time
	// Faults describe what each fault did, in order.
	Faults []string
	Err    error
}

func (r *Runner) logf(spec, format string, args ...any) {
	if r.Log != nil {
		fmt.Fprintf(r.Log, "[%s %s] %s\n", time.Now().Format("15:04:05"), spec, fmt.Sprintf(format, args...))
	}
}

// Namespace is the namespace a scenario runs in.
func Namespace(s Spec) string { return "kg-" + s.Name }

// Run runs spec, recording onto rec. It always tears its namespace down.
func (r *Runner) Run(ctx context.Context, spec Spec, rec *timeline.Recorder) (res Result) {
	res = Result{Spec: spec, Started: time.Now()}
	grace := time.Duration(30) * time.Second
	if len(spec.Services) > 0 && spec.Services[0].GraceSeconds != nil {
		grace = time.Duration(*spec.Services[0].GraceSeconds) * time.Second
	}
	services := make([]string, len(spec.Services))
	for i, s := range spec.Services {
		services[i] = s.Name
	}
	res.Context = check.Context{Scenario: spec.Name, DefaultGrace: grace, WatchedServices: services}
	ns := Namespace(spec)
	defer func() {
		t := time.Now()
		bg, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := r.deleteNamespace(bg, ns, false); err != nil {
			res.Err = errors.Join(res.Err, err)
		}
		res.Phases.Teardown = time.Since(t)
		res.Finished = time.Now()
		res.Phases.Total = res.Finished.Sub(res.Started)
		if res.Err != nil {
			r.logf(spec.Name, "FAILED after %s: %v", res.Phases.Total.Round(time.Millisecond), res.Err)
		} else {
			r.logf(spec.Name, "done in %s", res.Phases.Total.Round(time.Millisecond))
		}
	}()
	cs, err := r.clientset()
	if err != nil {
		res.Err = err
		return res
	}

	// Setup. Services are created before Consul is up (they retry their
	// registration, as Spring apps do) so that both start at once.
	t := time.Now()
	if err := r.deleteNamespace(ctx, ns, true); err != nil { // a leftover of an interrupted run
		res.Err = err
		return res
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"app.kubernetes.io/part-of": "kubegrace"}}}, metav1.CreateOptions{}); err != nil {
		res.Err = fmt.Errorf("create namespace %s: %w", ns, err)
		return res
	}
	pods := observe.Start(ctx, &observe.Pods{Clientset: cs, Namespace: ns, Rec: rec, Scenario: spec.Name})
	defer func() {
		if err := pods.Stop(); err != nil {
			res.Err = errors.Join(res.Err, err)
		}
	}()
	// Consul first, ready (known leader), then the services: apps that
	// registered while Consul was still starting were seen to get 404s for
	// 30 s and restart, which costs more than waiting the ~2 s.
	r.logf(spec.Name, "deploying Consul, then %d service(s), in namespace %s", len(spec.Services), ns)
	cons, err := consul.Deploy(ctx, r.Client, consul.DeployOptions{Namespace: ns, Image: r.ConsulImage})
	if err != nil {
		res.Err = err
		return res
	}
	for _, s := range spec.Services {
		d, err := workload.Deployment(ns, s.Workload(), r.FixtureImage, cons.ServiceAddr)
		if err == nil {
			_, err = cs.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
		}
		if err != nil {
			res.Err = fmt.Errorf("create service %s: %w", s.Name, err)
			return res
		}
	}
	set := observe.Start(ctx, &observe.Consul{Client: cons.Client, Services: services, Rec: rec, Scenario: spec.Name})
	defer func() {
		if err := set.Stop(); err != nil {
			res.Err = errors.Join(res.Err, err)
		}
	}()
	res.Err = r.run(ctx, spec, ns, cs, cons, rec, &res, t)
	return res
}

func (r *Runner) run(ctx context.Context, spec Spec, ns string, cs kubernetes.Interface, cons *consul.InCluster, rec *timeline.Recorder, res *Result, setupStart time.Time) error {
	deps := cs.AppsV1().Deployments(ns)
	r.logf(spec.Name, "waiting for %d service(s) to pass their Consul checks", len(spec.Services))
	for _, s := range spec.Services {
		want := int(max(s.Replicas, 1))
		err := poll.Until(ctx, fmt.Sprintf("%d passing instances of %s", want, s.Name), 250*time.Millisecond, 3*time.Minute,
			func(ctx context.Context) (bool, error) {
				p, err := consul.PassingInstances(ctx, cons.Client, s.Name)
				if err != nil {
					return poll.Not("%v", err)
				}
				if len(p) < want {
					return poll.Not("%d passing", len(p))
				}
				return true, nil
			})
		if err != nil {
			return err
		}
	}
	for i, c := range spec.Callers {
		iv := c.Interval.D()
		if iv == 0 {
			iv = 100 * time.Millisecond
		}
		d := workload.Caller(ns, fmt.Sprintf("caller-%d-%s", i, c.Service), c.Service, r.FixtureImage, cons.ServiceAddr, iv)
		if _, err := deps.Create(ctx, d, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create caller of %s: %w", c.Service, err)
		}
		name := d.Name
		err := poll.Until(ctx, "caller "+name+" available", 250*time.Millisecond, 2*time.Minute, func(ctx context.Context) (bool, error) {
			got, err := deps.Get(ctx, name, metav1.GetOptions{})
			if err != nil || got.Status.AvailableReplicas < 1 {
				return poll.Not("not available")
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	res.Phases.Setup = time.Since(setupStart)

	// Faults, in order.
	t := time.Now()
	env := &fault.Env{Clientset: cs, Namespace: ns, NodeExec: r.NodeExec, PauseImage: r.PauseImage,
		Logf: func(format string, args ...any) { r.logf(spec.Name, format, args...) }}
	for i, fs := range spec.Faults {
		f, err := r.fault(spec, fs, ns)
		if err != nil {
			return err
		}
		r.logf(spec.Name, "fault %d: %s", i+1, f.Name())
		rec.Record(time.Now(), timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultStart, Scenario: spec.Name, Detail: f.Name()})
		detail, err := f.Inject(ctx, env)
		end := timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultEnd, Scenario: spec.Name, Detail: f.Name()}
		if detail != "" {
			end.Detail += ": " + detail
		}
		if err != nil {
			end.Reason = err.Error()
		}
		rec.Record(time.Now(), end)
		res.Faults = append(res.Faults, end.Detail)
		if err != nil {
			return fmt.Errorf("fault %d (%s): %w", i+1, f.Name(), err)
		}
	}
	res.Phases.Faults = time.Since(t)

	// Drain: pods still terminating finish (their grace periods).
	t = time.Now()
	err := poll.Until(ctx, "terminating pods gone", 250*time.Millisecond, 11*time.Minute, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return poll.Not("%v", err)
		}
		for _, p := range list.Items {
			if p.DeletionTimestamp != nil {
				return poll.Not("pod %s still terminating", p.Name)
			}
		}
		return true, nil
	})
	res.Phases.Drain = time.Since(t)
	if err != nil {
		return err
	}
	t = time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(spec.Settle.D()):
	}
	res.Phases.Settle = time.Since(t)
	return nil
}

// clientset talks to the cluster without client-go's default 5 QPS limit:
// the IP reuse fault creates tens of pods at once, and at 5 QPS that alone
// took 6 s.
func (r *Runner) clientset() (kubernetes.Interface, error) {
	cfg := rest.CopyConfig(r.Client.RESTConfig())
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

// Workload converts the spec's service to the workload package's form.
func (s ServiceSpec) Workload() workload.Service {
	w := workload.Service{
		Name: s.Name, Replicas: max(s.Replicas, 1), Entrypoint: s.Entrypoint, GraceSeconds: 30,
		CheckInterval: s.Check.Interval.D(), Identity: s.Check.Identity,
		DeregisterCriticalAfter: s.Check.DeregisterCriticalAfter.D(), DrainDelay: s.Drain.D(),
	}
	if s.GraceSeconds != nil {
		w.GraceSeconds = *s.GraceSeconds
	}
	if s.PreStop != nil {
		w.PreStopSleepSeconds = s.PreStop.SleepSeconds
	}
	return w
}

func (r *Runner) fault(spec Spec, fs FaultSpec, ns string) (fault.Fault, error) {
	switch {
	case fs.RollingUpdate != nil:
		return fault.RollingUpdate{Service: fs.RollingUpdate.Service, MaxSurge: fs.RollingUpdate.MaxSurge, MaxUnavailable: fs.RollingUpdate.MaxUnavailable}, nil
	case fs.PodDelete != nil:
		return fault.PodDelete{Service: fs.PodDelete.Service, Index: fs.PodDelete.Index}, nil
	case fs.PodKill != nil:
		return fault.PodKill{Service: fs.PodKill.Service, Index: fs.PodKill.Index}, nil
	case fs.Wait != nil:
		return fault.Wait{For: fs.Wait.D()}, nil
	case fs.IPReuse != nil:
		var by ServiceSpec
		for _, s := range spec.Services {
			if s.Name == fs.IPReuse.By {
				by = s
			}
		}
		ipr := fault.IPReuse{Victim: fs.IPReuse.Victim.Service, Index: fs.IPReuse.Victim.Index, By: by.Name, Timeout: fs.IPReuse.Timeout.D()}
		ipr.NewPod = func(name, node string) (*corev1.Pod, error) {
			d, err := workload.Deployment(ns, by.Workload(), r.FixtureImage, consul.ServiceAddr(ns))
			if err != nil {
				return nil, err
			}
			// Only the service label: the Deployment's selector must not
			// match, or it would adopt the pod and scale one down.
			spec := d.Spec.Template.Spec
			spec.NodeName = node
			return &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns,
					Labels: map[string]string{observe.ServiceLabel: by.Name, "kubegrace.io/ip-reuse": "true"}},
				Spec: spec,
			}, nil
		}
		return ipr, nil
	}
	return nil, fmt.Errorf("empty fault")
}

// deleteNamespace deletes ns. Its pods are stopped at once (1 s grace, not
// forced: a pod is gone only once the kubelet has released its address,
// which the next scenario needs) and waited for. With whole, it also waits
// for the namespace object itself, which the namespace controller finalizes
// some seconds later; the end of a scenario does not need to wait for that.
func (r *Runner) deleteNamespace(ctx context.Context, ns string, whole bool) error {
	cs, err := r.clientset()
	if err != nil {
		return err
	}
	err = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	one := int64(1)
	return poll.Until(ctx, "namespace "+ns+" deleted", 250*time.Millisecond, 2*time.Minute, func(ctx context.Context) (bool, error) {
		pods := cs.CoreV1().Pods(ns)
		_ = pods.DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &one}, metav1.ListOptions{})
		if !whole {
			l, err := pods.List(ctx, metav1.ListOptions{})
			if err != nil || len(l.Items) > 0 {
				return poll.Not("pods still there")
			}
			return true, nil
		}
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		return poll.Not("still there")
	})
}
