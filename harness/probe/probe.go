// Package probe is a one-shot audit of any image in the local Docker
// engine: does a pod's app process get the stop signal? It loads the image
// into the kind cluster (never pulls), starts one pod, waits until its
// process tree settles, snapshots the tree from the host's /proc, deletes
// the pod, and says in words what the kernel saw: who got SIGTERM, who
// dropped it, what ended the app and when. It writes a report folder like a
// run, with the timeline picture.
package probe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/kernel"
	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
	"github.com/kubegrace/kubegrace/reports"
)

// Options configure a probe.
type Options struct {
	Image string
	// Command replaces the image's entrypoint (the pod's command), if set.
	Command []string
	// Grace is the pod's terminationGracePeriodSeconds (default 30 s).
	Grace time.Duration
	// App names the app process (its program, or an argument's file name)
	// when it is a shell or an init the probe would otherwise pass over.
	App string
	// Cluster is where the pod runs (created or reused; project images
	// are not needed).
	Cluster env.Options
	// ReportsDir receives probe-<time>/ (default ./reports).
	ReportsDir string
	// Kernel: see env.KernelMode.
	Kernel env.KernelMode
	Log    io.Writer
	// ProcRoot is /proc unless a test says otherwise.
	ProcRoot string
}

// Result is what a probe found.
type Result struct {
	Image string
	Dir   string
	// Tree is the container's processes, by PID.
	Tree []Process
	// Kernel says the kernel was observed; without it the verdicts rest on
	// the exit code only.
	Kernel   bool
	Verdicts []check.Verdict
	// App and Init name the process the verdicts follow and PID 1.
	App, Init string
	// Pass: the app process got the stop signal (the kernel queued it for
	// the app; without the kernel, the app logged it).
	Pass bool
	// ExitCode is the app container's, as the kubelet reported it (-1:
	// not seen).
	ExitCode int
	// Summary says what happened, in words.
	Summary  string
	Duration time.Duration
}

// Names of the probe's pod and service; its namespace is
// kg-probe-<time>-<ms> (one per probe, so a probe never waits for the last one's
// namespace to be finalized).
const (
	PodName = "probe"
	Service = "probe"
)

// Run probes o.Image. Once the cluster is ready and the kernel observer
// runs (or may be missing), a report is written even when the probe fails
// half way.
func Run(ctx context.Context, o Options) (res Result, err error) {
	pr := &session{o: o.withDefaults(), start: time.Now(), idx: observe.NewPodIndex()}
	pr.rec = timeline.NewRecorder(pr.start)
	res.Image = o.Image
	if err := pr.connect(ctx); err != nil {
		return res, err
	}
	if err := pr.openKernel(); err != nil {
		return res, err
	}
	if pr.tracer != nil {
		defer pr.tracer.Close()
		res.Kernel = true
	}
	defer func() { err = pr.report(&res, err) }()
	defer func() { err = errors.Join(err, pr.deleteNamespace()) }()
	if err := pr.startPod(ctx, &res); err != nil {
		return res, err
	}
	return res, pr.stopPod(ctx)
}

