package reports

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// writeRun writes a report folder holding only what Compare reads: pods
// of service "orders" deleted in the order of names, and their verdicts.
func writeRun(t *testing.T, names []string, delivered map[string]float64) string {
	t.Helper()
	dir := t.TempDir()
	base := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rec := timeline.NewRecorder(base)
	var vs []check.Verdict
	for i, n := range names {
		rec.Record(base.Add(time.Duration(i)*time.Second), timeline.Event{Source: timeline.SourcePod, Kind: timeline.PodCreated, Scenario: "s", Pod: n, Service: "orders"})
		// Deleted in reverse order of creation: the key follows deletion.
		rec.Record(base.Add(time.Duration(10-i)*time.Second), timeline.Event{Source: timeline.SourcePod, Kind: timeline.PodDeletionRequested, Scenario: "s", Pod: n, Service: "orders"})
		vs = append(vs,
			check.Verdict{Name: check.NameSignalDelivered, Scenario: "s", Subject: n, Value: delivered[n], Unit: check.UnitBool},
			check.Verdict{Name: check.NameShutdownWindow, Scenario: "s", Subject: n, Value: 1.5, Unit: check.UnitMS})
	}
	f, err := os.Create(filepath.Join(dir, TimelineFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := timeline.WriteJSONL(f, rec.Snapshot()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := json.Marshal(vs)
	if err := os.WriteFile(filepath.Join(dir, VerdictsFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, RunFile), []byte(`{}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCompareMatchesPodsByServiceAndDeletionOrder(t *testing.T) {
	// Run A: orders-a1 (created first) is deleted last and did not dequeue.
	a := writeRun(t, []string{"orders-a1", "orders-a2"}, map[string]float64{"orders-a1": 0, "orders-a2": 1})
	// Run B: other names; its last-deleted pod dequeued.
	b := writeRun(t, []string{"orders-b1", "orders-b2"}, map[string]float64{"orders-b1": 1, "orders-b2": 1})
	c, err := Compare(a, b, KernelSignalVerdicts, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.Pods != 2 || c.Compared != 2 || len(c.OnlyA)+len(c.OnlyB) != 0 {
		t.Fatalf("pods %d compared %d onlyA %v onlyB %v", c.Pods, c.Compared, c.OnlyA, c.OnlyB)
	}
	if len(c.Differences) != 1 {
		t.Fatalf("differences %+v", c.Differences)
	}
	d := c.Differences[0]
	if d.Pod != (PodKey{Scenario: "s", Service: "orders", N: 1}) || d.A.Subject != "orders-a1" || d.B.Subject != "orders-b1" || d.A.Value != 0 || d.B.Value != 1 {
		t.Errorf("difference %+v", d)
	}
	if d.WindowA.Value != 1.5 || d.WindowB.Subject != "orders-b1" {
		t.Errorf("the shutdown windows must come with it: %+v %+v", d.WindowA, d.WindowB)
	}
	same, err := Compare(a, a, KernelSignalVerdicts, false)
	if err != nil || len(same.Differences) != 0 || same.Compared != 2 {
		t.Errorf("a run against itself: %+v %v", same, err)
	}
}
