// Package job is the main job, from a cluster to a report: prepare the
// cluster (created or reused, the project's images built and loaded), run
// the scenarios (harness/run), and write the report (reports), always,
// even when a scenario fails, the run is interrupted or it panics.
package job

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/preflight"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/images"
	"github.com/kubegrace/kubegrace/reports"
)

// ClusterOptions configure PrepareCluster.
type ClusterOptions struct {
	// Repo is the repository root (kind-config.yaml, images/ scripts).
	Repo string
	// Name of the kind cluster (cluster.DefaultName if empty).
	Name string
	// ConfigPath is the kind config (default Repo/kind-config.yaml).
	ConfigPath string
	// NodeImage, if set, is used as is.
	NodeImage string
	// Nodes is the cluster's size (0: as kind-config.yaml says).
	Nodes int
	// Kubeconfig, if set, names a cluster the harness did not create (its
	// Context, or the current one): it is used as it is, never created,
	// recreated nor deleted, and a preflight says what it allows.
	Kubeconfig, Context string
	// ImageRegistry, if set, is where the run's images are pushed for the
	// cluster to pull (host[:port][/path]), instead of loading them into
	// kind nodes: the way to a cluster that is not kind on this host.
	ImageRegistry string
	// AllowPrivileged lets the run create privileged pods on a cluster
	// that is not kind on this host: the node access and kernel agent
	// DaemonSets (NodeAccessPods), nothing else. Off by default.
	AllowPrivileged bool
	// NodeAccess is how faults reach nodes: NodeAccessAuto (docker exec
	// into kind nodes of this host; elsewhere privileged pods if allowed,
	// else none), NodeAccessDocker, NodeAccessPods (needs AllowPrivileged).
	NodeAccess string
	// KernelAgentHostProc, if set, is a node path holding the kernel's
	// first PID namespace's /proc, for kernel agents on nodes that do not
	// run in it (kind nodes: the kind tier mounts this host's /proc there).
	KernelAgentHostProc string
	// Keep leaves a cluster this call created when it fails or is
	// interrupted.
	Keep bool
	// LogDir receives kind's logs when creation fails.
	LogDir string
	// ReadyTimeout bounds creation until a Ready node and CoreDNS.
	ReadyTimeout time.Duration
	// SkipImages: do not build or load the project's images.
	SkipImages bool
	// Log receives progress.
	Log io.Writer
}

// Prepared is a cluster ready for scenarios.
type Prepared struct {
	Cluster *cluster.Cluster
	Images  images.Project
	// Registry is where images were pushed for the cluster to pull ("":
	// loaded into kind nodes).
	Registry string
}

// provide gets images into the cluster: pushed to the registry when one is
// given (the references returned are the pushed ones), else loaded into
// kind nodes of this host.
func (p *Prepared) provide(ctx context.Context, log io.Writer, refs ...string) ([]string, error) {
	if p.Registry != "" {
		pushed, err := images.Push(ctx, p.Registry, refs, log)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(refs))
		for i, r := range refs {
			out[i] = pushed[r]
		}
		return out, nil
	}
	if !p.Cluster.Kind {
		return nil, fmt.Errorf("cluster %s: its nodes are not kind nodes of this host, so images cannot be loaded into them: give --image-registry, a registry this host can push to and the cluster can pull from", p.Cluster.Name)
	}
	return refs, p.Cluster.LoadImages(ctx, refs...)
}

// provideProject builds the project's images and gets them into the
// cluster. After the cluster, not beside it: on 2 cores, the Consul build
// beside the node image's Go builds was measured slower than one after the
// other (961 s against 906 s with empty caches).
func (p *Prepared) provideProject(ctx context.Context, repo string, log io.Writer) error {
	built, err := images.BuildProject(ctx, repo, log)
	if err != nil {
		return err
	}
	refs, err := p.provide(ctx, log, built.Consul, built.Fixture)
	if err != nil {
		return err
	}
	p.Images = images.Project{Consul: refs[0], Fixture: refs[1]}
	return nil
}

