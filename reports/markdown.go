package reports

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// byScenario groups verdicts by scenario.
func byScenario(verdicts []check.Verdict) map[string][]check.Verdict {
	m := map[string][]check.Verdict{}
	for _, v := range verdicts {
		m[v.Scenario] = append(m[v.Scenario], v)
	}
	return m
}

// reportScenarios is scenarioNames plus any scenario that only the verdicts
// mention, so nothing passed to Write goes unreported.
func reportScenarios(run Run, tl timeline.Timeline, verdicts []check.Verdict) []string {
	names := scenarioNames(run, tl)
	for _, v := range verdicts {
		if !slices.Contains(names, v.Scenario) {
			names = append(names, v.Scenario)
		}
	}
	return names
}

func scenarioTitle(name string) string {
	if name == "" {
		return "(no scenario)"
	}
	return name
}

// fmtDuration renders a run length for people, to the millisecond.
func fmtDuration(d time.Duration) string { return d.Round(time.Millisecond).String() }

// fmtDurationMS is fmtDuration of a number of milliseconds: "1.2s".
func fmtDurationMS(ms float64) string {
	return fmtDuration(time.Duration(math.Round(ms * float64(time.Millisecond))))
}

// renderMarkdown renders report.md: run facts, the at-a-glance,
// expectations and timings tables, a summary table of every verdict, then one section per scenario with its verdicts' sentences and
// stale windows.
func renderMarkdown(run Run, tl timeline.Timeline, verdicts []check.Verdict) []byte {
	verdicts = slices.Clone(verdicts)
	sortVerdicts(verdicts)
	names := reportScenarios(run, tl, verdicts)
	groups := byScenario(verdicts)
	var b bytes.Buffer
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# kubegrace report\n\n")
	for _, f := range runFacts(run) {
		p("- **%s**: %s\n", f[0], f[1])
	}
	if run.Error != "" {
		p("\n> **The run failed:** %s\n", strings.ReplaceAll(run.Error, "\n", "\n> "))
	}

	overview := overviewScenarios(run, names)
	if len(verdicts) > 0 || len(run.Expectations) > 0 {
		p("\n## Scenarios at a glance\n\n")
		p("%s", mdHeader(glanceHeader))
		for _, g := range glances(run, overview, groups) {
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(g.Scenario), g.Signalled, g.Deregistered, g.Killed, g.Stale, g.Reused, g.WrongTarget, g.Failed, g.Expectations)
		}
	}
	if len(run.Expectations) > 0 {
		p("\n## Expectations\n\n| scenario | expectation | got | met | why |\n|---|---|---|---|---|\n")
		for _, e := range run.Expectations {
			p("| %s | `%s` | %s | %s | %s |\n", mdCell(scenarioTitle(e.Scenario)), mdCell(expectationText(e)), mdCell(gotText(e)), metMark(e), mdCell(e.Why))
		}
	}
	if rows := timingRows(run, overview); len(rows) > 0 {
		p("\n## Timings\n\nInherent is what the spec asks for (grace periods, rollouts, waits, drain, settle): the floor. Forcing (making an address come back) is part of the faults' time but harness overhead; overhead = total / inherent.\n\n")
		p("%s", mdHeader(timingHeader))
		for _, t := range rows {
			p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", mdCell(t.Scenario), t.Setup, t.Faults, t.Forcing, t.Drain, t.Settle, t.Teardown, t.Total, t.Inherent, t.Overhead)
		}
		if t, ok := timingTotalRow(run); ok {
			p("| **%s** | | | | | | | %s | %s | %s |\n", t.Scenario, t.Total, t.Inherent, t.Overhead)
		}
	}

	p("\n## Summary\n\n")
	p("| scenario | verdict | subject | value |\n|---|---|---|---|\n")
	for _, name := range names {
		for _, v := range groups[name] {
			p("| %s | %s | %s | %s |\n", mdCell(scenarioTitle(v.Scenario)), mdCell(v.Name), mdCell(v.Subject), mdCell(fmtValueUnit(v)))
		}
	}

	for _, name := range names {
		p("\n## Scenario %s\n\n", mdCell(scenarioTitle(name)))
		if len(groups[name]) == 0 {
			p("No verdicts.\n")
		}
		for _, v := range groups[name] {
			subject := ""
			if v.Subject != "" {
				subject = " `" + v.Subject + "`"
			}
			p("- **%s**%s: %s: %s\n", v.Name, subject, fmtValueUnit(v), v.Message)
		}
		if ws := check.StaleWindows(tl, contextFor(run, name)); len(ws) > 0 {
			p("\nStale windows (ms from the run's base time):\n\n")
			p("| instance | service | IP | start | end | length | cause |\n|---|---|---|---|---|---|---|\n")
			for _, w := range ws {
				cause := "registering pod deleted, IP free"
				if w.Cause == check.CauseOtherService {
					cause = fmt.Sprintf("IP held by %s (%s)", w.OtherPod, w.OtherService)
				}
				p("| %s | %s | %s | %s | %s | %s | %s |\n", mdCell(w.Instance), mdCell(w.Service), w.IP,
					fmtMS(w.Start), fmtMS(w.End), fmtMS(w.End-w.Start), mdCell(cause))
			}
		}
	}

	if len(run.Images) > 0 {
		p("\n## Images\n\n| image | image ID |\n|---|---|\n")
		for _, ref := range slices.Sorted(maps.Keys(run.Images)) {
			p("| %s | %s |\n", mdCell(ref), mdCell(run.Images[ref]))
		}
	}
	if run.KindConfig != "" {
		p("\n## kind config\n\n```yaml\n%s\n```\n", strings.TrimRight(run.KindConfig, "\n"))
	}
	return b.Bytes()
}

