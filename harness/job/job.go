// Package job is the main job, from flags to a report: the environment
// (harness/env), the scenarios run on it (harness/run), and the report
// (reports.Publish), written always, even when a scenario fails or
// panics, or the run is interrupted.
package job

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// Options configure Run.
type Options struct {
	Specs []scenario.Spec
	// Env shapes the environment (Env.Repo also locates kind-config.yaml).
	Env env.Options
	// ReportsDir receives <run-id>/ and the latest link (default ./reports).
	ReportsDir string
	// Parallel bounds how many scenarios run at once (run.Runner.RunAll);
	// 0: as many as the cluster has nodes, at least 2.
	Parallel int
	// Leave, when closed (a second Ctrl-C), makes Run return at once with
	// what the run leaves behind (Result.LeftBehind) and ErrLeft: no
	// teardown is waited for and no report written.
	Leave <-chan struct{}
	Log   io.Writer
}

// ErrLeft is Run's error when it returned at once because Options.Leave
// closed.
var ErrLeft = errors.New("left at once: nothing was torn down and no report was written")

// Result is what a job produced.
type Result struct {
	Dir      string
	Run      reports.Run
	Verdicts []check.Verdict
	Results  []run.Result
	// LeftBehind lists the namespaces the run created and had not removed
	// when it returned (after Leave; empty after a normal end).
	LeftBehind []string
}

// Run builds the environment, runs the specs on it and writes the report:
// always, even when a scenario fails or the job is interrupted, with what
// was recorded. A panic in the job, a step or an observer is recovered
// and said in the report; one in a goroutine a fault starts itself is not.
// The error is the job's and every scenario's.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ReportsDir == "" {
		o.ReportsDir = "reports"
	}
	j := &job{o: o, started: time.Now()}
	j.dir = filepath.Join(o.ReportsDir, j.started.Format("20060102-150405"))
	var res Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err = j.run(ctx)
	}()
	select {
	case <-done:
		return res, err
	case <-o.Leave:
		return Result{Dir: j.dir, LeftBehind: j.leftBehind()}, ErrLeft
	}
}

// job is one run of Run; mu guards what Leave reads while it runs.
type job struct {
	o       Options
	started time.Time
	dir     string

	mu     sync.Mutex
	env    *env.Env
	runner *run.Runner
}

func (j *job) run(ctx context.Context) (res Result, err error) {
	res.Dir = j.dir
	rec := timeline.NewRecorder(j.started)
	var e *env.Env
	// The report is written whatever happens below; deferred first, it
	// runs last, after the environment stopped (its kernel counts are
	// final then). Scenario errors are kept per scenario; jobErr is the
	// job's own.
	var jobErr error
	defer func() {
		err = res.finish(ctx, j.meta(e), rec, jobErr, recover())
	}()
	if j.o.Env.LogDir == "" {
		j.o.Env.LogDir = filepath.Join(j.dir, "cluster-logs")
	}
	e, jobErr = env.Start(ctx, j.o.Env, j.o.Specs, rec)
	j.mu.Lock()
	j.env = e
	j.mu.Unlock()
	defer func() { jobErr = errors.Join(jobErr, e.Stop()) }()
	if jobErr != nil {
		return res, jobErr
	}
	runner := e.Runner(j.o.Log, run.LoadDurations())
	j.mu.Lock()
	j.runner = runner
	j.mu.Unlock()
	fmt.Fprintf(j.o.Log, "running %d scenario(s) on cluster %s, %d node(s) (node image %s)\n", len(e.Specs), e.Cluster.Name, len(e.Nodes), e.Cluster.NodeImage.Image)
	parallel := j.o.Parallel
	if parallel <= 0 {
		parallel = max(2, len(e.Nodes))
	}
	res.Results = runner.RunAll(ctx, e.Specs, parallel, rec)
	if ctx.Err() == nil {
		run.SaveDurations(res.Results)
	}
	return res, nil
}

// leftBehind is what the run created and has not removed yet.
func (j *job) leftBehind() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	var left []string
	if j.runner != nil {
		left = j.runner.Live()
	}
	return append(left, j.env.Live()...)
}

// meta is what the report says of the run besides its results: versions,
// commit, kind config, and what the environment found (e may be nil or
// partly started).
func (j *job) meta(e *env.Env) reports.Meta {
	meta := reports.Meta{Started: j.started, HarnessVersion: "dev", ConsulVersion: consul.Version, KindVersion: kindVersion()}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		meta.HarnessVersion = bi.Main.Version
	}
	meta.HarnessCommit = gitCommit(j.o.Env.Repo)
	if raw, err := os.ReadFile(filepath.Join(j.o.Env.Repo, "kind-config.yaml")); err == nil && j.o.Env.Kubeconfig == "" {
		meta.KindConfig = string(raw)
	}
	if e == nil {
		return meta
	}
	meta.Images, meta.KubernetesVersion, meta.Nodes = e.ImageIDs, e.KubernetesVersion, e.Nodes
	if e.Preflight.Cluster != "" {
		meta.Preflight, _ = json.Marshal(e.Preflight)
	}
	kinfo := e.Kernel.Report
	meta.Kernel = &kinfo
	return meta
}

// finish writes the report with jobErr, an interrupt and a panic
// (recovered) said in it, and returns the run's error.
func (res *Result) finish(ctx context.Context, meta reports.Meta, rec *timeline.Recorder, jobErr error, recovered any) error {
	if recovered != nil {
		jobErr = errors.Join(jobErr, fmt.Errorf("panic: %v\n%s", recovered, debug.Stack()))
	}
	if ctx.Err() != nil {
		jobErr = errors.Join(jobErr, fmt.Errorf("interrupted: %w", context.Cause(ctx)))
	}
	var werr error
	res.Run, res.Verdicts, werr = reports.Publish(res.Dir, true, meta, ScenarioRuns(res.Results), rec.Snapshot(), jobErr)
	return errors.Join(res.Run.Err(), werr)
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

// ScenarioRuns converts the runner's results to the report's form: the
// one adapter between harness/run and reports (the job and the kind tier
// use it).
func ScenarioRuns(results []run.Result) []reports.ScenarioRun {
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
