// Package scenario is a scenario as data: Spec, read from YAML and
// validated with errors that name the field, and its conversion to the
// harness's values (workload services, faults). harness/run runs one.
package scenario

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"golang.org/x/sys/unix"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/fault"
	"github.com/kubegrace/kubegrace/harness/workload"
	"github.com/kubegrace/kubegrace/reports"
)

// Spec is one scenario. The built-in ones live in scenarios/specs/*.yaml.
type Spec struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Labels      []string `json:"labels,omitempty"`
	// Exclusive: never run beside another scenario. Scenarios whose faults
	// need a node to themselves (IP reuse) are exclusive whatever this says
	// (NeedsNodeToItself).
	Exclusive bool          `json:"exclusive,omitempty"`
	Services  []ServiceSpec `json:"services"`
	Callers   []CallerSpec  `json:"callers,omitempty"`
	Faults    []FaultSpec   `json:"faults"`
	// Settle is how long observation goes on after the last fault.
	Settle Duration `json:"settle,omitempty"`
	// Expect are the conditions the verdicts must meet.
	Expect []Expectation `json:"expect,omitempty"`
}

// ServiceSpec is one service: the fixture app started by one of its
// entrypoints, or (Image) an image of the user's own.
type ServiceSpec struct {
	Name     string `json:"name"`
	Replicas int32  `json:"replicas,omitempty"`
	// Entrypoint picks how the fixture app starts (fixtures/entrypoints).
	Entrypoint string `json:"entrypoint,omitempty"`
	// Image is an image of the user's own, from the local Docker engine
	// (loaded into kind, never pulled), instead of the fixture. Command
	// and Args replace its entrypoint and command; Env is its environment.
	Image   string   `json:"image,omitempty"`
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// Env values may use {{ .ConsulHost }}, {{ .ConsulPort }},
	// {{ .ConsulAddr }} (the scenario's Consul) and {{ .PodIP }}.
	Env map[string]string `json:"env,omitempty"`
	// Port the app serves on (default 8080) and HealthPath its readiness
	// path (default: a TCP check of Port), for an Image.
	Port       int32  `json:"port,omitempty"`
	HealthPath string `json:"healthPath,omitempty"`
	// StopSignal is the signal the image stops on (its STOPSIGNAL; default
	// SIGTERM): the one the verdicts follow.
	StopSignal string `json:"stopSignal,omitempty"`
	// AppProcess is the program whose fate the signal verdicts follow: a
	// process's name as the kernel has it (comm, at most 15 characters) or
	// the file name of one of its arguments (server.js, app.jar), so that
	// the node that runs server.js is told from the npm that starts it;
	// default the longest-lived process that is not a shell or an init.
	AppProcess string `json:"appProcess,omitempty"`
	// Registers says the app registers itself in Consul (default true);
	// false for apps that do not (nginx): the service is ready when its
	// pods are, and only signal verdicts apply.
	Registers    *bool  `json:"registers,omitempty"`
	GraceSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	PreStop      *struct {
		// SleepSeconds > 0: an exec preStop hook running `sleep N`.
		SleepSeconds int64 `json:"sleepSeconds"`
	} `json:"preStop,omitempty"`
	Check struct {
		Interval Duration `json:"interval,omitempty"`
		// Identity: off (the incident), header or path.
		Identity                string   `json:"identity,omitempty"`
		DeregisterCriticalAfter Duration `json:"deregisterCriticalServiceAfter,omitempty"`
	} `json:"check,omitempty"`
	// Drain keeps the app serving after it deregistered.
	Drain Duration `json:"drain,omitempty"`
}

// CallerSpec is synthetic traffic to a service through Consul.
type CallerSpec struct {
	Service  string   `json:"service"`
	Interval Duration `json:"interval,omitempty"`
}

// FaultSpec is one fault; exactly one field is set.
type FaultSpec struct {
	RollingUpdate *RollingUpdateSpec `json:"rollingUpdate,omitempty"`
	PodDelete     *PodRef            `json:"podDelete,omitempty"`
	PodKill       *PodRef            `json:"podKill,omitempty"`
	IPReuse       *IPReuseSpec       `json:"ipReuse,omitempty"`
	Wait          *Duration          `json:"wait,omitempty"`
}

