package reports

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Geometry of the timeline picture, in SVG user units (pixels at 1200 px).
const (
	svgWidth   = 1200
	labelX     = 8
	plotX0     = 250
	plotX1     = 1185
	laneH      = 22
	groupH     = 20
	barH       = 14
	topMargin  = 22
	axisHeight = 30
)

// Colors. Green, red and orange mean check status and call outcome, so pods
// are drawn in other hues, one per service.
const (
	colorPassing  = "#2e9e44"
	colorWarning  = "#e0b000"
	colorCritical = "#d0312d"
	colorUnknown  = "#a0a0a0"
	colorCallOK   = "#2e9e44"
	colorWrong    = "#f28e2b"
	colorError    = "#d0312d"
	colorStale    = "#f28e2b"
	colorFault    = "#8e6bbf"
	colorGap      = "#888888"
	colorSignal   = "#1565c0"
)

// picture is one scenario's timeline picture being drawn.
type picture struct {
	b      strings.Builder
	id     string        // prefix for SVG ids, unique in the page
	t0, t1 time.Duration // the axis
	end    time.Duration // the last recorded moment: open bars stop here
	y      int
}

func (p *picture) x(t time.Duration) float64 {
	return plotX0 + float64(t-p.t0)/float64(p.t1-p.t0)*(plotX1-plotX0)
}

func (p *picture) f(format string, a ...any) { fmt.Fprintf(&p.b, format, a...) }

func esc(s string) string { return html.EscapeString(s) }

// num formats a coordinate with at most one decimal.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// at formats an offset for tooltips, in seconds.
func at(d time.Duration) string {
	return "t=" + strconv.FormatFloat(math.Round(d.Seconds()*1e4)/1e4, 'f', -1, 64) + " s"
}

// niceStep returns a 1, 2 or 5 times a power of ten step near raw seconds.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

type podLane struct {
	name, service, ip string
	first             time.Duration
	events            []timeline.Event
}

type instLane struct {
	id, service, addr string
	first             time.Duration
	events            []timeline.Event
}

// fillerPrefix names the pause pods the IP reuse fault creates to fill a
// node's address pool (harness/fault).
const fillerPrefix = "ipfill-"

