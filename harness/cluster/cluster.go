// Package cluster owns the kind cluster a run uses: create it from
// kind-config.yaml (or reuse one by name), choose the node image, load
// images, wait until it can run pods, export logs, delete it. It drives
// kind through its Go API (sigs.k8s.io/kind/pkg/cluster), never a kind
// binary.
package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/e2e-framework/klient"
	"sigs.k8s.io/e2e-framework/klient/k8s/resources"
	"sigs.k8s.io/e2e-framework/klient/wait/conditions"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/cluster/nodes"
	"sigs.k8s.io/kind/pkg/cluster/nodeutils"
	"sigs.k8s.io/kind/pkg/log"

	"github.com/kubegrace/kubegrace/harness/cache"
	"github.com/kubegrace/kubegrace/harness/docker"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// DefaultName is the cluster the harness makes and reuses.
const DefaultName = "kubegrace"

// Options configure Ensure.
type Options struct {
	// Name of the kind cluster; DefaultName if empty.
	Name string
	// ConfigPath is the kind config (the repo's kind-config.yaml).
	ConfigPath string
	// NodeImage, if set, is used as is (it must exist or be pullable).
	NodeImage string
	// Nodes, if set, is how many nodes the cluster has: one control plane
	// and Nodes-1 workers, in place of the config's node list. All of them
	// run pods (see Untaint). A reused cluster of another size is
	// recreated; with 0, a reused cluster of any size is fine.
	Nodes int
	// BuildOfflineImage builds (or finds) the offline node image; used when
	// no explicit image is given and kindest/node cannot be pulled.
	BuildOfflineImage func(context.Context) (string, error)
	// PullTimeout bounds the attempt to pull kindest/node.
	PullTimeout time.Duration
	// ReadyTimeout bounds creation plus the wait for a Ready node and CoreDNS.
	ReadyTimeout time.Duration
	// Keep leaves a cluster this call created in place when creation fails
	// or ctx is cancelled (for debugging); by default it is deleted.
	Keep bool
	// LogDir receives kind's exported logs when creation or readiness fails.
	LogDir string
	// Logger gets progress (kind's own status lines included).
	Logger log.Logger
}

// Cluster is a kind cluster that answered as ready.
type Cluster struct {
	Name string
	// KubeconfigPath is a kubeconfig for this cluster written by Ensure.
	KubeconfigPath string
	// NodeImage is the image the nodes run (for a reused cluster: as found).
	NodeImage NodeImageChoice
	// Created says this run created the cluster (rather than reusing it).
	Created bool
	// Client talks to the cluster.
	Client klient.Client
	// Kind says the nodes are kind nodes in this host's Docker: images can
	// be loaded into them and commands run on them. Always true for a
	// cluster Ensure made; for one Connect found, only if it is so.
	Kind bool
	// kindName is the kind cluster's name (Name, unless Connect found it).
	kindName string
	// foreign: a cluster Connect found; the harness never deletes it.
	foreign  bool
	provider *kindcluster.Provider
	logger   log.Logger
}

func (o *Options) defaults() {
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.PullTimeout == 0 {
		o.PullTimeout = 60 * time.Second
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = log.NoopLogger{}
	}
}

// ErrNoDocker says no container engine answers.
var ErrNoDocker = errors.New("docker does not answer")

