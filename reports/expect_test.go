package reports

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
)

// judgeVerdicts are a small scenario's verdicts: two pods, one of which
// never heard SIGTERM, and a stale window.
func judgeVerdicts() []check.Verdict {
	v := func(name, subject string, value float64, unit string) check.Verdict {
		return check.Verdict{Name: name, Scenario: "s", Subject: subject, Value: value, Unit: unit}
	}
	return []check.Verdict{
		v(check.NameStaleWindow, "", 4211.2, check.UnitMS),
		v(check.NameSignalDelivered, "pod-b", 0, check.UnitBool),
		v(check.NameSignalDelivered, "pod-a", 1, check.UnitBool),
		v(check.NameDeregistrationLatency, "pod-a", -1, check.UnitMS),
		v(check.NameWrongTargetCalls, "", 4, check.UnitCount),
		// Another scenario's verdict must never be judged.
		{Name: check.NameStaleWindow, Scenario: "other", Value: 0, Unit: check.UnitMS},
	}
}

func TestJudgeOps(t *testing.T) {
	vs := judgeVerdicts()
	for _, c := range []struct {
		op   string
		want float64
		met  bool
	}{
		{">", 0, true}, {">", 4211.2, false},
		{">=", 4211.2, true}, {">=", 4211.3, false},
		{"<", 5000, true}, {"<", 4211.2, false},
		{"<=", 4211.2, true}, {"<=", 4211.1, false},
		{"==", 4211.2, true}, {"==", 0, false},
		{"!=", 0, true}, {"!=", 4211.2, false},
		{"=>", 0, false},
	} {
		e := Judge(vs, "s", check.NameStaleWindow, "", c.op, c.want, "why")
		if e.Met != c.met || !reflect.DeepEqual(e.Got, []float64{4211.2}) {
			t.Errorf("stale_window %s %v: met %v got %v, want met %v got [4211.2] (%s)", c.op, c.want, e.Met, e.Got, c.met, e.Message)
		}
		if e.Scenario != "s" || e.Verdict != check.NameStaleWindow || e.Op != c.op || e.Want != c.want || e.Why != "why" {
			t.Errorf("Judge did not keep the expectation: %+v", e)
		}
	}
	if e := Judge(vs, "s", check.NameStaleWindow, "", ">", 0, ""); e.Message != "stale_window 4211.2 ms > 0: met" {
		t.Errorf("message %q", e.Message)
	}
	if e := Judge(vs, "s", check.NameWrongTargetCalls, "", "==", 0, ""); e.Met || e.Message != "wrong_target_calls 4 == 0: not met" {
		t.Errorf("wrong_target_calls: %+v", e)
	}
	if e := Judge(vs, "s", check.NameStaleWindow, "", "=>", 0, ""); !strings.Contains(e.Message, `"=>" is not an operator`) {
		t.Errorf("unknown op message %q", e.Message)
	}
	if e := Judge(vs, "s", check.NameDeregistrationLatency, "pod-a", ">=", 0, ""); e.Met || e.Message != "deregistration_latency of pod-a -1 (never) >= 0: not met" {
		t.Errorf("deregistration: %+v", e)
	}
}

// The operators are listed in the order an unknown operator's message
// names them; saved reports hold that message, and a recheck compares it.
func TestOperators(t *testing.T) {
	if got := strings.Join(OperatorSymbols(), " "); got != "> >= < <= == !=" {
		t.Errorf("operators %q, want > >= < <= == !=", got)
	}
	for _, o := range Operators {
		if o.Meaning == "" || o.Holds == nil {
			t.Errorf("operator %q has no meaning or comparison", o.Symbol)
		}
	}
	if e := Judge(judgeVerdicts(), "s", check.NameStaleWindow, "", "=>", 0, ""); e.Message != `stale_window => 0: not met, "=>" is not an operator (want > >= < <= == !=)` {
		t.Errorf("unknown op message %q", e.Message)
	}
}

func TestJudgeSubjects(t *testing.T) {
	vs := judgeVerdicts()
	e := Judge(vs, "s", check.NameSignalDelivered, "pod-a", "==", 1, "")
	if !e.Met || !reflect.DeepEqual(e.Got, []float64{1}) || e.Message != "signal_delivered of pod-a 1 == 1: met" {
		t.Errorf("one subject: %+v", e)
	}
	// Every subject, in subject order; one failing fails the expectation.
	e = Judge(vs, "s", check.NameSignalDelivered, "*", "==", 1, "")
	if e.Met || !reflect.DeepEqual(e.Got, []float64{1, 0}) || e.Message != "signal_delivered of every subject 1, 0 == 1: not met for pod-b" {
		t.Errorf("every subject: %+v", e)
	}
	if e = Judge(vs, "s", check.NameSignalDelivered, "*", "<=", 1, ""); !e.Met {
		t.Errorf("every subject <= 1: %+v", e)
	}
	// "*" includes the scenario-wide verdict.
	if e = Judge(vs, "s", check.NameStaleWindow, "*", ">", 0, ""); !e.Met || !reflect.DeepEqual(e.Got, []float64{4211.2}) {
		t.Errorf("every subject of stale_window: %+v", e)
	}
}

