package observe

import (
	"context"
	"errors"
	"sync"
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

// Set runs observers together: started at once, stopped at once.
type Set struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// Start runs each observer in its own goroutine.
func Start(ctx context.Context, observers ...Observer) *Set {
	ctx, cancel := context.WithCancel(ctx)
	s := &Set{cancel: cancel}
	for _, o := range observers {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
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
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}