// session is one probe's state, from the cluster to the report.
type session struct {
	o      Options
	start  time.Time
	cs     kubernetes.Interface
	rec    *timeline.Recorder
	idx    *observe.PodIndex
	tracer *kernel.Tracer
	kobs   *observe.Kernel
	kinfo  reports.KernelObserver
	set    *observe.Set
	ns     string
	// deleted: the pod's deletion was requested; before it there is
	// nothing to judge.
	deleted bool
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Grace == 0 {
		o.Grace = workload.DefaultGrace
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.ReportsDir == "" {
		o.ReportsDir = "reports"
	}
	o.Cluster.SkipImages = true // the probe needs no project image
	return o
}

// connect checks the image is in the local engine, prepares the cluster
// and loads the image into it.
func (pr *session) connect(ctx context.Context) error {
	if err := cluster.LocalImage(ctx, pr.o.Image); err != nil {
		return err
	}
	p, err := env.PrepareCluster(ctx, pr.o.Cluster)
	if err != nil {
		return err
	}
	if err := p.Cluster.LoadImages(ctx, pr.o.Image); err != nil {
		return err
	}
	if pr.cs, err = kubernetes.NewForConfig(p.Cluster.Client.RESTConfig()); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	return nil
}

// openKernel opens a tracefs instance unless the kernel is turned off; an
// error only when it is required and cannot run.
func (pr *session) openKernel() error {
	if pr.o.Kernel == env.KernelOff {
		pr.kinfo.Reason = "turned off (--kernel off)"
		return nil
	}
	tr, err := kernel.Open(kernel.Options{Name: fmt.Sprintf("kubegrace-probe-%d", time.Now().UnixNano()%1e6)})
	if err != nil {
		pr.kinfo.Reason = err.Error()
		if pr.o.Kernel == env.KernelRequired {
			return err
		}
		fmt.Fprintf(pr.o.Log, "%v\n  the probe can only read exit codes\n", err)
		return nil
	}
	pr.tracer, pr.kinfo.Available = tr, true
	pr.kobs = &observe.Kernel{Tracer: tr, Index: pr.idx, Rec: pr.rec, ProcRoot: pr.o.ProcRoot}
	return nil
}

// context is the probe pod's judging input.
func (pr *session) context() check.Context {
	c := check.Context{Scenario: Service, Kernel: pr.tracer != nil, WatchedServices: []string{Service}, ServiceGrace: map[string]time.Duration{Service: pr.o.Grace}}
	if pr.o.App != "" {
		c.AppProcess = map[string]string{Service: pr.o.App}
	}
	return c
}

// startPod creates the namespace and the pod, with the observers watching,
// and snapshots the pod's settled process tree into res.
func (pr *session) startPod(ctx context.Context, res *Result) error {
	ns := fmt.Sprintf("kg-probe-%s-%03d", pr.start.Format("150405"), pr.start.Nanosecond()/1e6)
	if err := createNamespace(ctx, pr.cs, ns); err != nil {
		return err
	}
	pr.ns = ns
	fmt.Fprintf(pr.o.Log, "probe: cluster ready, image loaded (%.1f s)\n", time.Since(pr.start).Seconds())
	observers := []observe.Observer{&observe.Pods{Clientset: pr.cs, Namespace: pr.ns, Rec: pr.rec, Scenario: Service, Index: pr.idx}}
	if pr.kobs != nil {
		observers = append(observers, pr.kobs)
	}
	pr.set = observe.Start(ctx, observers...)
	if _, err := pr.cs.CoreV1().Pods(pr.ns).Create(ctx, podFor(pr.o, pr.ns), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the probe pod: %w", err)
	}
	fmt.Fprintf(pr.o.Log, "probe: pod %s/%s created from %s; waiting for it to run and its processes to settle\n", pr.ns, PodName, pr.o.Image)
	uid, err := waitRunning(ctx, pr.cs, pr.ns)
	if err != nil {
		return err
	}
	res.Tree, err = settle(ctx, pr.o.ProcRoot, uid)
	return err
}

// stopPod deletes the pod as the kubelet would on a rolling update and
// waits until it is gone.
func (pr *session) stopPod(ctx context.Context) error {
	fmt.Fprintf(pr.o.Log, "probe: process tree settled (%.1f s); deleting the pod (grace %s)\n", time.Since(pr.start).Seconds(), pr.o.Grace)
	if err := pr.cs.CoreV1().Pods(pr.ns).Delete(ctx, PodName, metav1.DeleteOptions{}); err != nil {
		return fmt.Errorf("delete the probe pod: %w", err)
	}
	pr.deleted = true
	if err := poll.Until(ctx, "probe pod gone", poll.Quick.For(pr.o.Grace+time.Minute), poll.PodGone(pr.cs, pr.ns, PodName)); err != nil {
		return err
	}
	// The last kernel events (exits) reach the timeline within
	// milliseconds; give them a moment.
	return poll.Sleep(ctx, 300*time.Millisecond)
}

// deleteNamespace removes the probe's namespace, if it made one, without
// waiting for it.
func (pr *session) deleteNamespace() error {
	if pr.ns == "" {
		return nil
	}
	bg, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := pr.cs.CoreV1().Namespaces().Delete(bg, pr.ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", pr.ns, err)
	}
	return nil
}

// report stops the observers, judges what they recorded, says it in words
// and writes the report folder; it returns err with what failed here.
func (pr *session) report(res *Result, err error) error {
	if pr.set != nil {
		err = errors.Join(err, pr.set.Stop())
	}
	if pr.kobs != nil {
		pr.kinfo = env.KernelReport(pr.kobs.Stats(), pr.tracer)
	}
	tl := pr.rec.Snapshot()
	cctx := pr.context()
	res.Verdicts = check.All(tl, cctx)
	res.App, res.Init, _ = check.KernelApp(tl, cctx, PodName)
	res.Pass = gotStopSignal(*res)
	res.ExitCode = exitCode(tl)
	res.Summary = summarize(*res, pr.o)
	if !pr.deleted {
		// Nothing was stopped, so there is nothing to judge (the
		// processes seen may be the runtime's hooks).
		res.Pass, res.Summary = false, fmt.Sprintf("The probe ended before it deleted the pod: %v\n", err)
	}
	res.Duration = time.Since(pr.start)
	res.Dir = filepath.Join(pr.o.ReportsDir, "probe-"+pr.start.Format("20060102-150405"))
	kinfo := pr.kinfo
	meta := reports.Meta{Started: pr.start, Kernel: &kinfo, Images: map[string]string{pr.o.Image: ""}, Summary: res.Summary}
	if _, _, werr := reports.Publish(res.Dir, false, meta, []reports.ScenarioRun{scenarioRun(pr.o, cctx, res.Kernel, err)}, tl, nil); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// probeSpec is the probe as run, for run.json.
type probeSpec struct {
	Name    string   `json:"name"`
	Image   string   `json:"image"`
	Command []string `json:"command,omitempty"`
	App     string   `json:"app,omitempty"`
	Grace   string   `json:"grace"`
}

// scenarioRun is the probe's part of its report: the spec as run, the
// judging context, and the one expectation (the app gets the stop signal).
func scenarioRun(o Options, cctx check.Context, kernel bool, err error) reports.ScenarioRun {
	spec, _ := json.Marshal(probeSpec{Name: Service, Image: o.Image, Command: o.Command, App: o.App, Grace: o.Grace.String()})
	wants := []reports.Want{{Verdict: check.NameSignalDelivered, Subject: PodName, Op: "==", Value: 1, Why: "the app process gets the stop signal (its log says so)"}}
	if kernel {
		wants = []reports.Want{{Verdict: check.NameShutdownWindow, Subject: PodName, Op: ">=", Value: 0, Why: "the kernel queues the stop signal for the app process"}}
	}
	return reports.ScenarioRun{Name: Service, Spec: spec, Context: cctx, Wants: wants, Err: err}
}

func podFor(o Options, ns string) *corev1.Pod {
	grace := int64(o.Grace / time.Second)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: PodName, Namespace: ns,
			Labels: labels.PartOf(workload.ServiceLabel, Service)},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			RestartPolicy:                 corev1.RestartPolicyNever,
			Containers: []corev1.Container{{
				Name: workload.AppContainer, Image: o.Image, ImagePullPolicy: corev1.PullNever, Command: o.Command,
			}},
		},
	}
}

