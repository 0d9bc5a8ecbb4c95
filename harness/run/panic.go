package run

import (
	"fmt"
	"runtime/debug"
	"strings"
)

// PanicError is a panic recovered where a step or a cleanup ran (the
// runner's goroutines, not job.Run's): the scenario fails with it instead
// of the process ending without a report.
type PanicError struct {
	Value any
	// Stack is the first frames below the panic: where it happened.
	Stack string
}

func (p *PanicError) Error() string { return fmt.Sprintf("panic: %v\n%s", p.Value, p.Stack) }

// Unwrap returns the panic's value when it is an error (panic(err)).
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// stackFrames is how many frames a PanicError keeps.
const stackFrames = 8

func newPanicError(v any, stack []byte) *PanicError {
	return &PanicError{Value: v, Stack: stackExcerpt(stack, stackFrames)}
}

// guard calls f, turning a panic into its error.
func guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = newPanicError(v, debug.Stack())
		}
	}()
	return f()
}

// stackExcerpt is up to frames frames of a debug.Stack taken in a deferred
// recover, from the frame that panicked on: the frames above it are the
// recover's own and the runtime's panic.
func stackExcerpt(stack []byte, frames int) string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	start := 1 // after the goroutine's header line
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2 // the panic frame is a function line and a file line
			break
		}
	}
	start = min(start, len(lines))
	return strings.Join(lines[start:min(len(lines), start+2*frames)], "\n")
}
