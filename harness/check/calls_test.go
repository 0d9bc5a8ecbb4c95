package check

import (
	"strings"
	"testing"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Who answered a call is decided by who held the address then, on the pod
// timeline; the app's own identity, where it gave one, is a cross-check.
func TestCallsJudgedByThePodTimeline(t *testing.T) {
	b := &kt{}
	pod := func(at float64, name, svc, kind, ip string) {
		b.add(at, timeline.Event{Source: timeline.SourcePod, Kind: kind, Pod: name, Service: svc, IP: ip})
	}
	call := func(at float64, kind, addr, answered string) {
		b.add(at, timeline.Event{Source: timeline.SourceCaller, Kind: kind, Pod: "caller-1", Service: "orders", Detail: addr, Reason: answered})
	}
	pod(0, "orders-1", "orders", timeline.PodIPAssigned, "10.0.0.5")
	pod(1000, "orders-1", "orders", timeline.PodDeleted, "10.0.0.5")
	pod(2000, "payments-1", "payments", timeline.PodIPAssigned, "10.0.0.5") // reported late: it answered from 1500
	call(500, timeline.CallOK, "10.0.0.5:8080", "orders")                   // ok both ways
	call(1500, timeline.CallOK, "10.0.0.5:8080", "")                        // no identity: payments by the timeline (slack)
	call(2500, timeline.CallOK, "10.0.0.5:8080", "orders")                  // the app says orders, payments held it: disagreement
	call(2600, timeline.CallWrongTarget, "10.0.0.5:8080", "payments")       // agree
	call(2700, timeline.CallError, "10.0.0.5:8080", "status 503")           // a non-2xx answer is a failure
	call(9000, timeline.CallWrongTarget, "", "payments")                    // no address: the app's word
	vs := All(timeline.Timeline{Events: b.ev}, Context{Scenario: "s"})
	get := func(name string) Verdict { return verdictOf(t, vs, name, "") }
	if v := get(NameWrongTargetCalls); v.Value != 4 || !strings.Contains(v.Message, "orders→payments ×4") {
		t.Errorf("wrong %+v", v)
	}
	if v := get(NameOKCalls); v.Value != 1 {
		t.Errorf("ok %+v", v)
	}
	if v := get(NameFailedCalls); v.Value != 1 || !strings.Contains(v.Message, "status 503") {
		t.Errorf("failed %+v", v)
	}
	if v := get(NameWrongTargetDisagreement); v.Value != 1 || !strings.Contains(v.Message, "orders answered, payments-1 (payments) held 10.0.0.5") {
		t.Errorf("disagreement %+v", v)
	}
}
