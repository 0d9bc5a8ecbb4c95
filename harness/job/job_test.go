package job

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
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
	got := scenarioRuns([]run.Result{r})
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

func TestParseKernelMode(t *testing.T) {
	for in, want := range map[string]KernelMode{"": KernelAuto, "auto": KernelAuto, "off": KernelOff, "require": KernelRequired} {
		if got, err := ParseKernelMode(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseKernelMode("maybe"); err == nil {
		t.Error("an unknown mode must be refused")
	}
}

// Without the kernel (here: turned off), the runner's scenarios fall back
// and the report says why.
func TestStartKernelOff(t *testing.T) {
	var meta reports.Meta
	r := &run.Runner{}
	stop := StartKernel(context.Background(), KernelOff, timeline.NewRecorder(time.Now()), r, &meta, io.Discard)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r.Kernel || meta.Kernel == nil || meta.Kernel.Available || meta.Kernel.Reason == "" {
		t.Errorf("runner kernel %v, meta %+v", r.Kernel, meta.Kernel)
	}
	if s := meta.Kernel.String(); s == "" || s[:4] != "off:" {
		t.Errorf("report line %q", s)
	}
}

// Node access: docker exec only into kind nodes of this host, privileged
// pods only when allowed, and an error naming the flag otherwise.
func TestNodeAccessMode(t *testing.T) {
	kind, other := &cluster.Cluster{Name: "k", Kind: true}, &cluster.Cluster{Name: "staging"}
	for _, tc := range []struct {
		o       ClusterOptions
		c       *cluster.Cluster
		want    string
		wantErr string
	}{
		{ClusterOptions{}, kind, NodeAccessDocker, ""},
		{ClusterOptions{}, other, "", ""},
		{ClusterOptions{AllowPrivileged: true}, other, NodeAccessPods, ""},
		{ClusterOptions{AllowPrivileged: true}, kind, NodeAccessDocker, ""},
		{ClusterOptions{NodeAccess: NodeAccessPods}, kind, "", "give --allow-privileged"},
		{ClusterOptions{NodeAccess: NodeAccessPods, AllowPrivileged: true}, kind, NodeAccessPods, ""},
		{ClusterOptions{NodeAccess: NodeAccessDocker}, other, "", "not kind nodes of this host"},
		{ClusterOptions{NodeAccess: "ssh"}, other, "", `--node-access "ssh": want auto, docker or pods`},
	} {
		got, err := NodeAccessMode(tc.o, tc.c)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v on %s: got %q, %v; want %q, error with %q", tc.o, tc.c.Name, got, err, tc.want, tc.wantErr)
		}
	}
}

// Measured times are kept per scenario across runs, only for scenarios
// that ran to the end; a failed one keeps its earlier time.
func TestDurationsAreKeptAcrossRuns(t *testing.T) {
	t.Setenv("KUBEGRACE_CACHE", t.TempDir())
	if d := loadDurations(); d != nil {
		t.Fatalf("fresh cache: %v", d)
	}
	at := time.Now()
	ok := func(name string, d time.Duration) run.Result {
		return run.Result{Spec: scenario.Spec{Name: name}, Started: at, Finished: at.Add(d)}
	}
	saveDurations([]run.Result{ok("a", 30*time.Second), ok("b", 10*time.Second)})
	failed := ok("a", 2*time.Second)
	failed.Err = errors.New("boom")
	inconclusive := ok("c", time.Second)
	inconclusive.Inconclusive = "pool too large"
	saveDurations([]run.Result{failed, inconclusive, ok("b", 12*time.Second)})
	got := loadDurations()
	if got["a"] != 30*time.Second || got["b"] != 12*time.Second || len(got) != 2 {
		t.Errorf("durations %v; want a 30s (its failed run ignored), b 12s, no c", got)
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