func TestJudgeMissing(t *testing.T) {
	vs := judgeVerdicts()
	for _, c := range []struct{ scenario, verdict, subject string }{
		{"s", check.NameKilledBySIGKILL, ""},
		{"s", check.NameKilledBySIGKILL, "*"},
		{"s", check.NameSignalDelivered, "pod-c"},
		{"s", check.NameSignalDelivered, ""},
		{"nope", check.NameStaleWindow, ""},
	} {
		// != 0 would hold for any value; with no value it must still fail.
		e := Judge(vs, c.scenario, c.verdict, c.subject, "!=", 12345, "")
		if e.Met || e.Got == nil || len(e.Got) != 0 || !strings.Contains(e.Message, "no such verdict") {
			t.Errorf("%+v: %+v", c, e)
		}
	}
	if e := Judge(nil, "s", check.NameStaleWindow, "", ">", 0, ""); e.Met || e.Message != "stale_window > 0: not met, there is no such verdict in scenario s" {
		t.Errorf("no verdicts: %+v", e)
	}
}

func TestNewTiming(t *testing.T) {
	got := NewTiming(2*time.Second, 1500*time.Millisecond, 500*time.Millisecond, 3*time.Second, 500*time.Millisecond, time.Second, 8*time.Second+1234567)
	want := Timing{SetupMS: 2000, FaultsMS: 1500, ForcingMS: 500, DrainMS: 3000, SettleMS: 500, TeardownMS: 1000, TotalMS: 8001.235, InherentMS: 4500, Overhead: 1.778}
	if got != want {
		t.Errorf("NewTiming = %+v, want %+v", got, want)
	}
	if z := NewTiming(time.Second, 0, 0, 0, 0, 0, time.Second); z.InherentMS != 0 || z.Overhead != 0 {
		t.Errorf("no inherent waits: %+v", z)
	}
}