// renderSVG draws one scenario: lanes for faults and observer gaps, for each
// pod (alive bar, deletion, signal and termination markers), for each Consul
// instance (bar segments colored by check status while registered) and for
// each service callers asked for (a dot per call), with stale windows shaded
// across the whole picture. Tooltips are SVG <title>s: no script needed.
func renderSVG(tl timeline.Timeline, ctx check.Context, windows []check.Window, id string) string {
	events := tl.Scenario(ctx.Scenario).Sorted().Events
	if len(events) == 0 {
		return `<p class="empty">No events were recorded for this scenario.</p>`
	}
	first, last := timeline.Timeline{Events: events}.Span()
	p := &picture{id: id, end: last}
	step := niceStep((last - first).Seconds() / 10)
	p.t0 = time.Duration(math.Floor(first.Seconds()/step) * step * float64(time.Second))
	p.t1 = time.Duration(math.Ceil(last.Seconds()/step) * step * float64(time.Second))
	if p.t1 <= p.t0 {
		p.t1 = p.t0 + time.Duration(step*float64(time.Second))
	}

	// Collect lanes.
	var faults, gaps, fillers []timeline.Event
	pods := map[string]*podLane{}
	insts := map[string]*instLane{}
	calls := map[string][]timeline.Event{}
	var services []string
	for _, e := range events {
		switch e.Source {
		case timeline.SourceFault:
			faults = append(faults, e)
		case timeline.SourceHarness:
			gaps = append(gaps, e)
		case timeline.SourcePod, timeline.SourceApp:
			if strings.HasPrefix(e.Pod, fillerPrefix) {
				// The IP reuse fault's pool fillers (tens of pause pods)
				// share one lane: when the pool was full is what matters.
				fillers = append(fillers, e)
				continue
			}
			l := pods[e.Pod]
			if l == nil {
				l = &podLane{name: e.Pod, first: e.At}
				pods[e.Pod] = l
			}
			if e.Source == timeline.SourcePod && l.service == "" {
				l.service = e.Service
			}
			if e.Kind == timeline.PodIPAssigned && l.ip == "" {
				l.ip = e.IP
			}
			l.events = append(l.events, e)
		case timeline.SourceConsul:
			l := insts[e.Instance]
			if l == nil {
				l = &instLane{id: e.Instance, first: e.At}
				insts[e.Instance] = l
			}
			if e.Kind == timeline.ConsulRegistered {
				l.service = e.Service
				l.addr = e.IP + ":" + strconv.Itoa(e.Port)
			}
			l.events = append(l.events, e)
		case timeline.SourceCaller:
			calls[e.Service] = append(calls[e.Service], e)
		}
		if e.Service != "" && e.Source != timeline.SourceCaller && !slices.Contains(services, e.Service) {
			services = append(services, e.Service)
		}
	}
	if len(fillers) > 0 {
		names := map[string]bool{}
		l := &podLane{first: fillers[0].At}
		var last timeline.Event
		for _, e := range fillers {
			names[e.Pod] = true
			if e.Kind == timeline.PodDeleted {
				last = e
			}
		}
		created := fillers[0]
		created.Kind = timeline.PodCreated
		l.events = []timeline.Event{created}
		if last.Kind == timeline.PodDeleted {
			l.events = append(l.events, last)
		}
		l.name = fmt.Sprintf("%s* (%d pool fillers)", fillerPrefix, len(names))
		pods[l.name] = l
	}
	slices.Sort(services)
	palette := []string{"#4e79a7", "#b07aa1", "#76b7b2", "#9c755f", "#1f4e79", "#7f7f7f", "#bcbd22", "#17becf"}
	serviceColor := func(s string) string {
		if i := slices.Index(services, s); i >= 0 {
			return palette[i%len(palette)]
		}
		return colorUnknown
	}
	podOrder := sortedLanes(pods, func(l *podLane) (time.Duration, string) { return l.first, l.name })
	instOrder := sortedLanes(insts, func(l *instLane) (time.Duration, string) { return l.first, l.id })
	callOrder := make([]string, 0, len(calls))
	for s := range calls {
		callOrder = append(callOrder, s)
	}
	slices.Sort(callOrder)

	// Height: groups and lanes.
	height := topMargin + axisHeight
	if len(faults)+len(gaps) > 0 {
		height += groupH + laneH
	}
	for _, n := range []int{len(podOrder), len(instOrder), len(callOrder)} {
		if n > 0 {
			height += groupH + n*laneH
		}
	}
	plotTop, plotBottom := topMargin, height-axisHeight

	p.f(`<svg class="timeline" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="timeline of scenario %s">`,
		svgWidth, height, svgWidth, height, esc(scenarioTitle(ctx.Scenario)))
	p.f(`<defs><pattern id="%s-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">`+
		`<rect width="6" height="6" fill="%s" fill-opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="3"/></pattern>`+
		`<pattern id="%s-gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">`+
		`<line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="2" stroke-opacity="0.5"/></pattern></defs>`,
		p.id, colorStale, colorStale, p.id, colorGap)

	// Grid and axis.
	ticks := int(math.Round((p.t1 - p.t0).Seconds() / step))
	for i := 0; i <= ticks; i++ {
		s := p.t0.Seconds() + float64(i)*step
		x := p.x(time.Duration(s * float64(time.Second)))
		p.f(`<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>`, num(x), plotTop, num(x), plotBottom)
		p.f(`<text class="tick" x="%s" y="%d" text-anchor="middle">%s s</text>`, num(x), plotBottom+16,
			strconv.FormatFloat(math.Round(s*1e6)/1e6, 'f', -1, 64))
	}
	p.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, plotX0, plotBottom, plotX1, plotBottom)
	p.f(`<text class="tick" x="%d" y="%d" text-anchor="end">seconds from run start</text>`, plotX1, plotBottom+28)

	// Stale windows and gaps first, so lanes draw over them.
	for _, w := range windows {
		x0, x1 := p.x(w.Start), p.x(w.End)
		p.f(`<rect class="stale" x="%s" y="%d" width="%s" height="%d"><title>%s</title></rect>`,
			num(x0), plotTop, num(max(x1-x0, 1)), plotBottom-plotTop, esc(windowTitle(w)))
	}
	// One label per run of overlapping windows, skipped where it would
	// collide with the previous one (the lanes and tooltips still say it).
	labelEnd := math.Inf(-1)
	for _, run := range staleRuns(windows) {
		x := p.x(run.start)
		if x < labelEnd {
			continue
		}
		text := "stale " + run.instances[0]
		if len(run.instances) > 1 {
			text = fmt.Sprintf("stale: %d instances", len(run.instances))
		}
		p.f(`<text class="stalelabel" x="%s" y="%d">%s</text>`, num(x+2), plotTop-6, esc(text))
		labelEnd = x + 2 + 6.2*float64(len([]rune(text))) + 8
	}
	for _, g := range gaps {
		x0, x1 := p.x(g.At), p.x(g.Until)
		p.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="url(#%s-gap)"><title>%s</title></rect>`,
			num(x0), plotTop, num(max(x1-x0, 1)), plotBottom-plotTop, p.id, esc(gapTitle(g)))
	}

	p.y = plotTop
	if len(faults)+len(gaps) > 0 {
		p.group("faults and observer gaps")
		p.label("faults / gaps", "")
		p.faultLane(faults, gaps)
		p.y += laneH
	}
	if len(podOrder) > 0 {
		p.group("pods")
		for _, l := range podOrder {
			p.label(l.name, strings.TrimSpace(l.service+" "+l.ip))
			p.podLane(l, serviceColor(l.service))
			p.y += laneH
		}
	}
	if len(instOrder) > 0 {
		p.group("Consul instances")
		for _, l := range instOrder {
			p.label(l.id, strings.TrimSpace(l.service+" "+l.addr))
			p.instLane(l, windows)
			p.y += laneH
		}
	}
	if len(callOrder) > 0 {
		p.group("callers, by service asked for")
		for _, s := range callOrder {
			p.label("→ "+s, "")
			p.callLane(calls[s])
			p.y += laneH
		}
	}
	p.f(`</svg>`)
	return p.b.String()
}

// staleRun is a maximal stretch of time covered by overlapping windows.
type staleRun struct {
	start, end time.Duration
	instances  []string
}

// staleRuns merges windows into runs of overlap, in time order.
func staleRuns(windows []check.Window) []staleRun {
	ws := slices.Clone(windows)
	slices.SortFunc(ws, func(a, b check.Window) int {
		return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.Instance, b.Instance))
	})
	var runs []staleRun
	for _, w := range ws {
		if n := len(runs); n > 0 && w.Start <= runs[n-1].end {
			r := &runs[n-1]
			r.end = max(r.end, w.End)
			if !slices.Contains(r.instances, w.Instance) {
				r.instances = append(r.instances, w.Instance)
			}
			continue
		}
		runs = append(runs, staleRun{start: w.Start, end: w.End, instances: []string{w.Instance}})
	}
	return runs
}

func sortedLanes[L any](m map[string]L, key func(L) (time.Duration, string)) []L {
	out := make([]L, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b L) int {
		ta, na := key(a)
		tb, nb := key(b)
		return cmp.Or(cmp.Compare(ta, tb), cmp.Compare(na, nb))
	})
	return out
}

func windowTitle(w check.Window) string {
	why := "the pod that registered it is deleted and no pod holds " + w.IP
	if w.Cause == check.CauseOtherService {
		why = w.IP + " is held by pod " + w.OtherPod + " of service " + w.OtherService
	}
	return fmt.Sprintf("stale: %s (%s) listed passing from %s to %s (%s): %s",
		w.Instance, w.Service, at(w.Start), at(w.End), msString(w.End-w.Start), why)
}

func gapTitle(g timeline.Event) string {
	s := fmt.Sprintf("observer gap %s to %s", at(g.At), at(g.Until))
	if g.Reason != "" {
		s += ": " + g.Reason
	}
	if g.Detail != "" {
		s += " (" + g.Detail + ")"
	}
	return s
}

func (p *picture) group(title string) {
	p.f(`<text class="group" x="%d" y="%d">%s</text>`, labelX, p.y+14, esc(title))
	p.f(`<line class="sep" x1="%d" y1="%d" x2="%d" y2="%d"/>`, labelX, p.y+groupH-2, plotX1, p.y+groupH-2)
	p.y += groupH
}

func (p *picture) label(name, sub string) {
	title := name
	if sub != "" {
		title += " (" + sub + ")"
	}
	p.f(`<text class="lane" x="%d" y="%d"><title>%s</title>%s</text>`, labelX+8, p.y+15, esc(title), esc(truncate(name, 34)))
}

// barY is the top of a lane's bar.
func (p *picture) barY() int { return p.y + (laneH-barH)/2 }

func (p *picture) rect(t0, t1 time.Duration, fill, extra, title string) {
	x0, x1 := p.x(t0), p.x(t1)
	p.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="%s"%s><title>%s</title></rect>`,
		num(x0), p.barY(), num(max(x1-x0, 1)), barH, fill, extra, esc(title))
}

