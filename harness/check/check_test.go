package check

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

var update = flag.Bool("update", false, "rewrite testdata/*.verdicts.json from the current code")

func load(t *testing.T, name string) timeline.Timeline {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tl, err := timeline.ReadJSONL(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return tl
}

func marshal(t *testing.T, v []Verdict) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

func expect(t *testing.T, vs []Verdict, name, subject string, value float64, msgParts ...string) {
	t.Helper()
	v := verdictOf(t, vs, name, subject)
	if v.Value != value {
		t.Errorf("%s/%s = %v, want %v (%s)", name, subject, v.Value, value, v.Message)
	}
	for _, p := range msgParts {
		if !strings.Contains(v.Message, p) {
			t.Errorf("%s/%s message %q lacks %q", name, subject, v.Message, p)
		}
	}
}

var watched = []string{"orders", "payments", "inventory"}

func TestIncident(t *testing.T) {
	ctx := Context{Scenario: "incident", WatchedServices: watched}
	vs := All(load(t, "incident"), ctx)
	const a = "orders-6c9d8-k2x7p"
	expect(t, vs, NameSignalDelivered, a, 0, "never logged SIGTERM", "t=5000 ms")
	expect(t, vs, NameDeregistrationLatency, a, -1, "never deregistered (stale registration left)", "orders-k2x7p")
	expect(t, vs, NameKilledBySIGKILL, a, 1, "SIGKILL", "137")
	// The deletion's own grace (3 s) wins over the context's default.
	expect(t, vs, NameGraceUsed, a, 3003, "100.1% of the 3s grace period")
	expect(t, vs, NameStaleWindow, "orders-k2x7p", 1690, "[11410, 13100 ms]", "other service payments", "payments-7f5b9-q8w2n")
	expect(t, vs, NameStaleWindow, "", 1690)
	expect(t, vs, NameWrongTargetCalls, "", 4, "orders→payments ×4", "t=11600 ms to t=13100 ms")
	expect(t, vs, NameFailedCalls, "", 1, "connection refused")
	expect(t, vs, NameOKCalls, "", 6, "6 of 11")
	expect(t, vs, NameObserverGaps, "", 0)
	// The payments pod was never deleted nor terminated: no per-pod verdicts.
	for _, v := range vs {
		if v.Subject == "payments-7f5b9-q8w2n" {
			t.Errorf("unexpected verdict for the payments pod: %+v", v)
		}
		if v.Scenario != "incident" {
			t.Errorf("verdict %+v: want scenario incident", v)
		}
	}
	ws := StaleWindows(load(t, "incident"), ctx)
	want := []Window{{Instance: "orders-k2x7p", Service: "orders", IP: "10.244.1.7", Start: 11410 * time.Millisecond, End: 13100 * time.Millisecond,
		Cause: CauseOtherService, RegisteredBy: "orders-6c9d8-k2x7p", OtherService: "payments", OtherPod: "payments-7f5b9-q8w2n"}}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("windows = %+v\nwant %+v", ws, want)
	}
}

func TestExecFix(t *testing.T) {
	ctx := Context{Scenario: "exec-fix", WatchedServices: watched}
	vs := All(load(t, "exec-fix"), ctx)
	const a = "orders-58f4c-h9j2m"
	expect(t, vs, NameSignalDelivered, a, 1, "0.6 ms after deletion")
	expect(t, vs, NameDeregistrationLatency, a, 12, "12 ms", "the app logged its deregistration after 11 ms")
	expect(t, vs, NameKilledBySIGKILL, a, 0, "exited with code 0 at t=6031 ms (reason Completed)")
	expect(t, vs, NameGraceUsed, a, 1031, "3.4% of the 30s")
	expect(t, vs, NameStaleWindow, "", 0, "never listed a stale instance")
	expect(t, vs, NameWrongTargetCalls, "", 0)
	expect(t, vs, NameFailedCalls, "", 2, "orders: no passing instance of orders ×2")
	if ws := StaleWindows(load(t, "exec-fix"), ctx); len(ws) != 0 {
		t.Errorf("windows = %+v, want none", ws)
	}
}