// TestWriteExpectationsAndTimings writes a run with judged expectations and
// timings and checks both renderings show them, run.json keeps them, and
// they leave the verdicts (and so Recheck) alone.
func TestWriteExpectationsAndTimings(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	verdicts := Verdicts(run, tl)
	run.Expectations = []Expectation{
		Judge(verdicts, "incident", check.NameStaleWindow, "", ">", 0, "the incident reproduces: Consul lists a stale instance"),
		Judge(verdicts, "incident", check.NameWrongTargetCalls, "", ">", 0, "callers reach the wrong service"),
		Judge(verdicts, "exec-fix", check.NameSignalDelivered, "*", "==", 1, "exec makes the app PID 1, so it hears SIGTERM"),
		Judge(verdicts, "exec-fix", check.NameStaleWindow, "", "==", 0, "no stale window | with exec"),
		Judge(verdicts, "exec-fix", check.NameFailedCalls, "", "==", 0, "no call fails"),
	}
	run.Timings = map[string]Timing{
		"incident": NewTiming(12*time.Second, 4*time.Second, 0, 3*time.Second, 5*time.Second, 2*time.Second, 27*time.Second),
		"exec-fix": NewTiming(10*time.Second, 4*time.Second, 0, 1*time.Second, 5*time.Second, 2*time.Second, 23*time.Second),
	}
	dir := filepath.Join(t.TempDir(), "run")
	if err := Write(dir, run, tl, verdicts); err != nil {
		t.Fatal(err)
	}

	loaded, _, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded.Expectations, run.Expectations) || !reflect.DeepEqual(loaded.Timings, run.Timings) {
		t.Errorf("run.json does not round-trip:\n%+v\n%+v\nwant\n%+v\n%+v", loaded.Expectations, loaded.Timings, run.Expectations, run.Timings)
	}
	if _, identical, diff, err := Recheck(dir); err != nil || !identical {
		t.Errorf("Recheck = identical %v, diff %q, err %v", identical, diff, err)
	}

	mdBytes, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	md := string(mdBytes)
	for _, want := range []string{
		"- **outcome**: completed; expectations 4/5 met",
		"## Scenarios at a glance",
		"| scenario | SIGTERM delivered | deregistered | SIGKILLed | stale window (ms) | of it on another service's pod (ms) | wrong-target calls | failed calls | expectations |",
		"| incident | 0/1 | 0/1 | 1 | 1690 | 1690 | 4 | 1 | 2/2 ✓ met |",
		"| exec-fix | 1/1 | 1/1 | 0 | 0 | 0 | 0 | 2 | 2/3 ✗ not met |",
		"## Expectations",
		"| incident | `stale_window > 0` | 1690 | ✓ met | the incident reproduces: Consul lists a stale instance |",
		"| exec-fix | `signal_delivered(*) == 1` | 1 | ✓ met | exec makes the app PID 1, so it hears SIGTERM |",
		`| exec-fix | ` + "`stale_window == 0`" + ` | 0 | ✓ met | no stale window \| with exec |`,
		"| exec-fix | `failed_calls == 0` | 2 | ✗ not met | no call fails |",
		"## Timings",
		"| scenario | setup | faults | of it forcing | drain | settle | teardown | total | inherent | overhead |",
		"| incident | 12s | 4s | 0s | 3s | 5s | 2s | 27s | 12s | 2.25 |",
		"| exec-fix | 10s | 4s | 0s | 1s | 5s | 2s | 23s | 10s | 2.30 |",
		"| **all** | | | | | | | 50s | 22s | 2.27 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	// The new tables come right after the header, in this order, and the
	// summary and scenario sections still follow.
	order := []string{"- **outcome**", "## Scenarios at a glance", "## Expectations", "## Timings", "## Summary", "## Scenario incident"}
	if !slices.IsSortedFunc(order, func(a, b string) int { return strings.Index(md, a) - strings.Index(md, b) }) {
		t.Errorf("report.md sections out of order:\n%s", md)
	}

	pageBytes, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	page := string(pageBytes)
	for _, want := range []string{
		"<h2>Scenarios at a glance</h2>", "<h2>Expectations</h2>", "<h2>Timings</h2>",
		`<a href="#scenario-exec-fix">exec-fix</a>`,
		`<span class="status status-pass">2/2 ✓ met</span>`,
		`<span class="status status-fail">2/3 ✗ not met</span>`,
		`<code>signal_delivered(*) == 1</code>`,
		`<span class="status status-fail">✗ not met</span>`,
		`<span class="status status-pass">✓ met</span>`,
		`title="failed_calls 2 == 0: not met"`,
		`<tr class="unmet"`,
		`<td class="num">2.30</td>`,
		// The same header and total row as report.md's.
		`<th>of it on another service's pod (ms)</th>`,
		`<tr><td><strong>all</strong></td><td></td><td></td><td></td><td></td><td></td><td></td><td class="num">50s</td><td class="num">22s</td><td class="num">2.27</td></tr>`,
		"completed; expectations 4/5 met",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	if i, j := strings.Index(page, "<h2>Timings</h2>"), strings.Index(page, "<svg"); i < 0 || j < 0 || i > j {
		t.Error("report.html's new tables do not come before the timeline pictures")
	}
	if strings.Contains(page, "http://") || strings.Contains(page, "https://") || resourceRef.MatchString(page) {
		t.Error("report.html references a network resource")
	}
}

// TestWriteWithoutExpectations checks that runs without expectations or
// timings get no empty sections and the outcome line stays as it was.
func TestWriteWithoutExpectations(t *testing.T) {
	tl := runTimeline(t)
	run := testRun(tl)
	dir := t.TempDir()
	if err := Write(dir, run, tl, Verdicts(run, tl)); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	for _, absent := range []string{"## Expectations", "## Timings", "expectations 0/"} {
		if strings.Contains(string(md), absent) {
			t.Errorf("report.md has %q without data", absent)
		}
	}
	for _, want := range []string{"- **outcome**: completed\n", "| incident | 0/1 | 0/1 | 1 | 1690 | 1690 | 4 | 1 | – |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, absent := range []string{"<h2>Expectations</h2>", "<h2>Timings</h2>"} {
		if strings.Contains(string(page), absent) {
			t.Errorf("report.html has %q without data", absent)
		}
	}

	empty := t.TempDir()
	if err := Write(empty, Run{}, tl.Scenario("none"), nil); err != nil {
		t.Fatal(err)
	}
	md, _ = os.ReadFile(filepath.Join(empty, MarkdownFile))
	if strings.Contains(string(md), "## Scenarios at a glance") {
		t.Errorf("an empty run has an at-a-glance table:\n%s", md)
	}
}
