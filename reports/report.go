// Package reports writes one folder per harness run: what was run (run.json),
// everything that was observed (timeline.jsonl), what was concluded
// (verdicts.json), and the same for people (report.md, and report.html with a
// timeline picture per scenario). Because verdicts are pure functions of the
// timeline and the check contexts saved in run.json, Recheck can recompute
// them from the folder alone and prove that a report says what its data says.
package reports

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// The files of a report folder.
const (
	RunFile      = "run.json"
	TimelineFile = "timeline.jsonl"
	VerdictsFile = "verdicts.json"
	MarkdownFile = "report.md"
	HTMLFile     = "report.html"
)

// Run describes one harness run: enough to know exactly what was run, on
// what, and to recompute its verdicts offline. The caller fills it.
type Run struct {
	HarnessVersion string `json:"harness_version"`
	HarnessCommit  string `json:"harness_commit"`
	KindVersion    string `json:"kind_version"`
	// KubernetesVersion is the node image's Kubernetes version.
	KubernetesVersion string `json:"kubernetes_version"`
	ConsulVersion     string `json:"consul_version"`
	// Images maps each image reference used to its image ID (the hash of
	// its config), so a rerun can check it has the same bits.
	Images map[string]string `json:"images,omitempty"`
	// KindConfig is the kind cluster configuration text as used.
	KindConfig string `json:"kind_config,omitempty"`
	// Nodes are the nodes scenarios could run on; ScenarioNodes the node
	// each scenario was pinned to (alone there if it needed a node to
	// itself).
	Nodes []string `json:"nodes,omitempty"`
	// Preflight is what the preflight found of the cluster (harness/preflight).
	Preflight     json.RawMessage   `json:"preflight,omitempty"`
	ScenarioNodes map[string]string `json:"scenario_nodes,omitempty"`
	Started       time.Time         `json:"started"`
	Finished      time.Time         `json:"finished"`
	// Scenarios are the scenario definitions exactly as run, in run order,
	// opaque to this package.
	Scenarios []json.RawMessage `json:"scenarios,omitempty"`
	// CheckContexts holds, per scenario name, the check.Context its verdicts
	// were computed with; Recheck needs nothing else besides the timeline.
	CheckContexts map[string]check.Context `json:"check_contexts,omitempty"`
	// Expectations are each scenario's expectations judged against its
	// verdicts (JudgeAll). Each carries its own spec (verdict, subject,
	// op, want), and Recheck judges it again against the recomputed
	// verdicts.
	Expectations []Expectation `json:"expectations,omitempty"`
	// Timings are each scenario's phase wall times, by scenario name.
	Timings map[string]Timing `json:"timings,omitempty"`
	// Steps are each scenario's steps as run, with their wall times.
	Steps map[string][]StepTime `json:"steps,omitempty"`
	// Faults say what each scenario's faults did, in order.
	Faults map[string][]string `json:"faults,omitempty"`
	// Kernel says whether the kernel signal observer ran, and what it
	// measured of itself; without it the signal verdicts rest on the apps'
	// logs and exit codes.
	Kernel *KernelObserver `json:"kernel_observer,omitempty"`
	// Summary is what the run found, in words, for people (kubegrace probe
	// writes its verdict here).
	Summary string `json:"summary,omitempty"`
	// Inconclusive says, by scenario name, why a scenario's fault could not
	// be forced on this cluster (its expectations are inconclusive).
	Inconclusive map[string]string `json:"inconclusive,omitempty"`
	// ScenarioErrors says why a scenario failed, by scenario name.
	ScenarioErrors map[string]string `json:"scenario_errors,omitempty"`
	// Error says why the run as a whole failed (no cluster, no images, a
	// panic, an interrupt); a failed run still gets a report of whatever
	// was recorded.
	Error string `json:"error,omitempty"`
}

