package observe

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Observer records onto a timeline until its context ends.
type Observer interface {
	// Run blocks until ctx ends (returning nil) or the observer cannot go
	// on (returning why).
	Run(ctx context.Context) error
}

var (
	_ Observer = (*Consul)(nil)
	_ Observer = (*Pods)(nil)
)

// gapper is an observer that can record a time it did not watch as a gap
// of the scenarios it watches: Set calls it when the observer's Run
// panicked, for the time from the panic until the Set stopped.
type gapper interface {
	gap(from, until time.Time, detail string)
}

var (
	_ gapper = (*Consul)(nil)
	_ gapper = (*Pods)(nil)
	_ gapper = (*Kernel)(nil)
)

// Set runs observers together: started at once, stopped at once. An
// observer whose Run panics ends without taking the process with it: the
// panic is its error (Stop returns it, so the scenario that stops it
// fails), and the time from then on a gap of what it watched.
type Set struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
	dead   []deadObserver
}

// deadObserver is an observer whose Run panicked at at.
type deadObserver struct {
	g   gapper
	at  time.Time
	err error
}

// Start runs each observer in its own goroutine.
func Start(ctx context.Context, observers ...Observer) *Set {
	ctx, cancel := context.WithCancel(ctx)
	s := &Set{cancel: cancel}
	for _, o := range observers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				if v := recover(); v != nil {
					err := recovered(fmt.Sprintf("observer %T", o), v)
					s.mu.Lock()
					defer s.mu.Unlock()
					s.errs = append(s.errs, err)
					if g, ok := o.(gapper); ok {
						s.dead = append(s.dead, deadObserver{g: g, at: time.Now(), err: err})
					}
				}
			}()
			if err := o.Run(ctx); err != nil {
				s.mu.Lock()
				s.errs = append(s.errs, err)
				s.mu.Unlock()
			}
		}()
	}
	return s
}

// Stop ends every observer, waits for them (log followers included) and
// returns their errors joined.
func (s *Set) Stop() error {
	s.cancel()
	s.wg.Wait()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dead {
		d.g.gap(d.at, now, "observer stopped by a panic: "+firstLine(d.err.Error()))
	}
	s.dead = nil
	return errors.Join(s.errs...)
}

// panics collects the panics recovered in an observer's own goroutines
// (watches, log followers, informer handlers), for its Run to return.
type panics struct {
	mu   sync.Mutex
	errs []error
}

func (p *panics) add(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.errs = append(p.errs, err)
}

// err is the panics so far, joined; nil if none.
func (p *panics) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return errors.Join(p.errs...)
}

// stackFrames is how many frames a recovered panic's error keeps.
const stackFrames = 8

// recovered is v, a value recover returned in a deferred function, as an
// error naming what panicked and where (a stack excerpt). Call it from
// that deferred function: the stack is taken there.
func recovered(what string, v any) error {
	err, _ := v.(error)
	return &panicError{what: what, value: v, err: err, stack: StackExcerpt(debug.Stack(), stackFrames)}
}

type panicError struct {
	what  string
	value any
	err   error // value, when it is an error
	stack string
}

func (p *panicError) Error() string {
	return fmt.Sprintf("%s: panic: %v\n%s", p.what, p.value, p.stack)
}

func (p *panicError) Unwrap() error { return p.err }

// StackExcerpt is up to frames frames of a debug.Stack taken while a
// panic unwinds, from the frame that panicked on: the frames above it are
// the recovering code's and the runtime's. The runner's steps use it too.
func StackExcerpt(stack []byte, frames int) string {
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

// firstLine is msg up to its first newline: a gap's detail names the
// panic, the observer's error has its stack.
func firstLine(msg string) string {
	line, _, _ := strings.Cut(msg, "\n")
	return line
}