// runFacts lists the run's identifying facts as label/value pairs, for both
// renderings.
func runFacts(run Run) [][2]string {
	var f [][2]string
	add := func(label, value string) {
		if value != "" {
			f = append(f, [2]string{label, value})
		}
	}
	harness := run.HarnessVersion
	if run.HarnessCommit != "" {
		harness = strings.TrimSpace(harness + " (" + run.HarnessCommit + ")")
	}
	add("harness", harness)
	add("kind", run.KindVersion)
	add("Kubernetes", run.KubernetesVersion)
	add("Consul", run.ConsulVersion)
	switch n := len(run.Nodes); {
	case n == 1:
		add("nodes", fmt.Sprintf("1 (%s); scenarios that need a node to themselves ran one after another", run.Nodes[0]))
	case n > 1:
		add("nodes", fmt.Sprintf("%d (%s); every scenario pinned to one (alone there if a fault needed it), side by side", n, strings.Join(run.Nodes, ", ")))
	}
	if run.Kernel != nil {
		add("kernel signal observer", run.Kernel.String())
	}
	if !run.Started.IsZero() {
		add("started", run.Started.UTC().Format(time.RFC3339))
	}
	if !run.Finished.IsZero() {
		s := run.Finished.UTC().Format(time.RFC3339)
		if !run.Started.IsZero() {
			s += " (" + fmtDuration(run.Finished.Sub(run.Started)) + ")"
		}
		add("finished", s)
	}
	outcome := "completed"
	if run.Error != "" || len(run.ScenarioErrors) > 0 {
		outcome = "failed"
	}
	if len(run.Expectations) > 0 {
		outcome += fmt.Sprintf("; expectations %d/%d met", expectationsMet(run.Expectations), len(run.Expectations))
	}
	if n := len(run.Inconclusive); n > 0 {
		outcome += fmt.Sprintf("; %d scenario(s) inconclusive", n)
	}
	add("outcome", outcome)
	for _, name := range slices.Sorted(maps.Keys(run.Inconclusive)) {
		add("inconclusive", name+": "+run.Inconclusive[name])
	}
	add("summary", strings.TrimSpace(run.Summary))
	return f
}

// fmtMS formats d in milliseconds as verdicts give them: "1690 ms".
func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(check.Milliseconds(d), 'f', -1, 64) + " ms"
}

// mdHeader is a Markdown table's header row and delimiter row.
func mdHeader(cells []string) string {
	return "| " + strings.Join(cells, " | ") + " |\n|" + strings.Repeat("---|", len(cells)) + "\n"
}
