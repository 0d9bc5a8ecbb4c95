package scenario

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// compiledSchema compiles Schema() with a draft 2020-12 validator (which
// also checks it against the meta-schema).
func compiledSchema(t *testing.T) *jsv.Schema {
	t.Helper()
	raw, err := Schema()
	if err != nil {
		t.Fatalf("Schema: %v", err)
	}
	doc, err := jsv.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsv.NewCompiler()
	if err := c.AddResource(SchemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaFile)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

// validateYAML validates a YAML spec against the schema the way an editor
// would see it: converted to JSON as sigs.k8s.io/yaml (and so Parse) does.
func validateYAML(t *testing.T, sch *jsv.Schema, src []byte) error {
	t.Helper()
	j, err := yaml.YAMLToJSON(src)
	if err != nil {
		t.Fatalf("YAML to JSON: %v", err)
	}
	inst, err := jsv.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatalf("JSON: %v", err)
	}
	return sch.Validate(inst)
}

// Every spec in the repository (the built-ins and the kind tier's) is valid
// under the schema as it is under Parse.
func TestSchemaAcceptsBuiltinSpecs(t *testing.T) {
	sch := compiledSchema(t)
	var files []string
	for _, dir := range []string{"scenarios/specs", "scenarios/cluster/testdata"} {
		in, _ := filepath.Glob(filepath.Join("..", "..", dir, "*.yaml"))
		files = append(files, in...)
	}
	if len(files) < 8 {
		t.Fatalf("found only %d specs", len(files))
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(raw); err != nil {
			t.Errorf("%s: Parse: %v", f, err)
		}
		if err := validateYAML(t, sch, raw); err != nil {
			t.Errorf("%s: schema: %v", f, err)
		}
	}
}

// The README's worked example is valid under both.
func TestSchemaAcceptsREADMEExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Write a spec for your own incident.*?```yaml\n(name: .*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal(`README: no yaml block under "Write a spec for your own incident"`)
	}
	if _, err := Parse(m[1]); err != nil {
		t.Errorf("README example: Parse: %v", err)
	}
	if err := validateYAML(t, compiledSchema(t), m[1]); err != nil {
		t.Errorf("README example: schema: %v", err)
	}
}

// A Spec with every field set, as encoding/json writes it, is valid: the
// schema knows every field Go knows, under the same name.
func TestSchemaAcceptsEveryField(t *testing.T) {
	one, grace := int32(1), int64(20)
	wait := Duration(3 * time.Second)
	s := Spec{
		Name: "all-fields", Description: "d", Labels: []string{"x"}, Exclusive: true,
		Services: []ServiceSpec{{
			Name: "orders", Replicas: 2, Entrypoint: "bash-noexec", GraceSeconds: &grace,
			Drain: Duration(time.Second),
		}, {Name: "billing", Entrypoint: "tini-g-noexec"}},
		Callers: []CallerSpec{{Service: "orders", Interval: Duration(100 * time.Millisecond)}},
		Faults: []FaultSpec{
			{RollingUpdate: &RollingUpdateSpec{Service: "orders", MaxSurge: &one, MaxUnavailable: new(int32)}},
			{PodDelete: &PodRef{Service: "orders", Index: 1}},
			{PodKill: &PodRef{Service: "billing"}},
			{IPReuse: &IPReuseSpec{Victim: PodRef{Service: "orders"}, By: "billing", Timeout: Duration(2 * time.Minute)}},
			{Wait: &wait},
		},
		Settle: Duration(1500 * time.Millisecond),
		Expect: []Expectation{{Verdict: "stale_window", Subject: "orders-*", Op: "<=", Value: 2500, Why: "w"}},
	}
	s.Services[0].PreStop = &struct {
		SleepSeconds int64 `json:"sleepSeconds"`
	}{5}
	s.Services[0].Check.Interval = Duration(time.Second)
	s.Services[0].Check.Identity = "header"
	s.Services[0].Check.DeregisterCriticalAfter = Duration(time.Minute)
	if err := s.Validate(); err != nil {
		t.Fatalf("test spec: %v", err)
	}
	j, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateYAML(t, compiledSchema(t), j); err != nil {
		t.Errorf("schema rejects %s: %v", j, err)
	}
}

// Bad specs fail the schema where Parse fails them, and the schema's error
// points at the place.
func TestSchemaRejectsBadSpecs(t *testing.T) {
	sch := compiledSchema(t)
	base := `
