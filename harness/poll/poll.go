// Package poll is the harness's one wait primitive: every wait has a
// deadline, and a wait that ends unfinished is an error that says what was
// awaited, the last reason it was not yet true, and which deadline ended it
// (its own timeout, an outer one such as a fault's, or an interrupt).
// Timings come from a few named presets; the conditions the harness waits
// on are written once, in conditions.go. Specs use Gomega's Eventually
// instead.
package poll

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Condition reports whether the awaited state holds. A non-nil error ends
// the wait at once; return (false, nil) and set a reason with Not to retry.
type Condition func(ctx context.Context) (bool, error)

// Timing is how often a wait looks and how long it may take.
type Timing struct {
	Interval, Timeout time.Duration
}

// The presets. A wait picks the one whose pace fits what it waits for and
// changes only the timeout where the scenario decides it (a grace period).
var (
	// Quick: API objects that change within a second or two (a pod gone
	// after its grace, an address assigned, a Consul leader).
	Quick = Timing{Interval: 100 * time.Millisecond, Timeout: time.Minute}
	// Steady: things that take seconds to a few minutes (rollouts, checks
	// passing, deployments available, namespaces emptied).
	Steady = Timing{Interval: 250 * time.Millisecond, Timeout: 3 * time.Minute}
	// Slow: cluster-level readiness (nodes, CoreDNS), where a second
	// between looks costs nothing.
	Slow = Timing{Interval: time.Second, Timeout: 5 * time.Minute}
)

// For returns t with another timeout.
func (t Timing) For(timeout time.Duration) Timing { t.Timeout = timeout; return t }

// errOwnTimeout marks the end of a wait's own deadline, so it can be told
// from an outer deadline or an interrupt.
var errOwnTimeout = errors.New("own timeout")

// Until polls cond at t's pace until it holds, fails, or a deadline ends
// the wait. what names the awaited state ("consul leader elected"). When a
// deadline of ctx ends the wait before its own, the error says so with
// context.Cause(ctx): give outer deadlines a cause
// (context.WithTimeoutCause) so the message names them.
func Until(ctx context.Context, what string, t Timing, cond Condition) error {
	start := time.Now()
	tctx, cancel := context.WithTimeoutCause(ctx, t.Timeout, errOwnTimeout)
	defer cancel()
	var last string
	err := wait.PollUntilContextCancel(tctx, t.Interval, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		var ny *notYet
		if errors.As(err, &ny) {
			last = ny.reason
			return false, nil
		}
		return ok, err
	})
	if err == nil {
		return nil
	}
	seen := ""
	if last != "" {
		seen = ": last seen: " + last
	}
	if !wait.Interrupted(err) && tctx.Err() == nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	if ctx.Err() != nil {
		// An outer deadline or an interrupt, not this wait's own timeout.
		return &Stopped{What: what, After: time.Since(start).Round(time.Millisecond), Cause: context.Cause(ctx), Last: last, ctxErr: ctx.Err()}
	}
	return fmt.Errorf("timed out after %s waiting for %s%s", t.Timeout, what, seen)
}

// Stopped is a wait ended by its caller's context: an interrupt (Ctrl-C)
// or an outer deadline. Cause says which (context.Cause). It unwraps to both
// the cause and the context's own error, so errors.Is(err, cause) and
// errors.Is(err, context.Canceled) (or DeadlineExceeded) both hold: a cause
// given to WithCancelCause hides the context's error from context.Cause.
type Stopped struct {
	What  string
	After time.Duration
	Cause error
	Last  string

	ctxErr error // ctx.Err() when the wait ended
}

func (s *Stopped) Error() string {
	msg := fmt.Sprintf("waiting for %s: stopped after %s by %v", s.What, s.After, s.Cause)
	if s.Last != "" {
		msg += " (last seen: " + s.Last + ")"
	}
	return msg
}

// Unwrap returns the cause and, when it is another error, the context's.
func (s *Stopped) Unwrap() []error {
	errs := []error{s.Cause}
	// ctxErr is context.Canceled or DeadlineExceeded, whose types are
	// comparable, so == cannot panic.
	if s.ctxErr != nil && s.ctxErr != s.Cause {
		errs = append(errs, s.ctxErr)
	}
	return errs
}

// Sleep waits for d, or less if ctx ends first (then it returns the cause).
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}

// Not returns (false, reason) from a Condition: the wait goes on, and the
// reason is reported if it times out.
func Not(format string, args ...any) (bool, error) {
	return false, &notYet{reason: fmt.Sprintf(format, args...)}
}

// notYet carries why a condition is not yet true, for the timeout message.
type notYet struct{ reason string }

func (n *notYet) Error() string { return n.reason }