// PrepareCluster creates or reuses the kind cluster and builds and loads
// the project's images: what `kubegrace cluster create`, the main job and
// the kind tier all need.
func PrepareCluster(ctx context.Context, o ClusterOptions) (*Prepared, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ConfigPath == "" {
		o.ConfigPath = filepath.Join(o.Repo, "kind-config.yaml")
	}
	start := time.Now()
	if o.Kubeconfig != "" {
		return connect(ctx, o)
	}
	c, err := cluster.Ensure(ctx, cluster.Options{
		Name:         o.Name,
		ConfigPath:   o.ConfigPath,
		NodeImage:    o.NodeImage,
		Nodes:        o.Nodes,
		Keep:         o.Keep,
		LogDir:       o.LogDir,
		ReadyTimeout: o.ReadyTimeout,
		Logger:       kindcmd.NewLogger(),
		BuildOfflineImage: func(ctx context.Context) (string, error) {
			fmt.Fprintln(o.Log, "offline kind node image: checking it is built (cold: about 15 min on 2 cores)")
			return images.OfflineNode(ctx, o.Repo, o.Log)
		},
	})
	if err != nil {
		return nil, err
	}
	verb := "reused"
	if c.Created {
		verb = "created"
	}
	fmt.Fprintf(o.Log, "cluster %s %s in %.1fs (node image %s)\n", c.Name, verb, time.Since(start).Seconds(), c.NodeImage.Image)
	p := &Prepared{Cluster: c, Registry: o.ImageRegistry}
	if o.SkipImages {
		return p, nil
	}
	return p, p.provideProject(ctx, o.Repo, o.Log)
}

// connect prepares a cluster the harness did not create. Images of this
// host reach only a kind cluster's nodes.
func connect(ctx context.Context, o ClusterOptions) (*Prepared, error) {
	c, err := cluster.Connect(ctx, o.Kubeconfig, o.Context, kindcmd.NewLogger())
	if err != nil {
		return nil, err
	}
	kind := "not a kind cluster of this host"
	if c.Kind {
		kind = "kind nodes in this host's Docker"
	}
	fmt.Fprintf(o.Log, "using cluster %s from %s as it is (%s): nothing is created there but the scenarios' namespaces\n", c.Name, o.Kubeconfig, kind)
	p := &Prepared{Cluster: c, Registry: o.ImageRegistry}
	if o.SkipImages {
		return p, nil
	}
	return p, p.provideProject(ctx, o.Repo, o.Log)
}

// Runner is a scenario runner on the prepared cluster. Faults get node
// access (docker exec) where the nodes are kind nodes of this host; the
// job's startNodeAccess then applies --node-access to it.
func (p *Prepared) Runner(log io.Writer) *run.Runner {
	c := p.Cluster
	r := &run.Runner{Client: c.Client, Log: log,
		Images: run.Images{Fixture: p.Images.Fixture, Consul: p.Images.Consul, Pause: PauseImage, Pulled: p.Registry != ""}}
	if !c.Kind {
		return r
	}
	r.NodeExec = func(ctx context.Context, node string, argv ...string) (string, error) {
		ns, err := c.Nodes()
		if err != nil {
			return "", err
		}
		for _, n := range ns {
			if n.String() == node {
				var out bytes.Buffer
				cmd := n.CommandContext(ctx, argv[0], argv[1:]...)
				cmd.SetStdout(&out)
				cmd.SetStderr(&out)
				if err := cmd.Run(); err != nil {
					return out.String(), fmt.Errorf("%s on node %s: %w: %s", strings.Join(argv, " "), node, err, strings.TrimSpace(out.String()))
				}
				return out.String(), nil
			}
		}
		return "", fmt.Errorf("no node %s in cluster %s", node, c.Name)
	}
	return r
}

// The node access modes (--node-access).
const (
	NodeAccessAuto   = "auto"
	NodeAccessDocker = "docker"
	NodeAccessPods   = "pods"
)

// NodeAccessMode is the mode o asks for, resolved for cluster c, or why it
// cannot be had ("" mode: no node access).
func NodeAccessMode(o ClusterOptions, c *cluster.Cluster) (string, error) {
	switch o.NodeAccess {
	case "", NodeAccessAuto:
		switch {
		case c.Kind:
			return NodeAccessDocker, nil
		case o.AllowPrivileged:
			return NodeAccessPods, nil
		}
		return "", nil
	case NodeAccessDocker:
		if !c.Kind {
			return "", fmt.Errorf("--node-access docker: the nodes of cluster %s are not kind nodes of this host's Docker", c.Name)
		}
		return NodeAccessDocker, nil
	case NodeAccessPods:
		if !o.AllowPrivileged {
			return "", fmt.Errorf("--node-access pods runs a privileged DaemonSet (host network, the nodes' /var/lib/cni) on cluster %s: give --allow-privileged too", c.Name)
		}
		return NodeAccessPods, nil
	}
	return "", fmt.Errorf("--node-access %q: want auto, docker or pods", o.NodeAccess)
}

