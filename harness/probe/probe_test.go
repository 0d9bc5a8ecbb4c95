package probe

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// tini takes signals with sigtimedwait, which unblocks them while it
// waits, so its masks look like "no handler"; its wchan tells the truth.
func TestInSigwaitSeesTini(t *testing.T) {
	path, err := exec.LookPath("tini")
	if err != nil {
		t.Skip("tini is not installed (make test installs it)")
	}
	cmd := exec.Command(path, "-s", "--", "sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for !inSigwait("/proc", cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatal("tini never showed do_sigtimedwait in /proc/PID/wchan")
		}
		time.Sleep(20 * time.Millisecond)
	}
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	time.Sleep(100 * time.Millisecond)
	if inSigwait("/proc", sleep.Process.Pid) {
		t.Error("sleep is not in sigwait")
	}
}

func TestTermHandlingOrder(t *testing.T) {
	for want, p := range map[string]Process{
		"ignored": {IgnoresTERM: true, WaitsForTERM: true},
		"caught":  {CatchesTERM: true, WaitsForTERM: true},
		"sigwait": {WaitsForTERM: true},
		"default": {},
	} {
		if got := p.TermHandling(); got != want {
			t.Errorf("%+v: %s, want %s", p, got, want)
		}
	}
}

func verdicts(kv map[string]float64) []check.Verdict {
	var vs []check.Verdict
	for name, v := range kv {
		vs = append(vs, check.Verdict{Name: name, Subject: PodName, Value: v, Message: "kernel: " + name})
	}
	return vs
}

func TestSummaries(t *testing.T) {
	bash := Process{PID: 1, Comm: "bash", Cmdline: "bash /start.sh"}
	tini := Process{PID: 1, Comm: "tini", Cmdline: "tini -g -- /start.sh", WaitsForTERM: true}
	app := Process{PID: 7, PPID: 1, Comm: "java", Cmdline: "java -jar app.jar", CatchesTERM: true}
	cases := []struct {
		name string
		r    Result
		pass bool
		want []string
	}{
		{"no exec", Result{Kernel: true, Tree: []Process{bash, app}, App: "java (PID 7)", ExitCode: 137,
			Verdicts: verdicts(map[string]float64{check.NameSigtermDropped: 1, check.NameSignalDelivered: 0, check.NameKilledBySIGKILL: 1, check.NameShutdownWindow: -1})},
			false, []string{"PID 1 is bash (bash /start.sh) with no SIGTERM handler", "exited with code 137 (128+9: killed by SIGKILL)", "FAIL", "exec java"}},
		// The race lost: queued, never dequeued, killed 1 ms later. It got
		// the signal; the summary says it had no time.
		{"tini -g", Result{Kernel: true, Tree: []Process{tini, app}, App: "java (PID 7)", ExitCode: 143,
			Verdicts: verdicts(map[string]float64{check.NameSigtermDropped: 0, check.NameSignalDelivered: 0, check.NameKilledBySIGKILL: 1, check.NameShutdownWindow: 1.2})},
			true, []string{"waiting for SIGTERM with sigwait", "128+15", "got SIGTERM but was SIGKILLed 1.2 ms later"}},
		{"exec", Result{Kernel: true, Tree: []Process{{PID: 1, Comm: "java", CatchesTERM: true}}, App: "java (PID 1)", ExitCode: 0,
			Verdicts: verdicts(map[string]float64{check.NameSigtermDropped: 0, check.NameSignalDelivered: 1, check.NameKilledBySIGKILL: 0, check.NameShutdownWindow: 800})},
			true, []string{"catching SIGTERM", "exited with code 0.", "PASS"}},
		{"no app", Result{Kernel: true, Tree: []Process{bash}, ExitCode: -1,
			Verdicts: verdicts(map[string]float64{})},
			false, []string{"--app NAME"}},
		{"no kernel", Result{Tree: []Process{bash, app}, ExitCode: 137,
			Verdicts: []check.Verdict{{Name: check.NameSignalDelivered, Subject: PodName, Value: 0}, {Name: check.NameKilledBySIGKILL, Subject: PodName, Value: 1, Message: "exit code: 137"}}},
			false, []string{"The kernel was not observed: exit code: 137"}},
	}
	for _, c := range cases {
		if got := gotStopSignal(c.r); got != c.pass {
			t.Errorf("%s: pass %v, want %v", c.name, got, c.pass)
		}
		c.r.Pass = c.pass
		s := summarize(c.r, Options{Grace: 30 * time.Second})
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: summary lacks %q:\n%s", c.name, w, s)
			}
		}
		if c.r.ExitCode < 0 && strings.Contains(s, "exited with code") {
			t.Errorf("%s: an exit code that was not seen is reported:\n%s", c.name, s)
		}
	}
}

// A probe's report folder is a report like a run's: run.json holds the
// probe as run (a --command of several arguments included, which once
// made run.json empty), and `report check` reproduces its verdicts.
func TestReportOfAProbeRechecks(t *testing.T) {
	start := time.Now()
	o := Options{Image: "example/app:1", Command: []string{"/bin/sh", "-c", "exec app"}, Grace: 5 * time.Second, ReportsDir: t.TempDir(), Kernel: env.KernelOff}
	pr := &session{o: o.withDefaults(), start: start, idx: observe.NewPodIndex(), rec: timeline.NewRecorder(start), deleted: true}
	var res Result
	if err := pr.report(&res, nil); err != nil {
		t.Fatal(err)
	}
	run, _, err := reports.Load(res.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Scenarios) != 1 {
		t.Fatalf("run.json scenarios %d; want the probe", len(run.Scenarios))
	}
	var spec probeSpec
	if err := json.Unmarshal(run.Scenarios[0], &spec); err != nil {
		t.Fatalf("run.json's probe spec %s: %v", run.Scenarios[0], err)
	}
	if !slices.Equal(spec.Command, o.Command) || spec.Image != o.Image || spec.Grace != "5s" {
		t.Errorf("probe as run %+v; want %v", spec, o)
	}
	if _, identical, diff, err := reports.Recheck(res.Dir); err != nil || !identical {
		t.Errorf("report check: identical %v, %v\n%s", identical, err, diff)
	}
}
