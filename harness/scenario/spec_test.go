package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/workload"
)

// Every built-in scenario parses and validates.
func TestBuiltinSpecsAreValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "specs", "*.yaml"))
	if err != nil || len(files) < 8 {
		t.Fatalf("built-in specs: %v %v", files, err)
	}
	names := map[string]bool{}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if names[s.Name] {
			t.Errorf("%s: duplicate name %s", f, s.Name)
		}
		names[s.Name] = true
		if strings.TrimSuffix(filepath.Base(f), ".yaml") != s.Name {
			t.Errorf("%s: file name should be the scenario name %s", f, s.Name)
		}
	}
	for _, want := range []string{"incident-replay", "signal-delivery", "rolling-update-shell", "rolling-update-exec", "grace-too-short", "remediation-exec", "remediation-identity"} {
		if !names[want] {
			t.Errorf("missing built-in scenario %s", want)
		}
	}
}

func TestRenderEnv(t *testing.T) {
	got, err := workload.RenderEnv("http://{{ .ConsulAddr }}/ {{.PodIP}}", workload.Placeholders{ConsulAddr: "consul.ns.svc:8500", PodIP: "$(KUBEGRACE_POD_IP)"})
	if err != nil || got != "http://consul.ns.svc:8500/ $(KUBEGRACE_POD_IP)" {
		t.Errorf("%q %v", got, err)
	}
	if _, err := workload.RenderEnv("{{ .Nope }}", workload.Placeholders{}); err == nil || !strings.Contains(err.Error(), "known: {{ .ConsulHost }}") {
		t.Errorf("unknown placeholder: %v", err)
	}
}