// startNodeAccess gives the runner's faults the node access o asks for:
// Runner already holds docker exec for kind nodes; privileged pods are
// started here, on the runner's nodes, and the returned stop removes them.
func (p *Prepared) startNodeAccess(ctx context.Context, o ClusterOptions, r *run.Runner, log io.Writer) (stop func() error, err error) {
	noop := func() error { return nil }
	mode, err := NodeAccessMode(o, p.Cluster)
	switch {
	case err != nil:
		return noop, err
	case mode == "":
		r.NodeExec = nil
		return noop, nil
	case mode == NodeAccessDocker:
		return noop, nil
	}
	fmt.Fprintf(log, "node access: DaemonSet %s/%s (privileged: host network, the nodes' %s), removed at the end\n",
		nodeaccess.Namespace, nodeaccess.DaemonSet, strings.Join(nodeaccess.Mounts, ", "))
	r.Track(nodeaccess.Namespace, true)
	pods, err := nodeaccess.StartPods(ctx, p.Cluster.Client.RESTConfig(), p.Images.Fixture, p.Registry != "", r.Nodes, time.Minute)
	stop = func() error {
		err := nodeaccess.Remove(p.Cluster.Client.RESTConfig())
		if err == nil {
			r.Track(nodeaccess.Namespace, false)
		}
		return err
	}
	if err != nil {
		return stop, err
	}
	for _, n := range r.Nodes {
		if why, ok := pods.Missing[n]; ok {
			fmt.Fprintf(log, "node access: none on node %s (%s): its IP reuse falls back to filling the pool\n", n, why)
		}
	}
	r.NodeExec = pods.Exec
	return stop, nil
}

// PauseImage is the pause image every kind node holds (the offline node
// image builds it in).
const PauseImage = "registry.k8s.io/pause:3.10"

// Options configure Run.
type Options struct {
	Specs []scenario.Spec
	// Cluster: see ClusterOptions (Repo also locates kind-config.yaml).
	Cluster ClusterOptions
	// ReportsDir receives <run-id>/ and the latest link (default ./reports).
	ReportsDir string
	// Parallel bounds how many scenarios run at once (run.Runner.RunAll);
	// 0: as many as the cluster has nodes, at least 2 (measured on 2
	// cores: the built-in suite on 4 nodes, 4 at once, in 159–178 s).
	Parallel int
	// Kernel: KernelAuto (default: observe signals in the kernel where this
	// host allows, else fall back and say so), KernelOff, KernelRequired.
	Kernel KernelMode
	// OnRunner, if set, is given the runner before scenarios start (the CLI
	// uses it to say what an interrupted run leaves behind).
	OnRunner func(*run.Runner)
	Log      io.Writer
}

// Result is what a job produced.
type Result struct {
	Dir      string
	Run      reports.Run
	Verdicts []check.Verdict
	Results  []run.Result
}

// Run prepares the cluster, runs the specs and writes the report: always,
// even when a scenario fails, the job is interrupted or it panics, with
// what was recorded. The error is the job's and every scenario's.
func Run(ctx context.Context, o Options) (res Result, err error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ReportsDir == "" {
		o.ReportsDir = "reports"
	}
	started := time.Now()
	runID := started.Format("20060102-150405")
	res.Dir = filepath.Join(o.ReportsDir, runID)
	rec := timeline.NewRecorder(started)
	meta := newMeta(started, o.Cluster)

	// The report is written whatever happens below; it is deferred first so
	// it runs last, after the observers stopped. Scenario errors are kept
	// per scenario; jobErr is the job's own.
	var jobErr error
	defer func() {
		err = res.finish(ctx, o.ReportsDir, runID, meta, rec, jobErr, recover())
	}()

	if o.Cluster.LogDir == "" {
		o.Cluster.LogDir = filepath.Join(res.Dir, "cluster-logs")
	}
	p, runner, access, jobErr := setUp(ctx, o, &meta)
	if jobErr != nil {
		return res, jobErr
	}
	stopObservers, jobErr := p.startObservers(ctx, o, runner, access, rec, &meta)
	defer func() { jobErr = errors.Join(jobErr, stopObservers()) }()
	if jobErr != nil {
		return res, jobErr
	}
	if o.OnRunner != nil {
		o.OnRunner(runner)
	}
	fmt.Fprintf(o.Log, "running %d scenario(s) on cluster %s, %d node(s) (node image %s)\n", len(o.Specs), p.Cluster.Name, len(runner.Nodes), p.Cluster.NodeImage.Image)
	parallel := o.Parallel
	if parallel <= 0 {
		parallel = max(2, len(runner.Nodes))
	}
	runner.Durations = loadDurations()
	res.Results = runner.RunAll(ctx, o.Specs, parallel, rec)
	if ctx.Err() == nil {
		saveDurations(res.Results)
	}
	return res, nil
}