name: s
services:
- {name: orders, entrypoint: bash-exec}
- {name: payments, entrypoint: bash-exec}
faults:
- podDelete: {service: orders}
`
	cases := map[string]struct{ yaml, where string }{
		"unknown field":          {base + "colour: blue\n", "colour"},
		"unknown service field":  {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, imag: x}\n- {name: payments", 1), "/services/0"},
		"image and entrypoint":   {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, image: x}\n- {name: payments", 1), "/services/0"},
		"bad entrypoint":         {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: java-jar}\n- {name: payments", 1), "/services/0/entrypoint"},
		"two faults in one item": {base + "- {wait: 1s, podKill: {service: orders}}\n", "/faults/1"},
		"empty fault item":       {base + "- {}\n", "/faults/1"},
		"bad op":                 {base + "expect:\n- {verdict: stale_window, op: '=>', value: 0}\n", "/expect/0/op"},
		"bad verdict":            {base + "expect:\n- {verdict: stale, op: '>', value: 0}\n", "/expect/0/verdict"},
		"bad duration":           {base + "settle: soon\n", "/settle"},
		"bad name":               {strings.Replace(base, "name: s", "name: Bad_Name", 1), "/name"},
		"bad identity":           {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, check: {identity: instance}}\n- {name: payments", 1), "/services/0/check/identity"},
		"bare off":               {strings.Replace(base, "entrypoint: bash-exec}\n- {name: payments", "entrypoint: bash-exec, check: {identity: off}}\n- {name: payments", 1), "/services/0/check/identity"},
		"no faults":              {strings.Split(base, "faults:")[0], "faults"},
		"bad ipReuse method":     {"exclusive: true\n" + base + "- ipReuse: {victim: {service: orders}, by: payments, method: steer}\n", "/faults/1/ipReuse/method"},
		"too many replicas":      {strings.Replace(base, "name: orders,", "name: orders, replicas: 11,", 1), "/services/0/replicas"},
	}
	if err := validateYAML(t, sch, []byte(base)); err != nil {
		t.Fatalf("base spec: %v", err)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.yaml)); err == nil {
				t.Errorf("Parse accepts it: the case is not a bad spec")
			}
			err := validateYAML(t, sch, []byte(tc.yaml))
			if err == nil {
				t.Fatalf("schema accepts:\n%s", tc.yaml)
			}
			if !strings.Contains(err.Error(), tc.where) {
				t.Errorf("schema error does not mention %q:\n%v", tc.where, err)
			}
		})
	}
}

// Every property says what it is, on itself or on the type it refers to.
func TestSchemaDescribesEveryField(t *testing.T) {
	raw, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}
	defs, _ := doc["$defs"].(map[string]any)
	described := func(s map[string]any) bool {
		if d, _ := s["description"].(string); d != "" {
			return true
		}
		ref, _ := s["$ref"].(string)
		def, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		d, _ := def["description"].(string)
		return d != ""
	}
	var walk func(path string, s map[string]any)
	walk = func(path string, s map[string]any) {
		if _, isMap := s["additionalProperties"].(map[string]any); s["type"] == "object" && s["additionalProperties"] != false && !isMap {
			t.Errorf("%s: additionalProperties is not false", path)
		}
		props, _ := s["properties"].(map[string]any)
		for name, p := range props {
			ps := p.(map[string]any)
			if !described(ps) {
				t.Errorf("%s.%s has no description", path, name)
			}
			walk(path+"."+name, ps)
		}
		if items, ok := s["items"].(map[string]any); ok {
			walk(path+"[]", items)
		}
	}
	walk("Spec", doc)
	for name, d := range defs {
		walk(name, d.(map[string]any))
	}
}

// The schema shows <, > and & as themselves, and only escapes change.
func TestUnescapeHTML(t *testing.T) {
	in := []string{"a<b", ">=", "&", `\u003e stays text`, `back\\slash>`, "tab\t\"q\"", "µs"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	got := unescapeHTML(b)
	var out []string
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if !slices.Equal(in, out) {
		t.Errorf("round trip: %q, want %q", out, in)
	}
	if bytes.Contains(got, []byte(`\u003c`)) || !bytes.Contains(got, []byte(`"a<b"`)) {
		t.Errorf("not unescaped: %s", got)
	}
}
