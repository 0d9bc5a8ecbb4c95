package process

import (
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
)

func TestEventLogSplitsStreamsAndLines(t *testing.T) {
	l := NewEventLog()
	out, errs := l.Stream("stdout"), l.Stream("stderr")
	line := event.Event{TimeUnixNano: 5, Kind: event.Registered, Instance: "a-1"}.Marshal()
	// A line split across writes, interleaved with another stream.
	_, _ = out.Write(line[:10])
	_, _ = errs.Write([]byte("entrypoint: starting\n"))
	_, _ = out.Write(append(line[10:], '\n'))
	evs := l.Events()
	if len(evs) != 1 || evs[0].Instance != "a-1" {
		t.Fatalf("events %+v", evs)
	}
	if o := l.Other(); len(o) != 1 || o[0] != "stderr: entrypoint: starting" {
		t.Fatalf("other %q", o)
	}
}

func TestEventLogWaitFor(t *testing.T) {
	l := NewEventLog()
	go func() {
		time.Sleep(20 * time.Millisecond)
		_, _ = l.Stream("stdout").Write(append(event.Event{TimeUnixNano: 1, Kind: event.Signal, Signal: "SIGTERM"}.Marshal(), '\n'))
	}()
	e, ok := l.WaitFor(5*time.Second, nil, event.Deregistered, event.Signal)
	if !ok || e.Signal != "SIGTERM" {
		t.Fatalf("got %+v %v", e, ok)
	}
	if _, ok := l.WaitFor(10*time.Millisecond, nil, event.Exiting); ok {
		t.Fatal("exiting was never written")
	}
	stop := make(chan struct{})
	close(stop)
	if _, ok := l.WaitFor(time.Minute, stop, event.Exiting); ok {
		t.Fatal("stop should end the wait")
	}
}
