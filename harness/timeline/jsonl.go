package timeline

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// FormatVersion is the version written in, and required of, a JSONL header.
// Bump it when a change would make an old reader compute different verdicts
// from a new timeline.
const FormatVersion = 1

// header is the first line of a JSONL timeline: it pins the base time so the
// offsets in the following lines can be turned back into wall times.
type header struct {
	Base    string `json:"base"`
	Version int    `json:"version"`
}

// WriteJSONL writes tl as JSON lines: a header {"base": RFC 3339 UTC wall
// time with nanoseconds, "version": 1}, then one event per line in the
// timeline's order. One event per line keeps a saved run greppable and lets a
// truncated file still be read up to its damage.
//
// Every event is validated first. Valid events are always written; an
// invalid one is left out (a line ReadJSONL would reject makes the whole file
// unreadable, so the report could never be re-checked) and reported: the
// error is then an *InvalidEventsError that counts and names every event left
// out. The caller should keep what was written and record the error, since
// one bad event must not cost the rest of the run. A failing writer is
// reported too, joined with the invalid events if there are any.
func WriteJSONL(w io.Writer, tl Timeline) error {
	var invalid *InvalidEventsError
	skip := func(i int, e Event, err error) {
		if invalid == nil {
			invalid = &InvalidEventsError{Total: len(tl.Events)}
		}
		invalid.Events = append(invalid.Events, InvalidEvent{Index: i, Source: e.Source, Kind: e.Kind, At: e.At, Err: err})
	}
	bw := bufio.NewWriter(w)
	h, err := json.Marshal(header{Base: tl.Base.UTC().Format(time.RFC3339Nano), Version: FormatVersion})
	if err != nil {
		return fmt.Errorf("marshal timeline header: %w", err)
	}
	bw.Write(h)
	bw.WriteByte('\n')
	for i, e := range tl.Events {
		if err := e.Validate(); err != nil {
			skip(i, e, err)
			continue
		}
		b, err := json.Marshal(e)
		if err != nil {
			skip(i, e, fmt.Errorf("marshal: %w", err))
			continue
		}
		bw.Write(b)
		bw.WriteByte('\n')
	}
	var errs []error
	if invalid != nil {
		errs = append(errs, invalid)
	}
	if err := bw.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("write timeline: %w", err))
	}
	return errors.Join(errs...)
}

// maxNamed is how many left-out events an InvalidEventsError names in its
// message; all of them stay in its Events.
const maxNamed = 10

// InvalidEventsError is WriteJSONL's report of the events it left out
// because they did not validate. Everything else was written.
type InvalidEventsError struct {
	// Total is the number of events in the timeline given to WriteJSONL.
	Total int
	// Events are the events left out, in timeline order.
	Events []InvalidEvent
}

// InvalidEvent is one event WriteJSONL left out and why.
type InvalidEvent struct {
	// Index is the event's 0-based position in Timeline.Events.
	Index  int
	Source Source
	Kind   string
	At     time.Duration
	Err    error
}

// Error counts the events left out and names them, e.g. `2 of 40 events not
// written: event 7 (consul/check_status at 1.5s): consul check_status event
// has unknown status "maintenance"; event 9 (...): ...`.
func (e *InvalidEventsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d events not written", len(e.Events), e.Total)
	for i, ev := range e.Events {
		if i == maxNamed {
			fmt.Fprintf(&b, "; and %d more", len(e.Events)-maxNamed)
			break
		}
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%sevent %d (%s/%s at %s): %v", sep, ev.Index, ev.Source, ev.Kind, ev.At, ev.Err)
	}
	return b.String()
}

// Unwrap returns the validation error of every event left out.
func (e *InvalidEventsError) Unwrap() []error {
	errs := make([]error, len(e.Events))
	for i, ev := range e.Events {
		errs[i] = ev.Err
	}
	return errs
}