// RollingUpdateSpec restarts a service's Deployment with this strategy.
type RollingUpdateSpec struct {
	Service        string `json:"service"`
	MaxSurge       *int32 `json:"maxSurge,omitempty"`
	MaxUnavailable *int32 `json:"maxUnavailable,omitempty"`
}

// PodRef names the Index-th pod (oldest first) of a service.
type PodRef struct {
	Service string `json:"service"`
	Index   int    `json:"index,omitempty"`
}

// IPReuseSpec makes a pod of service By take the IP of a pod of Victim
// once that pod is gone. If the victim pod is still running it is deleted
// first (and its entrypoint decides how it ends).
type IPReuseSpec struct {
	Victim PodRef `json:"victim"`
	By     string `json:"by"`
	// Timeout bounds the whole fault (default 3m).
	Timeout Duration `json:"timeout,omitempty"`
	// Method forces how the address is made to come back: "host-local"
	// (steer the node's host-local IPAM state), "calico" (the new pod asks
	// Calico IPAM for the address), "aws" (the AWS VPC CNI's cooldown, the
	// node's other addresses held by fillers) or "pool" (fill the node's
	// address pool, any IPAM); default: calico where Calico networks the
	// victim, aws on the AWS VPC CNI, host-local where the node shows its
	// state, else pool.
	Method string `json:"method,omitempty"`
}

// Expectation compares a verdict's value: Verdict (a check.Name*), Subject
// ("" for scenario-wide, "*" for every subject), Op (> >= < <= == !=).
type Expectation struct {
	Verdict string  `json:"verdict"`
	Subject string  `json:"subject,omitempty"`
	Op      string  `json:"op"`
	Value   float64 `json:"value"`
	// Why says what the expectation stands for, for the report.
	Why string `json:"why,omitempty"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want a duration such as \"10s\": %w", err)
	}
	*d = Duration(v)
	return nil
}

// Parse decodes YAML strictly (unknown fields are errors) and validates.
func Parse(raw []byte) (Spec, error) {
	var s Spec
	if err := yaml.UnmarshalStrict(raw, &s); err != nil {
		return s, fmt.Errorf("does not parse: %w", err)
	}
	return s, s.Validate()
}

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,40}[a-z0-9])?$`)