// newMeta is what the report says of the run before it starts: versions,
// commit, kind config.
func newMeta(started time.Time, o ClusterOptions) reports.Meta {
	meta := reports.Meta{Started: started, HarnessVersion: "dev", ConsulVersion: consul.Version, KindVersion: kindVersion()}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		meta.HarnessVersion = bi.Main.Version
	}
	meta.HarnessCommit = gitCommit(o.Repo)
	if raw, err := os.ReadFile(filepath.Join(o.Repo, "kind-config.yaml")); err == nil && o.Kubeconfig == "" {
		meta.KindConfig = string(raw)
	}
	return meta
}

// finish writes the report (run.json, timeline, verdicts, markdown, HTML,
// JUnit) and points reports/latest at it, with jobErr, an interrupt and a
// panic (recovered) said in it; it returns the run's error.
func (res *Result) finish(ctx context.Context, reportsDir, runID string, meta reports.Meta, rec *timeline.Recorder, jobErr error, recovered any) (err error) {
	if recovered != nil {
		jobErr = errors.Join(jobErr, fmt.Errorf("panic: %v\n%s", recovered, debug.Stack()))
	}
	if ctx.Err() != nil {
		jobErr = errors.Join(jobErr, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
	}
	tl := rec.Snapshot()
	res.Run, res.Verdicts = reports.Assemble(meta, scenarioRuns(res.Results), tl, jobErr)
	err = res.Run.Err()
	if werr := reports.Write(res.Dir, res.Run, tl, res.Verdicts); werr != nil {
		err = errors.Join(err, fmt.Errorf("write report %s: %w", res.Dir, werr))
	}
	if werr := reports.WriteJUnit(filepath.Join(res.Dir, reports.JUnitFile), res.Run); werr != nil {
		err = errors.Join(err, werr)
	}
	latest := filepath.Join(reportsDir, "latest")
	_ = os.Remove(latest)
	_ = os.Symlink(runID, latest)
	return err
}

// setUp prepares the cluster, the images the specs name, and a runner that
// knows the nodes and what the preflight found (IPAM, cooldown).
func setUp(ctx context.Context, o Options, meta *reports.Meta) (*Prepared, *run.Runner, string, error) {
	p, err := PrepareCluster(ctx, o.Cluster)
	if err != nil {
		return nil, nil, "", err
	}
	c := p.Cluster
	own, err := p.provideOwnImages(ctx, o.Specs, o.Cluster.Repo, o.Log)
	if err != nil {
		return nil, nil, "", err
	}
	meta.Images = images.IDs(ctx, append([]string{p.Images.Consul, p.Images.Fixture, c.NodeImage.Image}, own...)...)
	if v, verr := c.ServerVersion(); verr == nil {
		meta.KubernetesVersion = v
	}
	runner := p.Runner(o.Log)
	if runner.Nodes, err = c.SchedulableNodes(ctx); err != nil {
		return nil, nil, "", err
	}
	meta.Nodes = runner.Nodes
	access, err := NodeAccessMode(o.Cluster, c)
	if err != nil {
		return nil, nil, "", err
	}
	pf, err := preflight.Check(ctx, c, o.Specs, preflight.Options{Registry: p.Registry, NodeAccess: access})
	if err != nil {
		return nil, nil, "", err
	}
	meta.Preflight, _ = json.Marshal(pf)
	runner.IPAM, runner.IPCooldown = pf.IPAMFamily, time.Duration(pf.IPCooldownSeconds)*time.Second
	if o.Cluster.Kubeconfig != "" {
		fmt.Fprint(o.Log, pf.String())
	}
	return p, runner, access, nil
}

// startObservers starts node access (pods, with --allow-privileged) and
// the kernel observer (this host's tracefs, or agents on the nodes); stop
// ends both, even after an error.
func (p *Prepared) startObservers(ctx context.Context, o Options, runner *run.Runner, access string, rec *timeline.Recorder, meta *reports.Meta) (stop func() error, err error) {
	stopAccess, err := p.startNodeAccess(ctx, o.Cluster, runner, o.Log)
	stopKernel := func() error { return nil }
	stop = func() error { return errors.Join(stopKernel(), stopAccess()) }
	if err != nil {
		return stop, err
	}
	switch kmode := o.Kernel; {
	case access == NodeAccessPods && kmode != KernelOff:
		stopKernel = p.startKernelAgents(ctx, o.Cluster, rec, runner, meta, o.Log)
	case !p.Cluster.Kind && kmode != KernelOff:
		stopKernel = StartKernel(ctx, KernelUnreachable, rec, runner, meta, o.Log)
	default:
		stopKernel = StartKernel(ctx, kmode, rec, runner, meta, o.Log)
	}
	if o.Kernel == KernelRequired && !runner.Kernel {
		return stop, fmt.Errorf("the kernel signal observer is required (--kernel require) but cannot run: %s", meta.Kernel.Reason)
	}
	return stop, nil
}

// kindVersion is the version of kind's Go module built into this binary,
// or kindVersionFallback where the build info lacks it (test binaries: the
// kind and e2e tiers).
func kindVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "sigs.k8s.io/kind" {
				if d.Replace != nil {
					d = d.Replace
				}
				if d.Version != "" {
					return d.Version
				}
			}
		}
	}
	return kindVersionFallback
}

