package timeline

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func intp(i int) *int       { return &i }
func int64p(i int64) *int64 { return &i }

func TestRecorderOffsetsAndSorts(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	base := time.Date(2026, 11, 24, 10, 0, 0, 123456789, loc)
	r := NewRecorder(base)
	r.Record(base.Add(2*time.Second), Event{Source: SourcePod, Kind: PodDeleted, Pod: "a"})
	r.Record(base.Add(time.Second), Event{Source: SourcePod, Kind: PodCreated, Pod: "a"})
	r.Record(base.Add(2*time.Second), Event{Source: SourcePod, Kind: PodCreated, Pod: "b", At: time.Hour})
	tl := r.Snapshot()
	if !tl.Base.Equal(base) || tl.Base.Location() != time.UTC {
		t.Fatalf("base = %v, want %v in UTC", tl.Base, base)
	}
	var got []string
	for _, e := range tl.Events {
		got = append(got, e.Pod+"/"+e.Kind+"@"+e.At.String())
	}
	want := []string{"a/created@1s", "a/deleted@2s", "b/created@2s"} // ties keep recording order
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("snapshot = %v, want %v", got, want)
	}
}

func TestRecorderConcurrent(t *testing.T) {
	base := time.Now()
	r := NewRecorder(base)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				r.Record(base.Add(time.Duration(i*8+g)*time.Millisecond), Event{Source: SourceCaller, Kind: CallOK, Service: "s"})
			}
		}()
	}
	wg.Wait()
	tl := r.Snapshot()
	if len(tl.Events) != 800 {
		t.Fatalf("got %d events, want 800", len(tl.Events))
	}
	for i, e := range tl.Events {
		if e.At != time.Duration(i)*time.Millisecond {
			t.Fatalf("event %d at %v", i, e.At)
		}
	}
}

func sample() Timeline {
	return Timeline{
		Base: time.Date(2026, 11, 24, 9, 30, 1, 987654321, time.UTC),
		Events: []Event{
			{At: 0, Source: SourcePod, Kind: PodIPAssigned, Scenario: "incident", Pod: "orders-0", Service: "orders", IP: "10.244.1.7"},
			{At: 5 * time.Millisecond, Source: SourceConsul, Kind: ConsulRegistered, Scenario: "incident", Service: "orders", Instance: "orders-0", IP: "10.244.1.7", Port: 8080, Index: 42},
			{At: 6 * time.Millisecond, Source: SourceConsul, Kind: ConsulCheckStatus, Scenario: "incident", Instance: "orders-0", Status: StatusPassing, Index: 43},
			{At: time.Second, Source: SourcePod, Kind: PodDeletionRequested, Scenario: "incident", Pod: "orders-0", GraceSeconds: int64p(0)},
			{At: 2 * time.Second, Source: SourcePod, Kind: PodContainerTerminated, Scenario: "incident", Pod: "orders-0", ExitCode: intp(0), Reason: "Completed"},
			{At: 2*time.Second + 1, Source: SourceApp, Kind: AppSignal, Pod: "orders-0", Signal: "SIGTERM"},
			{At: -time.Millisecond, Source: SourceHarness, Kind: HarnessGap, Reason: "consul watch", Until: 3 * time.Second, Detail: "connection reset"},
			{At: 3 * time.Second, Source: SourceCaller, Kind: CallWrongTarget, Service: "orders", Reason: "payments"},
		},
	}
}

func TestJSONLRoundTripExact(t *testing.T) {
	tl := sample()
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, tl); err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(buf.String(), "\n")
	if first != `{"base":"2026-11-24T09:30:01.987654321Z","version":1}` {
		t.Fatalf("header = %s", first)
	}
	if !strings.Contains(buf.String(), `"grace_s":0`) || !strings.Contains(buf.String(), `"exit_code":0`) {
		t.Fatalf("zero pointers must be kept:\n%s", buf.String())
	}
	got, err := ReadJSONL(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tl) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, tl)
	}
	var again bytes.Buffer
	if err := WriteJSONL(&again, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Fatal("second write differs from the first")
	}
}