// Validate checks the spec; every error names its field.
func (s Spec) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(s.Name) {
		bad("name", "%q must be a DNS label of at most 42 characters", s.Name)
	}
	if len(s.Services) == 0 {
		bad("services", "at least one service is required")
	}
	services := map[string]ServiceSpec{}
	for i, svc := range s.Services {
		f := fmt.Sprintf("services[%d]", i)
		if !nameRE.MatchString(svc.Name) {
			bad(f+".name", "%q must be a DNS label", svc.Name)
		}
		if _, dup := services[svc.Name]; dup {
			bad(f+".name", "%q is defined twice", svc.Name)
		}
		services[svc.Name] = svc
		if svc.Replicas < 0 || svc.Replicas > 10 {
			bad(f+".replicas", "%d: want 1 to 10", svc.Replicas)
		}
		switch {
		case svc.Image != "" && svc.Entrypoint != "":
			bad(f+".image", "set either image (your own) or entrypoint (how the fixture starts), not both")
		case svc.Image != "":
			validateImage(f, svc, bad)
		default:
			if _, err := entrypoints.Lookup(svc.Entrypoint); err != nil {
				bad(f+".entrypoint", "%v (or set image to run your own)", err)
			}
			for field, set := range map[string]bool{"command": len(svc.Command) > 0, "args": len(svc.Args) > 0, "env": len(svc.Env) > 0,
				"port": svc.Port != 0, "healthPath": svc.HealthPath != "", "registers": svc.Registers != nil} {
				if set {
					bad(f+"."+field, "applies to an image of your own (set image); the fixture is set up by entrypoint and check")
				}
			}
		}
		if svc.StopSignal != "" && unix.SignalNum(svc.StopSignal) == 0 {
			bad(f+".stopSignal", "%q: want a signal name such as SIGTERM or SIGQUIT", svc.StopSignal)
		}
		if strings.ContainsAny(svc.AppProcess, "/ ") {
			bad(f+".appProcess", "%q: want one name (java, or a file an argument names, as server.js), no path or spaces", svc.AppProcess)
		}
		if svc.GraceSeconds != nil && (*svc.GraceSeconds < 0 || *svc.GraceSeconds > 600) {
			bad(f+".terminationGracePeriodSeconds", "%d: want 0 to 600", *svc.GraceSeconds)
		}
		if svc.PreStop != nil && (svc.PreStop.SleepSeconds <= 0 || svc.PreStop.SleepSeconds > 600) {
			bad(f+".preStop.sleepSeconds", "%d: want 1 to 600", svc.PreStop.SleepSeconds)
		}
		if iv := svc.Check.Interval.D(); iv != 0 && iv < time.Second {
			bad(f+".check.interval", "%s: Consul checks at most once a second", iv)
		}
		if id := svc.Check.Identity; id != "" && id != "off" && id != "header" && id != "path" {
			bad(f+".check.identity", "%q: want off, header or path", id)
		}
		if d := svc.Check.DeregisterCriticalAfter.D(); d < 0 {
			bad(f+".check.deregisterCriticalServiceAfter", "negative")
		}
		if svc.Drain.D() < 0 {
			bad(f+".drain", "negative")
		}
	}
	hasService := func(field, name string) {
		if _, ok := services[name]; !ok {
			bad(field, "unknown service %q (services: %s)", name, strings.Join(slices.Sorted(maps.Keys(services)), ", "))
		}
	}
	for i, c := range s.Callers {
		hasService(fmt.Sprintf("callers[%d].service", i), c.Service)
		if iv := c.Interval.D(); iv != 0 && iv < 10*time.Millisecond {
			bad(fmt.Sprintf("callers[%d].interval", i), "%s: at least 10ms", iv)
		}
	}
	if len(s.Faults) == 0 {
		bad("faults", "at least one fault is required")
	}
	for i, f := range s.Faults {
		field := fmt.Sprintf("faults[%d]", i)
		set := 0
		if f.RollingUpdate != nil {
			set++
			hasService(field+".rollingUpdate.service", f.RollingUpdate.Service)
			if ms, mu := f.RollingUpdate.MaxSurge, f.RollingUpdate.MaxUnavailable; ms != nil && mu != nil && *ms == 0 && *mu == 0 {
				bad(field+".rollingUpdate", "maxSurge and maxUnavailable cannot both be 0")
			}
		}
		for name, ref := range map[string]*PodRef{"podDelete": f.PodDelete, "podKill": f.PodKill} {
			if ref != nil {
				set++
				hasService(field+"."+name+".service", ref.Service)
				if svc, ok := services[ref.Service]; ok && (ref.Index < 0 || ref.Index >= int(max(svc.Replicas, 1))) {
					bad(field+"."+name+".index", "%d: service %s has %d replicas", ref.Index, ref.Service, max(svc.Replicas, 1))
				}
			}
		}
		if f.IPReuse != nil {
			set++
			hasService(field+".ipReuse.victim.service", f.IPReuse.Victim.Service)
			hasService(field+".ipReuse.by", f.IPReuse.By)
			if f.IPReuse.By == f.IPReuse.Victim.Service {
				bad(field+".ipReuse.by", "must be another service than the victim's")
			}
			if m := f.IPReuse.Method; m != "" && fault.MethodOfSpec(m) == "" {
				bad(field+".ipReuse.method", "%q: want one of %s (or leave it out to choose per victim)", m, strings.Join(fault.MethodSpecNames(), ", "))
			}
		}
		if f.Wait != nil {
			set++
			if f.Wait.D() <= 0 || f.Wait.D() > 10*time.Minute {
				bad(field+".wait", "%s: want (0, 10m]", f.Wait.D())
			}
		}
		if set != 1 {
			bad(field, "set exactly one of rollingUpdate, podDelete, podKill, ipReuse, wait (got %d)", set)
		}
	}
	if s.Settle.D() < 0 || s.Settle.D() > 10*time.Minute {
		bad("settle", "%s: want [0, 10m]", s.Settle.D())
	}
	for i, e := range s.Expect {
		field := fmt.Sprintf("expect[%d]", i)
		if !slices.Contains(check.Names(), e.Verdict) {
			bad(field+".verdict", "%q: want one of %s", e.Verdict, strings.Join(check.Names(), ", "))
		}
		if !slices.Contains(reports.OperatorSymbols(), e.Op) {
			bad(field+".op", "%q: want %s", e.Op, strings.Join(reports.OperatorSymbols(), " "))
		}
	}
	return errors.Join(errs...)
}

