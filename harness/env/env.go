package env

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/preflight"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/images"
)

// PauseImage is the pause image every kind node holds (the offline node
// image builds it in): IP-pool filler pods run it.
const PauseImage = "registry.k8s.io/pause:3.10"

// Env is what a run may do on the cluster it met, decided once by Start.
type Env struct {
	*Prepared
	// Specs are the specs as they run here: their services' own images
	// are the references the cluster knows.
	Specs []scenario.Spec
	// OwnImages maps each service image of the user's own to the
	// reference the cluster knows it by.
	OwnImages map[string]string
	// ImageIDs are the images' local IDs, for run.json.
	ImageIDs map[string]string
	// KubernetesVersion is the API server's ("" if it would not say).
	KubernetesVersion string
	// Nodes are the nodes scenarios may run on.
	Nodes []string
	// NodeAccess is how faults reach nodes: nodeaccess.ModeDocker,
	// nodeaccess.ModePods, or "" (none; NodeExec is nil).
	NodeAccess string
	// NodeExec runs a command on a node; nil without node access.
	NodeExec nodeaccess.Exec
	// Preflight is what the cluster allows (IPAM, IP-reuse method).
	Preflight preflight.Report
	// Networks are the pod networks the nodes' runtimes use, read through
	// node access (nil without it; a node that could not be read is
	// missing).
	Networks map[string]cni.Network
	// Kernel is the kernel signal observer: its pod index (nil when it
	// does not run) and what the report says of it (final after Stop).
	Kernel *Kernel

	mu    sync.Mutex
	live  []string       // namespaces the environment created and has not removed
	stops []func() error // newest last
}

// Start prepares the cluster and its images (PrepareCluster) and starts
// the rest on it (StartOn).
func Start(ctx context.Context, o Options, specs []scenario.Spec, rec *timeline.Recorder) (*Env, error) {
	p, err := PrepareCluster(ctx, o)
	if err != nil {
		return nil, err
	}
	return StartOn(ctx, p, o, specs, rec)
}

// StartOn provides the images specs name on a prepared cluster, runs the
// preflight, starts node access and the kernel observer (recording onto
// rec), and returns the environment. On an error the returned Env still
// holds what was started: call Stop.
func StartOn(ctx context.Context, p *Prepared, o Options, specs []scenario.Spec, rec *timeline.Recorder) (*Env, error) {
	o = o.withDefaults()
	e := &Env{Prepared: p, Specs: specs, Kernel: &Kernel{}}
	c := p.Cluster
	var err error
	if e.OwnImages, err = p.provideOwnImages(ctx, specs, o.Repo, o.Log); err != nil {
		return e, err
	}
	e.Specs = WithImages(specs, e.OwnImages)
	refs := []string{c.NodeImage.Image}
	if p.Images.Consul != "" {
		refs = append(refs, p.Images.Consul, p.Images.Fixture)
	}
	for _, r := range e.OwnImages {
		refs = append(refs, r)
	}
	slices.Sort(refs)
	e.ImageIDs = images.IDs(ctx, slices.Compact(refs)...)
	if v, verr := c.ServerVersion(); verr == nil {
		e.KubernetesVersion = v
	}
	if e.Nodes, err = c.SchedulableNodes(ctx); err != nil {
		return e, err
	}
	if e.NodeAccess, err = NodeAccessMode(o, c.Name, c.Kind); err != nil {
		return e, err
	}
	if e.Preflight, err = preflight.Check(ctx, c, e.Specs, preflight.Options{Registry: p.Registry, NodeAccess: e.NodeAccess}); err != nil {
		return e, err
	}
	if o.Kubeconfig != "" {
		fmt.Fprint(o.Log, e.Preflight.String())
	}
	if err := e.startNodeAccess(ctx, o); err != nil {
		return e, err
	}
	if err := e.startKernel(ctx, o, rec); err != nil {
		return e, err
	}
	return e, nil
}

// Stop ends what Start started (the kernel observer, node access), newest
// first, and joins their errors. It may be called on a partly started Env.
func (e *Env) Stop() error {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	stops := e.stops
	e.stops = nil
	e.mu.Unlock()
	var errs []error
	for _, s := range slices.Backward(stops) {
		errs = append(errs, s())
	}
	return errors.Join(errs...)
}

func (e *Env) onStop(f func() error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.stops = append(e.stops, f)
}

// Live lists the namespaces the environment created and has not removed
// (node access): with the runner's, what leaving at once leaves behind.
func (e *Env) Live() []string {
	if e == nil {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.live)
}

func (e *Env) track(ns string, alive bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.live = slices.DeleteFunc(e.live, func(s string) bool { return s == ns })
	if alive {
		e.live = append(e.live, ns)
	}
}

// Runner is a scenario runner over this environment.
func (e *Env) Runner(log io.Writer, durations map[string]time.Duration) *run.Runner {
	return &run.Runner{
		Client:     e.Cluster.Client,
		Log:        log,
		Images:     run.Images{Fixture: e.Images.Fixture, Consul: e.Images.Consul, Pause: PauseImage, Pulled: e.Registry != ""},
		NodeExec:   e.NodeExec,
		PodIndex:   e.Kernel.Index,
		Kernel:     e.Kernel.Index != nil,
		Nodes:      e.Nodes,
		IPAM:       e.Preflight.IPAMFamily,
		IPCooldown: time.Duration(e.Preflight.IPCooldownSeconds) * time.Second,
		Networks:   e.Networks,
		Durations:  durations,
	}
}

// startNodeAccess gives faults the node access the options ask for:
// docker exec into kind nodes of this host, or privileged pods started
// here on the run's nodes and removed by Stop.
func (e *Env) startNodeAccess(ctx context.Context, o Options) error {
	switch e.NodeAccess {
	case "":
		return nil
	case nodeaccess.ModeDocker:
		e.NodeExec = e.Cluster.Exec
		return e.readNetworks(ctx, o.Log, nil)
	}
	fmt.Fprintf(o.Log, "node access: DaemonSet %s/%s (privileged: host network and PID namespace, the nodes' %s), removed at the end\n",
		nodeaccess.Namespace, nodeaccess.DaemonSet, nodeaccess.MountsText())
	cfg := e.Cluster.Client.RESTConfig()
	e.track(nodeaccess.Namespace, true)
	e.onStop(func() error {
		err := nodeaccess.Remove(cfg)
		if err == nil {
			e.track(nodeaccess.Namespace, false)
		}
		return err
	})
	pods, err := nodeaccess.StartPods(ctx, cfg, e.Images.Fixture, e.Registry != "", e.Nodes, time.Minute)
	if err != nil {
		return err
	}
	for _, n := range e.Nodes {
		if why, ok := pods.Missing[n]; ok {
			fmt.Fprintf(o.Log, "node access: none on node %s (%s): its IP reuse falls back to filling the pool\n", n, why)
		}
	}
	e.NodeExec = pods.Exec
	return e.readNetworks(ctx, o.Log, mountStateFor(pods, o.Log))
}
