// Package fault holds the faults a scenario applies, each a small value
// behind one interface that says what it needs of the cluster (Needs).
// Inject runs one and records its start and end on the timeline, so no
// fault and no runner records them by hand (as etcd's robustness
// failpoints are wrapped).
package fault

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/poll"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
)

// Env is what faults act on: one scenario's namespace on one cluster.
type Env struct {
	Clientset kubernetes.Interface
	Namespace string
	// NodeExec runs a command on a cluster node (kind's node handle), for
	// faults that must act below the Kubernetes API (SIGKILL a container).
	// Nil where the harness has no node access.
	// It returns the command's output (stdout and stderr).
	NodeExec func(ctx context.Context, node string, argv ...string) (string, error)
	// PauseImage is an image every node holds, for the pods that fill an IP pool.
	PauseImage string
	// Networks are the pod networks the nodes' runtimes use (their CNI
	// configs, read through node access); a node missing here was not read.
	Networks map[string]cni.Network
	// IPAM is the cluster's IPAM family as the preflight guessed it from
	// kube-system's objects (IPAMAWSVPC, ...; "" for none): the hint for
	// nodes missing from Networks.
	IPAM string
	// IPCooldown is the AWS VPC CNI's IP cooldown (0: its default).
	IPCooldown time.Duration
	// Logf reports progress.
	Logf func(format string, args ...any)
	// DeleteRequested records that the fault is about to ask the API to
	// delete pod (kubelet_lag counts from it); nil records nothing.
	DeleteRequested func(pod string)
}

// Outcome is what a fault did.
type Outcome struct {
	// Detail describes it (which pod, which IP, which method).
	Detail string
	// Forcing is the part of its time spent forcing what it needs (making
	// an address come back) rather than waiting for what the scenario
	// asks for (a grace period, a rollout): harness overhead.
	Forcing time.Duration
}

// ErrCannotForce says a fault cannot be forced on this cluster (no node
// access, an IPAM that cannot be steered and a pool too large to fill):
// the scenario is inconclusive, never passed nor failed.
var ErrCannotForce = errors.New("cannot be forced on this cluster")

// Needs is what a fault needs beyond the API of its namespace.
type Needs struct {
	// NodeToItself: the fault acts on a node's shared state (its pod IP
	// pool), so no other scenario may run pods there meanwhile.
	NodeToItself bool
	// NodeAccess: the fault runs commands on a node (Env.NodeExec).
	NodeAccess bool
}

// Fault is one disturbance of a running scenario.
type Fault interface {
	// Name says what the fault does, for the timeline and the report.
	Name() string
	// Needs declares what the fault needs of the cluster, so schedulers
	// and availability checks need not know the fault.
	Needs() Needs
	// Inject applies the fault and returns once it is done (a rollout
	// complete, a pod gone) with what it did, or an error saying why it
	// could not be (with what it did until then).
	Inject(ctx context.Context, env *Env) (Outcome, error)
}

// Inject runs f on env, recording fault_start and fault_end for scenario on
// rec. It refuses a fault whose needs env cannot meet before touching
// anything. The start's Detail is f's name; the end's is the name, then
// timeline.FaultOutcomeSep and f's detail when it gives one, and its Reason is f's error.
// The report's picture (check.Lanes) closes a fault's bar with the first
// later end of its scenario that begins with its name, so the end must keep
// the name first. The returned Outcome's Detail is the end's: what the
// report lists for the fault.
//
// place is the fault's 1-based place among its scenario's faults: both
// events carry it (Event.Index), which is what pairs them.
func Inject(ctx context.Context, f Fault, place int, env *Env, rec *timeline.Recorder, scenario string) (Outcome, error) {
	if f.Needs().NodeAccess && env.NodeExec == nil {
		return Outcome{Detail: f.Name()}, fmt.Errorf("%s needs access to the cluster's nodes, which this cluster does not give: %w", f.Name(), ErrCannotForce)
	}
	rec.Record(time.Now(), timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultStart, Scenario: scenario, Detail: f.Name(), Index: uint64(place)})
	out, err := f.Inject(ctx, env)
	end := timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultEnd, Scenario: scenario, Detail: f.Name(), Index: uint64(place)}
	if out.Detail != "" {
		end.Detail += timeline.FaultOutcomeSep + out.Detail
	}
	if err != nil {
		end.Reason = err.Error()
	}
	rec.Record(time.Now(), end)
	out.Detail = end.Detail
	return out, err
}

func (env *Env) deleteRequested(pod string) {
	if env.DeleteRequested != nil {
		env.DeleteRequested(pod)
	}
}