func TestJSONLRoundTripRecorder(t *testing.T) {
	// A base with a monotonic reading and a zone must still round-trip.
	r := NewRecorder(time.Now().In(time.FixedZone("X", -7200)))
	r.Record(time.Now(), Event{Source: SourceFault, Kind: FaultStart, Detail: "partition"})
	tl := r.Snapshot()
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, tl); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tl) {
		t.Fatalf("round trip differs:\n got %#v\nwant %#v", got, tl)
	}
}

func TestJSONLEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, Timeline{}); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, Timeline{}) {
		t.Fatalf("got %#v", got)
	}
}

func TestReadJSONLErrorsNameTheLine(t *testing.T) {
	const hdr = `{"base":"2026-11-24T09:30:00Z","version":1}` + "\n"
	cases := map[string]struct{ in, want string }{
		"empty":         {"", "no header"},
		"bad version":   {`{"base":"2026-11-24T09:30:00Z","version":2}`, "line 1: unsupported timeline version 2"},
		"bad base":      {`{"base":"yesterday","version":1}`, "line 1: bad header base time"},
		"not json":      {hdr + "\n" + `{"t_ns":1,"source":"pod","kind":"created","pod":"a"}` + "\nnope\n", "line 4: bad event"},
		"unknown field": {hdr + `{"t_ns":1,"source":"pod","kind":"created","pod":"a","colour":"red"}`, `line 2: bad event: json: unknown field "colour"`},
		"unknown kind":  {hdr + `{"t_ns":1,"source":"pod","kind":"exploded","pod":"a"}`, `line 2: unknown kind "exploded" for source "pod"`},
		"bad source":    {hdr + `{"t_ns":1,"source":"moon","kind":"created"}`, `line 2: unknown kind "created" for source "moon"`},
		"no ip":         {hdr + `{"t_ns":1,"source":"pod","kind":"ip_assigned","pod":"a"}`, "line 2: pod ip_assigned event needs ip"},
		"bad status":    {hdr + `{"t_ns":1,"source":"consul","kind":"check_status","instance":"i","status":"green"}`, `line 2: consul check_status event has unknown status "green"`},
		"gap backwards": {hdr + `{"t_ns":5,"source":"harness","kind":"gap","until_ns":4}`, "line 2: gap ends"},
		"trailing":      {hdr + `{"t_ns":1,"source":"pod","kind":"created","pod":"a"} {}`, "line 2: bad event: trailing data"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := ReadJSONL(strings.NewReader(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
		})
	}
}

// One invalid event must not cost the others: every valid event is written
// (and reads back), the invalid ones are counted and named in the error.
func TestWriteJSONLKeepsValidEvents(t *testing.T) {
	tl := sample()
	good := slices.Clone(tl.Events)
	bad := []Event{
		{At: 7 * time.Millisecond, Source: SourceConsul, Kind: ConsulCheckStatus, Instance: "orders-0", Status: "maintenance"},
		{At: 8 * time.Millisecond, Source: SourcePod, Kind: "nope", Pod: "a"},
	}
	// Invalid events at positions 3 and 6 of 10.
	tl.Events = slices.Insert(slices.Clone(good), 3, bad[0])
	tl.Events = slices.Insert(tl.Events, 6, bad[1])

	var buf bytes.Buffer
	err := WriteJSONL(&buf, tl)
	if err == nil {
		t.Fatal("no error for invalid events")
	}
	for _, want := range []string{
		"2 of 10 events not written",
		`event 3 (consul/check_status at 7ms): consul check_status event has unknown status "maintenance"`,
		`event 6 (pod/nope at 8ms): unknown kind "nope" for source "pod"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	var inv *InvalidEventsError
	if !errors.As(err, &inv) || inv.Total != 10 || len(inv.Events) != 2 || inv.Events[0].Index != 3 || inv.Events[1].Index != 6 {
		t.Errorf("error is not the expected *InvalidEventsError: %#v", err)
	}

	got, rerr := ReadJSONL(&buf)
	if rerr != nil {
		t.Fatalf("what was written does not read back: %v", rerr)
	}
	if !reflect.DeepEqual(got, Timeline{Base: tl.Base, Events: good}) {
		t.Fatalf("read back:\n got %+v\nwant %+v", got.Events, good)
	}
}

// The message names at most maxNamed events, however many were left out.
func TestInvalidEventsErrorIsBounded(t *testing.T) {
	var tl Timeline
	for range 25 {
		tl.Events = append(tl.Events, Event{Source: SourcePod, Kind: PodCreated}) // no pod
	}
	err := WriteJSONL(io.Discard, tl)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "25 of 25 events not written: event 0 (pod/created at 0s): pod created event needs pod") ||
		!strings.HasSuffix(msg, "; and 15 more") || strings.Count(msg, "needs pod") != maxNamed {
		t.Fatalf("message = %q", msg)
	}
}

// A failing writer is an error even when every event is valid.
func TestWriteJSONLWriterError(t *testing.T) {
	err := WriteJSONL(failWriter{}, sample())
	if err == nil || !strings.Contains(err.Error(), "write timeline: disk full") {
		t.Fatalf("err = %v", err)
	}
	var inv *InvalidEventsError
	if errors.As(err, &inv) {
		t.Fatalf("no event was invalid, got %v", inv)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// Event.Role (from the pod label RoleLabel) is written, read back and
// validated like any other field.
func TestJSONLRoleRoundTrip(t *testing.T) {
	tl := Timeline{Base: time.Date(2026, 11, 24, 9, 30, 0, 0, time.UTC), Events: []Event{
		{At: 1, Source: SourcePod, Kind: PodCreated, Pod: "filler-3", Role: RoleIPFiller},
		{At: 2, Source: SourcePod, Kind: PodIPAssigned, Pod: "filler-3", IP: "10.244.0.9", Role: RoleIPFiller},
		{At: 3, Source: SourcePod, Kind: PodCreated, Pod: "orders-0", Service: "orders"},
	}}
	var buf bytes.Buffer
	if err := WriteJSONL(&buf, tl); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), `"role":"ip-filler"`); n != 2 {
		t.Fatalf("role written %d times, want 2:\n%s", n, buf.String())
	}
	if strings.Count(buf.String(), `"role"`) != 2 {
		t.Fatalf("an empty role must be omitted:\n%s", buf.String())
	}
	got, err := ReadJSONL(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, tl) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, tl)
	}
	const line = `{"base":"2026-11-24T09:30:00Z","version":1}` + "\n" + `{"t_ns":1,"source":"pod","kind":"deleted","pod":"f","role":"ip-filler"}`
	got, err = ReadJSONL(strings.NewReader(line))
	if err != nil || len(got.Events) != 1 || got.Events[0].Role != RoleIPFiller {
		t.Fatalf("ReadJSONL of a role line: %+v, %v", got, err)
	}
}

func TestScenarioHelpers(t *testing.T) {
	tl := sample()
	if got := tl.Scenarios(); !reflect.DeepEqual(got, []string{"incident"}) {
		t.Fatalf("scenarios = %v", got)
	}
	if n := len(tl.Scenario("incident").Events); n != 5 {
		t.Fatalf("incident has %d events", n)
	}
	first, last := tl.Span()
	if first != -time.Millisecond || last != 3*time.Second {
		t.Fatalf("span = %v..%v", first, last)
	}
	s := tl.Sorted()
	if s.Events[0].Kind != HarnessGap || tl.Events[0].Kind != PodIPAssigned {
		t.Fatal("Sorted must sort a copy")
	}
}

func TestDeleteRequestedNeedsItsPod(t *testing.T) {
	ok := Event{At: time.Second, Source: SourceHarness, Kind: HarnessDeleteRequested, Scenario: "s", Pod: "orders-1"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a request with its pod: %v", err)
	}
	ok.Pod = ""
	if err := ok.Validate(); err == nil {
		t.Error("a request without its pod must not validate")
	}
}
