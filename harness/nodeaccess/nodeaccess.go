// Package nodeaccess runs commands on a cluster's nodes, for faults that
// act on a node's own state (the IP reuse fault reads the node's CNI
// config and steers host-local's state). Two ways in:
//
//   - kind nodes of this host are containers of its Docker engine: docker
//     exec through kind's node handle (the job does that);
//   - on any other cluster, and only when the user allows it
//     (--allow-privileged), Pods: a DaemonSet in the harness's own
//     namespace whose pods share each node's network (so they take no pod
//     address from the pools the faults steer) and PID namespace (so
//     pod-kill can SIGKILL a container's init, found in the node's /proc,
//     without a runtime CLI in the image) and mount the node's CNI
//     configs (read-only) and state at the same paths, removed when the
//     run ends; a host-local state folder elsewhere (kindnetd's
//     /run/cni-ipam-state) is mounted once the configs name it (Mount).
package nodeaccess

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// Exec runs argv on node and returns its output (stdout and stderr).
type Exec func(ctx context.Context, node string, argv ...string) (string, error)

// The node access modes (--node-access): how faults reach nodes.
const (
	// ModeAuto: docker exec into kind nodes of this host; elsewhere
	// privileged pods if allowed, else none.
	ModeAuto = "auto"
	// ModeDocker: docker exec into kind nodes of this host.
	ModeDocker = "docker"
	// ModePods: the privileged node access DaemonSet (--allow-privileged).
	ModePods = "pods"
)

// Namespace is the harness's own namespace for what it runs outside the
// scenarios' namespaces; it is deleted, with all in it, when a run ends.
const Namespace = "kubegrace-system"

// DaemonSet is the node access DaemonSet's name.
const DaemonSet = "kubegrace-node-access"

// Mounts are the node paths the pods see, at the same paths: the CNI
// configs the runtime reads (read-only) and host-local's default state.
var Mounts = []string{cni.Dir, "/var/lib/cni"}

// readOnly are the Mounts the pods only read.
var readOnly = []string{cni.Dir}

// MountsText names the Mounts for messages ("/etc/cni/net.d (read-only),
// /var/lib/cni").
func MountsText() string {
	var out []string
	for _, m := range Mounts {
		if slices.Contains(readOnly, m) {
			m += " (read-only)"
		}
		out = append(out, m)
	}
	return strings.Join(out, ", ")
}

// Labels mark everything the harness creates for node access.
var Labels = labels.PartOf("kubegrace.io/role", "node-access")

const container = "node"

// Pods is node access through the DaemonSet's pods.
type Pods struct {
	cs    kubernetes.Interface
	cfg   *rest.Config
	nodes []string
	wait  time.Duration
	pods  map[string]string // node -> its running pod
	// Missing says, per node without a running pod, why.
	Missing map[string]string
	// stream runs a command in a pod (exec through the API; tests replace
	// it).
	stream func(ctx context.Context, pod string, argv []string) (string, error)
}

// StartPods creates the namespace and the DaemonSet (image: any image with
// a POSIX sh; pull: whether the nodes pull it) and waits up to wait for
// its pods on nodes to run. A node whose pod does not run in time (a
// taint, no CNI config folder there) is listed in Missing, and Exec on it says
// why; it is not an error of the run.
func StartPods(ctx context.Context, cfg *rest.Config, image string, pull bool, nodes []string, wait time.Duration) (*Pods, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pods{cs: cs, cfg: cfg, nodes: nodes, wait: wait}
	p.stream = p.exec
	p.pods, p.Missing, err = startDaemonSet(ctx, cs, daemonSet(image, pull), nodes, wait)
	return p, err
}