func TestSpecErrorsNameTheField(t *testing.T) {
	base := `
name: s
services:
- {name: orders, entrypoint: bash-exec}
- {name: payments, entrypoint: bash-exec}
faults:
- podDelete: {service: orders}
`
	cases := map[string]struct{ yaml, want string }{
		"unknown field":          {base + "colour: blue\n", `unknown field "colour"`},
		"bad name":               {strings.Replace(base, "name: s", "name: Bad_Name", 1), "name: \"Bad_Name\""},
		"unknown entrypoint":     {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: java-jar}\n- {name: payments", 1), "services[0].entrypoint"},
		"unknown service":        {strings.Replace(base, "podDelete: {service: orders}", "podDelete: {service: billing}", 1), `faults[0].podDelete.service: unknown service "billing"`},
		"two faults in one":      {base + "- {wait: 1s, podKill: {service: orders}}\n", "faults[1]: set exactly one"},
		"bad duration":           {base + "settle: soon\n", "does not parse"},
		"ip reuse same service":  {"exclusive: true\n" + base + "- ipReuse: {victim: {service: orders}, by: orders}\n", "faults[1].ipReuse.by"},
		"bad expectation":        {base + "expect:\n- {verdict: stale, op: '>', value: 0}\n", "expect[0].verdict"},
		"bad op":                 {base + "expect:\n- {verdict: stale_window, op: '=>', value: 0}\n", "expect[0].op"},
		"check interval":         {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, check: {interval: 100ms}}\n- {name: payments", 1), "services[0].check.interval"},
		"pod index":              {strings.Replace(base, "podDelete: {service: orders}", "podDelete: {service: orders, index: 3}", 1), "faults[0].podDelete.index"},
		"no faults":              {strings.Split(base, "faults:")[0], "faults: at least one"},
		"image and entrypoint":   {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, image: my/app:1}\n- {name: payments", 1), "services[0].image: set either image"},
		"unknown placeholder":    {strings.Replace(base, "{name: orders, entrypoint: bash-exec}", "{name: orders, image: my/app:1, env: {CONSUL: '{{ .Consul }}'}}", 1), "services[0].env.CONSUL: \"{{ .Consul }}\": unknown placeholder"},
		"command on the fixture": {strings.Replace(base, "{name: orders, entrypoint: bash-exec}", "{name: orders, entrypoint: bash-exec, command: [x]}", 1), "services[0].command: applies to an image"},
		"bad stop signal":        {strings.Replace(base, "{name: orders, entrypoint: bash-exec}", "{name: orders, image: my/app:1, stopSignal: SIGSTOPP}", 1), "services[0].stopSignal"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v should contain %q", err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(base)); err != nil {
		t.Errorf("base spec: %v", err)
	}
}

// A fault that needs a node to itself makes the scenario exclusive; the
// spec need not say so.
func TestFaultsDeclareWhatTheyNeed(t *testing.T) {
	s, err := Parse([]byte(`
name: s
services:
- {name: orders, entrypoint: bash-exec}
- {name: payments, entrypoint: bash-exec}
faults:
- ipReuse: {victim: {service: orders}, by: payments}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !s.NeedsNodeToItself() {
		t.Errorf("an ipReuse scenario must need its node to itself")
	}
	s.Faults = []FaultSpec{{PodDelete: &PodRef{Service: "orders"}}}
	if s.NeedsNodeToItself() {
		t.Errorf("a pod deletion needs no node to itself")
	}
	s.Exclusive = true
	if !s.NeedsNodeToItself() {
		t.Errorf("exclusive: true must be kept")
	}
}

func TestLoadAllRefusesDuplicateNamesAndSelectsByLabel(t *testing.T) {
	dir := t.TempDir()
	spec := "name: %s\nlabels: [%s]\nservices: [{name: a, entrypoint: bash-exec}]\nfaults: [{podDelete: {service: a}}]\n"
	write := func(file, name, label string) string {
		p := filepath.Join(dir, file)
		if err := os.WriteFile(p, []byte(fmt.Sprintf(spec, name, label)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	one, two := write("one.yaml", "one", "lx"), write("two.yaml", "two", "ly")
	specs, err := LoadAll(dir)
	if err != nil || len(specs) != 2 || specs[0].Name != "one" {
		t.Fatalf("LoadAll(dir): %v %v", specs, err)
	}
	if got := Select(specs, []string{"ly"}); len(got) != 1 || got[0].Name != "two" {
		t.Errorf("select ly: %v", got)
	}
	if got := Select(specs, []string{"one"}); len(got) != 1 || got[0].Name != "one" {
		t.Errorf("select by name: %v", got)
	}
	dup := write("three.yaml", "one", "z")
	if _, err := LoadAll(one, two, dup); err == nil || !strings.Contains(err.Error(), `"one" is used by`) {
		t.Errorf("duplicate name: %v", err)
	}
	if _, err := LoadAll(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Errorf("a missing file must be an error")
	}
}

// The built-in specs' estimates put the scenarios that wait out long grace
// periods ahead of those that stop at once, and for the fixture's services
// (whose stopping the harness knows) are within a factor of two of their
// measured lengths (a 4-node CI run on 2 cores). An image of the user's own
// is taken to run to its grace: an upper bound.
func TestEstimateOrdersTheBuiltInSpecs(t *testing.T) {
	measured := map[string]float64{ // seconds, CI run of 2daa603
		"incident-replay": 58.0, "jvm-remediation-prestop": 56.7, "jvm-incident": 41.7,
		"remediation-prestop": 37.2, "remediation-identity": 35.2, "signal-delivery": 32.5,
		"remediation-exec": 20.3, "remediation-tini-g": 20.4, "grace-too-short": 13.6,
	}
	paths, err := filepath.Glob("../../scenarios/specs/*.yaml")
	if err != nil || len(paths) == 0 {
		t.Fatalf("specs: %v %v", paths, err)
	}
	specs, err := LoadAll(paths...)
	if err != nil {
		t.Fatal(err)
	}
	est := map[string]float64{}
	for _, s := range specs {
		est[s.Name] = s.Estimate().Seconds()
		t.Logf("%-32s estimate %5.1f s", s.Name, est[s.Name])
	}
	for name, m := range measured {
		if e := est[name]; e < m/2 || e > m*2 {
			t.Errorf("%s: estimate %.1f s, measured %.1f s: off by more than a factor of 2", name, e, m)
		}
	}
	if est["incident-replay"] <= est["remediation-exec"] || est["remediation-prestop"] <= est["remediation-tini-g"] {
		t.Errorf("a scenario that waits out its grace estimated no longer than one that stops at once: %v", est)
	}
}

// The verdicts' context has each service's grace (Kubernetes' 30 s where
// the spec says none), its services, its namespace, and the kernel flag.
func TestCheckContextHasEachServicesGrace(t *testing.T) {
	spec, err := Parse([]byte(`
name: s
services:
- {name: a, entrypoint: bash-exec, terminationGracePeriodSeconds: 3}
- {name: b, entrypoint: bash-exec}
faults: [{podDelete: {service: b}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	c := spec.CheckContext(true)
	if c.Scenario != "s" || !c.Kernel || c.ServiceGrace["a"] != 3*time.Second || c.ServiceGrace["b"] != 30*time.Second || !slices.Equal(c.WatchedServices, []string{"a", "b"}) {
		t.Errorf("context %+v", c)
	}
	if spec.Namespace() != "kg-s" {
		t.Errorf("namespace %q", spec.Namespace())
	}
}
