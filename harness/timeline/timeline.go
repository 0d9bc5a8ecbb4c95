// Package timeline is the harness's single record of what happened during a
// run: pod lifecycle, the fixture app's own log lines, Consul's view, caller
// outcomes, injected faults and the harness's own blind spots, all as typed
// events on one clock. Verdicts are computed from this record alone, so a
// saved timeline can be re-checked offline long after the cluster is gone.
package timeline

import (
	"slices"
	"sync"
	"time"
)

// Source says which observer saw an event. Two observers can report the same
// real-world step (the app says "deregistered", Consul stops listing the
// instance); keeping them apart is what lets a verdict notice when they
// disagree.
type Source string

// The observers.
const (
	SourcePod     Source = "pod"     // the Kubernetes API (pod watch)
	SourceApp     Source = "app"     // the fixture app's lifecycle log, attributed to a pod
	SourceConsul  Source = "consul"  // the Consul catalog and health watch
	SourceCaller  Source = "caller"  // the synthetic client calling services through Consul
	SourceFault   Source = "fault"   // the chaos injector
	SourceHarness Source = "harness" // the harness itself (observer gaps)
	SourceKernel  Source = "kernel"  // the kernel's own record (tracefs): signals and processes of pods
)

// Pod event kinds (Source pod), from the Kubernetes API. Pod events carry the
// pod's service label in Service, so IP ownership can be attributed to a
// service over time.
const (
	PodCreated             = "created"
	PodScheduled           = "scheduled"
	PodIPAssigned          = "ip_assigned"          // IP set: from here the pod holds the IP
	PodReady               = "ready"                // Ready condition true
	PodDeletionRequested   = "deletion_requested"   // deletionTimestamp set; GraceSeconds when known
	PodContainerTerminated = "container_terminated" // ExitCode and Reason; 137 = SIGKILL, 143 = SIGTERM default action
	PodDeleted             = "deleted"              // object gone: the pod no longer holds its IP
)

// App event kinds (Source app): the fixture app's own lifecycle lines
// (fixtures/app/event), attributed to a pod by the log follower.
const (
	AppStarted          = "started"
	AppRegistered       = "registered" // Instance, Service, IP, Port as the app registered them
	AppRegisterFailed   = "register_failed"
	AppSignal           = "signal" // Signal, e.g. "SIGTERM"
	AppDeregistered     = "deregistered"
	AppDeregisterFailed = "deregister_failed"
	AppExiting          = "exiting" // ExitCode
)

// Consul event kinds (Source consul): what the registry lists, which is what
// callers act on, whatever the app believes.
const (
	ConsulRegistered   = "registered"   // Instance, Service, IP, Port; again on re-registration
	ConsulDeregistered = "deregistered" // Instance no longer listed
	// ConsulCheckStatus is emitted on every status change of an instance's
	// check, including the first status seen after each registration.
	ConsulCheckStatus = "check_status"
)

// Caller event kinds (Source caller): one per call a synthetic client made to
// Service through Consul.
const (
	CallOK          = "call_ok"           // Reason = the service that answered (equal to Service)
	CallWrongTarget = "call_wrong_target" // Reason = the other service that answered
	CallError       = "call_error"        // Reason = error text
)

// Fault event kinds (Source fault); Detail names the fault.
const (
	FaultStart = "fault_start"
	FaultEnd   = "fault_end"
)

// FaultOutcomeSep separates a fault's name from what was done in its
// fault_end Detail ("<name>: <what was done>"); the start's Detail is the
// name alone, which is how an end is paired with its start.
const FaultOutcomeSep = ": "

// Kernel event kinds (Source kernel): what the kernel did, traced on the
// host (harness/kernel), for every process of a watched pod. Process fields:
// Comm, PID (inside the container: 1 is the container's init), HostPID
// (unique while the process lives), Container (the container ID, short).
const (
	// KernelSignal: a signal was sent (signal_generate). Signal, Sender (the
	// sending task's comm, or "kernel" for SI_KERNEL, e.g. the SIGKILL a
	// PID namespace's processes get when its init exits) and Result: what
	// the kernel did with it.
	KernelSignal = "signal"
	// KernelDequeued: the process took the signal off its queue
	// (signal_deliver): its handler (Handler) or default action runs now.
	KernelDequeued = "dequeued"
	// KernelStart: a process of the pod was forked (Comm is its parent's
	// program until it execs).
	KernelStart = "start"
	// KernelExec: the process now runs another program (Comm; Detail the
	// file).
	KernelExec = "exec"
	// KernelExit: the process exited.
	KernelExit = "exit"
)