// scenarioNames returns the scenarios to report on: those seen in the
// timeline in order of first appearance, then those only in CheckContexts,
// sorted. A timeline without scenario names is reported as scenario "".
func scenarioNames(run Run, tl timeline.Timeline) []string {
	names := tl.Scenarios()
	var rest []string
	for name := range run.CheckContexts {
		if !slices.Contains(names, name) {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	names = append(names, rest...)
	if len(names) == 0 && len(tl.Events) > 0 {
		names = []string{""}
	}
	return names
}

// contextFor returns the check context of scenario name; a scenario without
// one is checked with defaults. The map key wins over Context.Scenario so
// that a mislabelled context cannot make a scenario check another's events.
func contextFor(run Run, name string) check.Context {
	ctx := run.CheckContexts[name]
	ctx.Scenario = name
	return ctx
}

// Verdicts computes every scenario's verdicts from the timeline with the
// run's check contexts, in canonical order (scenario, name, subject). It is
// the computation Recheck repeats, so a runner should use it to produce the
// verdicts it passes to Write. Events Write would leave out of
// timeline.jsonl (Timeline.Valid) are left out here too, or Recheck, which
// only has the file, would judge a different timeline.
func Verdicts(run Run, tl timeline.Timeline) []check.Verdict {
	tl = tl.Valid()
	var out []check.Verdict
	for _, name := range scenarioNames(run, tl) {
		out = append(out, check.All(tl, contextFor(run, name))...)
	}
	sortVerdicts(out)
	return out
}

func sortVerdicts(v []check.Verdict) {
	slices.SortStableFunc(v, func(a, b check.Verdict) int {
		return cmp.Or(cmp.Compare(a.Scenario, b.Scenario), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Subject, b.Subject))
	})
}

// marshalVerdicts is the one encoding of verdicts.json: indented, in
// canonical order, newline-terminated. Write and Recheck both use it, which
// is what makes a byte comparison meaningful.
func marshalVerdicts(v []check.Verdict) ([]byte, error) {
	v = slices.Clone(v)
	sortVerdicts(v)
	if v == nil {
		v = []check.Verdict{}
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal verdicts: %w", err)
	}
	return append(b, '\n'), nil
}

// Write writes the five report files into dir, creating it if needed. It
// writes every file it can even when one fails (a run that broke halfway
// still deserves its timeline on disk) and returns the joined errors.
// Verdicts are written in canonical order; pass Verdicts(run, tl) so that
// Recheck agrees.
func Write(dir string, run Run, tl timeline.Timeline, verdicts []check.Verdict) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create report dir: %w", err)
	}
	var errs []error
	write := func(name string, render func() ([]byte, error)) {
		b, err := render()
		if err != nil {
			errs = append(errs, fmt.Errorf("render %s: %w", name, err))
			if b == nil {
				return
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("write %s: %w", name, err))
		}
	}
	// The timeline first: events that could not be written are said in
	// run.json and the report, not only in the returned error.
	var events bytes.Buffer
	terr := timeline.WriteJSONL(&events, tl)
	if terr != nil {
		run.Error = strings.TrimSpace(run.Error + "\ntimeline: " + terr.Error() + " (nor judged, nor drawn)")
	}
	// The report shows what timeline.jsonl holds, as Verdicts judges it.
	tl = tl.Valid()
	write(RunFile, func() ([]byte, error) {
		b, err := json.MarshalIndent(run, "", "  ")
		return append(b, '\n'), err
	})
	// Every valid event is written even when some are not.
	write(TimelineFile, func() ([]byte, error) { return events.Bytes(), terr })
	write(VerdictsFile, func() ([]byte, error) { return marshalVerdicts(verdicts) })
	write(MarkdownFile, func() ([]byte, error) { return renderMarkdown(run, tl, verdicts), nil })
	write(HTMLFile, func() ([]byte, error) { return renderHTML(run, tl, verdicts) })
	return errors.Join(errs...)
}

// Load reads a report folder's run and timeline, the inputs of its verdicts.
func Load(dir string) (Run, timeline.Timeline, error) {
	var run Run
	b, err := os.ReadFile(filepath.Join(dir, RunFile))
	if err != nil {
		return Run{}, timeline.Timeline{}, fmt.Errorf("read run: %w", err)
	}
	if err := json.Unmarshal(b, &run); err != nil {
		return Run{}, timeline.Timeline{}, fmt.Errorf("parse %s: %w", RunFile, err)
	}
	f, err := os.Open(filepath.Join(dir, TimelineFile))
	if err != nil {
		return Run{}, timeline.Timeline{}, fmt.Errorf("read timeline: %w", err)
	}
	defer f.Close()
	tl, err := timeline.ReadJSONL(f)
	if err != nil {
		return Run{}, timeline.Timeline{}, fmt.Errorf("parse %s: %w", TimelineFile, err)
	}
	return run, tl, nil
}
