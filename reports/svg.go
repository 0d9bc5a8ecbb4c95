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
	start  time.Duration // the scenario's first event: the axis's 0
	t0, t1 time.Duration // the axis, as offsets from the run's base
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

// at formats an offset for tooltips, in seconds from the scenario's start
// like the axis.
func (p *picture) at(d time.Duration) string {
	return "t=" + secs(d-p.start) + " s"
}

// secs formats d in seconds to the 0.1 ms.
func secs(d time.Duration) string {
	return strconv.FormatFloat(math.Round(d.Seconds()*1e4)/1e4, 'f', -1, 64)
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

// renderSVG draws one scenario's lane model (check.Lanes): lanes for faults
// and observer gaps, for each pod (alive bar, deletion, signal and
// termination markers), for each Consul instance (bar segments colored by
// check status while listed) and for each service callers asked for (a dot
// per call), with stale windows shaded across the whole picture. It only
// draws: every state and interval comes from the model, which the verdicts
// share. The axis counts seconds from the scenario's first event. Tooltips
// are SVG <title>s: no script needed.
func renderSVG(m check.LaneModel, id string) string {
	if m.Empty() {
		return `<p class="empty">No events were recorded for this scenario.</p>`
	}
	p := &picture{id: id, start: m.Start}
	step := niceStep((m.End - m.Start).Seconds() / 10)
	stepD := time.Duration(step * float64(time.Second))
	p.t0 = m.Start
	p.t1 = m.Start + time.Duration(math.Ceil((m.End-m.Start).Seconds()/step)*step*float64(time.Second))
	if p.t1 <= p.t0 {
		p.t1 = p.t0 + stepD
	}

	// One hue per service, for pods; green, red and orange are taken.
	var services []string
	for _, l := range m.Pods {
		services = append(services, l.Service)
	}
	for _, l := range m.Instances {
		services = append(services, l.Service)
	}
	slices.Sort(services)
	services = slices.Compact(slices.DeleteFunc(services, func(s string) bool { return s == "" }))
	palette := []string{"#4e79a7", "#b07aa1", "#76b7b2", "#9c755f", "#1f4e79", "#7f7f7f", "#bcbd22", "#17becf"}
	serviceColor := func(s string) string {
		if i := slices.Index(services, s); i >= 0 {
			return palette[i%len(palette)]
		}
		return colorUnknown
	}

	// Height: groups and lanes.
	height := topMargin + axisHeight
	if len(m.Faults)+len(m.FaultEnds)+len(m.Gaps) > 0 {
		height += groupH + laneH
	}
	for _, n := range []int{len(m.Pods), len(m.Instances), len(m.Callers)} {
		if n > 0 {
			height += groupH + n*laneH
		}
	}
	plotTop, plotBottom := topMargin, height-axisHeight

	p.f(`<svg class="timeline" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="timeline of scenario %s">`,
		svgWidth, height, svgWidth, height, esc(scenarioTitle(m.Scenario)))
	p.f(`<defs><pattern id="%s-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">`+
		`<rect width="6" height="6" fill="%s" fill-opacity="0.35"/><line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="3"/></pattern>`+
		`<pattern id="%s-gap" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">`+
		`<line x1="0" y1="0" x2="0" y2="6" stroke="%s" stroke-width="2" stroke-opacity="0.5"/></pattern></defs>`,
		p.id, colorStale, colorStale, p.id, colorGap)

	// Grid and axis, in seconds from the scenario's start.
	ticks := int(math.Round((p.t1 - p.t0).Seconds() / step))
	for i := 0; i <= ticks; i++ {
		s := float64(i) * step
		x := p.x(p.t0 + time.Duration(s*float64(time.Second)))
		p.f(`<line class="grid" x1="%s" y1="%d" x2="%s" y2="%d"/>`, num(x), plotTop, num(x), plotBottom)
		p.f(`<text class="tick" x="%s" y="%d" text-anchor="middle">%s s</text>`, num(x), plotBottom+16,
			strconv.FormatFloat(math.Round(s*1e6)/1e6, 'f', -1, 64))
	}
	p.f(`<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`, plotX0, plotBottom, plotX1, plotBottom)
	p.f(`<text class="tick" x="%d" y="%d" text-anchor="end">seconds from scenario start (t=%s s of the run)</text>`, plotX1, plotBottom+28, secs(m.Start))

	// Stale windows and gaps first, so lanes draw over them.
	for _, w := range m.Windows {
		x0, x1 := p.x(w.Start), p.x(w.End)
		p.f(`<rect class="stale" x="%s" y="%d" width="%s" height="%d"><title>%s</title></rect>`,
			num(x0), plotTop, num(max(x1-x0, 1)), plotBottom-plotTop, esc(p.windowTitle(w)))
	}
	// One label per run of overlapping windows, skipped where it would
	// collide with the previous one (the lanes and tooltips still say it).
	labelEnd := math.Inf(-1)
	for _, run := range staleRuns(m.Windows) {
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
	for _, g := range m.Gaps {
		x0, x1 := p.x(g.At), p.x(g.Until)
		p.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="url(#%s-gap)"><title>%s</title></rect>`,
			num(x0), plotTop, num(max(x1-x0, 1)), plotBottom-plotTop, p.id, esc(p.gapTitle(g)))
	}

	p.y = plotTop
	if len(m.Faults)+len(m.FaultEnds)+len(m.Gaps) > 0 {
		p.group("faults and observer gaps")
		p.label("faults / gaps", "")
		p.faultLane(m)
		p.y += laneH
	}
	if len(m.Pods) > 0 {
		p.group("pods")
		for _, l := range m.Pods {
			name := l.Pod
			if l.Fillers > 0 {
				name = fmt.Sprintf("IP-pool fillers (%d pods)", l.Fillers)
			}
			p.label(name, strings.TrimSpace(l.Service+" "+l.IP))
			p.podLane(l, name, serviceColor(l.Service))
			p.y += laneH
		}
	}
	if len(m.Instances) > 0 {
		p.group("Consul instances")
		for _, l := range m.Instances {
			p.label(l.Instance, strings.TrimSpace(l.Service+" "+addr(l)))
			p.instLane(l, m.Windows)
			p.y += laneH
		}
	}
	if len(m.Callers) > 0 {
		p.group("callers, by service asked for")
		for _, l := range m.Callers {
			p.label("→ "+l.Service, "")
			p.callLane(l.Calls)
			p.y += laneH
		}
	}
	p.f(`</svg>`)
	return p.b.String()
}

// addr is an instance's registered address, "" if Consul never said.
func addr(l check.InstanceLane) string {
	if l.IP == "" {
		return ""
	}
	return l.IP + ":" + strconv.Itoa(l.Port)
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

func (p *picture) windowTitle(w check.Window) string {
	why := "the pod that registered it is deleted and no pod holds " + w.IP
	if w.Cause == check.CauseOtherService {
		why = w.IP + " is held by pod " + w.OtherPod + " of service " + w.OtherService
	}
	return fmt.Sprintf("stale: %s (%s) listed passing from %s to %s (%s): %s",
		w.Instance, w.Service, p.at(w.Start), p.at(w.End), fmtMS(w.End-w.Start), why)
}

func (p *picture) gapTitle(g timeline.Event) string {
	s := fmt.Sprintf("observer gap %s to %s", p.at(g.At), p.at(g.Until))
	if g.Until == g.At {
		s = "observer loss at " + p.at(g.At)
	}
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

func (p *picture) faultLane(m check.LaneModel) {
	for _, g := range m.Gaps {
		p.rect(g.At, g.Until, "url(#"+p.id+"-gap)", ` stroke="`+colorGap+`"`, p.gapTitle(g))
	}
	for _, f := range m.Faults {
		title := fmt.Sprintf("fault %s to %s: %s", p.at(f.From), p.at(f.To), f.Detail)
		switch {
		case !f.Ended:
			title += " (no end recorded)"
		case f.Error != "":
			title = fmt.Sprintf("fault %s to %s: %s, failed: %s", p.at(f.From), p.at(f.To), f.Outcome, f.Error)
		case f.Outcome != "":
			title = fmt.Sprintf("fault %s to %s: %s", p.at(f.From), p.at(f.To), f.Outcome)
		}
		p.rect(f.From, f.To, colorFault, ` fill-opacity="0.8"`, title)
		// The name goes inside a bar wide enough for it, else after it.
		if x0, x1 := p.x(f.From), p.x(f.To); x1-x0 > 240 {
			p.f(`<text class="inbar" x="%s" y="%d">%s</text>`, num(x0+4), p.barY()+11, esc(truncate(f.Detail, 40)))
		} else {
			p.f(`<text class="faultlabel" x="%s" y="%d">%s</text>`, num(max(x1, x0+1)+4), p.barY()+11, esc(truncate(f.Detail, 60)))
		}
	}
	for _, f := range m.FaultEnds {
		p.marker(f.At, colorFault, "fault ended "+p.at(f.At)+": "+f.Detail)
	}
}

func (p *picture) marker(t time.Duration, color, title string) {
	p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="%s" stroke-width="2"><title>%s</title></line>`,
		num(p.x(t)), p.barY()-2, num(p.x(t)), p.barY()+barH+2, color, esc(title))
}

// podSegmentLook is how a pod segment is drawn: its opacity and what its
// tooltip calls it.
func podSegmentLook(state string) (extra, what string) {
	switch state {
	case check.PodTerminating:
		return ` fill-opacity="0.55"`, "terminating"
	case check.PodTerminated:
		return ` fill-opacity="0.2"`, "terminated, object not yet deleted,"
	}
	return "", "alive"
}

func (p *picture) podLane(l check.PodLane, name, color string) {
	desc := strings.TrimSpace(name + " " + l.Service + " " + l.IP)
	for _, s := range l.Segments {
		extra, what := podSegmentLook(s.State)
		p.rect(s.From, s.To, color, extra, fmt.Sprintf("%s %s %s to %s", desc, what, p.at(s.From), p.at(s.To)))
		if s.State == check.PodAlive {
			if x0, x1 := p.x(s.From), p.x(s.To); x1-x0 > 130 {
				p.f(`<text class="inbar" x="%s" y="%d">%s</text>`, num(x0+4), p.barY()+11, esc(strings.TrimSpace(l.Service+" "+l.IP)))
			}
		}
	}
	cy := p.barY() + barH/2
	for _, e := range l.Markers {
		x := num(p.x(e.At))
		switch {
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodReady:
			p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#fff" stroke-width="2"><title>ready %s</title></line>`, x, p.barY()+2, x, p.barY()+barH-2, p.at(e.At))
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodDeletionRequested:
			title := "deletion requested " + p.at(e.At)
			if e.GraceSeconds != nil {
				title += fmt.Sprintf(" (grace %d s)", *e.GraceSeconds)
			}
			p.f(`<path d="M%s %d l-5 -6 h10 z" fill="#000"><title>%s</title></path>`, x, p.barY()+1, esc(title))
			p.f(`<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#000" stroke-width="1.5"/>`, x, p.barY(), x, p.barY()+barH)
		case e.Source == timeline.SourceApp && e.Kind == timeline.AppSignal:
			p.f(`<circle cx="%s" cy="%d" r="4.5" fill="%s" stroke="#fff"><title>app got %s %s</title></circle>`, x, cy, colorSignal, esc(e.Signal), p.at(e.At))
		case e.Source == timeline.SourceApp && e.Kind == timeline.AppDeregistered:
			p.f(`<path d="M%s %d l4 4 l-4 4 l-4 -4 z" fill="#fff" stroke="%s" stroke-width="1.5"><title>app deregistered %s</title></path>`, x, cy-4, colorSignal, p.at(e.At))
		case e.Source == timeline.SourceKernel && e.Kind == timeline.KernelSignal:
			// Below the bar: a signal sent (K for KILL, red; others by
			// their name's first letter), hollow when the kernel dropped it.
			color, fill, letter := colorSignal, colorSignal, signalLetter(e.Signal)
			if e.Signal == "SIGKILL" {
				color, fill = colorCritical, colorCritical
			}
			if e.Result == timeline.ResultIgnored {
				fill = "#fff"
			}
			title := fmt.Sprintf("kernel: %s from %s to %s (PID %d) %s: %s", e.Signal, e.Sender, e.Comm, e.PID, p.at(e.At), e.Result)
			y := p.barY() + barH + 1
			p.f(`<g><title>%s</title><path d="M%s %d l5 7 h-10 z" fill="%s" stroke="%s" stroke-width="1.2"/><text class="code" x="%s" y="%d" fill="%s">%s</text></g>`,
				esc(title), x, y, fill, color, num(p.x(e.At)+6), y+7, color, esc(letter))
		case e.Source == timeline.SourceKernel && e.Kind == timeline.KernelDequeued:
			p.f(`<rect x="%s" y="%d" width="5" height="5" fill="%s"><title>kernel: %s (PID %d) dequeued %s %s (%s)</title></rect>`,
				num(p.x(e.At)-2.5), p.barY()-6, colorSignal, esc(e.Comm), e.PID, esc(e.Signal), p.at(e.At), esc(e.Handler))
		case e.Source == timeline.SourcePod && e.Kind == timeline.PodContainerTerminated:
			code, color := "?", "#000"
			if e.ExitCode != nil {
				code = strconv.Itoa(*e.ExitCode)
				if *e.ExitCode == 137 {
					color = colorCritical
				}
			}
			title := fmt.Sprintf("container terminated %s, exit code %s %s", p.at(e.At), code, e.Reason)
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

func (p *picture) instLane(l check.InstanceLane, windows []check.Window) {
	for _, s := range l.Segments {
		label := cmp.Or(s.State, "no status yet")
		p.rect(s.From, s.To, statusColor(s.State), "", fmt.Sprintf("%s (%s %s) %s from %s to %s", l.Instance, l.Service, addr(l), label, p.at(s.From), p.at(s.To)))
	}
	for _, e := range l.Markers {
		p.marker(e.At, "#000", "deregistered "+p.at(e.At))
	}
	for _, w := range windows {
		if w.Instance == l.Instance {
			x0, x1 := p.x(w.Start), p.x(w.End)
			p.f(`<rect x="%s" y="%d" width="%s" height="%d" fill="url(#%s-hatch)" stroke="%s"><title>%s</title></rect>`,
				num(x0), p.barY()-2, num(max(x1-x0, 1)), barH+4, p.id, colorStale, esc(p.windowTitle(w)))
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
			num(p.x(e.At)), cy, color, esc(e.Service), p.at(e.At), esc(what))
	}
}

// signalLetter is the first letter of a signal's name without "SIG".
func signalLetter(sig string) string {
	if s := strings.TrimPrefix(sig, "SIG"); s != "" {
		return s[:1]
	}
	return "?"
}
