package run

import (
	"fmt"
	"runtime/debug"

	"github.com/kubegrace/kubegrace/harness/observe"
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
	return &PanicError{Value: v, Stack: observe.StackExcerpt(stack, stackFrames)}
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