// Results of a sent signal (Event.Result), as the kernel reports them.
const (
	ResultDelivered = "delivered" // queued for the process
	ResultIgnored   = "ignored"   // dropped: ignored, or PID 1 of a namespace without a handler
	ResultPending   = "pending"   // already pending: merged
	ResultOverflow  = "overflow"
	ResultLoseInfo  = "lose_info"
)

// Handlers at dequeue (Event.Handler).
const (
	HandlerDefault = "default" // the default action (TERM, KILL: the process dies)
	HandlerIgnore  = "ignore"
	HandlerCaught  = "handler" // the program's own handler runs
)

// SenderKernel is Event.Sender for signals the kernel sent itself.
const SenderKernel = "kernel"

// Harness event kinds (Source harness).
const (
	// HarnessGap says an observer (named in Reason) lost its watch from At
	// until Until: events in that interval may be missing, so verdicts over
	// it are less certain.
	HarnessGap = "gap"
	// HarnessDeleteRequested: the harness asked the API to delete Pod, at
	// the moment it sent the request (a fault's deletion); the pod watch
	// reports it some milliseconds later, sometimes after the kubelet
	// acted on it.
	HarnessDeleteRequested = "delete_requested"
)

// ValidKind reports whether kind is a known kind for source. ReadJSONL
// rejects anything else so that a typo in a hand-written or corrupted
// timeline fails loudly instead of silently dropping out of every verdict;
// observers can use it in tests to make sure they only emit what the checks
// understand.
func ValidKind(source Source, kind string) bool {
	var known []string
	switch source {
	case SourcePod:
		known = []string{PodCreated, PodScheduled, PodIPAssigned, PodReady, PodDeletionRequested, PodContainerTerminated, PodDeleted}
	case SourceApp:
		known = []string{AppStarted, AppRegistered, AppRegisterFailed, AppSignal, AppDeregistered, AppDeregisterFailed, AppExiting}
	case SourceConsul:
		known = []string{ConsulRegistered, ConsulDeregistered, ConsulCheckStatus}
	case SourceCaller:
		known = []string{CallOK, CallWrongTarget, CallError}
	case SourceFault:
		known = []string{FaultStart, FaultEnd}
	case SourceHarness:
		known = []string{HarnessGap, HarnessDeleteRequested}
	case SourceKernel:
		known = []string{KernelSignal, KernelDequeued, KernelStart, KernelExec, KernelExit}
	}
	return slices.Contains(known, kind)
}

// Consul check statuses as carried in Event.Status.
const (
	StatusPassing  = "passing"
	StatusWarning  = "warning"
	StatusCritical = "critical"
)

// Event is one observation. Only the fields meaningful for its Source and
// Kind are set; the rest stay zero and are omitted from JSON.
type Event struct {
	// At is the offset from the timeline's base time. An offset rather than
	// a wall time keeps a saved timeline small and diffable, and makes the
	// clock explicit: everything is measured against one base.
	At       time.Duration `json:"t_ns"`
	Source   Source        `json:"source"`
	Kind     string        `json:"kind"`
	Scenario string        `json:"scenario,omitempty"`
	// Pod is the pod's name when the event concerns a pod.
	Pod string `json:"pod,omitempty"`
	// Service is the logical service: the pod's service label for pod
	// events, the Consul service name for consul events, the service asked
	// for by a caller.
	Service string `json:"service,omitempty"`
	// Instance is the Consul service ID (the fixture's instance id).
	Instance string `json:"instance,omitempty"`
	IP       string `json:"ip,omitempty"`
	Port     int    `json:"port,omitempty"`
	// Status is a Consul check status: passing, warning or critical.
	Status string `json:"status,omitempty"`
	// Signal is the signal the app received, e.g. "SIGTERM".
	Signal string `json:"signal,omitempty"`
	// ExitCode is a pointer because 0 (clean exit) must be distinguishable
	// from "not known".
	ExitCode *int `json:"exit_code,omitempty"`
	// GraceSeconds is the grace period the API server recorded with a
	// deletion request (deletionGracePeriodSeconds); a pointer because 0 is
	// a real, brutal value.
	GraceSeconds *int64 `json:"grace_s,omitempty"`
	// Reason is the container termination reason, an error text, or the
	// service that answered a call.
	Reason string `json:"reason,omitempty"`
	// Index is Consul's raft index for consul events, so that the order
	// Consul saw things in is kept even when wall times tie; for fault
	// events, the fault's 1-based place in its scenario, which pairs its
	// start and end (0 in timelines written before it did).
	Index uint64 `json:"index,omitempty"`
	// Until ends a gap: the observer was blind from At until Until (same
	// clock as At).
	Until  time.Duration `json:"until_ns,omitempty"`
	Detail string        `json:"detail,omitempty"`
	// Process fields of kernel events: the program (Comm), the PID inside
	// the container (PID; 1 is the container's init), the PID on the host
	// (HostPID: tells processes apart within a pod), the container ID
	// (Container, 12 characters).
	Comm string `json:"comm,omitempty"`
	// Exe is the program file a kernel event's process runs: for a script
	// Comm is the script's name and Exe its interpreter (/bin/dash).
	Exe string `json:"exe,omitempty"`
	// Args are the process's arguments, on exec events and on processes
	// found running when the observer started: they tell apart processes
	// of one program (npm and the server it starts both run node).
	Args      []string `json:"args,omitempty"`
	PID       int      `json:"pid,omitempty"`
	HostPID   int      `json:"host_pid,omitempty"`
	Container string   `json:"container,omitempty"`
	// Sender is who sent a signal: a task's comm, or SenderKernel.
	Sender string `json:"sender,omitempty"`
	// Result is what the kernel did with a sent signal (Result*).
	Result string `json:"result,omitempty"`
	// Handler is what ran when a signal was dequeued (Handler*).
	Handler string `json:"handler,omitempty"`
	// Role marks pods the harness made for its own ends (RoleIPFiller), so
	// reports and verdicts can tell them from the scenario's services
	// without relying on a naming convention.
	Role string `json:"role,omitempty"`
}