func TestOutOfOrderInputGivesTheSameVerdicts(t *testing.T) {
	ctx := Context{Scenario: "exec-fix", WatchedServices: watched}
	want := marshal(t, All(load(t, "exec-fix"), ctx))
	if got := marshal(t, All(load(t, "out-of-order"), ctx)); !bytes.Equal(got, want) {
		t.Errorf("shuffled file:\n%s\nwant\n%s", got, want)
	}
	// And the incident read backwards (it has no simultaneous events).
	tl := load(t, "incident")
	ctx = Context{Scenario: "incident"}
	want = marshal(t, All(tl, ctx))
	rev := timeline.Timeline{Base: tl.Base}
	for i := len(tl.Events) - 1; i >= 0; i-- {
		rev.Events = append(rev.Events, tl.Events[i])
	}
	if got := marshal(t, All(rev, ctx)); !bytes.Equal(got, want) {
		t.Errorf("reversed incident:\n%s\nwant\n%s", got, want)
	}
}

func TestOverlappingWindows(t *testing.T) {
	ctx := Context{Scenario: "overlap", WatchedServices: watched}
	vs := All(load(t, "overlap"), ctx)
	expect(t, vs, NameStaleWindow, "orders-aaaa1", 2000,
		"[1000, 1500 ms] pod orders-5d7c6-aaaa1 deleted, 10.244.1.10 held by no pod",
		"[3500, 5000 ms] 10.244.1.10 held by pod payments-7f5b9-pppp3 of other service payments")
	expect(t, vs, NameStaleWindow, "orders-bbbb2", 1600,
		"[1200, 2000 ms] pod orders-5d7c6-bbbb2 deleted",
		"[4200, 5000 ms] 10.244.2.20 held by pod inventory-6b8d4-iiii4 of other service inventory (an observer gap overlaps")
	// Union: [1000, 2000] and [3500, 5000]; the sum over instances is 3600.
	expect(t, vs, NameStaleWindow, "", 2500, "2 stale instances", "3600 ms summed")
	expect(t, vs, NameObserverGaps, "", 1, "1 observer gap (consul watch) covering 100 ms in all")
	// Mapped to their pods through Consul's IPs (no app events here).
	expect(t, vs, NameDeregistrationLatency, "orders-5d7c6-aaaa1", -1, "orders-aaaa1")
	expect(t, vs, NameGraceUsed, "orders-5d7c6-aaaa1", 10, "all of the zero grace period")
	expect(t, vs, NameWrongTargetCalls, "", 3, "orders→inventory ×2, orders→payments ×1")

	// Only watching payments: the orders windows are not judged.
	vs = StaleWindow(load(t, "overlap"), Context{Scenario: "overlap", WatchedServices: []string{"payments"}})
	if len(vs) != 1 || vs[0].Value != 0 {
		t.Errorf("watched payments only: %+v", vs)
	}
}

func TestPassingBeforeAnyPodEvent(t *testing.T) {
	ctx := Context{Scenario: "early-passing"}
	ws := StaleWindows(load(t, "early-passing"), ctx)
	want := []Window{{Instance: "orders-legacy-1", Service: "orders", IP: "10.244.3.3", Start: 2000 * time.Millisecond, End: 3000 * time.Millisecond,
		Cause: CauseOtherService, OtherService: "payments", OtherPod: "payments-7f5b9-zzzz5"}}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("windows = %+v\nwant %+v", ws, want)
	}
}

func TestInstanceReregistering(t *testing.T) {
	ctx := Context{Scenario: "reregister", WatchedServices: watched}
	tl := load(t, "reregister")
	vs := All(tl, ctx)
	// The first pod deregistered cleanly; the second pod re-used the
	// instance ID on a new IP and was killed.
	expect(t, vs, NameDeregistrationLatency, "orders-0-aaaaa", 11)
	expect(t, vs, NameDeregistrationLatency, "orders-0-bbbbb", -1, "orders-stable still listed")
	expect(t, vs, NameKilledBySIGKILL, "orders-0-bbbbb", 1)
	expect(t, vs, NameGraceUsed, "orders-0-bbbbb", 1001, "100.1% of the 1s")
	// Only the second registration's IP counts: the old IP .5, now held by
	// payments, is not this instance's any more.
	ws := StaleWindows(tl, ctx)
	want := []Window{{Instance: "orders-stable", Service: "orders", IP: "10.244.1.6", Start: 9800 * time.Millisecond, End: 10500 * time.Millisecond,
		Cause: CauseOtherService, RegisteredBy: "orders-0-bbbbb", OtherService: "inventory", OtherPod: "inventory-6b8d4-iiiii"}}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("windows = %+v\nwant %+v", ws, want)
	}
}