// Pods returns the live (not terminating) pods of service, oldest first.
func Pods(ctx context.Context, env *Env, service string) ([]corev1.Pod, error) {
	list, err := env.Clientset.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: workload.ServiceLabel + "=" + service,
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

// waitGone waits until the pod is gone, allowing its grace period and a
// minute for the kubelet.
func waitGone(ctx context.Context, env *Env, p corev1.Pod) error {
	return poll.Until(ctx, "pod "+p.Name+" gone", poll.Quick.For(graceOf(p)+time.Minute), poll.PodGone(env.Clientset, env.Namespace, p.Name))
}

func graceOf(p corev1.Pod) time.Duration {
	if p.Spec.TerminationGracePeriodSeconds != nil {
		return time.Duration(*p.Spec.TerminationGracePeriodSeconds) * time.Second
	}
	return workload.DefaultGrace
}

// PodDelete deletes one pod with its own grace period (the kubelet sends
// SIGTERM to PID 1, SIGKILL after the grace) and waits until it is gone.
type PodDelete struct {
	Service string
	Index   int
}

func (f PodDelete) Name() string { return fmt.Sprintf("delete pod %d of %s", f.Index, f.Service) }

func (f PodDelete) Needs() Needs { return Needs{} }

func (f PodDelete) Inject(ctx context.Context, env *Env) (Outcome, error) {
	p, err := podAt(ctx, env, f.Service, f.Index)
	if err != nil {
		return Outcome{}, err
	}
	env.deleteRequested(p.Name)
	if err := env.Clientset.CoreV1().Pods(env.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
		return Outcome{}, fmt.Errorf("delete pod %s: %w", p.Name, err)
	}
	return Outcome{Detail: fmt.Sprintf("pod %s (%s)", p.Name, p.Status.PodIP)}, waitGone(ctx, env, p)
}

// PodKill SIGKILLs a pod's app container on its node, as an OOM kill or
// crash would: no SIGTERM, no shutdown hook. The pod stays and the kubelet
// restarts the container. The kill goes to the container's init, found in
// the node's /proc (killInit): the kernel then ends every process of its
// PID namespace, as the runtime's own stop with no timeout does. No
// runtime CLI is needed: the node access pods' image has none, and no CRI
// socket is mounted.
type PodKill struct {
	Service string
	Index   int
}

func (f PodKill) Name() string { return fmt.Sprintf("SIGKILL pod %d of %s", f.Index, f.Service) }

func (f PodKill) Needs() Needs { return Needs{NodeAccess: true} }

func (f PodKill) Inject(ctx context.Context, env *Env) (Outcome, error) {
	p, err := podAt(ctx, env, f.Service, f.Index)
	if err != nil {
		return Outcome{}, err
	}
	var id string
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == workload.AppContainer && cs.State.Running != nil {
			_, id, _ = strings.Cut(cs.ContainerID, "://")
		}
	}
	if id == "" {
		return Outcome{}, fmt.Errorf("pod %s has no running app container", p.Name)
	}
	out, err := env.NodeExec(ctx, p.Spec.NodeName, "sh", "-c", killInit, "kill-init", id)
	if err != nil {
		return Outcome{}, fmt.Errorf("SIGKILL container %.12s of pod %s on %s: %w", id, p.Name, p.Spec.NodeName, err)
	}
	killed := ""
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "killed "); ok {
			killed = v
		}
	}
	if killed == "" {
		return Outcome{}, fmt.Errorf("SIGKILL container %.12s of pod %s on %s: no kill reported: %s", id, p.Name, p.Spec.NodeName, strings.TrimSpace(out))
	}
	return Outcome{Detail: fmt.Sprintf("pod %s (%s), container %.12s: SIGKILL to %s", p.Name, p.Status.PodIP, id, killed)}, nil
}

// killInit SIGKILLs the init of container $1, as seen in this PID
// namespace's /proc (a kind node's, or a node's own from a hostPID pod):
// the process whose cgroup path names the container and whose last NSpid
// is 1 (its PID in the container); the container's lowest PID where none
// is (a pod sharing one PID namespace, whose init is the pause process).
// POSIX sh and /proc only, so any image with a shell runs it.
const killInit = `id=$1; init=; low=; n=0
for d in /proc/[0-9]*; do
  grep -qs -- "$id" "$d/cgroup" || continue
  pid=${d#/proc/}; n=$((n+1))
  if [ -z "$low" ] || [ "$pid" -lt "$low" ]; then low=$pid; fi
  ns=$(grep -s '^NSpid:' "$d/status") || continue
  [ "${ns##*[[:space:]]}" = 1 ] && init=$pid
done
[ -n "$low" ] || { echo "no process of container $id in /proc"; exit 1; }
pid=${init:-$low}
kill -KILL "$pid" || exit 1
if [ -n "$init" ]; then what="its PID 1"; else what="its lowest PID (no PID 1 of its own)"; fi
echo "killed PID $pid of $n process(es) of the container, $what"
`

// Wait does nothing for a while: time for checks to run, windows to open.
type Wait struct{ For time.Duration }

func (f Wait) Name() string { return "wait " + f.For.String() }

func (f Wait) Needs() Needs { return Needs{} }

func (f Wait) Inject(ctx context.Context, _ *Env) (Outcome, error) {
	return Outcome{}, poll.Sleep(ctx, f.For)
}

// Interfaces proven at compile time.
var (
	_ Fault = PodDelete{}
	_ Fault = PodKill{}
	_ Fault = Wait{}
	_ Fault = RollingUpdate{}
	_ Fault = IPReuse{}
)