// Pod roles (Event.Role), from the pod label RoleLabel.
const (
	// RoleLabel is the pod label whose value becomes Event.Role.
	RoleLabel = "kubegrace.io/role"
	// RoleIPFiller is a throwaway pod that fills a node's pod IP pool so
	// that an address is reused (fault.IPReuse by pool exhaustion).
	RoleIPFiller = "ip-filler"
)

// Timeline is a run's events against one base time.
type Timeline struct {
	// Base is the wall time that Event.At offsets count from. It is kept in
	// UTC without a monotonic reading, which is exactly what survives a
	// round trip through JSON.
	Base   time.Time
	Events []Event
}

// Sorted returns a copy of tl whose events are stably sorted by At. Verdicts
// sort first because observers deliver events late and out of order; the
// stable sort keeps the recording order of simultaneous events.
func (tl Timeline) Sorted() Timeline {
	ev := slices.Clone(tl.Events)
	slices.SortStableFunc(ev, func(a, b Event) int { return cmpDuration(a.At, b.At) })
	return Timeline{Base: tl.Base, Events: ev}
}

// Scenario returns the events recorded for one scenario, in their current
// order. A run has one timeline; each scenario's verdicts look at its part.
func (tl Timeline) Scenario(name string) Timeline {
	var ev []Event
	for _, e := range tl.Events {
		if e.Scenario == name {
			ev = append(ev, e)
		}
	}
	return Timeline{Base: tl.Base, Events: ev}
}

// Scenarios returns the distinct non-empty scenario names in order of first
// appearance, so reports list scenarios in the order they ran.
func (tl Timeline) Scenarios() []string {
	var names []string
	for _, e := range tl.Events {
		if e.Scenario != "" && !slices.Contains(names, e.Scenario) {
			names = append(names, e.Scenario)
		}
	}
	return names
}

// Span returns the smallest and largest offsets in the timeline, counting the
// end of gaps; both are zero for an empty timeline. Open intervals (a pod
// still alive, a window still stale) are closed at the end of the span.
func (tl Timeline) Span() (first, last time.Duration) {
	for i, e := range tl.Events {
		end := max(e.At, e.Until)
		if i == 0 {
			first, last = e.At, end
			continue
		}
		first, last = min(first, e.At), max(last, end)
	}
	return first, last
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Recorder collects events from concurrent observers against one base time.
type Recorder struct {
	base   time.Time
	mu     sync.Mutex
	events []Event
}

// NewRecorder returns a recorder whose offsets count from base. Base's
// monotonic reading is dropped: app and Consul events arrive as wall times
// from other processes, so every offset is a wall-clock difference, and one
// clock for all sources is what makes offsets comparable.
func NewRecorder(base time.Time) *Recorder {
	return &Recorder{base: base.Round(0).UTC()}
}

// Offset converts a wall time to an offset on this recorder's clock, e.g. for
// the Until of a gap event.
func (r *Recorder) Offset(t time.Time) time.Duration { return t.Round(0).Sub(r.base) }

// Record adds e, observed at wall time at; it overwrites e.At. Safe for
// concurrent use.
func (r *Recorder) Record(at time.Time, e Event) {
	e.At = r.Offset(at)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// Snapshot returns the events recorded so far, stably sorted by At (ties keep
// recording order). The recorder keeps recording; the snapshot is a copy.
func (r *Recorder) Snapshot() Timeline {
	r.mu.Lock()
	ev := slices.Clone(r.events)
	r.mu.Unlock()
	return Timeline{Base: r.base, Events: ev}.Sorted()
}
