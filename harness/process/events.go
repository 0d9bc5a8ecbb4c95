package process

import (
	"bytes"
	"sync"
	"time"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
)

// EventLog is an io.Writer for a process's stdout and stderr: it keeps the
// fixture's lifecycle events and every other line, and lets a caller wait
// for an event. Safe for concurrent writers.
type EventLog struct {
	mu      sync.Mutex
	partial map[string][]byte // per stream, a line not yet ended
	events  []event.Event
	other   []string
	changed chan struct{}
}

// NewEventLog returns an empty log.
func NewEventLog() *EventLog {
	return &EventLog{partial: map[string][]byte{}, changed: make(chan struct{})}
}

// Stream returns a writer for one stream, named for the lines it keeps.
func (l *EventLog) Stream(name string) *streamWriter { return &streamWriter{l: l, name: name} }

type streamWriter struct {
	l    *EventLog
	name string
}

func (w *streamWriter) Write(p []byte) (int, error) {
	l := w.l
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := append(l.partial[w.name], p...)
	grew := false
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		line := buf[:i]
		if e, ok := event.Parse(line); ok {
			l.events = append(l.events, e)
			grew = true
		} else if len(bytes.TrimSpace(line)) > 0 {
			l.other = append(l.other, w.name+": "+string(line))
		}
		buf = buf[i+1:]
	}
	l.partial[w.name] = append([]byte(nil), buf...)
	if grew {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// Events returns the events so far, in the order written.
func (l *EventLog) Events() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]event.Event(nil), l.events...)
}

// Other returns the non-event lines so far, each prefixed by its stream.
func (l *EventLog) Other() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.other...)
}

// First returns the first event of kind k.
func (l *EventLog) First(k event.Kind) (event.Event, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.events {
		if e.Kind == k {
			return e, true
		}
	}
	return event.Event{}, false
}

// WaitFor waits until an event of one of the kinds is logged, or until
// timeout or stop; ok says whether one came.
func (l *EventLog) WaitFor(timeout time.Duration, stop <-chan struct{}, kinds ...event.Kind) (event.Event, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, e := range l.events {
			for _, k := range kinds {
				if e.Kind == k {
					l.mu.Unlock()
					return e, true
				}
			}
		}
		changed := l.changed
		l.mu.Unlock()
		select {
		case <-changed:
		case <-stop:
			// One last look: the event may have been written just before.
			for _, k := range kinds {
				if e, ok := l.First(k); ok {
					return e, true
				}
			}
			return event.Event{}, false
		case <-deadline.C:
			return event.Event{}, false
		}
	}
}
