package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/images"
	"github.com/kubegrace/kubegrace/reports"
)

// JobOptions configure RunJob: the main job, from a cluster to a report.
type JobOptions struct {
	Specs []Spec
	// Repo is the repository root (kind-config.yaml, images/ scripts).
	Repo        string
	ClusterName string
	NodeImage   string
	// ReportsDir receives <run-id>/ and the latest link (default Repo/reports).
	ReportsDir string
	// Parallel bounds how many shareable scenarios run at once.
	Parallel int
	// KeepCluster leaves a cluster this job created when the job fails.
	KeepCluster bool
	Log         io.Writer
}

// JobResult is what a job produced.
type JobResult struct {
	Dir      string
	Run      reports.Run
	Verdicts []check.Verdict
	Results  []Result
}

// Unmet lists the expectations that were not met.
func (j JobResult) Unmet() []reports.Expectation {
	var out []reports.Expectation
	for _, e := range j.Run.Expectations {
		if !e.Met {
			out = append(out, e)
		}
	}
	return out
}

// RunJob prepares the cluster (created or reused), builds and loads the
// images, runs the specs and writes the report: always, even when a
// scenario fails or the job panics, with what was recorded.
func RunJob(ctx context.Context, opts JobOptions) (res JobResult, err error) {
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.ReportsDir == "" {
		opts.ReportsDir = filepath.Join(opts.Repo, "reports")
	}
	started := time.Now()
	runID := started.Format("20060102-150405")
	res.Dir = filepath.Join(opts.ReportsDir, runID)
	rec := timeline.NewRecorder(started)
	meta := Meta{Started: started, HarnessVersion: "dev", ConsulVersion: consul.Version, KindVersion: "v0.30.0"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		meta.HarnessVersion = bi.Main.Version
	}
	meta.HarnessCommit = gitCommit(opts.Repo)
	if raw, rerr := os.ReadFile(filepath.Join(opts.Repo, "kind-config.yaml")); rerr == nil {
		meta.KindConfig = string(raw)
	}

	// The report is written whatever happens below.
	defer func() {
		if p := recover(); p != nil {
			err = errors.Join(err, fmt.Errorf("panic: %v\n%s", p, debug.Stack()))
		}
		run, verdicts := BuildReport(meta, res.Results, rec.Snapshot())
		if err != nil {
			run.Error = strings.TrimSpace(run.Error + "\n" + err.Error())
		}
		res.Run, res.Verdicts = run, verdicts
		if werr := reports.Write(res.Dir, run, rec.Snapshot(), verdicts); werr != nil {
			err = errors.Join(err, fmt.Errorf("write report: %w", werr))
		}
		latest := filepath.Join(opts.ReportsDir, "latest")
		_ = os.Remove(latest)
		_ = os.Symlink(runID, latest)
	}()

	logger := kindcmd.NewLogger()
	c, err := cluster.Ensure(ctx, cluster.Options{
		Name:       opts.ClusterName,
		ConfigPath: filepath.Join(opts.Repo, "kind-config.yaml"),
		NodeImage:  opts.NodeImage,
		Keep:       opts.KeepCluster,
		LogDir:     filepath.Join(res.Dir, "cluster-logs"),
		Logger:     logger,
		BuildOfflineImage: func(ctx context.Context) (string, error) {
			fmt.Fprintln(opts.Log, "offline kind node image: checking it is built (a cold build took 436 s on 2 cores)")
			return images.OfflineNode(ctx, opts.Repo, opts.Log)
		},
	})
	if err != nil {
		return res, err
	}
	img, err := images.BuildProject(ctx, opts.Repo, opts.Log)
	if err != nil {
		return res, err
	}
	if err := c.LoadImages(ctx, img.Consul, img.Fixture); err != nil {
		return res, err
	}
	meta.Images = images.IDs(ctx, img.Consul, img.Fixture, c.NodeImage.Image)
	if v, verr := c.ServerVersion(); verr == nil {
		meta.KubernetesVersion = v
	}
	runner := &Runner{
		Client: c.Client, FixtureImage: img.Fixture, ConsulImage: img.Consul,
		PauseImage: "registry.k8s.io/pause:3.10", Log: opts.Log,
		NodeExec: func(ctx context.Context, node string, argv ...string) error {
			ns, err := c.Nodes()
			if err != nil {
				return err
			}
			for _, n := range ns {
				if n.String() == node {
					return n.CommandContext(ctx, argv[0], argv[1:]...).Run()
				}
			}
			return fmt.Errorf("no node %s in cluster %s", node, c.Name)
		},
	}
	fmt.Fprintf(opts.Log, "running %d scenario(s) on cluster %s (node image %s)\n", len(opts.Specs), c.Name, c.NodeImage.Image)
	res.Results = runner.RunAll(ctx, opts.Specs, opts.Parallel, rec)
	var errs []error
	for _, r := range res.Results {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("scenario %s: %w", r.Spec.Name, r.Err))
		}
	}
	return res, errors.Join(errs...)
}

func gitCommit(repo string) string {
	out, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// Summary renders one line per expectation and the timings, for a terminal.
func Summary(j JobResult) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTATION\tGOT\tMET\tTOTAL\tOVERHEAD")
	for _, r := range j.Results {
		t := j.Run.Timings[r.Spec.Name]
		n := 0
		for _, e := range j.Run.Expectations {
			if e.Scenario != r.Spec.Name {
				continue
			}
			n++
			met := "yes"
			if !e.Met {
				met = "NO"
			}
			fmt.Fprintf(tw, "%s\t%s %s %s %g\t%v\t%s\t%.1fs\t%.2f\n", r.Spec.Name, e.Verdict, e.Subject, e.Op, e.Want, e.Got, met, t.TotalMS/1000, t.Overhead)
		}
		status := "measured only"
		if r.Err != nil {
			line, _, _ := strings.Cut(r.Err.Error(), "\n")
			status = "ERROR: " + line
		}
		if n == 0 || r.Err != nil {
			fmt.Fprintf(tw, "%s\t(%s)\t\t\t%.1fs\t%.2f\n", r.Spec.Name, status, t.TotalMS/1000, t.Overhead)
		}
	}
	_ = tw.Flush()
	return b.String()
}
