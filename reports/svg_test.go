package reports

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// The picture draws the lane model: every segment and stale window of the
// model is in it, with its times counted from the scenario's start.
func TestSVGDrawsTheLaneModel(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	for i, name := range []string{"incident", "exec-fix"} {
		m := check.Lanes(tl, contextFor(run, name))
		svg := renderSVG(m, fmt.Sprintf("s%d", i))
		rel := func(d time.Duration) string { return "t=" + secs(d-m.Start) + " s" }
		for _, l := range m.Pods {
			for _, s := range l.Segments {
				_, what := podSegmentLook(s.State)
				if want := fmt.Sprintf("%s %s to %s", what, rel(s.From), rel(s.To)); !strings.Contains(svg, esc(want)) {
					t.Errorf("%s: pod %s segment %+v: no %q", name, l.Pod, s, want)
				}
			}
		}
		for _, l := range m.Instances {
			for _, s := range l.Segments {
				if want := fmt.Sprintf("from %s to %s", rel(s.From), rel(s.To)); !strings.Contains(svg, want) {
					t.Errorf("%s: instance %s segment %+v: no %q", name, l.Instance, s, want)
				}
			}
			if n := strings.Count(svg, ">deregistered "); n < len(l.Markers) {
				t.Errorf("%s: %d deregistration markers drawn, the model has %d for %s", name, n, len(l.Markers), l.Instance)
			}
		}
		if n := strings.Count(svg, `class="stale"`); n != len(m.Windows) {
			t.Errorf("%s: %d stale windows drawn, the model has %d", name, n, len(m.Windows))
		}
	}
}

// Each scenario's axis starts at its own first event, not at the run's
// base: exec-fix starts 60 s into the run.
func TestSVGAxisFromScenarioStart(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	svg := renderSVG(check.Lanes(tl, contextFor(run, "exec-fix")), "s1")
	for _, want := range []string{
		`<text class="tick" x="250" y="272" text-anchor="middle">0 s</text>`,
		"seconds from scenario start (t=60 s of the run)",
		"deletion requested t=5 s (grace 30 s)",
		"orders-58f4c-h9j2m orders 10.244.1.9 alive t=0 s to t=5 s",
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("exec-fix picture lacks %q", want)
		}
	}
	if strings.Contains(svg, "t=65 s") {
		t.Error("exec-fix picture counts from the run's base")
	}
	if svg := renderSVG(check.Lanes(tl, contextFor(run, "incident")), "s0"); !strings.Contains(svg, "seconds from scenario start (t=0 s of the run)") {
		t.Error("incident picture: wrong axis caption")
	}
}

// IP-pool fillers are recognised by their role, not their name: two
// role-marked pods share one lane; a service pod that happens to be named
// ipfill-… keeps its own.
func TestSVGFillersByRole(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	ev := func(at int, kind, pod, service, role string) timeline.Event {
		return timeline.Event{At: ms(at), Source: timeline.SourcePod, Kind: kind, Scenario: "s", Pod: pod, Service: service, Role: role}
	}
	tl := timeline.Timeline{Events: []timeline.Event{
		ev(0, timeline.PodCreated, "ipfill-00", "orders", ""),
		ev(100, timeline.PodCreated, "pool-a", "", timeline.RoleIPFiller),
		ev(200, timeline.PodCreated, "pool-b", "", timeline.RoleIPFiller),
		ev(900, timeline.PodDeleted, "pool-a", "", timeline.RoleIPFiller),
		ev(1000, timeline.PodDeleted, "pool-b", "", timeline.RoleIPFiller),
	}}
	svg := renderSVG(check.Lanes(tl, check.Context{Scenario: "s"}), "s0")
	for _, want := range []string{">IP-pool fillers (2 pods)</text>", "IP-pool fillers (2 pods) alive t=0.1 s to t=1 s", ">ipfill-00</text>"} {
		if !strings.Contains(svg, want) {
			t.Errorf("picture lacks %q:\n%s", want, svg)
		}
	}
	if strings.Contains(svg, "pool-a") || strings.Contains(svg, "pool-b") {
		t.Error("a filler pod got a lane of its own")
	}
	if got := renderSVG(check.Lanes(tl, check.Context{Scenario: "none"}), "s1"); !strings.Contains(got, "No events were recorded") {
		t.Errorf("empty scenario: %s", got)
	}
}