// ReadJSONL reads a timeline written by WriteJSONL, keeping the events in
// file order. It validates every line (known fields, source and kind, the
// fields a kind cannot do without) and names the 1-based line number in
// errors, because a timeline that silently lost events would give silently
// wrong verdicts. Blank lines are skipped.
func ReadJSONL(r io.Reader) (Timeline, error) {
	var tl Timeline
	br := bufio.NewReader(r)
	seenHeader := false
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return Timeline{}, fmt.Errorf("read timeline line %d: %w", n, err)
		}
		eof := err != nil
		line = bytes.TrimSpace(line)
		if len(line) > 0 {
			if !seenHeader {
				base, err := parseHeader(line)
				if err != nil {
					return Timeline{}, fmt.Errorf("timeline line %d: %w", n, err)
				}
				tl.Base, seenHeader = base, true
			} else {
				e, err := parseEvent(line)
				if err != nil {
					return Timeline{}, fmt.Errorf("timeline line %d: %w", n, err)
				}
				tl.Events = append(tl.Events, e)
			}
		}
		if eof {
			break
		}
	}
	if !seenHeader {
		return Timeline{}, errors.New("timeline is empty: no header line")
	}
	return tl, nil
}

func decodeStrict(line []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(line))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

func parseHeader(line []byte) (time.Time, error) {
	var h header
	if err := decodeStrict(line, &h); err != nil {
		return time.Time{}, fmt.Errorf("bad header: %w", err)
	}
	if h.Version != FormatVersion {
		return time.Time{}, fmt.Errorf("unsupported timeline version %d (want %d)", h.Version, FormatVersion)
	}
	base, err := time.Parse(time.RFC3339Nano, h.Base)
	if err != nil {
		return time.Time{}, fmt.Errorf("bad header base time: %w", err)
	}
	return base.UTC(), nil
}

func parseEvent(line []byte) (Event, error) {
	var e Event
	if err := decodeStrict(line, &e); err != nil {
		return Event{}, fmt.Errorf("bad event: %w", err)
	}
	if err := e.Validate(); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Validate checks that e has a known source and kind and the fields its kind
// cannot do without. The checks rely on these fields; an event missing them
// would otherwise be ignored without a word.
func (e Event) Validate() error {
	if e.Source == "" || e.Kind == "" {
		return errors.New("event needs a source and a kind")
	}
	if !ValidKind(e.Source, e.Kind) {
		return fmt.Errorf("unknown kind %q for source %q", e.Kind, e.Source)
	}
	need := func(ok bool, field string) error {
		if !ok {
			return fmt.Errorf("%s %s event needs %s", e.Source, e.Kind, field)
		}
		return nil
	}
	switch e.Source {
	case SourcePod:
		if err := need(e.Pod != "", "pod"); err != nil {
			return err
		}
		if e.Kind == PodIPAssigned {
			return need(e.IP != "", "ip")
		}
	case SourceApp:
		// The log follower knows which pod it follows; without the pod an
		// app event cannot be tied to a deletion.
		return need(e.Pod != "", "pod")
	case SourceConsul:
		if err := need(e.Instance != "", "instance"); err != nil {
			return err
		}
		if e.Kind == ConsulCheckStatus {
			switch e.Status {
			case StatusPassing, StatusWarning, StatusCritical:
			default:
				return fmt.Errorf("consul check_status event has unknown status %q", e.Status)
			}
		}
	case SourceKernel:
		if err := need(e.Pod != "" && e.HostPID > 0, "pod and host_pid"); err != nil {
			return err
		}
		if e.Kind == KernelSignal || e.Kind == KernelDequeued {
			return need(e.Signal != "", "signal")
		}
	case SourceHarness:
		if e.Kind == HarnessDeleteRequested {
			return need(e.Pod != "", "pod")
		}
		if e.Until < e.At {
			return fmt.Errorf("gap ends (until_ns %d) before it starts (t_ns %d)", e.Until, e.At)
		}
	}
	return nil
}

// Valid returns tl with only the events WriteJSONL writes, those that
// validate (it also drops an event that does not marshal, which an Event,
// all strings, integers and pointers to them, cannot fail to do): what is
// judged and drawn must be what a re-check reads back.
func (tl Timeline) Valid() Timeline {
	kept := Timeline{Base: tl.Base, Events: make([]Event, 0, len(tl.Events))}
	for _, e := range tl.Events {
		if e.Validate() == nil {
			kept.Events = append(kept.Events, e)
		}
	}
	return kept
}
