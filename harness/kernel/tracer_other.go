//go:build !linux

package kernel

import (
	"context"
	"runtime"
)

// Tracer reads kernel trace events; on this OS there is none (tracefs is
// Linux's), so Open always fails with ErrUnavailable.
type Tracer struct{}

// Open fails here: tracefs is Linux only.
func Open(o Options) (*Tracer, error) {
	if _, err := o.withDefaults(0); err != nil {
		return nil, err
	}
	return nil, unavailable("tracefs needs Linux (this is %s): run the harness on a Linux Docker host", runtime.GOOS)
}

// Dir is empty: no instance.
func (t *Tracer) Dir() string { return "" }

// Run returns ErrClosed: there is no instance to read.
func (t *Tracer) Run(ctx context.Context, fn func(Event)) error { return ErrClosed }

// Unparsed is 0.
func (t *Tracer) Unparsed() uint64 { return 0 }

// Lost is 0.
func (t *Tracer) Lost() (uint64, error) { return 0, nil }

// Close does nothing.
func (t *Tracer) Close() error { return nil }
