package kernel

import (
	"fmt"
	"strings"
)

// Options configure a Tracer. The zero value is the default.
type Options struct {
	// Name is the trace instance's name (instances/<Name>), default
	// "kubegrace-<pid>". A name ending in "-<pid>" lets a later Open remove
	// the instance if that process died without closing it.
	Name string
	// Signals filters the signal tracepoints, default 15, 9, 3, 2 (TERM,
	// KILL, QUIT, INT): the ones a shutdown is made of, so that a noisy
	// host's SIGCHLDs do not fill the buffer.
	Signals []int
	// BufferKB is the ring buffer per CPU, default 4096.
	BufferKB int
	// Root is the tracefs mount point to use, or to mount tracefs on if it
	// is not one. Default: an existing tracefs mount (/sys/kernel/tracing or
	// /sys/kernel/debug/tracing, from /proc/mounts), else tracefs mounted on
	// /sys/kernel/tracing.
	Root string
}

// DefaultSignals are the signals traced when Options.Signals is empty.
var DefaultSignals = []int{15, 9, 3, 2}

func (o Options) withDefaults(pid int) (Options, error) {
	if o.Name == "" {
		o.Name = fmt.Sprintf("kubegrace-%d", pid)
	}
	if strings.ContainsAny(o.Name, "/\x00 \t\n") || o.Name == "." || o.Name == ".." {
		return o, fmt.Errorf("kernel: invalid instance name %q", o.Name)
	}
	if len(o.Signals) == 0 {
		o.Signals = DefaultSignals
	}
	for _, s := range o.Signals {
		if s < 1 || s > 64 {
			return o, fmt.Errorf("kernel: invalid signal %d", s)
		}
	}
	if o.BufferKB == 0 {
		o.BufferKB = 4096
	}
	if o.BufferKB < 0 {
		return o, fmt.Errorf("kernel: invalid BufferKB %d", o.BufferKB)
	}
	return o, nil
}

// sigFilter is the tracepoint filter, e.g. "sig==15 || sig==9".
func sigFilter(sigs []int) string {
	parts := make([]string, len(sigs))
	for i, s := range sigs {
		parts[i] = fmt.Sprintf("sig==%d", s)
	}
	return strings.Join(parts, " || ")
}