// envName is what Kubernetes accepts as an environment variable name.
var envName = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// validateImage checks an image service's own fields.
func validateImage(f string, svc ServiceSpec, bad func(field, format string, args ...any)) {
	if strings.ContainsAny(svc.Image, " \t") {
		bad(f+".image", "%q is not an image reference", svc.Image)
	}
	if svc.Port < 0 || svc.Port > 65535 {
		bad(f+".port", "%d: want 1 to 65535", svc.Port)
	}
	if svc.HealthPath != "" && !strings.HasPrefix(svc.HealthPath, "/") {
		bad(f+".healthPath", "%q must start with /", svc.HealthPath)
	}
	if svc.Check.Identity != "" || svc.Drain != 0 {
		bad(f+".check", "identity and drain configure the fixture app; an image of your own has its own")
	}
	for _, k := range slices.Sorted(maps.Keys(svc.Env)) {
		if !envName.MatchString(k) {
			bad(f+".env."+k, "not a valid environment variable name")
			continue
		}
		if _, err := workload.RenderEnv(svc.Env[k], workload.Placeholders{}); err != nil {
			bad(f+".env."+k, "%v", err)
		}
	}
}

// Registers reports whether the service's app registers itself in Consul.
func (s ServiceSpec) RegistersInConsul() bool { return s.Registers == nil || *s.Registers }

// Fault is the fault value the spec describes.
func (fs FaultSpec) Fault() fault.Fault {
	switch {
	case fs.RollingUpdate != nil:
		return fault.RollingUpdate{Service: fs.RollingUpdate.Service, MaxSurge: fs.RollingUpdate.MaxSurge, MaxUnavailable: fs.RollingUpdate.MaxUnavailable}
	case fs.PodDelete != nil:
		return fault.PodDelete{Service: fs.PodDelete.Service, Index: fs.PodDelete.Index}
	case fs.PodKill != nil:
		return fault.PodKill{Service: fs.PodKill.Service, Index: fs.PodKill.Index}
	case fs.Wait != nil:
		return fault.Wait{For: fs.Wait.D()}
	case fs.IPReuse != nil:
		return fault.IPReuse{Victim: fs.IPReuse.Victim.Service, Index: fs.IPReuse.Victim.Index, By: fs.IPReuse.By, Timeout: fs.IPReuse.Timeout.D(), Method: fault.MethodOfSpec(fs.IPReuse.Method)}
	}
	return nil // Validate rejects a fault with no field set
}

// NeedsNodeToItself reports whether the scenario must run alone on its
// node: it says so (Exclusive), or one of its faults needs it.
func (s Spec) NeedsNodeToItself() bool {
	for _, f := range s.Faults {
		if ff := f.Fault(); ff != nil && ff.Needs().NodeToItself {
			return true
		}
	}
	return s.Exclusive
}

// Namespace is the namespace the scenario runs in: the run creates and
// deletes it, and the preflight names it.
func (s Spec) Namespace() string { return "kg-" + s.Name }