func (p *picture) faultLane(faults, gaps []timeline.Event) {
	for _, g := range gaps {
		p.rect(g.At, g.Until, "url(#"+p.id+"-gap)", ` stroke="`+colorGap+`"`, gapTitle(g))
	}
	used := make([]bool, len(faults))
	for i, f := range faults {
		if f.Kind != timeline.FaultStart {
			continue
		}
		end := p.end
		for j := i + 1; j < len(faults); j++ {
			if !used[j] && faults[j].Kind == timeline.FaultEnd && (faults[j].Detail == f.Detail || f.Detail == "") {
				end, used[j] = faults[j].At, true
				break
			}
		}
		title := fmt.Sprintf("fault %s to %s: %s", at(f.At), at(end), f.Detail)
		p.rect(f.At, end, colorFault, ` fill-opacity="0.8"`, title)
		// The name goes inside a bar wide enough for it, else after it.
		if x0, x1 := p.x(f.At), p.x(end); x1-x0 > 240 {
			p.f(`<text class="inbar" x="%s" y="%d">%s</text>`, num(x0+4), p.barY()+11, esc(truncate(f.Detail, 40)))
		} else {
			p.f(`<text class="faultlabel" x="%s" y="%d">%s</text>`, num(max(x1, x0+1)+4), p.barY()+11, esc(truncate(f.Detail, 60)))
		}
	}
	for i, f := range faults {
		if f.Kind == timeline.FaultEnd && !used[i] {
			p.marker(f.At, colorFault, "fault ended "+at(f.At)+": "+f.Detail)
		}
	}
}

