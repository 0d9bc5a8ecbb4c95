package reports

import (
	"testing"

	"github.com/kubegrace/kubegrace/harness/check"
)

// Expectations address pods by glob: "orders-*" is every pod of orders.
func TestJudgeAllGlobSubjects(t *testing.T) {
	v := func(name, subject string, value float64) check.Verdict {
		return check.Verdict{Name: name, Scenario: "s", Subject: subject, Value: value}
	}
	verdicts := []check.Verdict{
		v(check.NameSignalDelivered, "orders-1", 1),
		v(check.NameSignalDelivered, "orders-2", 1),
		v(check.NameSignalDelivered, "payments-1", 0),
		v(check.NameStaleWindow, "", 0),
		{Name: check.NameSignalDelivered, Scenario: "other", Subject: "orders-3", Value: 0},
	}
	wants := []Want{
		{Verdict: check.NameSignalDelivered, Subject: "orders-*", Op: "==", Value: 1},
		{Verdict: check.NameSignalDelivered, Subject: "*", Op: "==", Value: 1},
		{Verdict: check.NameStaleWindow, Op: "==", Value: 0},
		{Verdict: check.NameSignalDelivered, Subject: "billing-*", Op: "==", Value: 1},
	}
	got := JudgeAll("s", wants, verdicts)
	want := []bool{true, false, true, false}
	if len(got) != len(want) {
		t.Fatalf("JudgeAll judged %d expectations, want one per Want (%d): %+v", len(got), len(want), got)
	}
	for i, e := range got {
		if e.Met != want[i] {
			t.Errorf("expectation %d (%s %s): met %v, want %v: %s", i, e.Verdict, e.Subject, e.Met, want[i], e.Message)
		}
	}
	if len(got[0].Got) != 2 || got[0].Subject != "orders-*" {
		t.Errorf("orders-* compared %v as %q (another scenario's orders-3 must not count)", got[0].Got, got[0].Subject)
	}
	// Judged again from what the report saves, the result is the same.
	for i, e := range got {
		again := JudgeAll("s", []Want{WantOf(e)}, verdicts)[0]
		if again.Met != e.Met || again.Message != e.Message {
			t.Errorf("expectation %d judged again: %+v, was %+v", i, again, e)
		}
	}
}