// CheckContext is what the verdicts need to know of the scenario beyond
// its timeline: its services, their grace periods, app processes and stop
// signals; kernel says the kernel signal observer ran for it.
func (s Spec) CheckContext(kernel bool) check.Context {
	ctx := check.Context{Scenario: s.Name, WatchedServices: s.ServiceNames(), ServiceGrace: map[string]time.Duration{}, Kernel: kernel}
	for _, svc := range s.Services {
		ctx.ServiceGrace[svc.Name] = svc.Grace()
		if svc.AppProcess != "" {
			if ctx.AppProcess == nil {
				ctx.AppProcess = map[string]string{}
			}
			ctx.AppProcess[svc.Name] = svc.AppProcess
		}
		if svc.StopSignal != "" {
			if ctx.StopSignal == nil {
				ctx.StopSignal = map[string]string{}
			}
			ctx.StopSignal[svc.Name] = svc.StopSignal
		}
	}
	return ctx
}

// ServiceNames lists the spec's services in order.
func (s Spec) ServiceNames() []string {
	out := make([]string, len(s.Services))
	for i, svc := range s.Services {
		out[i] = svc.Name
	}
	return out
}

// Grace is the service's terminationGracePeriodSeconds (Kubernetes'
// default 30 s when the spec does not say).
func (s ServiceSpec) Grace() time.Duration {
	if s.GraceSeconds != nil {
		return time.Duration(*s.GraceSeconds) * time.Second
	}
	return workload.DefaultGrace
}

// Workload converts the spec's service to the workload package's form.
func (s ServiceSpec) Workload() workload.Service {
	w := workload.Service{
		Name: s.Name, Replicas: max(s.Replicas, 1), Entrypoint: s.Entrypoint, GraceSeconds: int64(s.Grace() / time.Second),
		CheckInterval: s.Check.Interval.D(), Identity: s.Check.Identity,
		DeregisterCriticalAfter: s.Check.DeregisterCriticalAfter.D(), DrainDelay: s.Drain.D(),
		Image: s.Image, Command: s.Command, Args: s.Args, Env: s.Env, Port: s.Port, HealthPath: s.HealthPath,
	}
	if s.PreStop != nil {
		w.PreStopSleepSeconds = s.PreStop.SleepSeconds
	}
	return w
}

// Estimate is a rough length of a run of the spec, only to start long
// scenarios first (a scenario started last bounds a parallel run): a setup
// and teardown allowance, the waits and settle, and for every pod a fault
// ends, how long it may take to stop: its preStop and grace period (an
// image of the user's own, or a fixture entrypoint whose PID 1 drops
// SIGTERM), or else its drain.
func (s Spec) Estimate() time.Duration {
	const setup = 15 * time.Second
	d := setup + s.Settle.D()
	svc := map[string]ServiceSpec{}
	for _, v := range s.Services {
		svc[v.Name] = v
		if v.Image != "" {
			d += 10 * time.Second // a runtime (JVM) starting
		}
	}
	stop := func(name string) time.Duration {
		v := svc[name]
		t := v.Grace()
		if v.Image == "" && !dropsSIGTERM[v.Entrypoint] {
			t = v.Drain.D() + time.Second
		}
		if v.PreStop != nil {
			t += time.Duration(v.PreStop.SleepSeconds) * time.Second
		}
		return t
	}
	for _, f := range s.Faults {
		switch {
		case f.Wait != nil:
			d += f.Wait.D()
		case f.RollingUpdate != nil:
			d += stop(f.RollingUpdate.Service)
		case f.PodDelete != nil:
			d += stop(f.PodDelete.Service)
		case f.PodKill != nil:
			d += 5 * time.Second
		case f.IPReuse != nil:
			d += stop(f.IPReuse.Victim.Service)
		}
	}
	return d
}

// dropsSIGTERM are the fixture's entrypoints whose PID 1 drops SIGTERM, so
// the pod runs to its grace (the signal matrix); under the others the app
// or its init stops at once.
var dropsSIGTERM = map[string]bool{entrypoints.BashNoExec: true, entrypoints.ShNoExec: true}