// A zombie re-registration onto an IP another service now holds is stale
// only once Consul reports its check passing again: status is forgotten on
// deregistration.
func TestStatusForgottenOnDeregistration(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	tl := timeline.Timeline{Events: []timeline.Event{
		{At: ms(0), Source: timeline.SourcePod, Kind: timeline.PodIPAssigned, Pod: "orders-x", Service: "orders", IP: "10.0.0.9"},
		{At: ms(10), Source: timeline.SourceConsul, Kind: timeline.ConsulRegistered, Instance: "x", Service: "orders", IP: "10.0.0.9"},
		{At: ms(20), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Instance: "x", Status: timeline.StatusPassing},
		{At: ms(1000), Source: timeline.SourceConsul, Kind: timeline.ConsulDeregistered, Instance: "x"},
		{At: ms(1100), Source: timeline.SourcePod, Kind: timeline.PodDeleted, Pod: "orders-x", Service: "orders"},
		{At: ms(1200), Source: timeline.SourcePod, Kind: timeline.PodIPAssigned, Pod: "payments-y", Service: "payments", IP: "10.0.0.9"},
		{At: ms(1300), Source: timeline.SourceConsul, Kind: timeline.ConsulRegistered, Instance: "x", Service: "orders", IP: "10.0.0.9"},
		{At: ms(1600), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Instance: "x", Status: timeline.StatusPassing},
		{At: ms(2000), Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Instance: "x", Status: timeline.StatusWarning},
		{At: ms(2500), Source: timeline.SourceCaller, Kind: timeline.CallOK, Service: "payments", Reason: "payments"},
	}}
	ws := StaleWindows(tl, Context{})
	if len(ws) != 1 || ws[0].Start != ms(1600) || ws[0].End != ms(2000) || ws[0].OtherPod != "payments-y" {
		t.Errorf("windows = %+v, want one [1600, 2000] on payments-y", ws)
	}
}

func TestEmptyTimeline(t *testing.T) {
	for _, tl := range []timeline.Timeline{load(t, "empty"), {}} {
		vs := All(tl, Context{Scenario: "empty"})
		var names []string
		for _, v := range vs {
			names = append(names, v.Name)
			if v.Value != 0 || v.Subject != "" {
				t.Errorf("empty timeline gave %+v", v)
			}
		}
		want := []string{NameFailedCalls, NameObserverGaps, NameOKCalls, NameReusedAddressWindow, NameStaleWindow, NameWrongTargetCalls}
		if !reflect.DeepEqual(names, want) {
			t.Errorf("names = %v, want %v", names, want)
		}
	}
}

func TestScenarioScoping(t *testing.T) {
	inc, fix := load(t, "incident"), load(t, "exec-fix")
	both := timeline.Timeline{Base: inc.Base, Events: append(append([]timeline.Event(nil), inc.Events...), fix.Events...)}
	for _, name := range []string{"incident", "exec-fix"} {
		ctx := Context{Scenario: name}
		one := inc
		if name == "exec-fix" {
			one = fix
		}
		if got, want := marshal(t, All(both, ctx)), marshal(t, All(one, ctx)); !bytes.Equal(got, want) {
			t.Errorf("%s inside a two-scenario timeline:\n%s\nwant\n%s", name, got, want)
		}
	}
}