// kindVersionFallback is go.mod's kind version (TestKindVersionIsGoMods
// keeps it so).
const kindVersionFallback = "v0.30.0"

// scenarioRuns converts the runner's results to the report's form.
func scenarioRuns(results []run.Result) []reports.ScenarioRun {
	var out []reports.ScenarioRun
	for _, r := range results {
		raw, _ := json.Marshal(r.Spec)
		sr := reports.ScenarioRun{
			Name: r.Spec.Name, Spec: raw, Context: r.Spec.CheckContext(r.Kernel), Faults: r.Faults, Node: r.Node, Inconclusive: r.Inconclusive, Err: r.Err,
			Timing: reports.NewTiming(r.Phase(run.PhaseSetup), r.Phase(run.PhaseFaults), r.Forcing, r.Phase(run.PhaseDrain),
				r.Phase(run.PhaseSettle), r.Phase(run.PhaseTeardown), r.Total()),
		}
		for _, e := range r.Spec.Expect {
			sr.Wants = append(sr.Wants, reports.Want{Verdict: e.Verdict, Subject: e.Subject, Op: e.Op, Value: e.Value, Why: e.Why})
		}
		for _, s := range r.Steps {
			sr.Steps = append(sr.Steps, reports.StepTime{Name: s.Name, Phase: string(s.Phase),
				MS: float64(s.Duration.Microseconds()) / 1000, Error: s.Error})
		}
		out = append(out, sr)
	}
	return out
}

func gitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// provideOwnImages gets the images of the user's own the specs run into
// the cluster, from the local Docker engine (loaded, or pushed to the
// registry, in which case the specs are changed to the pushed references:
// run.json shows what ran). A missing one is an error naming the spec's
// field and how to get it there.
func (p *Prepared) provideOwnImages(ctx context.Context, specs []scenario.Spec, repo string, log io.Writer) ([]string, error) {
	var refs []string
	for _, s := range specs {
		for i, svc := range s.Services {
			if svc.Image == "" || slices.Contains(refs, svc.Image) {
				continue
			}
			// The built-in specs' runtimes (a JVM...) are built here, offline.
			if _, err := images.BuildRuntime(ctx, repo, svc.Image, log); err != nil {
				return nil, fmt.Errorf("scenario %s: services[%d].image %s: %w", s.Name, i, svc.Image, err)
			}
			if err := cluster.LocalImage(ctx, svc.Image); err != nil {
				return nil, fmt.Errorf("scenario %s: services[%d].image: %w", s.Name, i, err)
			}
			refs = append(refs, svc.Image)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	got, err := p.provide(ctx, log, refs...)
	if err != nil {
		return nil, err
	}
	for _, s := range specs {
		for i := range s.Services {
			if j := slices.Index(refs, s.Services[i].Image); j >= 0 {
				s.Services[i].Image = got[j]
			}
		}
	}
	return got, nil
}
