// Package nodeaccess runs commands on a cluster's nodes, for faults that
// act on a node's own state (the IP reuse fault steers host-local's state
// in /var/lib/cni). Two ways in:
//
//   - kind nodes of this host are containers of its Docker engine: docker
//     exec through kind's node handle (the job does that);
//   - on any other cluster, and only when the user allows it
//     (--allow-privileged), Pods: a DaemonSet in the harness's own
//     namespace whose pods share each node's network (so they take no pod
//     address from the pools the faults steer) and mount the node's CNI
//     state at the same path, removed when the run ends.
package nodeaccess

import (
	"bytes"
	"context"
	"fmt"
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

	"github.com/kubegrace/kubegrace/harness/poll"
)

// Exec runs argv on node and returns its output (stdout and stderr).
type Exec func(ctx context.Context, node string, argv ...string) (string, error)

// Namespace is the harness's own namespace for what it runs outside the
// scenarios' namespaces; it is deleted, with all in it, when a run ends.
const Namespace = "kubegrace-system"

// DaemonSet is the node access DaemonSet's name.
const DaemonSet = "kubegrace-node-access"

// Mounts are the node paths the pods see, at the same paths.
var Mounts = []string{"/var/lib/cni"}

// Labels mark everything the harness creates for node access.
var Labels = map[string]string{"app.kubernetes.io/part-of": "kubegrace", "kubegrace.io/role": "node-access"}

const container = "node"

// Pods is node access through the DaemonSet's pods.
type Pods struct {
	cs   kubernetes.Interface
	cfg  *rest.Config
	pods map[string]string // node -> its running pod
	// Missing says, per node without a running pod, why.
	Missing map[string]string
}

// StartPods creates the namespace and the DaemonSet (image: any image with
// a POSIX sh; pull: whether the nodes pull it) and waits up to wait for
// its pods on nodes to run. A node whose pod does not run in time (a
// taint, no /var/lib/cni there) is listed in Missing, and Exec on it says
// why; it is not an error of the run.
func StartPods(ctx context.Context, cfg *rest.Config, image string, pull bool, nodes []string, wait time.Duration) (*Pods, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	p := &Pods{cs: cs, cfg: cfg, pods: map[string]string{}, Missing: map[string]string{}}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace, Labels: map[string]string{
		"app.kubernetes.io/part-of": "kubegrace",
		// Host network and a host path: the privileged Pod Security level.
		"pod-security.kubernetes.io/enforce": "privileged",
	}}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("node access: create namespace %s: %w", Namespace, err)
	}
	if _, err := cs.AppsV1().DaemonSets(Namespace).Create(ctx, daemonSet(image, pull), metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return p, fmt.Errorf("node access: create DaemonSet %s/%s: %w", Namespace, DaemonSet, err)
	}
	werr := poll.Until(ctx, "node access pods running", poll.Steady.For(wait), func(ctx context.Context) (bool, error) {
		if err := p.find(ctx, nodes); err != nil {
			return poll.Not("%v", err)
		}
		if len(p.Missing) > 0 {
			return poll.Not("no running pod on %d node(s)", len(p.Missing))
		}
		return true, nil
	})
	if werr != nil && ctx.Err() != nil {
		return p, werr
	}
	return p, nil
}

// find records the running pod of each node, and why a node has none.
func (p *Pods) find(ctx context.Context, nodes []string) error {
	list, err := p.cs.CoreV1().Pods(Namespace).List(ctx, metav1.ListOptions{LabelSelector: "kubegrace.io/role=node-access"})
	if err != nil {
		return err
	}
	clear(p.pods)
	clear(p.Missing)
	why := map[string]string{}
	for _, pod := range list.Items {
		if pod.Status.Phase == corev1.PodRunning && pod.DeletionTimestamp == nil {
			p.pods[pod.Spec.NodeName] = pod.Name
			continue
		}
		why[pod.Spec.NodeName] = podProblem(pod)
	}
	for _, n := range nodes {
		if _, ok := p.pods[n]; !ok {
			p.Missing[n] = "no node access pod was scheduled there"
			if w, ok := why[n]; ok {
				p.Missing[n] = w
			}
		}
	}
	return nil
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

func daemonSet(image string, pull bool) *appsv1.DaemonSet {
	policy := corev1.PullIfNotPresent
	if pull {
		policy = corev1.PullAlways
	}
	var mounts []corev1.VolumeMount
	var vols []corev1.Volume
	dir := corev1.HostPathDirectory
	for i, m := range Mounts {
		name := fmt.Sprintf("host-%d", i)
		mounts = append(mounts, corev1.VolumeMount{Name: name, MountPath: m})
		vols = append(vols, corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: m, Type: &dir}}})
	}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: DaemonSet, Namespace: Namespace, Labels: Labels},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: Labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels},
				Spec: corev1.PodSpec{
					HostNetwork:                   true,
					Tolerations:                   []corev1.Toleration{{Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: new(int64(0)),
					Containers: []corev1.Container{{
						Name: container, Image: image, ImagePullPolicy: policy,
						// Idle until exec'd into; a TERM ends it at once.
						Command:         []string{"sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"},
						SecurityContext: &corev1.SecurityContext{RunAsUser: new(int64(0))},
						VolumeMounts:    mounts,
					}},
					Volumes: vols,
				},
			},
		},
	}
}

// Exec runs argv in node's pod.
func (p *Pods) Exec(ctx context.Context, node string, argv ...string) (string, error) {
	pod, ok := p.pods[node]
	if !ok {
		why := p.Missing[node]
		if why == "" {
			why = "not a node of this run"
		}
		return "", fmt.Errorf("no node access on %s: %s", node, why)
	}
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
		return out.String(), fmt.Errorf("%s on node %s (pod %s/%s): %w: %s", strings.Join(argv, " "), node, Namespace, pod, err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// Stop deletes the namespace, and with it the DaemonSet and its pods, and
// waits until it is gone (on its own deadline: it runs after an
// interrupt too).
func (p *Pods) Stop() error { return Remove(p.cs) }

// Remove deletes the node access namespace if it exists (a leftover of an
// interrupted run too) and waits until it is gone.
func Remove(cs kubernetes.Interface) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := cs.CoreV1().Namespaces().Delete(ctx, Namespace, metav1.DeleteOptions{})
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