// Verdicts are pure: computing twice, or after a JSONL round trip, gives
// byte-identical JSON; and they match the saved golden files.
func TestDeterministicAndGolden(t *testing.T) {
	cases := map[string]Context{
		"incident":      {Scenario: "incident", WatchedServices: watched},
		"exec-fix":      {Scenario: "exec-fix", WatchedServices: watched},
		"overlap":       {Scenario: "overlap", WatchedServices: watched},
		"early-passing": {Scenario: "early-passing"},
		"reregister":    {Scenario: "reregister", ServiceGrace: map[string]time.Duration{"orders": 5 * time.Second}},
		"empty":         {Scenario: "empty"},
		"every-verdict": everyVerdict,
	}
	for name, ctx := range cases {
		t.Run(name, func(t *testing.T) {
			tl := load(t, name)
			first := marshal(t, All(tl, ctx))
			if second := marshal(t, All(tl, ctx)); !bytes.Equal(first, second) {
				t.Fatal("two computations differ")
			}
			var buf bytes.Buffer
			if err := timeline.WriteJSONL(&buf, tl); err != nil {
				t.Fatal(err)
			}
			back, err := timeline.ReadJSONL(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if again := marshal(t, All(back, ctx)); !bytes.Equal(first, again) {
				t.Fatal("verdicts differ after a JSONL round trip")
			}
			golden := filepath.Join("testdata", name+".verdicts.json")
			if *update {
				if err := os.WriteFile(golden, first, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(first, want) {
				t.Errorf("verdicts differ from %s:\n%s", golden, first)
			}
		})
	}
}

// everyVerdict is the context of testdata/every-verdict: the incident with
// the kernel observed, an observer gap, and calls that say who answered, so
// that it makes every verdict in the table.
var everyVerdict = Context{Scenario: "every-verdict", WatchedServices: watched, Kernel: true}

// Each function of the verdict table makes only the verdicts the table
// gives it, in its unit, and nothing without the kernel where the table
// says it needs it; together they make every name, and All makes exactly
// what they make.
func TestVerdictTable(t *testing.T) {
	tl := load(t, "every-verdict")
	noKernel := everyVerdict
	noKernel.Kernel = false
	var made []string
	var n int
	for _, m := range verdicts {
		vs := m.fn(tl, everyVerdict)
		for _, v := range vs {
			if !slices.Contains(m.names, v.Name) || v.Unit != m.unit {
				t.Errorf("%s made %s in %q; the table says %v in %q", funcName(m.fn), v.Name, v.Unit, m.names, m.unit)
			}
			if !slices.Contains(made, v.Name) {
				made = append(made, v.Name)
			}
		}
		n += len(vs)
		if vs := m.fn(tl, noKernel); m.kernel && len(vs) > 0 {
			t.Errorf("%s made %d verdicts without the kernel; the table says it needs it", funcName(m.fn), len(vs))
		}
	}
	slices.Sort(made)
	if !slices.Equal(made, Names()) {
		t.Errorf("every-verdict makes %v, want every name %v", made, Names())
	}
	all := All(tl, everyVerdict)
	if len(all) != n {
		t.Errorf("All made %d verdicts, the table's functions %d", len(all), n)
	}
	for _, v := range All(tl, noKernel) {
		for _, m := range verdicts {
			if m.kernel && slices.Contains(m.names, v.Name) {
				t.Errorf("All made kernel verdict %s without the kernel", v.Name)
			}
		}
	}
	if !slices.IsSorted(Names()) {
		t.Error("Names is not sorted")
	}
}

// Every verdict name constant and every verdict function of the package is
// in the table: a verdict written but not added to it would be neither
// computed nor accepted by scenario specs.
func TestVerdictTableCoversThePackage(t *testing.T) {
	fset := token.NewFileSet()
	var consts, funcs []string
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					if vs, ok := spec.(*ast.ValueSpec); ok && d.Tok == token.CONST {
						for i, id := range vs.Names {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && strings.HasPrefix(id.Name, "Name") && lit.Kind == token.STRING {
								consts = append(consts, strings.Trim(lit.Value, `"`))
							}
						}
					}
				}
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() && d.Name.Name != "All" && types.ExprString(d.Type) == "func(tl timeline.Timeline, ctx Context) []Verdict" {
					funcs = append(funcs, d.Name.Name)
				}
			}
		}
	}
	slices.Sort(consts)
	if !slices.Equal(consts, Names()) {
		t.Errorf("Name constants %v, the table's names %v", consts, Names())
	}
	var table []string
	for _, m := range verdicts {
		table = append(table, funcName(m.fn))
	}
	slices.Sort(funcs)
	slices.Sort(table)
	if !slices.Equal(funcs, table) {
		t.Errorf("verdict functions %v, the table's %v", funcs, table)
	}
}

// funcName is the name of a function of this package.
func funcName(f any) string {
	name := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
	return name[strings.LastIndexByte(name, '.')+1:]
}

// Recorded on kind (npm-start): the app registered 266 ms before the pod
// API reported its address. The registration is still the pod's: it is
// never deregistered.
func TestRegisteredBeforeThePodAPIReportedTheAddress(t *testing.T) {
	ctx := Context{Scenario: "npm-start", WatchedServices: []string{"orders"}}
	vs := All(load(t, "registered-before-address"), ctx)
	expect(t, vs, NameDeregistrationLatency, "orders-65c486b65-7bmjl", -1, "never deregistered", "orders-orders-65c486b65-7bmjl")
}

// Recorded on kind (one-pod-deleted, two busy clusters on the host): the
// pod watch reported the deletion 17 ms after the app had logged SIGTERM,
// in the same millisecond as Consul's deregistration. The deregistration
// came after the deletion took effect, not before it.
func TestDeregistrationWhenThePodWatchLags(t *testing.T) {
	ctx := Context{Scenario: "one-pod-deleted", WatchedServices: []string{"orders"}}
	vs := All(load(t, "watch-lag"), ctx)
	v := verdictOf(t, vs, NameDeregistrationLatency, "orders-74cd44d565-z2ckg")
	if v.Value <= 0 || v.Value > 100 {
		t.Errorf("deregistration_latency %+v: want the 17 ms from SIGTERM to Consul's deregistration", v)
	}
}