func createNamespace(ctx context.Context, cs kubernetes.Interface, ns string) error {
	obj := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: labels.PartOf()}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// waitRunning waits until the app container runs and returns the pod's
// UID. A container that cannot start, or ends by itself, is an error with
// the runtime's own message.
func waitRunning(ctx context.Context, cs kubernetes.Interface, ns string) (string, error) {
	var uid string
	var fatal error
	err := poll.Until(ctx, "the probe container running", poll.Steady.For(2*time.Minute), func(ctx context.Context) (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(ctx, PodName, metav1.GetOptions{})
		if err != nil {
			return poll.Not("%v", err)
		}
		uid = string(p.UID)
		for _, c := range p.Status.ContainerStatuses {
			switch {
			case c.State.Running != nil:
				return true, nil
			case c.State.Terminated != nil && slices.Contains([]string{"StartError", "ContainerCannotRun"}, c.State.Terminated.Reason):
				t := c.State.Terminated
				fatal = fmt.Errorf("the container cannot start: %s (exit code %d): %s", t.Reason, t.ExitCode, strings.TrimSpace(t.Message))
				return false, fatal
			case c.State.Terminated != nil:
				t := c.State.Terminated
				fatal = fmt.Errorf("the container ended by itself before the probe could stop it: exit code %d (%s) %s", t.ExitCode, t.Reason, strings.TrimSpace(t.Message))
				return false, fatal
			case c.State.Waiting != nil && slices.Contains([]string{"CreateContainerError", "RunContainerError", "ErrImageNeverPull", "InvalidImageName", "CreateContainerConfigError", "StartError"}, c.State.Waiting.Reason):
				fatal = fmt.Errorf("the container cannot start: %s: %s", c.State.Waiting.Reason, c.State.Waiting.Message)
				return false, fatal
			case c.State.Waiting != nil:
				return poll.Not("waiting: %s %s", c.State.Waiting.Reason, c.State.Waiting.Message)
			}
		}
		return poll.Not("phase %s", p.Status.Phase)
	})
	if fatal != nil {
		return uid, fatal
	}
	return uid, err
}
