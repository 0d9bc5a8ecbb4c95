// Package poll is the harness's one wait primitive: every wait has a
// deadline, and a timeout is an error that says what was awaited and the last
// reason it was not yet true. Specs use Gomega's Eventually instead.
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

// notYet carries why a condition is not yet true, for the timeout message.
type notYet struct{ reason string }

// Until polls cond every interval until it holds, fails, or timeout passes.
// what names the awaited state in the error ("consul leader elected").
func Until(ctx context.Context, what string, interval, timeout time.Duration, cond Condition) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, interval, timeout, true, func(ctx context.Context) (bool, error) {
		ok, err := cond(ctx)
		var ny *notYet
		if errors.As(err, &ny) {
			last = ny.reason
			return false, nil
		}
		return ok, err
	})
	switch {
	case err == nil:
		return nil
	case wait.Interrupted(err):
		if last != "" {
			return fmt.Errorf("timed out after %s waiting for %s: last seen: %s", timeout, what, last)
		}
		return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
	default:
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
}

// Not returns (false, reason) from a Condition: the wait goes on, and the
// reason is reported if it times out.
func Not(format string, args ...any) (bool, error) {
	return false, &notYet{reason: fmt.Sprintf(format, args...)}
}

func (n *notYet) Error() string { return n.reason }