func (p *picture) marker(t time.Duration, color, title string) {
	p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="2"><title>%s</title></line>`,
		num(p.x(t)), p.barY()-2, num(p.x(t)), p.barY()+barH+2, color, esc(title))
}

func (p *picture) podLane(l *podLane, color string) {
	var start, end time.Duration = l.first, p.end
	var deletion, terminated *time.Duration
	for _, e := range l.events {
		if e.Source != timeline.SourcePod {
			continue
		}
		switch e.Kind {
		case timeline.PodDeleted:
			end = e.At
		case timeline.PodDeletionRequested:
			if deletion == nil {
				deletion = &e.At
			}
		case timeline.PodContainerTerminated:
			if terminated == nil || (deletion != nil && *terminated < *deletion) {
				terminated = &e.At
			}
		}
	}
	desc := strings.TrimSpace(l.name + " " + l.service + " " + l.ip)
	aliveEnd := end
	if deletion != nil {
		aliveEnd = min(aliveEnd, *deletion)
	}
	p.rect(start, aliveEnd, color, "", fmt.Sprintf("%s alive %s to %s", desc, at(start), at(aliveEnd)))
	if deletion != nil {
		termEnd := end
		if terminated != nil && *terminated >= *deletion {
			termEnd = min(end, *terminated)
		}
		p.rect(*deletion, termEnd, color, ` fill-opacity="0.55"`, fmt.Sprintf("%s terminating %s to %s", desc, at(*deletion), at(termEnd)))
		if termEnd < end {
			p.rect(termEnd, end, color, ` fill-opacity="0.2"`, fmt.Sprintf("%s terminated, object not yet deleted, %s to %s", desc, at(termEnd), at(end)))
		}
	}
	if x0, x1 := p.x(start), p.x(aliveEnd); x1-x0 > 130 {
		p.f(`<text class="inbar" x="%s" y="%d">%s</text>`, num(x0+4), p.barY()+11, esc(strings.TrimSpace(l.service+" "+l.ip)))
	}
	cy := p.barY() + barH/2
	for _, e := range l.events {
		x := num(p.x(e.At))
		switch {
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodReady:
			p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#fff" stroke-width="2"><title>ready %s</title></line>`, x, p.barY()+2, x, p.barY()+barH-2, at(e.At))
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodDeletionRequested:
			title := "deletion requested " + at(e.At)
			if e.GraceSeconds != nil {
				title += fmt.Sprintf(" (grace %d s)", *e.GraceSeconds)
			}
			p.f(`<path d="M%s %d l-5 -6 h10 z" fill="#000"><title>%s</title></path>`, x, p.barY()+1, esc(title))
			p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#000" stroke-width="1.5"/>`, x, p.barY(), x, p.barY()+barH)
		case e.Source == timeline.SourceApp && e.Kind == timeline.AppSignal:
			p.f(`<circle cx="%s" cy="%d" r="4.5" fill="%s" stroke="#fff"><title>app got %s %s</title></circle>`, x, cy, colorSignal, esc(e.Signal), at(e.At))
		case e.Source == timeline.SourceApp && e.Kind == timeline.AppDeregistered:
			p.f(`<path d="M%s %d l4 4 l-4 4 l-4 -4 z" fill="#fff" stroke="%s" stroke-width="1.5"><title>app deregistered %s</title></path>`, x, cy-4, colorSignal, at(e.At))
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodContainerTerminated:
			code, color := "?", "#000"
			if e.ExitCode != nil {
				code = strconv.Itoa(*e.ExitCode)
				if *e.ExitCode == 137 {
					color = colorCritical
				}
			}
			title := fmt.Sprintf("container terminated %s, exit code %s %s", at(e.At), code, e.Reason)
			p.f(`<g stroke="%s" stroke-width="2.5"><title>%s</title><line x1="%s" y1="%d" x2="%s" y2="%d"/><line x1="%s" y1="%d" x2="%s" y2="%d"/></g>`,
				color, esc(strings.TrimSpace(title)),
				num(p.x(e.At)-5), cy-5, num(p.x(e.At)+5), cy+5, num(p.x(e.At)-5), cy+5, num(p.x(e.At)+5), cy-5)
			p.f(`<text class="code" x="%s" y="%d" fill="%s">%s</text>`, num(p.x(e.At)+7), cy+4, color, code)
		}
	}
}

