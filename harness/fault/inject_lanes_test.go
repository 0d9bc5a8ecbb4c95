package fault

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// scriptedFault is the least a Fault can be: a name, an outcome, and
// something to do meanwhile.
type scriptedFault struct {
	name, detail string
	err          error
	// during runs inside Inject, between the fault's start and end.
	during func()
}

func (f scriptedFault) Name() string { return f.name }
func (f scriptedFault) Needs() Needs { return Needs{} }
func (f scriptedFault) Inject(context.Context, *Env) (Outcome, error) {
	time.Sleep(2 * time.Millisecond) // an end strictly after the start
	if f.during != nil {
		f.during()
	}
	return Outcome{Detail: f.detail}, f.err
}

// Faults recorded by the real Inject, saved and read back as a report is,
// are drawn by check.Lanes as bars that each end at their own fault_end:
// with an outcome after the name, without one, after an error, and while
// another scenario injects a fault of the same name.
func TestInjectedFaultsDrawAsClosedBars(t *testing.T) {
	rec := timeline.NewRecorder(time.Now())
	ctx := context.Background()
	reuse := "IP reuse: a pod of payments takes the address of pod 0 of orders"
	other := scriptedFault{name: reuse, detail: "10.0.0.9 of pod orders-b taken by pod payments-reuse-2"}
	faults := []scriptedFault{
		{name: reuse, detail: "10.0.0.7 of pod orders-a taken by pod payments-reuse-1", during: func() {
			if _, err := Inject(ctx, other, 1, &Env{}, rec, "other"); err != nil {
				t.Errorf("inject in other: %v", err)
			}
		}},
		{name: "wait 4s"},
		{name: "delete pod 0 of orders", err: errors.New("pod orders-c still there")},
	}
	for i, f := range faults {
		if _, err := Inject(ctx, f, i+1, &Env{}, rec, "s"); !errors.Is(err, f.err) {
			t.Fatalf("inject %s: %v", f.name, err)
		}
	}
	var saved bytes.Buffer
	if err := timeline.WriteJSONL(&saved, rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	tl, err := timeline.ReadJSONL(&saved)
	if err != nil {
		t.Fatal(err)
	}

	for scenario, want := range map[string][]scriptedFault{"s": faults, "other": {other}} {
		var starts, ends []timeline.Event
		for _, e := range tl.Scenario(scenario).Events {
			switch e.Kind {
			case timeline.FaultStart:
				starts = append(starts, e)
			case timeline.FaultEnd:
				ends = append(ends, e)
			}
		}
		if len(starts) != len(want) || len(ends) != len(want) {
			t.Fatalf("scenario %s: %d starts and %d ends recorded, want %d each", scenario, len(starts), len(ends), len(want))
		}
		m := check.Lanes(tl, check.Context{Scenario: scenario})
		if len(m.FaultEnds) != 0 {
			t.Errorf("scenario %s: ends that closed no bar: %+v", scenario, m.FaultEnds)
		}
		if len(m.Faults) != len(want) {
			t.Fatalf("scenario %s: %d bars, want %d: %+v", scenario, len(m.Faults), len(want), m.Faults)
		}
		for i, bar := range m.Faults {
			f := want[i]
			outcome := f.name
			if f.detail != "" {
				outcome += ": " + f.detail
			}
			var reason string
			if f.err != nil {
				reason = f.err.Error()
			}
			wantBar := check.Fault{Detail: f.name, From: starts[i].At, To: ends[i].At, Ended: true, Outcome: outcome, Error: reason}
			if !reflect.DeepEqual(bar, wantBar) {
				t.Errorf("scenario %s bar %d = %+v, want %+v", scenario, i, bar, wantBar)
			}
			if bar.To <= bar.From {
				t.Errorf("scenario %s bar %d ends at %v, not after its start %v", scenario, i, bar.To, bar.From)
			}
		}
	}
}
