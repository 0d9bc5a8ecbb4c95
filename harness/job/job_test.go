package job

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/reports"
)

// A runner's result becomes the report's part: timings from the step list
// (forcing counted as overhead), wants from the spec, steps kept.
func TestScenarioRuns(t *testing.T) {
	spec := scenario.Spec{Name: "s", Expect: []scenario.Expectation{{Verdict: "stale_window", Op: ">", Value: 0, Why: "w"}}}
	start := time.Now()
	r := run.Result{Spec: spec, Kernel: true, Started: start, Finished: start.Add(10 * time.Second), Forcing: time.Second, Err: errors.New("boom"),
		Steps: []run.StepTiming{
			{Name: "consul", Phase: run.PhaseSetup, Duration: 2 * time.Second},
			{Name: "faults", Phase: run.PhaseFaults, Duration: 4 * time.Second},
			{Name: "settle", Phase: run.PhaseSettle, Duration: time.Second, Error: "x"},
		}}
	got := ScenarioRuns([]run.Result{r})
	if len(got) != 1 {
		t.Fatal(got)
	}
	g := got[0]
	if g.Name != "s" || g.Err == nil || len(g.Wants) != 1 || g.Wants[0].Why != "w" || g.Wants[0].Verdict != "stale_window" {
		t.Errorf("%+v", g)
	}
	if g.Context.Scenario != "s" || !g.Context.Kernel {
		t.Errorf("verdicts' context %+v", g.Context)
	}
	if g.Timing.InherentMS != 4000 || g.Timing.ForcingMS != 1000 || g.Timing.TotalMS != 10000 || g.Timing.SetupMS != 2000 {
		t.Errorf("timing %+v", g.Timing)
	}
	if len(g.Steps) != 3 || g.Steps[2].MS != 1000 || g.Steps[2].Error != "x" || g.Steps[1].Phase != "faults" {
		t.Errorf("steps %+v", g.Steps)
	}
}

// The report's kind version: the module's built in, else the fallback
// (test binaries carry no dependency versions, so the kind and e2e tiers
// use it), which must be go.mod's.
func TestKindVersionIsGoMods(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	want := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "sigs.k8s.io/kind" {
			want = f[1]
		}
	}
	if want == "" || kindVersionFallback != want || kindVersion() != want {
		t.Errorf("go.mod has kind %q; kindVersion() %q, kindVersionFallback %q", want, kindVersion(), kindVersionFallback)
	}
}

// kubeconfigFor writes a kubeconfig whose one cluster is at server.
func kubeconfigFor(t *testing.T, server string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: " + server +
		"\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n"
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A job whose environment cannot be had still writes its report, with the
// error in run.json, the latest link, and a JUnit file.
func TestRunWritesAReportWhenTheEnvironmentFails(t *testing.T) {
	dir := t.TempDir()
	specs := []scenario.Spec{{Name: "s"}}
	res, err := Run(context.Background(), Options{Specs: specs, ReportsDir: dir,
		Env: env.Options{Repo: t.TempDir(), Kubeconfig: kubeconfigFor(t, "http://127.0.0.1:1"), SkipImages: true}})
	if err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("error %v; want the cluster's", err)
	}
	run, _, lerr := reports.Load(res.Dir)
	if lerr != nil {
		t.Fatal(lerr)
	}
	if !strings.Contains(run.Error, "does not answer") {
		t.Errorf("run.json error %q", run.Error)
	}
	for _, f := range []string{reports.JUnitFile, reports.MarkdownFile} {
		if _, serr := os.Stat(filepath.Join(res.Dir, f)); serr != nil {
			t.Error(serr)
		}
	}
	if target, lerr := os.Readlink(filepath.Join(dir, "latest")); lerr != nil || target != filepath.Base(res.Dir) {
		t.Errorf("latest -> %q (%v)", target, lerr)
	}
}

// Leaving at once (a second Ctrl-C) returns while the job still waits on
// the cluster, with ErrLeft; it never waits for the API server.
func TestRunLeavesAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close() // accepts nothing: every request hangs
	leave := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, Options{Specs: []scenario.Spec{{Name: "s"}}, ReportsDir: t.TempDir(), Leave: leave,
			Env: env.Options{Repo: t.TempDir(), Kubeconfig: kubeconfigFor(t, "http://"+ln.Addr().String()), SkipImages: true}})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	close(leave)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeft) {
			t.Errorf("error %v; want ErrLeft", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of Leave")
	}
}
