package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Meta is what a report says about the run beyond its results.
type Meta struct {
	HarnessVersion, HarnessCommit  string
	KindVersion, KubernetesVersion string
	ConsulVersion, KindConfig      string
	Images                         map[string]string
	Nodes                          []string
	Preflight                      json.RawMessage
	Started                        time.Time
	Kernel                         *KernelObserver
	Summary                        string
}

// ScenarioRun is one scenario's part of a run, as the runner hands it over.
type ScenarioRun struct {
	Name string
	// Spec is the scenario exactly as run (JSON).
	Spec    json.RawMessage
	Context check.Context
	Wants   []Want
	Timing  Timing
	Steps   []StepTime
	Faults  []string
	// Node is the node the scenario's pods were pinned to (on a cluster of
	// several nodes).
	Node string
	// Inconclusive says why the scenario's fault could not be forced here.
	Inconclusive string
	Err          error
}

// StepTime is one step of a scenario run and its wall time.
type StepTime struct {
	Name  string  `json:"name"`
	Phase string  `json:"phase"`
	MS    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

// Timing is one scenario's phase wall times. It separates the waits a
// scenario asks for (faults, drain, settle: inherent) from what the harness
// spends around them (setup, teardown, and anything between phases), so a
// slow run shows whether the scenario or the harness is slow. Build it with
// NewTiming so that InherentMS and Overhead agree with the phases.
type Timing struct {
	SetupMS  float64 `json:"setup_ms"`
	FaultsMS float64 `json:"faults_ms"`
	// ForcingMS is the part of FaultsMS the harness spent forcing a fault
	// (making an address come back), not waiting for what the spec asks.
	ForcingMS  float64 `json:"forcing_ms"`
	DrainMS    float64 `json:"drain_ms"`
	SettleMS   float64 `json:"settle_ms"`
	TeardownMS float64 `json:"teardown_ms"`
	// TotalMS is the scenario's whole wall time, which may exceed the sum
	// of the phases.
	TotalMS float64 `json:"total_ms"`
	// InherentMS is faults-forcing+drain+settle: the waits the scenario
	// asks for (grace periods, rollouts, waits, drain and settle), its floor.
	InherentMS float64 `json:"inherent_ms"`
	// Overhead is TotalMS / InherentMS, to three decimals (0 if InherentMS
	// is 0): how many times its inherent waits the scenario took.
	Overhead float64 `json:"overhead"`
}

// NewTiming returns the Timing of the given phase wall times, in
// milliseconds rounded to the microsecond like verdicts, with InherentMS
// and Overhead derived from them.
func NewTiming(setup, faults, forcing, drain, settle, teardown, total time.Duration) Timing {
	t := Timing{
		SetupMS:    check.Milliseconds(setup),
		FaultsMS:   check.Milliseconds(faults),
		ForcingMS:  check.Milliseconds(forcing),
		DrainMS:    check.Milliseconds(drain),
		SettleMS:   check.Milliseconds(settle),
		TeardownMS: check.Milliseconds(teardown),
		TotalMS:    check.Milliseconds(total),
		InherentMS: check.Milliseconds(faults - forcing + drain + settle),
	}
	if t.InherentMS != 0 {
		t.Overhead = math.Round(t.TotalMS/t.InherentMS*1000) / 1000
	}
	return t
}

// Assemble builds a report's Run and verdicts: verdicts computed from the
// timeline with each scenario's context (so Recheck reproduces them),
// expectations judged, timings and steps kept. jobErr is the run's own
// error (scenario errors are kept per scenario, once).
func Assemble(meta Meta, scenarios []ScenarioRun, tl timeline.Timeline, jobErr error) (Run, []check.Verdict) {
	run := Run{
		HarnessVersion: meta.HarnessVersion, HarnessCommit: meta.HarnessCommit,
		KindVersion: meta.KindVersion, KubernetesVersion: meta.KubernetesVersion, ConsulVersion: meta.ConsulVersion,
		Images: meta.Images, KindConfig: meta.KindConfig, Nodes: meta.Nodes, Preflight: meta.Preflight, Kernel: meta.Kernel, Summary: meta.Summary,
		Started: meta.Started, Finished: time.Now(),
		CheckContexts: map[string]check.Context{},
		Timings:       map[string]Timing{},
		Steps:         map[string][]StepTime{},
		Faults:        map[string][]string{},
	}
	if jobErr != nil {
		run.Error = jobErr.Error()
	}
	for _, s := range scenarios {
		run.Scenarios = append(run.Scenarios, s.Spec)
		run.CheckContexts[s.Name] = s.Context
		if s.Timing.TotalMS > 0 { // a probe times no phases: no row of zeros
			run.Timings[s.Name] = s.Timing
		}
		run.Steps[s.Name] = s.Steps
		if len(s.Faults) > 0 {
			run.Faults[s.Name] = s.Faults
		}
		if s.Inconclusive != "" {
			if run.Inconclusive == nil {
				run.Inconclusive = map[string]string{}
			}
			run.Inconclusive[s.Name] = s.Inconclusive
		}
		if s.Node != "" {
			if run.ScenarioNodes == nil {
				run.ScenarioNodes = map[string]string{}
			}
			run.ScenarioNodes[s.Name] = s.Node
		}
		if s.Err != nil {
			if run.ScenarioErrors == nil {
				run.ScenarioErrors = map[string]string{}
			}
			run.ScenarioErrors[s.Name] = s.Err.Error()
		}
	}
	verdicts := Verdicts(run, tl)
	for _, s := range scenarios {
		run.Expectations = append(run.Expectations, JudgeAll(s.Name, s.Wants, verdicts)...)
	}
	markInconclusive(run.Expectations, run.Inconclusive)
	return run, verdicts
}

// Err is the run's error and every scenario's, joined, or nil.
func (r Run) Err() error {
	var errs []error
	if r.Error != "" {
		errs = append(errs, errors.New(r.Error))
	}
	for _, name := range r.ScenarioNames() {
		if e, ok := r.ScenarioErrors[name]; ok {
			errs = append(errs, fmt.Errorf("scenario %s: %s", name, e))
		}
	}
	return errors.Join(errs...)
}

// ScenarioNames are the names of the scenarios as run, in run order.
func (r Run) ScenarioNames() []string {
	var names []string
	for _, raw := range r.Scenarios {
		var s struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(raw, &s) == nil {
			names = append(names, s.Name)
		}
	}
	return names
}

// Unmet lists the expectations that were not met.
func (r Run) Unmet() []Expectation {
	var out []Expectation
	for _, e := range r.Expectations {
		if !e.Met && !e.Inconclusive {
			out = append(out, e)
		}
	}
	return out
}

// Summary renders one line per expectation and the timings, for a terminal.
func Summary(run Run) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tEXPECTATION\tGOT\tMET\tTOTAL\tOVERHEAD")
	for _, name := range run.ScenarioNames() {
		t := run.Timings[name]
		n := 0
		for _, e := range run.Expectations {
			if e.Scenario != name {
				continue
			}
			n++
			met := "yes"
			switch {
			case e.Inconclusive:
				met = "INCONCLUSIVE"
			case !e.Met:
				met = "NO"
			}
			fmt.Fprintf(tw, "%s\t%s %s %s %g\t%v\t%s\t%.1fs\t%.2f\n", name, e.Verdict, e.Subject, e.Op, e.Want, e.Got, met, t.TotalMS/1000, t.Overhead)
		}
		status := "measured only"
		serr, failed := run.ScenarioErrors[name]
		why, inconclusive := run.Inconclusive[name]
		switch {
		case failed:
			line, _, _ := strings.Cut(serr, "\n")
			status = "ERROR: " + line
		case inconclusive:
			status = "INCONCLUSIVE: " + why
		}
		if n == 0 || failed || inconclusive {
			fmt.Fprintf(tw, "%s\t(%s)\t\t\t%.1fs\t%.2f\n", name, status, t.TotalMS/1000, t.Overhead)
		}
	}
	_ = tw.Flush()
	if run.Error != "" {
		line, _, _ := strings.Cut(run.Error, "\n")
		fmt.Fprintf(&b, "run error: %s\n", line)
	}
	if sum, ok := sumTimings(run.Timings); ok {
		fmt.Fprintf(&b, "scenarios: %.1f s in all, of which %.1f s inherent (the spec's waits) and %.1f s forcing faults; overhead %.2f\n",
			sum.totalMS/1000, sum.inherentMS/1000, sum.forcingMS/1000, sum.overhead())
	}
	if !run.Finished.IsZero() && !run.Started.IsZero() {
		fmt.Fprintf(&b, "wall time: %s\n", run.Finished.Sub(run.Started).Round(time.Second))
	}
	return b.String()
}

