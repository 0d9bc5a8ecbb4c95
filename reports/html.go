package reports

import (
	"bytes"
	"fmt"
	"html/template"
	"maps"
	"slices"
	"strings"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// pageTemplate is report.html. Everything is inline (CSS, SVG, no script) so
// the file can be mailed, attached to a ticket or opened from an air-gapped
// machine and look the same.
const pageTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kubegrace report</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; margin: 16px auto; max-width: 1220px; padding: 0 10px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 0; }
dl.facts dt { color: #666; }
dl.facts dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 13px; white-space: pre-line; }
.error { background: #fdecea; border-left: 4px solid #d0312d; padding: 8px 12px; margin: 12px 0; white-space: pre-wrap; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e4e4; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f6f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.mono, code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.status { font-weight: 600; border-radius: 3px; padding: 0 6px; }
.status-pass { background: #e3f4e6; color: #1e6b2e; }
.status-fail { background: #fdecea; color: #a5231f; }
.status-inconclusive { background: #eeeeee; color: #444444; }
tr.unmet td { background: #fff6f5; }
.figure { overflow-x: auto; border: 1px solid #e4e4e4; border-radius: 4px; padding: 4px 0; }
svg.timeline { display: block; font-size: 11px; }
svg .grid { stroke: #ececec; }
svg .axis, svg .sep { stroke: #bbb; }
svg .tick { fill: #666; }
svg .group { font-weight: 700; fill: #333; font-size: 12px; }
svg .lane { fill: #222; }
svg .inbar { fill: #fff; font-size: 10px; pointer-events: none; }
svg .faultlabel { fill: #5b3f8c; font-size: 10px; }
svg .code { font-size: 10px; font-weight: 700; }
svg .stale { fill: #f28e2b; fill-opacity: 0.14; }
svg .stalelabel { fill: #c0620d; font-size: 10px; font-weight: 700; }
.legend { display: flex; flex-wrap: wrap; gap: 4px 16px; font-size: 12px; color: #444; margin: 6px 0 0; }
.sw { display: inline-block; width: 14px; height: 10px; vertical-align: -1px; margin-right: 4px; border-radius: 2px; }
.empty { color: #777; font-style: italic; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
</style>
</head>
<body>
<h1>kubegrace report</h1>
<dl class="facts">{{range .Facts}}<dt>{{index . 0}}</dt><dd>{{index . 1}}</dd>{{end}}</dl>
{{with .Error}}<div class="error"><strong>The run failed:</strong> {{.}}</div>{{end}}
{{with .Glance}}
<h2>Scenarios at a glance</h2>
<table>
<tr>{{range $.GlanceHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .}}<tr{{if and .HasExpectations (not .AllMet)}} class="unmet"{{end}}><td>{{if .Linked}}<a href="#scenario-{{.Anchor}}">{{.Scenario}}</a>{{else}}{{.Scenario}}{{end}}</td><td class="num">{{.Signalled}}</td><td class="num">{{.Deregistered}}</td><td class="num">{{.Killed}}</td><td class="num">{{.Stale}}</td><td class="num">{{.Reused}}</td><td class="num">{{.WrongTarget}}</td><td class="num">{{.Failed}}</td><td class="num">{{if .HasExpectations}}<span class="status status-{{if .AllMet}}pass{{else}}fail{{end}}">{{.Expectations}}</span>{{else}}{{.Expectations}}{{end}}</td></tr>
{{end}}</table>
{{end}}
{{with .Expectations}}
<h2>Expectations</h2>
<table>
<tr><th>scenario</th><th>expectation</th><th>got</th><th>met</th><th>why</th></tr>
{{range .}}<tr{{if and (not .Met) (not .Inconclusive)}} class="unmet"{{end}} title="{{.Message}}"><td>{{.Scenario}}</td><td><code>{{.Text}}</code></td><td class="num">{{.Got}}</td><td><span class="status status-{{if .Met}}pass{{else if .Inconclusive}}inconclusive{{else}}fail{{end}}">{{.Mark}}</span></td><td>{{.Why}}</td></tr>
{{end}}</table>
{{end}}
{{with .Timings}}
<h2>Timings</h2>
<table>
<tr>{{range $.TimingHeader}}<th>{{.}}</th>{{end}}</tr>
{{range .}}<tr><td>{{.Scenario}}</td><td class="num">{{.Setup}}</td><td class="num">{{.Faults}}</td><td class="num">{{.Forcing}}</td><td class="num">{{.Drain}}</td><td class="num">{{.Settle}}</td><td class="num">{{.Teardown}}</td><td class="num">{{.Total}}</td><td class="num">{{.Inherent}}</td><td class="num">{{.Overhead}}</td></tr>
{{end}}{{with $.TimingTotal}}<tr><td><strong>{{.Scenario}}</strong></td><td></td><td></td><td></td><td></td><td></td><td></td><td class="num">{{.Total}}</td><td class="num">{{.Inherent}}</td><td class="num">{{.Overhead}}</td></tr>
{{end}}</table>
{{end}}

<h2>Summary</h2>
<table>
<tr><th>scenario</th><th>verdict</th><th>subject</th><th>value</th></tr>
{{range .Summary}}<tr><td>{{.Scenario}}</td><td>{{.Name}}</td><td class="mono">{{.Subject}}</td><td class="num">{{.Value}}</td></tr>
{{end}}</table>

{{range .Scenarios}}
<h2 id="scenario-{{.Anchor}}">Scenario {{.Title}}</h2>
<div class="figure">{{.SVG}}</div>
<div class="legend">
<span><span class="sw" style="background:#4e79a7"></span>pod alive (one hue per service; paler: terminating, then terminated)</span>
<span>▼ deletion requested</span>
<span><span class="sw" style="background:#1565c0;border-radius:50%;width:10px"></span>app got the signal</span>
<span>◇ app deregistered</span>
<span>✕ container terminated (exit code; red: 137, SIGKILL)</span> <span>▲ signal sent, seen by the kernel (T TERM, K KILL red; hollow: dropped by PID 1)</span> <span>■ stop signal dequeued by a process</span>
<span><span class="sw" style="background:#2e9e44"></span>passing</span>
<span><span class="sw" style="background:#e0b000"></span>warning</span>
<span><span class="sw" style="background:#d0312d"></span>critical</span>
<span><span class="sw" style="background:#a0a0a0"></span>no status yet</span>
<span><span class="sw" style="background:#f28e2b;opacity:.45"></span>stale window</span>
<span>calls: <span style="color:#2e9e44">●</span> ok <span style="color:#f28e2b">●</span> wrong target <span style="color:#d0312d">●</span> error</span>
<span><span class="sw" style="background:#8e6bbf"></span>fault</span>
</div>
<table>
<tr><th>verdict</th><th>subject</th><th>value</th><th>what happened</th></tr>
{{range .Verdicts}}<tr><td>{{.Name}}</td><td class="mono">{{.Subject}}</td><td class="num">{{.Value}}</td><td>{{.Message}}</td></tr>
{{else}}<tr><td colspan="4" class="empty">No verdicts.</td></tr>
{{end}}</table>
{{end}}

{{with .Images}}<h2>Images</h2>
<table><tr><th>image</th><th>image ID</th></tr>
{{range .}}<tr><td class="mono">{{index . 0}}</td><td class="mono">{{index . 1}}</td></tr>
{{end}}</table>{{end}}
{{with .KindConfig}}<h2>kind config</h2><pre>{{.}}</pre>{{end}}
</body>
</html>
`

type htmlRow struct {
	Scenario, Name, Subject, Value, Message string
}

type htmlScenario struct {
	Title, Anchor string
	SVG           template.HTML
	Verdicts      []htmlRow
}

// htmlExpectation is one row of the expectations table.
type htmlExpectation struct {
	Scenario, Text, Got, Why, Message string
	// Mark says met or not met in text every font has (metMark).
	Mark string
	Met  bool
	// Inconclusive: the scenario's fault could not be forced here.
	Inconclusive bool
}

type htmlPage struct {
	Facts        [][2]string
	Error        string
	GlanceHeader []template.HTML
	Glance       []glance
	Expectations []htmlExpectation
	TimingHeader []template.HTML
	Timings      []timingRow
	// TimingTotal is the "all" row under Timings, if there is one.
	TimingTotal *timingRow
	Summary     []htmlRow
	Scenarios   []htmlScenario
	Images      [][2]string
	KindConfig  string
}

// headerCells are a table's header cells as written: they are this
// package's constants, with no markup, and escaping would change their
// apostrophes.
func headerCells(cells []string) []template.HTML {
	out := make([]template.HTML, len(cells))
	for i, c := range cells {
		out[i] = template.HTML(c)
	}
	return out
}

func htmlRowOf(v check.Verdict) htmlRow {
	return htmlRow{Scenario: scenarioTitle(v.Scenario), Name: v.Name, Subject: v.Subject, Value: fmtValueUnit(v), Message: v.Message}
}

// anchor turns a scenario name into an HTML id fragment.
func anchor(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, name)
}

// renderHTML renders report.html: run facts, the at-a-glance, expectations
// and timings tables, the summary table, and per
// scenario its timeline picture and verdict table.
func renderHTML(run Run, tl timeline.Timeline, verdicts []check.Verdict) ([]byte, error) {
	verdicts = slices.Clone(verdicts)
	sortVerdicts(verdicts)
	names := reportScenarios(run, tl, verdicts)
	groups := byScenario(verdicts)
	page := htmlPage{Facts: runFacts(run), Error: run.Error, KindConfig: run.KindConfig,
		GlanceHeader: headerCells(glanceHeader), TimingHeader: headerCells(timingHeader)}
	overview := overviewScenarios(run, names)
	if len(verdicts) > 0 || len(run.Expectations) > 0 {
		page.Glance = glances(run, overview, groups)
		for i := range page.Glance {
			page.Glance[i].Linked = slices.Contains(names, overview[i])
		}
	}
	for _, e := range run.Expectations {
		page.Expectations = append(page.Expectations, htmlExpectation{
			Scenario: scenarioTitle(e.Scenario), Text: expectationText(e), Got: gotText(e), Why: e.Why, Message: e.Message, Mark: metMark(e), Met: e.Met, Inconclusive: e.Inconclusive,
		})
	}
	page.Timings = timingRows(run, overview)
	if t, ok := timingTotalRow(run); ok {
		page.TimingTotal = &t
	}
	for _, name := range names {
		for _, v := range groups[name] {
			page.Summary = append(page.Summary, htmlRowOf(v))
		}
	}
	for i, name := range names {
		ctx := contextFor(run, name)
		s := htmlScenario{
			Title:  scenarioTitle(name),
			Anchor: anchor(name),
			// renderSVG escapes every text it draws.
			SVG: template.HTML(renderSVG(check.Lanes(tl, ctx), fmt.Sprintf("s%d", i))),
		}
		for _, v := range groups[name] {
			s.Verdicts = append(s.Verdicts, htmlRowOf(v))
		}
		page.Scenarios = append(page.Scenarios, s)
	}
	for _, ref := range slices.Sorted(maps.Keys(run.Images)) {
		page.Images = append(page.Images, [2]string{ref, run.Images[ref]})
	}
	t, err := template.New("report").Parse(pageTemplate)
	if err != nil {
		return nil, fmt.Errorf("parse page template: %w", err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, page); err != nil {
		return nil, fmt.Errorf("render page: %w", err)
	}
	return b.Bytes(), nil
}
