package process

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
)

// MeasureAll runs every spec concurrently (each in its own namespace) and
// returns results and errors in spec order. Concurrency keeps the matrix's
// wall time near one grace period instead of the sum of them.
func MeasureAll(ctx context.Context, specs []ShutdownSpec) ([]ShutdownResult, []error) {
	results := make([]ShutdownResult, len(specs))
	errs := make([]error, len(specs))
	var wg sync.WaitGroup
	for i, s := range specs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = MeasureShutdown(ctx, s)
		}()
	}
	wg.Wait()
	return results, errs
}

// FormatMatrix renders results as the signal matrix table people read in a
// terminal: one row per variant.
func FormatMatrix(results []ShutdownResult) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIANT\tAPP PID\tAPP GOT SIGTERM\tDEREGISTERED\tAPP EXIT\tSIGKILL AFTER GRACE\tEMPTY AFTER")
	for _, r := range results {
		sig := "no"
		if r.AppSignal != "" {
			sig = fmt.Sprintf("%s +%.0fms", strings.TrimPrefix(r.AppSignal, "SIG"), deref(r.SignalAfterMS))
			if r.AppSignal == "SIGTERM" {
				sig = fmt.Sprintf("yes +%.0fms", deref(r.SignalAfterMS))
			}
		}
		dereg := "no"
		switch {
		case r.AppDeregistered:
			dereg = fmt.Sprintf("yes +%.0fms", deref(r.DeregAfterMS))
		case r.Deregistered():
			dereg = "yes (app killed before it could say so)"
		}
		exit := "killed"
		if r.AppExitCode != nil {
			exit = fmt.Sprintf("exit %d", *r.AppExitCode)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.0fms\n",
			r.Name, r.AppPID, sig, dereg, exit, yesNo(r.KilledAfterGrace), r.EmptyAfterMS)
	}
	_ = tw.Flush()
	return b.String()
}

func deref(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