// KernelObserver is the kernel signal observer's part of a report.
type KernelObserver struct {
	Available bool `json:"available"`
	// Agents lists the nodes whose kernel agents observed (a cluster whose
	// nodes are not on this host); none: this host's tracefs.
	Agents []string `json:"agents,omitempty"`
	// Reason says why it did not run (not root, no tracefs, busy).
	Reason string `json:"reason,omitempty"`
	// Events read from the kernel, Recorded on the timeline (processes of
	// watched pods), Lost by the trace buffer, Unparsed lines.
	Events       int     `json:"events"`
	Recorded     int     `json:"recorded"`
	Lost         uint64  `json:"lost"`
	Unparsed     uint64  `json:"unparsed"`
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyMaxMS float64 `json:"latency_max_ms"`
}

// String says in one line what the observer did.
func (k *KernelObserver) String() string {
	if k == nil {
		return "not asked for"
	}
	if !k.Available {
		return "off: " + k.Reason + "; signal verdicts rest on the apps' logs and exit codes"
	}
	where := "this host's tracefs"
	if len(k.Agents) > 0 {
		where = fmt.Sprintf("kernel agents on %d node(s)", len(k.Agents))
	}
	return fmt.Sprintf("on (%s): %d events read, %d recorded, %d lost, %d unparsed; kernel → timeline latency p50 %.2f ms, max %.2f ms",
		where, k.Events, k.Recorded, k.Lost, k.Unparsed, k.LatencyP50MS, k.LatencyMaxMS)
}
