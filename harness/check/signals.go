package check

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// SignalDelivered reports, per pod whose deletion was requested, whether the
// app process got the stop signal after the request (1) or not (0): as the
// kernel saw it (the app process dequeued it), or without the kernel as
// the app's own log says. It is the incident's first mechanism: a shell PID
// 1 without exec drops the kubelet's SIGTERM.
func SignalDelivered(tl timeline.Timeline, ctx Context) []Verdict {
	ds, events := deletedPods(tl, ctx)
	var out []Verdict
	for _, d := range ds {
		p := d.pod
		v := Verdict{Name: NameSignalDelivered, Scenario: ctx.Scenario, Subject: d.name, Unit: UnitBool}
		if d.kernel {
			v.Value, v.Message = d.kv.signalDelivered()
			out = append(out, v)
			continue
		}
		sig := stopSignal(ctx, p.service)
		v.Message = fmt.Sprintf("app log%s: the app never logged %s after deletion was requested at %s", fallbackNote(ctx, p.service), sig, fmtAt(p.deletion.At))
		if got, at := appLoggedSignal(events, p, sig); got == 1 {
			v.Value = 1
			v.Message = fmt.Sprintf("app log%s: %s reached the app %s after deletion was requested", fallbackNote(ctx, p.service), sig, fmtMS(at-p.deletion.At))
		}
		out = append(out, v)
	}
	return out
}

// KilledBySIGKILL reports, per pod with a container termination, whether the
// app was killed by SIGKILL. With the kernel observed: whether the app
// process was sent SIGKILL, and by whom (the runtime at the end of the
// grace period, or the kernel when its PID namespace's init exited). Without
// it, whether the container died with exit code 137 (128+SIGKILL), which
// only speaks of PID 1. It uses the first termination after the deletion
// request, or the last one if the pod was not deleted.
func KilledBySIGKILL(tl timeline.Timeline, ctx Context) []Verdict {
	ps, _ := subjectPods(tl, ctx)
	var out []Verdict
	for _, sp := range ps {
		t, ok := sp.pod.termination()
		if !ok && !(sp.kernel && sp.pod.deletion != nil) {
			continue
		}
		v := Verdict{Name: NameKilledBySIGKILL, Scenario: ctx.Scenario, Subject: sp.name, Unit: UnitBool}
		if sp.kernel {
			v.Value, v.Message = sp.kv.killedBySIGKILL()
			out = append(out, v)
			continue
		}
		reason := ""
		if t.Reason != "" {
			reason = " (reason " + t.Reason + ")"
		}
		switch {
		case t.ExitCode == nil:
			v.Message = fmt.Sprintf("exit code%s: the container terminated with an unknown exit code at %s%s", fallbackNote(ctx, sp.pod.service), fmtAt(t.At), reason)
		case *t.ExitCode == 137:
			v.Value = 1
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 was killed by SIGKILL: exit code 137 at %s%s", fallbackNote(ctx, sp.pod.service), fmtAt(t.At), reason)
		case *t.ExitCode == 143:
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 died of SIGTERM's default action: exit code 143 at %s%s (its children are not seen)", fallbackNote(ctx, sp.pod.service), fmtAt(t.At), reason)
		default:
			v.Message = fmt.Sprintf("exit code%s: the container's PID 1 exited with code %d at %s%s", fallbackNote(ctx, sp.pod.service), *t.ExitCode, fmtAt(t.At), reason)
		}
		out = append(out, v)
	}
	return out
}

// grace returns the grace period that applied to p and whether it is known.
func grace(p *pod, ctx Context) (time.Duration, bool) {
	if p.deletion != nil && p.deletion.GraceSeconds != nil {
		return time.Duration(*p.deletion.GraceSeconds) * time.Second, true
	}
	g, ok := ctx.ServiceGrace[p.service]
	return g, ok && p.service != ""
}

// GraceUsed reports, per pod whose deletion was requested, how long the
// container took to terminate after the request, and what fraction of the
// grace period that was: an app that heard SIGTERM stops early, one that did
// not uses all of it and is killed. -1 means no termination was recorded.
func GraceUsed(tl timeline.Timeline, ctx Context) []Verdict {
	ds, _ := deletedPods(tl, ctx)
	var out []Verdict
	for _, d := range ds {
		p := d.pod
		v := Verdict{Name: NameGraceUsed, Scenario: ctx.Scenario, Subject: d.name, Unit: UnitMS, Value: -1}
		g, gok := grace(p, ctx)
		// From the first stop signal the kernel saw sent (deletion request
		// without it: that includes the kubelet's lag), to the end of the
		// container: its PID 1's exit as the kernel saw it, else the
		// termination the API reported.
		from, fromText, obs := p.deletion.At, "deletion was requested", "pod API"
		t, ok := p.termination()
		stopAt := t.At
		if kv := d.kv; d.kernel && kv.sent != nil {
			from, fromText, obs = kv.sent.At, "the first "+kv.stop+" was sent", "kernel"
			if kv.init != nil && kv.init.end != nil {
				stopAt, ok = *kv.init.end, true
			}
		}
		switch {
		case !ok:
			v.Message = fmt.Sprintf("%s: no container termination was recorded after deletion was requested at %s", obs, fmtAt(p.deletion.At))
		case !gok:
			used := stopAt - from
			v.Value = Milliseconds(used)
			v.Message = fmt.Sprintf("%s: the container ended %s after %s (grace period not known)", obs, fmtMS(used), fromText)
		default:
			used := stopAt - from
			v.Value = Milliseconds(used)
			frac := "all of the zero"
			if g > 0 {
				frac = strconv.FormatFloat(math.Round(float64(used)/float64(g)*1000)/10, 'f', 1, 64) + "% of the " + g.String()
			}
			v.Message = fmt.Sprintf("%s: the container ended %s after %s: %s grace period", obs, fmtMS(used), fromText, frac)
		}
		out = append(out, v)
	}
	return out
}

// fallbackNote says why a signal verdict rests on the app's log or exit
// code: the kernel was not observed, or saw no app process in the pod.
func fallbackNote(ctx Context, service string) string {
	switch {
	case !ctx.Kernel:
		return ""
	case ctx.AppProcess[service] != "":
		return fmt.Sprintf(" (no process named %q ran in this pod, as appProcess of service %s says one would)", ctx.AppProcess[service], service)
	}
	return " (the kernel saw no app process in this pod)"
}
