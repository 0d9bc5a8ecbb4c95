// Package check turns a recorded timeline into verdicts: did the app hear
// SIGTERM, how fast did Consul lose the registration, was the container
// SIGKILLed, and for how long did Consul list a passing instance whose IP
// belonged to a deleted pod or to another service (the stale window).
//
// Every verdict is a pure function of a timeline.Timeline and a Context: no
// clock, no cluster, no randomness, deterministic order. That is what lets a
// saved report be re-checked offline and give byte-identical verdicts.
package check

import (
	"cmp"
	"slices"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Verdict names, one per question the harness answers.
const (
	NameSignalDelivered       = "signal_delivered"
	NameDeregistrationLatency = "deregistration_latency"
	NameKilledBySIGKILL       = "killed_by_sigkill"
	NameGraceUsed             = "grace_used"
	NameStaleWindow           = "stale_window"
	NameReusedAddressWindow   = "reused_address_window"
	NameWrongTargetCalls      = "wrong_target_calls"
	NameFailedCalls           = "failed_calls"
	NameOKCalls               = "ok_calls"
	NameObserverGaps          = "observer_gaps"
	// Kernel verdicts: only where the kernel signal observer ran.
	NameSigtermDropped       = "sigterm_dropped"
	NameShutdownWindow       = "shutdown_window"
	NameKubeletLag           = "kubelet_lag"
	NameObserverDisagreement = "observer_disagreement"
	// NameWrongTargetDisagreement counts calls where the pod timeline and
	// the answering app's own identity disagree on who answered.
	NameWrongTargetDisagreement = "wrong_target_disagreement"
)

// Units of Verdict.Value.
const (
	UnitMS    = "ms"
	UnitCount = "count"
	UnitBool  = "bool"
)

// Verdict is one measured answer about one subject of one scenario. It
// measures and does not judge: whether a measurement is what a scenario
// expects is judged by the scenario (reports.Judge), which knows whether it
// reproduces the incident or its fix.
type Verdict struct {
	Name     string `json:"name"`
	Scenario string `json:"scenario"`
	// Subject is a pod name, a Consul instance ID, or "" for the scenario as
	// a whole.
	Subject string `json:"subject"`
	// Value is the number: milliseconds (rounded to the microsecond so JSON
	// stays readable), a count, or 0/1. Negative milliseconds mean "never
	// happened within the timeline".
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	// Message is one human sentence with the numbers, for the report.
	Message string `json:"message"`
}

// Context is what the verdicts need to know about a scenario beyond its
// timeline. It is saved with the run so a report can be re-checked offline,
// hence the JSON tags.
type Context struct {
	// Scenario selects the timeline events whose Scenario field equals it;
	// "" selects every event (a timeline of one scenario).
	Scenario string `json:"scenario"`
	// ServiceGrace is the terminationGracePeriodSeconds per service name,
	// for the pods of that service (a pod's service is its pod events'
	// Service). A deletion event's own grace_s, when recorded, wins: it is
	// what the API server actually applied.
	ServiceGrace map[string]time.Duration `json:"service_grace_ns,omitempty"`
	// WatchedServices limits the stale-window check to these Consul
	// services (Consul itself, or a scenario's bystanders, are not
	// interesting); empty means every service.
	WatchedServices []string `json:"watched_services,omitempty"`
	// Kernel says the kernel signal observer ran for this scenario: the
	// signal verdicts rest on it. Without it they rest on the app's own log
	// and exit codes, say so, and the kernel-only verdicts are not made.
	Kernel bool `json:"kernel,omitempty"`
	// AppProcess names, per service, the program (comm) whose fate the
	// signal verdicts follow; by default the pod's longest-lived process
	// that is not a shell or an init.
	AppProcess map[string]string `json:"app_process,omitempty"`
	// StopSignal per service (default SIGTERM), as the image or spec sets it.
	StopSignal map[string]string `json:"stop_signal,omitempty"`
}

// maker is one row of the verdict table: a function, the verdicts it makes
// (CallOutcomes makes four), their unit, and whether it needs the kernel
// signal observer (Context.Kernel) to make anything.
type maker struct {
	fn     func(timeline.Timeline, Context) []Verdict
	names  []string
	unit   string
	kernel bool
}

// verdicts is the table of every verdict the harness makes, in the order
// All computes them. Names and All read it, and scenario specs and their
// schema know verdicts through Names, so a verdict added here is known
// everywhere; the tests check that the package defines no verdict outside
// it.
var verdicts = []maker{
	{SignalDelivered, []string{NameSignalDelivered}, UnitBool, false},
	{DeregistrationLatency, []string{NameDeregistrationLatency}, UnitMS, false},
	{KilledBySIGKILL, []string{NameKilledBySIGKILL}, UnitBool, false},
	{GraceUsed, []string{NameGraceUsed}, UnitMS, false},
	{StaleWindow, []string{NameStaleWindow}, UnitMS, false},
	{ReusedAddressWindow, []string{NameReusedAddressWindow}, UnitMS, false},
	{CallOutcomes, []string{NameFailedCalls, NameOKCalls, NameWrongTargetCalls, NameWrongTargetDisagreement}, UnitCount, false},
	{ObserverGaps, []string{NameObserverGaps}, UnitCount, false},
	{SigtermDropped, []string{NameSigtermDropped}, UnitBool, true},
	{ShutdownWindow, []string{NameShutdownWindow}, UnitMS, true},
	{KubeletLag, []string{NameKubeletLag}, UnitMS, true},
	{ObserverDisagreement, []string{NameObserverDisagreement}, UnitCount, true},
}

// Names lists every verdict name All can produce, in name order; scenario
// specs are validated against it.
func Names() []string {
	var names []string
	for _, m := range verdicts {
		names = append(names, m.names...)
	}
	slices.Sort(names)
	return names
}

// All runs every verdict function and returns their verdicts sorted by Name,
// then Subject. Without the kernel observed, the kernel-only functions are
// not run.
func All(tl timeline.Timeline, ctx Context) []Verdict {
	var out []Verdict
	for _, m := range verdicts {
		if m.kernel && !ctx.Kernel {
			continue
		}
		out = append(out, m.fn(tl, ctx)...)
	}
	sortVerdicts(out)
	return out
}

func sortVerdicts(v []Verdict) {
	slices.SortStableFunc(v, func(a, b Verdict) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Subject, b.Subject))
	})
}

// scope returns the context's events, stably sorted by time: observers
// deliver late and out of order, and every verdict walks time forwards.
func scope(tl timeline.Timeline, ctx Context) []timeline.Event {
	if ctx.Scenario != "" {
		tl = tl.Scenario(ctx.Scenario)
	}
	return tl.Sorted().Events
}