func statusColor(s string) string {
	switch s {
	case timeline.StatusPassing:
		return colorPassing
	case timeline.StatusWarning:
		return colorWarning
	case timeline.StatusCritical:
		return colorCritical
	}
	return colorUnknown
}

func (p *picture) instLane(l *instLane, windows []check.Window) {
	listed, seen := false, false
	status := ""
	var from time.Duration
	flush := func(to time.Duration) {
		if listed && to > from {
			label := cmp.Or(status, "no status yet")
			p.rect(from, to, statusColor(status), "", fmt.Sprintf("%s (%s %s) %s from %s to %s", l.id, l.service, l.addr, label, at(from), at(to)))
		}
	}
	for _, e := range l.events {
		switch e.Kind {
		case timeline.ConsulRegistered:
			seen = true
			if !listed {
				flush(e.At)
				listed, status, from = true, "", e.At
			}
		case timeline.ConsulDeregistered:
			seen = true
			flush(e.At)
			listed, status = false, ""
			p.marker(e.At, "#000", "deregistered "+at(e.At))
		case timeline.ConsulCheckStatus:
			flush(e.At)
			if !seen {
				// As in check.StaleWindows: a check implies a listing the
				// watch has not delivered yet.
				listed, seen = true, true
			}
			status, from = e.Status, e.At
		}
	}
	flush(p.end)
	for _, w := range windows {
		if w.Instance == l.id {
			x0, x1 := p.x(w.Start), p.x(w.End)
			p.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="url(#%s-hatch)" stroke="%s"><title>%s</title></rect>`,
				num(x0), p.barY()-2, num(max(x1-x0, 1)), barH+4, p.id, colorStale, esc(windowTitle(w)))
		}
	}
}

func (p *picture) callLane(calls []timeline.Event) {
	cy := p.barY() + barH/2
	for _, e := range calls {
		color, what := colorCallOK, "reached "+e.Reason
		switch e.Kind {
		case timeline.CallWrongTarget:
			color, what = colorWrong, "WRONG TARGET: reached "+e.Reason
		case timeline.CallError:
			color, what = colorError, "error: "+e.Reason
		}
		p.f(`<circle cx="%s" cy="%d" r="3.5" fill="%s"><title>call to %s %s: %s</title></circle>`,
			num(p.x(e.At)), cy, color, esc(e.Service), at(e.At), esc(what))
	}
}
