package observe

import (
	"testing"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Every fixture line the follower can meet maps to a kind the checks know.
func TestAppEventMapping(t *testing.T) {
	kinds := []event.Kind{event.Started, event.Registered, event.RegisterFailed, event.Signal, event.Deregistered, event.DeregisterFailed, event.Exiting}
	for _, k := range kinds {
		te, ok := AppEvent(event.Event{Kind: k, Service: "orders", Instance: "orders-p1", Address: "10.0.0.1"}, "p1", "s")
		if !ok || te.Source != timeline.SourceApp || !timeline.ValidKind(te.Source, te.Kind) || te.Pod != "p1" || te.Scenario != "s" {
			t.Errorf("%s -> %+v %v", k, te, ok)
		}
	}
	calls := map[string]event.Event{
		timeline.CallOK:          {Kind: event.Call, Target: "orders", Answered: "orders"},
		timeline.CallWrongTarget: {Kind: event.Call, Target: "orders", Answered: "payments"},
		timeline.CallError:       {Kind: event.Call, Target: "orders", Error: "no passing instance of orders"},
	}
	for want, e := range calls {
		te, ok := AppEvent(e, "caller-1", "s")
		if !ok || te.Source != timeline.SourceCaller || te.Kind != want || te.Service != "orders" {
			t.Errorf("%s: %+v", want, te)
		}
	}
	if _, ok := AppEvent(event.Event{Kind: "heartbeat"}, "p", "s"); ok {
		t.Error("an unknown fixture kind must not become an event")
	}
}