// CheckDocker fails with ErrNoDocker and what to do when no engine answers.
func CheckDocker(ctx context.Context) error {
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("%w: the docker CLI is not on PATH; run `make cluster` (hack/prepare-host.sh installs Docker on Debian) or install Docker", ErrNoDocker)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		return fmt.Errorf("%w: `docker info`: %v: %s; start the engine (hack/prepare-host.sh does on Debian)", ErrNoDocker, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Ensure returns a ready cluster named opts.Name: an existing one if it
// becomes ready in time, else a new one from opts.ConfigPath. A cluster
// this call created is deleted again if anything fails or ctx is cancelled,
// unless opts.Keep.
func Ensure(ctx context.Context, opts Options) (c *Cluster, err error) {
	opts.defaults()
	cfg, _, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	if opts.Nodes > 0 {
		cfg = WithNodes(cfg, opts.Nodes)
	}
	if err := CheckDocker(ctx); err != nil {
		return nil, err
	}
	provider := kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(opts.Logger))
	c = &Cluster{Name: opts.Name, provider: provider, logger: opts.Logger, Kind: true, kindName: opts.Name}

	// The image first: a cluster running another node image than the one
	// this run would choose (the offline image changed, say) is recreated.
	choice, err := ChooseNodeImage(ctx, opts.NodeImage, opts.PullTimeout, opts.BuildOfflineImage)
	if err != nil {
		return nil, err
	}
	existing, err := provider.List()
	if err != nil {
		return nil, fmt.Errorf("list kind clusters: %w", err)
	}
	if slices.Contains(existing, opts.Name) {
		running := c.runningImage(ctx)
		have, _ := provider.ListNodes(opts.Name)
		switch {
		case running.Image != "" && !sameImage(ctx, running.Image, choice.Image):
			opts.Logger.Warnf("cluster %q runs node image %s, this run wants %s; recreating it", opts.Name, running.Image, choice.Image)
		case opts.Nodes > 0 && len(have) != len(cfg.Nodes):
			opts.Logger.Warnf("cluster %q has %d node(s), this run wants %d; recreating it", opts.Name, len(have), len(cfg.Nodes))
		default:
			opts.Logger.V(0).Infof("Reusing kind cluster %q; checking it is healthy", opts.Name)
			if err := c.connect(); err == nil {
				// A node container restarted with its engine needs ~30 s.
				if err = c.WaitReady(ctx, 90*time.Second); err == nil {
					c.NodeImage = running
					return c, nil
				}
				opts.Logger.Warnf("cluster %q is not healthy (%v); recreating it", opts.Name, err)
			} else {
				opts.Logger.Warnf("cluster %q has no usable kubeconfig (%v); recreating it", opts.Name, err)
			}
		}
		if err := provider.Delete(opts.Name, ""); err != nil {
			return nil, fmt.Errorf("delete cluster %q: %w", opts.Name, err)
		}
	}
	c.NodeImage = choice
	opts.Logger.V(0).Infof("Node image %s (%s)", choice.Image, choice.Why)

	c.Created = true
	defer func() {
		if err == nil {
			return
		}
		if opts.LogDir != "" {
			if lerr := provider.CollectLogs(opts.Name, opts.LogDir); lerr == nil {
				err = fmt.Errorf("%w (kind logs exported to %s)", err, opts.LogDir)
			}
		}
		if opts.Keep {
			opts.Logger.Warnf("keeping cluster %q for inspection (delete it with `make cluster-delete`)", opts.Name)
			return
		}
		if derr := provider.Delete(opts.Name, ""); derr != nil {
			err = errors.Join(err, fmt.Errorf("delete cluster after failure: %w", derr))
		}
	}()

	created := make(chan error, 1)
	go func() {
		created <- provider.Create(opts.Name,
			kindcluster.CreateWithV1Alpha4Config(cfg),
			kindcluster.CreateWithNodeImage(choice.Image),
			kindcluster.CreateWithRetain(false),
			kindcluster.CreateWithWaitForReady(0),
			kindcluster.CreateWithKubeconfigPath(kubeconfigPath(opts.Name)),
			kindcluster.CreateWithDisplayUsage(false),
			kindcluster.CreateWithDisplaySalutation(false),
		)
	}()
	select {
	case err = <-created:
		if err != nil {
			return nil, fmt.Errorf("create kind cluster %q with %s: %w", opts.Name, choice.Image, err)
		}
	case <-ctx.Done():
		// kind's create cannot be interrupted; deleting the cluster under it
		// makes it fail fast, and the deferred cleanup finishes the job.
		_ = provider.Delete(opts.Name, "")
		<-created
		return nil, fmt.Errorf("create kind cluster %q: %w", opts.Name, ctx.Err())
	}
	if err = c.connect(); err != nil {
		return nil, err
	}
	if err = c.WaitReady(ctx, opts.ReadyTimeout); err != nil {
		return nil, err
	}
	if err = c.Untaint(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// kubeconfigPath keeps the harness's kubeconfig away from ~/.kube/config.
func kubeconfigPath(name string) string {
	return filepath.Join(cache.Dir(), "kubeconfig-"+name)
}

func (c *Cluster) connect() error {
	cfg, err := c.provider.KubeConfig(c.Name, false)
	if err != nil {
		return fmt.Errorf("kubeconfig of cluster %q: %w", c.Name, err)
	}
	c.KubeconfigPath = kubeconfigPath(c.Name)
	if err := os.MkdirAll(filepath.Dir(c.KubeconfigPath), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(c.KubeconfigPath, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	c.Client, err = klient.NewWithKubeConfigFile(c.KubeconfigPath)
	if err != nil {
		return fmt.Errorf("client for cluster %q: %w", c.Name, err)
	}
	return nil
}

// WaitReady waits until every node is Ready and CoreDNS is available: the
// point from which pods schedule, get addresses and resolve names.
func (c *Cluster) WaitReady(ctx context.Context, timeout time.Duration) error {
	r := c.Client.Resources()
	start := time.Now()
	var list corev1.NodeList
	ready := nodesReady(r, &list)
	err := poll.Until(ctx, fmt.Sprintf("nodes of %q Ready", c.Name), poll.Slow.For(timeout), func(ctx context.Context) (bool, error) {
		if ok, err := ready(ctx); !ok {
			return ok, err
		}
		for _, n := range list.Items {
			// A Ready condition can be stale (a node container that just
			// restarted with its engine); the kubelet's lease, renewed every
			// 10 s, says whether it is alive now.
			var lease coordinationv1.Lease
			if err := r.Get(ctx, n.Name, "kube-node-lease", &lease); err != nil {
				return poll.Not("lease of node %s: %v", n.Name, err)
			}
			if lease.Spec.RenewTime == nil || time.Since(lease.Spec.RenewTime.Time) > 20*time.Second {
				return poll.Not("kubelet of node %s has not renewed its lease recently", n.Name)
			}
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	remaining := timeout - time.Since(start)
	avail := conditions.New(r).DeploymentAvailable("coredns", "kube-system")
	return poll.Until(ctx, "CoreDNS available", poll.Slow.For(max(remaining, 10*time.Second)), func(ctx context.Context) (bool, error) {
		ok, err := avail(ctx)
		if err != nil {
			return poll.Not("%v", err)
		}
		if !ok {
			var d appsv1.Deployment
			if gerr := r.Get(ctx, "coredns", "kube-system", &d); gerr == nil {
				return poll.Not("coredns %d/%d available", d.Status.AvailableReplicas, d.Status.Replicas)
			}
			return poll.Not("coredns not available")
		}
		return true, nil
	})
}

// nodesReady holds once the cluster has nodes and every one is Ready; it
// leaves them in *list. (Node leases are not read here: the least role a
// cluster of the user's grants, preflight.RunnerRole, does not allow it.)
func nodesReady(r *resources.Resources, list *corev1.NodeList) poll.Condition {
	return func(ctx context.Context) (bool, error) {
		if err := r.List(ctx, list); err != nil {
			return poll.Not("list nodes: %v", err)
		}
		if len(list.Items) == 0 {
			return poll.Not("no nodes yet")
		}
		for _, n := range list.Items {
			if !nodeReady(n) {
				return poll.Not("node %s not Ready", n.Name)
			}
		}
		return true, nil
	}
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// sameImage says whether two references name the same local image (a tag
// and a digest reference of one image are the same).
func sameImage(ctx context.Context, a, b string) bool {
	if a == b {
		return true
	}
	ida, erra := docker.ImageID(ctx, a)
	idb, errb := docker.ImageID(ctx, b)
	return erra == nil && errb == nil && ida == idb
}

func (c *Cluster) runningImage(ctx context.Context) NodeImageChoice {
	ns, err := c.provider.ListNodes(c.kindName)
	if err != nil || len(ns) == 0 {
		return NodeImageChoice{Source: "reused", Why: "reused cluster"}
	}
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.Config.Image}}", ns[0].String()).Output()
	if err != nil {
		return NodeImageChoice{Source: "reused", Why: "reused cluster"}
	}
	return NodeImageChoice{Image: strings.TrimSpace(string(out)), Source: "reused", Why: "reused cluster"}
}

// ServerVersion is the API server's version, e.g. v1.34.4.
func (c *Cluster) ServerVersion() (string, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(c.Client.RESTConfig())
	if err != nil {
		return "", err
	}
	v, err := dc.ServerVersion()
	if err != nil {
		return "", err
	}
	return v.GitVersion, nil
}

// Nodes returns the cluster's Kubernetes nodes (kind's handles); an error
// for a cluster that is not kind on this host.
func (c *Cluster) Nodes() ([]nodes.Node, error) {
	if !c.Kind {
		return nil, fmt.Errorf("cluster %s is not a kind cluster on this host: its nodes cannot be reached", c.Name)
	}
	return c.provider.ListInternalNodes(c.kindName)
}

// LoadImages copies local docker images into every node, skipping those a
// node already holds with the same ID (so a warm run loads nothing).
func (c *Cluster) LoadImages(ctx context.Context, refs ...string) error {
	ns, err := c.Nodes()
	if err != nil {
		return fmt.Errorf("list nodes of %q: %w", c.Name, err)
	}
	for _, ref := range refs {
		id, err := docker.ImageID(ctx, ref)
		if docker.IsNoSuchImage(err) {
			return fmt.Errorf("image %s is not in the local docker engine (run `make images`): %w", ref, err)
		}
		if err != nil {
			return err
		}
		var missing []nodes.Node
		for _, n := range ns {
			if got, err := nodeutils.ImageID(n, ref); err != nil || got != id {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			continue
		}
		c.logger.V(0).Infof("Loading %s into %d node(s)", ref, len(missing))
		var archive bytes.Buffer
		save := exec.CommandContext(ctx, "docker", "save", ref)
		save.Stdout = &archive
		var stderr bytes.Buffer
		save.Stderr = &stderr
		if err := save.Run(); err != nil {
			return fmt.Errorf("docker save %s: %w: %s", ref, err, strings.TrimSpace(stderr.String()))
		}
		// Into every node at once: each load is the node's containerd
		// unpacking the archive, and the nodes do not share a disk queue.
		errs := make([]error, len(missing))
		var wg sync.WaitGroup
		for i, n := range missing {
			wg.Go(func() {
				if err := nodeutils.LoadImageArchive(n, bytes.NewReader(archive.Bytes())); err != nil {
					errs[i] = fmt.Errorf("load %s into node %s: %w", ref, n, err)
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
	}
	return nil
}

// Delete removes the cluster and its kubeconfig; never one the harness
// did not create.
func (c *Cluster) Delete() error {
	if c.foreign {
		return fmt.Errorf("not deleting cluster %s: the harness did not create it", c.Name)
	}
	return Delete(c.Name, c.logger)
}

// Delete removes the named kind cluster if it exists.
func Delete(name string, logger log.Logger) error {
	if logger == nil {
		logger = log.NoopLogger{}
	}
	p := kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger))
	if err := p.Delete(name, kubeconfigPath(name)); err != nil {
		return fmt.Errorf("delete kind cluster %q: %w", name, err)
	}
	_ = os.Remove(kubeconfigPath(name))
	return nil
}

// controlPlaneTaint keeps pods off kind's control plane in a cluster with
// workers (kind removes it in a one-node cluster).
const controlPlaneTaint = "node-role.kubernetes.io/control-plane"

// Untaint lets scenarios run on the control plane too, as kind does for a
// one-node cluster: on a 2-core machine every node is worth using, and
// a scenario that needs a node to itself needs as many as there are.
func (c *Cluster) Untaint(ctx context.Context) error {
	var list corev1.NodeList
	if err := c.Client.Resources().List(ctx, &list); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	for _, n := range list.Items {
		// The kubelet writes its node too: read and write again on a
		// conflict.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := c.Client.Resources().Get(ctx, n.Name, "", &n); err != nil {
				return err
			}
			kept := slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(t corev1.Taint) bool { return t.Key == controlPlaneTaint })
			if len(kept) == len(n.Spec.Taints) {
				return nil
			}
			n.Spec.Taints = kept
			return c.Client.Resources().Update(ctx, &n)
		})
		if err != nil {
			return fmt.Errorf("let pods run on node %s (remove taint %s): %w", n.Name, controlPlaneTaint, err)
		}
	}
	return nil
}

// schedulable: pods can run on n (no NoSchedule or NoExecute taint).
func schedulable(n corev1.Node) bool {
	if n.Spec.Unschedulable {
		return false
	}
	for _, t := range n.Spec.Taints {
		// The node lifecycle controller lifts not-ready a moment after the
		// node turns Ready: on a Ready node it is on its way out.
		if t.Key == corev1.TaintNodeNotReady && nodeReady(n) {
			continue
		}
		if t.Effect == corev1.TaintEffectNoSchedule || t.Effect == corev1.TaintEffectNoExecute {
			return false
		}
	}
	return true
}

// SchedulableNodes are the names of the nodes pods can run on (no
// NoSchedule or NoExecute taint), sorted.
func (c *Cluster) SchedulableNodes(ctx context.Context) ([]string, error) {
	var list corev1.NodeList
	if err := c.Client.Resources().List(ctx, &list); err != nil {
		return nil, fmt.Errorf("list nodes: %w", err)
	}
	var out []string
	for _, n := range list.Items {
		if schedulable(n) {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}