// startDaemonSet creates the harness's namespace (if absent) and ds in it,
// and waits up to wait until its pods run on nodes. It returns the running
// pod of each node, and why the others have none.
func startDaemonSet(ctx context.Context, cs kubernetes.Interface, ds *appsv1.DaemonSet, nodes []string, wait time.Duration) (running, missing map[string]string, err error) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{
		labels.PartOfKey: labels.PartOfValue,
		// Host namespaces and paths: the privileged Pod Security level.
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, nil, fmt.Errorf("create namespace %s: %w", Namespace, err)
	}
	if _, err := cs.AppsV1().DaemonSets(Namespace).Create(ctx, ds, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, nil, fmt.Errorf("create DaemonSet %s/%s: %w", Namespace, ds.Name, err)
	}
	sel := metav1.FormatLabelSelector(ds.Spec.Selector)
	werr := poll.Until(ctx, ds.Name+" pods running", poll.Steady.For(wait), func(ctx context.Context) (bool, error) {
		running, missing, err = find(ctx, cs, sel, nodes)
		if err != nil {
			return poll.Not("%v", err)
		}
		if len(missing) > 0 {
			return poll.Not("no running pod on %d node(s)", len(missing))
		}
		return true, nil
	})
	if werr != nil && ctx.Err() != nil {
		return running, missing, werr
	}
	return running, missing, nil
}

// find gives the running pod (selected by sel) of each node, and why a
// node has none.
func find(ctx context.Context, cs kubernetes.Interface, sel string, nodes []string) (running, missing map[string]string, err error) {
	list, err := cs.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, nil, err
	}
	running, missing = map[string]string{}, map[string]string{}
	why := map[string]string{}
	for _, pod := range list.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
			running[pod.Spec.NodeName] = pod.Name
			continue
		}
		why[pod.Spec.NodeName] = podProblem(pod)
	}
	for _, n := range nodes {
		if _, ok := running[n]; !ok {
			missing[n] = "no pod of the harness was scheduled there"
			if w, ok := why[n]; ok {
				missing[n] = w
			}
		}
	}
	return running, missing, nil
}

// podProblem says in a few words why a pod does not run.
func podProblem(pod corev1.Pod) string {
	for _, c := range pod.Status.ContainerStatuses {
		if w := c.State.Waiting; w != nil && w.Reason != "" {
			return fmt.Sprintf("pod %s: %s %s", pod.Name, w.Reason, w.Message)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Status != corev1.ConditionTrue && c.Message != "" {
			return fmt.Sprintf("pod %s: %s", pod.Name, c.Message)
		}
	}
	return fmt.Sprintf("pod %s is %s", pod.Name, pod.Status.Phase)
}

func pullPolicy(pull bool) corev1.PullPolicy {
	if pull {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

// Mount gives the pods the node folders dirs too, at the same paths (a
// host-local state folder the nodes' CNI configs name): the DaemonSet's
// pods are replaced, and Mount returns once they run again.
func (p *Pods) Mount(ctx context.Context, dirs []string) error {
	dsc := p.cs.AppsV1().DaemonSets(Namespace)
	ds, err := dsc.Get(ctx, DaemonSet, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node access: %w", err)
	}
	spec := &ds.Spec.Template.Spec
	for _, d := range dirs {
		// host-local makes its folder on a node's first pod: a node
		// that has run none yet has none.
		addMount(spec, d, corev1.HostPathDirectoryOrCreate)
	}
	ds, err = dsc.Update(ctx, ds, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("node access: mount %s: %w", strings.Join(dirs, ", "), err)
	}
	sel := metav1.FormatLabelSelector(ds.Spec.Selector)
	return poll.Until(ctx, DaemonSet+" pods running with "+strings.Join(dirs, ", "), poll.Steady.For(p.wait), func(ctx context.Context) (bool, error) {
		cur, err := dsc.Get(ctx, DaemonSet, metav1.GetOptions{})
		if err != nil {
			return poll.Not("%v", err)
		}
		if st := cur.Status; st.ObservedGeneration < ds.Generation || st.UpdatedNumberScheduled < st.DesiredNumberScheduled || st.NumberUnavailable > 0 {
			return poll.Not("rollout: %d of %d pods updated, %d unavailable", st.UpdatedNumberScheduled, st.DesiredNumberScheduled, st.NumberUnavailable)
		}
		running, missing, err := find(ctx, p.cs, sel, p.nodes)
		if err != nil {
			return poll.Not("%v", err)
		}
		if len(missing) > 0 {
			return poll.Not("no running pod on %d node(s)", len(missing))
		}
		p.pods, p.Missing = running, missing
		return true, nil
	})
}

// addMount mounts the node folder dir into spec's container at the same
// path.
func addMount(spec *corev1.PodSpec, dir string, t corev1.HostPathType) {
	name := fmt.Sprintf("host-%d", len(spec.Volumes))
	spec.Volumes = append(spec.Volumes, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &t}}})
	c := &spec.Containers[0]
	c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: name, MountPath: dir, ReadOnly: slices.Contains(readOnly, dir)})
}

