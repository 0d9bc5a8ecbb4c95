package scenario

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"

	"github.com/invopop/jsonschema"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/reports"
)

// SchemaFile is the name `kubegrace init` gives the schema beside a spec.
const SchemaFile = "kubegrace-spec.schema.json"

// durationPattern is what time.ParseDuration reads, without a sign: "0", or
// numbers each with a unit ("1m30s", "1.5s", "100ms"). Validate rejects
// negative durations wherever it checks them.
const durationPattern = `^\+?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// Schema is the JSON Schema (draft 2020-12) of Spec, indented. It follows
// the JSON (and so the YAML) field names, requires what Validate requires,
// allows no unknown fields (Parse is strict), and lists the entrypoint,
// verdict, op and identity names the harness knows; descriptions are
// written here, not read from the Go source (a binary has none).
// Constraints that span fields (a service named twice, an unknown service,
// ipReuse.by equal to the victim) are left to Validate.
func Schema() ([]byte, error) {
	durationType := reflect.TypeFor[Duration]()
	r := &jsonschema.Reflector{
		ExpandedStruct: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t == durationType {
				return &jsonschema.Schema{Ref: "#/$defs/Duration"}
			}
			return nil
		},
	}
	s := r.Reflect(&Spec{})
	s.Title = "kubegrace scenario spec"
	s.Definitions["Duration"] = &jsonschema.Schema{
		Type:     "string",
		Pattern:  durationPattern,
		Examples: []any{"10s", "100ms", "1m30s"},
	}
	if err := refine(s); err != nil {
		return nil, fmt.Errorf("spec schema: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("spec schema: %w", err)
	}
	return unescapeHTML(b), nil
}

var htmlEscapes = map[string]byte{"003c": '<', "003e": '>', "0026": '&'}

// unescapeHTML turns the \u003c, \u003e and \u0026 escapes encoding/json
// writes for <, > and & back into the characters, for people reading the
// schema (the ops are > >= < <=). Backslashes occur only in JSON strings,
// where each starts a two-character or \uXXXX escape; other escapes are
// copied as they are.
func unescapeHTML(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			out = append(out, b[i])
			continue
		}
		if i+5 < len(b) && b[i+1] == 'u' {
			if c, ok := htmlEscapes[string(b[i+2:i+6])]; ok {
				out = append(out, c)
				i += 5
				continue
			}
		}
		out = append(out, b[i], b[i+1])
		i++
	}
	return out
}

// refine adds to the reflected schema what the struct tags cannot say:
// descriptions, enums, bounds, patterns. Every path must exist, so a field
// renamed in Spec breaks Schema (and its test) instead of going silently
// undescribed.
func refine(root *jsonschema.Schema) error {
	var errs []string
	at := func(path string) *jsonschema.Schema {
		s, err := lookup(root, path)
		if err != nil {
			errs = append(errs, err.Error())
			return &jsonschema.Schema{}
		}
		return s
	}
	for _, d := range descriptions {
		at(d.path).Description = d.text
	}

	name := at("Spec.name")
	name.Pattern = nameRE.String()
	at("ServiceSpec.name").Pattern = nameRE.String()
	at("Spec.services").MinItems = ptr(uint64(1))
	at("Spec.faults").MinItems = ptr(uint64(1))

	svc := at("ServiceSpec.replicas")
	svc.Minimum, svc.Maximum = "0", "10"
	grace := at("ServiceSpec.terminationGracePeriodSeconds")
	grace.Minimum, grace.Maximum = "0", "600"
	sleep := at("ServiceSpec.preStop.sleepSeconds")
	sleep.Minimum, sleep.Maximum = "1", "600"

	ep := at("ServiceSpec.entrypoint")
	var lines []string
	for _, n := range entrypoints.Names() {
		ep.Enum = append(ep.Enum, n)
		v, _ := entrypoints.Lookup(n)
		lines = append(lines, fmt.Sprintf("%s: %s", n, v.Summary))
	}
	ep.Description += "\n" + strings.Join(lines, "\n")

	// The fixture (entrypoint) or an image of your own, not both.
	service := at("ServiceSpec")
	service.OneOf = []*jsonschema.Schema{{Required: []string{"entrypoint"}}, {Required: []string{"image"}}}
	at("ServiceSpec.port").Minimum, at("ServiceSpec.port").Maximum = "1", "65535"
	at("ServiceSpec.appProcess").Pattern = "^[^/ ]+$"

	at("ServiceSpec.check.identity").Enum = []any{"off", "header", "path"}
	at("IPReuseSpec.method").Enum = anys(fault.MethodSpecNames())
	for _, p := range []string{"RollingUpdateSpec.maxSurge", "RollingUpdateSpec.maxUnavailable", "PodRef.index"} {
		at(p).Minimum = "0"
	}

	fault := at("FaultSpec")
	fault.MinProperties, fault.MaxProperties = ptr(uint64(1)), ptr(uint64(1))

	verdict := at("Expectation.verdict")
	for _, n := range check.Names() {
		verdict.Enum = append(verdict.Enum, n)
	}
	op := at("Expectation.op")
	op.Enum = anys(reports.OperatorSymbols())
	// Validate does not require a value (a missing one is 0), so neither
	// does the schema.
	exp := at("Expectation")
	exp.Required = without(exp.Required, "value")

	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// descriptions of the spec's types and fields, by path: a type name (Spec
// is the root), then JSON field names, through arrays and references.
var descriptions = []struct{ path, text string }{
	{"Spec", "One kubegrace scenario: fixture services, traffic, faults in order, and the verdict values the run must meet. `kubegrace run SPEC.yaml` runs it; every error names its field."},
	{"Spec.name", "The scenario's name, a DNS label of at most 42 characters; its namespace is kg-<name>."},
	{"Spec.description", "What the scenario shows, for the report."},
	{"Spec.labels", "Labels that `kubegrace run --label` selects on."},
	{"Spec.exclusive", "Never run beside another scenario. Scenarios with an ipReuse fault need a node to themselves whatever this says."},
	{"Spec.services", "The fixture services (an app that registers itself in Consul with an HTTP check on its own address, port 8080 and /actuator/health, as Spring Cloud Consul does)."},
	{"Spec.callers", "Synthetic traffic: each caller resolves a service's passing instances through Consul and calls them."},
	{"Spec.faults", "Faults, injected one after another, each recorded on the timeline. Each item sets exactly one of rollingUpdate, podDelete, podKill, ipReuse, wait."},
	{"Spec.settle", "How long observation goes on after the last fault, up to 10m."},
	{"Spec.expect", "Conditions on the verdicts; the run fails when one is not met."},

	{"ServiceSpec", "One service: the fixture app started by an entrypoint, or an image of your own (image); its app registers itself in Consul."},
	{"ServiceSpec.name", "Service name, a DNS label; its pods are <name>-…"},
	{"ServiceSpec.replicas", "Pods of the service, 1 to 10 (default 1)."},
	{"ServiceSpec.entrypoint", "How the container starts the fixture app (PID 1 decides who hears SIGTERM); leave it out with image:"},
	{"ServiceSpec.image", "An image of your own from the local Docker engine (loaded into kind, never pulled), instead of the fixture."},
	{"ServiceSpec.command", "With image: the container's command (replaces the image's entrypoint)."},
	{"ServiceSpec.args", "With image: the container's arguments (replace the image's command)."},
	{"ServiceSpec.env", "With image: environment variables; values may use {{ .ConsulHost }}, {{ .ConsulPort }}, {{ .ConsulAddr }} (the scenario's Consul) and {{ .PodIP }}."},
	{"ServiceSpec.port", "With image: the port the app serves on (default 8080)."},
	{"ServiceSpec.healthPath", "With image: the HTTP path of its readiness probe (default: a TCP check of port)."},
	{"ServiceSpec.stopSignal", "The signal the image stops on (its STOPSIGNAL), e.g. SIGQUIT; default SIGTERM."},
	{"ServiceSpec.appProcess", "The program whose fate the signal verdicts follow: its name as the kernel has it (comm, at most 15 characters, e.g. java) or the file name of one of its arguments (e.g. server.js, which tells the node running it from the npm that starts it); default the longest-lived process that is not a shell or an init."},
	{"ServiceSpec.registers", "With image: false for an app that does not register in Consul (nginx): ready when its pods are; only signal verdicts apply."},
	{"ServiceSpec.terminationGracePeriodSeconds", "The pods' grace period in seconds, 0 to 600 (default 30, as in Kubernetes)."},
	{"ServiceSpec.preStop", "An exec preStop hook running `sleep N`."},
	{"ServiceSpec.preStop.sleepSeconds", "Seconds the preStop hook sleeps, 1 to 600."},
	{"ServiceSpec.check", "The Consul HTTP check the app registers."},
	{"ServiceSpec.check.interval", "Check interval, at least 1s (Consul checks at most once a second); default 10s, as Spring Cloud Consul's."},
	{"ServiceSpec.check.identity", "off (the incident: any app answering on the address passes), header or path (the check carries the instance id; another instance answers 503). Quote \"off\": YAML reads a bare off as false."},
	{"ServiceSpec.check.deregisterCriticalServiceAfter", "Consul's DeregisterCriticalServiceAfter (Consul's minimum is 1m); unset: never."},
	{"ServiceSpec.drain", "How long the app keeps serving after it deregistered on SIGTERM."},

	{"CallerSpec", "Synthetic traffic to a service through Consul."},
	{"CallerSpec.service", "The service called (one of services[].name)."},
	{"CallerSpec.interval", "Time between calls, at least 10ms (default 100ms)."},

	{"FaultSpec", "One fault: set exactly one field."},
	{"FaultSpec.rollingUpdate", "Restart a service's Deployment with this rollout strategy."},
	{"FaultSpec.podDelete", "Delete a pod the way Kubernetes does (SIGTERM to PID 1, SIGKILL after the grace period)."},
	{"FaultSpec.podKill", "SIGKILL a pod's container on its node (as the OOM killer or a crash would); the kubelet restarts it."},
	{"FaultSpec.ipReuse", "Make a pod of another service take the address of a pod of the victim once that pod is gone (deleting it first if it still runs). The fault ends when that pod serves (Ready); one that never serves within 2 minutes makes the scenario inconclusive."},
	{"FaultSpec.wait", "Do nothing for this long, more than 0 and up to 10m: only where the time itself is the point (checks running, callers calling into a window that is open). What has a condition is waited for by the fault before it ends: a pod gone, a rollout done, the reusing pod of ipReuse serving."},

	{"RollingUpdateSpec", "A rollout of a service's Deployment."},
	{"RollingUpdateSpec.service", "The service rolled (one of services[].name)."},
	{"RollingUpdateSpec.maxSurge", "Pods over the desired count during the rollout (Kubernetes' default 25%); not 0 together with maxUnavailable."},
	{"RollingUpdateSpec.maxUnavailable", "Pods that may be unavailable during the rollout (Kubernetes' default 25%)."},

	{"PodRef", "The index-th pod of a service, oldest first."},
	{"PodRef.service", "The service (one of services[].name)."},
	{"PodRef.index", "Which pod, oldest first, from 0 (default 0); less than the service's replicas."},

	{"IPReuseSpec", "A pod of service `by` takes the address of a pod of the victim once that pod is gone."},
	{"IPReuseSpec.victim", "The pod whose address is reused."},
	{"IPReuseSpec.by", "The service whose new pod takes the address; not the victim's service."},
	{"IPReuseSpec.timeout", "Bound on the whole fault (default 3m)."},
	{"IPReuseSpec.method", "How the address is made to come back: host-local (steer the node's host-local IPAM state) or pool (fill the node's address pool, any IPAM); left out: host-local where the node shows its state, else pool."},

	{"Expectation", "A condition on a verdict's value: verdict op value."},
	{"Expectation.verdict", "The verdict compared. Values are milliseconds (negative: never happened), counts, or 0/1."},
	{"Expectation.subject", "Which verdicts: \"\" (default) the scenario-wide one, \"*\" every subject, or a glob on the subject (a pod name such as \"orders-*\")."},
	{"Expectation.op", "How the verdict's value compares with value."},
	{"Expectation.value", "The number compared with (default 0)."},
	{"Expectation.why", "What the expectation stands for, for the report."},

	{"Duration", "A duration such as \"10s\", \"100ms\" or \"1m30s\" (units ns, us, ms, s, m, h), not negative."},
}

// lookup finds the schema at path: a definition name ("Spec" is the root),
// then property names, following array items and $refs between them.
func lookup(root *jsonschema.Schema, path string) (*jsonschema.Schema, error) {
	parts := strings.Split(path, ".")
	cur := root
	if parts[0] != "Spec" {
		cur = root.Definitions[parts[0]]
		if cur == nil {
			return nil, fmt.Errorf("%s: no definition %s", path, parts[0])
		}
	}
	for _, p := range parts[1:] {
		cur = deref(root, cur)
		if cur == nil || cur.Properties == nil {
			return nil, fmt.Errorf("%s: no object before %s", path, p)
		}
		next, ok := cur.Properties.Get(p)
		if !ok {
			return nil, fmt.Errorf("%s: no property %s", path, p)
		}
		cur = next
	}
	return cur, nil
}

// deref follows array items and $refs to the object schema they name.
func deref(root, s *jsonschema.Schema) *jsonschema.Schema {
	for s != nil {
		switch {
		case s.Items != nil:
			s = s.Items
		case strings.HasPrefix(s.Ref, "#/$defs/"):
			s = root.Definitions[strings.TrimPrefix(s.Ref, "#/$defs/")]
		default:
			return s
		}
	}
	return nil
}

func without(list []string, drop string) []string {
	var out []string
	for _, s := range list {
		if s != drop {
			out = append(out, s)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// anys is names as a JSON Schema enum.
func anys(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}
