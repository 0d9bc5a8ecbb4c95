package observe

import (
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Every status Consul can aggregate to becomes one the timeline accepts;
// what does not map one to one becomes critical and keeps the raw status.
func TestCheckStatus(t *testing.T) {
	cases := []struct {
		consul, want, detail string // detail: substring, "" = must be empty
	}{
		{api.HealthPassing, timeline.StatusPassing, ""},
		{api.HealthWarning, timeline.StatusWarning, ""},
		{api.HealthCritical, timeline.StatusCritical, ""},
		{api.HealthMaint, timeline.StatusCritical, "maintenance"},
		{"", timeline.StatusCritical, "empty"},
		{"degraded", timeline.StatusCritical, `"degraded"`},
	}
	for _, c := range cases {
		got, detail := CheckStatus(c.consul)
		if got != c.want {
			t.Errorf("CheckStatus(%q) = %q, want %q", c.consul, got, c.want)
		}
		if c.detail == "" && detail != "" || c.detail != "" && !strings.Contains(detail, c.detail) {
			t.Errorf("CheckStatus(%q) detail = %q, want it to contain %q", c.consul, detail, c.detail)
		}
		e := timeline.Event{Source: timeline.SourceConsul, Kind: timeline.ConsulCheckStatus, Instance: "i", Status: got}
		if err := e.Validate(); err != nil {
			t.Errorf("CheckStatus(%q): %v", c.consul, err)
		}
	}
}

// The observer records an instance in maintenance as critical with the raw
// status in Detail, and still records the change when maintenance ends but
// the check stays critical.
func TestConsulDiffMaintenance(t *testing.T) {
	rec := timeline.NewRecorder(time.Now())
	c := &Consul{Rec: rec, Scenario: "s"}
	known := map[string]instanceState{}
	entry := func(checks ...*api.HealthCheck) []*api.ServiceEntry {
		return []*api.ServiceEntry{{Node: &api.Node{Address: "10.0.0.1"},
			Service: &api.AgentService{ID: "orders-1", Service: "orders", Address: "10.0.0.7", Port: 8080}, Checks: checks}}
	}
	ttl := func(status string) *api.HealthCheck {
		return &api.HealthCheck{CheckID: "service:orders-1", ServiceID: "orders-1", Status: status}
	}
	maint := &api.HealthCheck{CheckID: api.ServiceMaintPrefix + "orders-1", ServiceID: "orders-1", Status: api.HealthCritical}

	c.diff(time.Now(), "orders", 10, entry(ttl(api.HealthPassing)), known)
	c.diff(time.Now(), "orders", 11, entry(ttl(api.HealthPassing), maint), known)
	c.diff(time.Now(), "orders", 12, entry(ttl(api.HealthCritical)), known)
	c.diff(time.Now(), "orders", 13, entry(ttl("bogus")), known)

	var got []string
	for _, e := range rec.Snapshot().Events {
		if err := e.Validate(); err != nil {
			t.Errorf("invalid event %+v: %v", e, err)
		}
		if e.Kind == timeline.ConsulCheckStatus {
			got = append(got, e.Status+"|"+e.Detail)
		}
	}
	if len(got) != 4 {
		t.Fatalf("status events %q, want 4", got)
	}
	if got[0] != "passing|" || !strings.HasPrefix(got[1], "critical|consul status maintenance") ||
		got[2] != "critical|" || !strings.HasPrefix(got[3], "critical|consul status empty") {
		t.Fatalf("status events %q", got)
	}
}
