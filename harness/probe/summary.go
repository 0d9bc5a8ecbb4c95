package probe

import (
	"fmt"
	"slices"
	"strings"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// exitCode is the probe container's last exit code on the timeline, -1 if
// none was seen.
func exitCode(tl timeline.Timeline) int {
	code := -1
	for _, e := range tl.Events {
		if e.Kind == timeline.PodContainerTerminated && e.Pod == PodName && e.ExitCode != nil {
			code = *e.ExitCode
		}
	}
	return code
}

// the app logged the signal.
func gotStopSignal(r Result) bool {
	if r.Kernel {
		return verdict(r.Verdicts, check.NameShutdownWindow) >= 0
	}
	return verdict(r.Verdicts, check.NameSignalDelivered) == 1
}

func verdict(vs []check.Verdict, name string) float64 {
	for _, v := range vs {
		if v.Name == name && v.Subject == PodName {
			return v.Value
		}
	}
	return -1
}

func message(vs []check.Verdict, name string) string {
	for _, v := range vs {
		if v.Name == name && v.Subject == PodName {
			return v.Message
		}
	}
	return ""
}

// summarize says what happened in a few sentences a person reads in a
// second, and the fix.
func summarize(r Result, o Options) string {
	var b strings.Builder
	for _, p := range r.Tree {
		if p.PID != 1 {
			continue
		}
		handler := map[string]string{
			"ignored": "ignoring SIGTERM",
			"caught":  "catching SIGTERM",
			"sigwait": "waiting for SIGTERM with sigwait",
			"default": "with no SIGTERM handler",
		}[p.TermHandling()]
		fmt.Fprintf(&b, "PID 1 is %s (%s) %s.\n", p.Comm, p.Cmdline, handler)
	}
	if r.ExitCode >= 0 {
		fmt.Fprintf(&b, "The container exited with code %d%s.\n", r.ExitCode, exitMeaning(r.ExitCode))
	}
	if !r.Kernel {
		fmt.Fprintf(&b, "The kernel was not observed: %s\n", message(r.Verdicts, check.NameKilledBySIGKILL))
		return b.String()
	}
	for _, name := range []string{check.NameSigtermDropped, check.NameSignalDelivered, check.NameShutdownWindow, check.NameKilledBySIGKILL, check.NameKubeletLag} {
		if m := message(r.Verdicts, name); m != "" {
			fmt.Fprintf(&b, "%s\n", strings.TrimPrefix(m, "kernel: "))
		}
	}
	dropped := verdict(r.Verdicts, check.NameSigtermDropped) == 1
	killed := verdict(r.Verdicts, check.NameKilledBySIGKILL) == 1
	window := verdict(r.Verdicts, check.NameShutdownWindow)
	var init Process
	for _, p := range r.Tree {
		if p.PID == 1 {
			init = p
		}
	}
	shell := slices.Contains([]string{"bash", "sh", "dash", "ash", "zsh"}, init.Comm)
	switch {
	case r.App == "":
		b.WriteString("Verdict: no app process other than shells and inits was seen; name it with --app NAME if it is one of them.\n")
	case dropped && shell:
		fmt.Fprintf(&b, "Verdict: FAIL, %s never got SIGTERM. Fix: `exec` the app as the last line of the start script (exec %s ...), or start it under tini -g or dumb-init.\n", r.App, strings.Fields(r.App)[0])
	case !r.Pass && dropped:
		fmt.Fprintf(&b, "Verdict: FAIL, %s never got SIGTERM: PID 1 has no handler for it. Fix: handle SIGTERM in the app, or run it under tini -g / dumb-init.\n", r.App)
	case !r.Pass:
		fmt.Fprintf(&b, "Verdict: FAIL, %s never got SIGTERM. Fix: make PID 1 forward it (tini -g, dumb-init) or exec the app.\n", r.App)
	case killed && window >= 0 && window < 100:
		fmt.Fprintf(&b, "Verdict: %s got SIGTERM but was SIGKILLed %.1f ms later, with no time to shut down: PID 1 exited at once and the kernel killed the rest. Fix: exec the app, or make PID 1 wait for it (tini -g forwards to the group but exits with its first child).\n", r.App, window)
	case killed:
		fmt.Fprintf(&b, "Verdict: %s got SIGTERM but did not stop within the grace period (%s) and was SIGKILLed. Fix: shut down faster, or raise terminationGracePeriodSeconds.\n", r.App, o.Grace)
	default:
		fmt.Fprintf(&b, "Verdict: PASS, %s got SIGTERM and stopped by itself.\n", r.App)
	}
	return b.String()
}

// exitMeaning reads an exit code the way shells and runtimes write them.
func exitMeaning(code int) string {
	switch {
	case code == 137:
		return " (128+9: killed by SIGKILL)"
	case code == 143:
		return " (128+15: PID 1 ended by SIGTERM's default action, or exited with that code)"
	case code > 128 && code < 160:
		return fmt.Sprintf(" (128+%d: ended by signal %d)", code-128, code-128)
	}
	return ""
}