func daemonSet(image string, pull bool) *appsv1.DaemonSet {
	spec := corev1.PodSpec{
		HostPID:                       true,
		TerminationGracePeriodSeconds: new(int64(0)),
		Containers: []corev1.Container{{
			Name: container, Image: image, ImagePullPolicy: pullPolicy(pull),
			// Idle until exec'd into; a TERM ends it at once.
			Command:         []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"},
			SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(0))},
		}},
	}
	for _, m := range Mounts {
		addMount(&spec, m, corev1.HostPathDirectory)
	}
	return harnessDaemonSet(DaemonSet, Labels, spec)
}

// harnessDaemonSet is a DaemonSet of the harness in Namespace, labelled
// labels, whose pods run spec on every node (every taint tolerated) on the
// host network (taking no pod address).
func harnessDaemonSet(name string, labels map[string]string, spec corev1.PodSpec) *appsv1.DaemonSet {
	spec.HostNetwork = true
	spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists}}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: Namespace, Labels: labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
}

// exitMark ends the output of every command Exec runs, with its exit
// status: an exec stream can end early without an error (seen here: an
// empty output in one of two kind tier runs; kubernetes issue 124571), and
// an output without the mark is not taken for the command's.
const exitMark = "kubegrace-exit="

// Exec runs argv in node's pod and returns its output. The commands faults
// run are idempotent (look, or write a state), so a stream cut short is
// run again, up to five times, backing off from 100 ms. The command is
// held 50 ms before and after it: a command that ends within milliseconds
// came back empty three times in a row once in a busy kind tier run,
// where the stream had not been relayed yet.
func (p *Pods) Exec(ctx context.Context, node string, argv ...string) (string, error) {
	pod, ok := p.pods[node]
	if !ok {
		why := p.Missing[node]
		if why == "" {
			why = "not a node of this run"
		}
		return "", fmt.Errorf("no node access on %s: %s", node, why)
	}
	marked := append([]string{"sh", "-c", `sleep 0.05; "$@"; rc=$?; echo; echo ` + exitMark + `$rc; sleep 0.05`, "_"}, argv...)
	var out string
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			if serr := poll.Sleep(ctx, 100*time.Millisecond<<(attempt-1)); serr != nil {
				return out, serr
			}
		}
		if out, err = p.stream(ctx, pod, marked); err != nil {
			break
		}
		body, mark, found := strings.Cut(out, "\n"+exitMark)
		rc := strings.TrimSpace(mark)
		if !found || rc == "" {
			err = fmt.Errorf("the exec stream ended before the command did (output %q)", out)
			continue
		}
		if rc != "0" {
			return body, fmt.Errorf("%s on node %s (pod %s/%s): exit status %s: %s", strings.Join(argv, " "), node, Namespace, pod, rc, strings.TrimSpace(body))
		}
		return body, nil
	}
	return out, fmt.Errorf("%s on node %s (pod %s/%s): %w", strings.Join(argv, " "), node, Namespace, pod, err)
}

// exec runs argv in pod, its stdout and stderr as one output.
func (p *Pods) exec(ctx context.Context, pod string, argv []string) (string, error) {
	req := p.cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(Namespace).Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Container: container, Command: argv, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	spdy, err := remotecommand.NewSPDYExecutor(p.cfg, "POST", req.URL())
	if err != nil {
		return "", err
	}
	ws, err := remotecommand.NewWebSocketExecutor(p.cfg, "GET", req.URL().String())
	if err != nil {
		return "", err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	if err := ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &out, Stderr: &out}); err != nil {
		return out.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Remove deletes the harness's namespace if it exists, and with it the
// DaemonSets and their pods, and waits until it is gone, on its own
// deadline (it runs after an interrupt too).
func Remove(cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = cs.CoreV1().Namespaces().Delete(ctx, Namespace, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node access: delete namespace %s: %w", Namespace, err)
	}
	if err := poll.Until(ctx, "namespace "+Namespace+" gone", poll.Steady.For(2*time.Minute), poll.NamespaceGone(cs, Namespace)); err != nil {
		return fmt.Errorf("node access: %w", err)
	}
	return nil
}
