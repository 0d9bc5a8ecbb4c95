package observe

import (
	"context"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

func startAgent(t *testing.T) *consul.TestAgent {
	t.Helper()
	a, err := consul.StartTestAgent(context.Background(), t, nil)
	if err != nil {
		if os.Getenv("KUBEGRACE_CONSUL") == "" {
			t.Logf("hint: `make test` sets KUBEGRACE_CONSUL after building consul")
		}
		t.Fatal(err)
	}
	return a
}

// waitEvent waits until rec holds an event matching ok, returning it.
func waitEvent(t *testing.T, rec *timeline.Recorder, what string, ok func(timeline.Event) bool) timeline.Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, e := range rec.Snapshot().Events {
			if ok(e) {
				return e
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no %s event; have %+v", what, rec.Snapshot().Events)
	return timeline.Event{}
}

// The Consul observer against a real agent: registration, each status
// change and deregistration become events, promptly (blocking queries, not
// polling). Latency is logged; `make test` shows it with -v.
func TestConsulObserverRecordsChanges(t *testing.T) {
	a := startAgent(t)
	base := time.Now()
	rec := timeline.NewRecorder(base)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Consul{Client: a.Client, Services: []string{"orders"}, Rec: rec, Scenario: "s", WaitTime: 30 * time.Second}
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	time.Sleep(200 * time.Millisecond) // the first (empty) answer is in

	latency := func(changed time.Time, e timeline.Event) time.Duration { return e.At - rec.Offset(changed) }
	changed := time.Now()
	reg := &api.AgentServiceRegistration{ID: "orders-1", Name: "orders", Address: "10.0.0.7", Port: 8080,
		Check: &api.AgentServiceCheck{CheckID: "service:orders-1", TTL: "1m"}}
	if err := a.Client.Agent().ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, rec, "registered", func(e timeline.Event) bool { return e.Kind == timeline.ConsulRegistered && e.Instance == "orders-1" })
	if e.IP != "10.0.0.7" || e.Port != 8080 || e.Index == 0 || e.Scenario != "s" {
		t.Errorf("registered event %+v", e)
	}
	lat := []time.Duration{latency(changed, e)}
	waitEvent(t, rec, "first status critical", func(e timeline.Event) bool {
		return e.Kind == timeline.ConsulCheckStatus && e.Status == timeline.StatusCritical
	})

	changed = time.Now()
	if err := a.Client.Agent().UpdateTTL("service:orders-1", "ok", api.HealthPassing); err != nil {
		t.Fatal(err)
	}
	e = waitEvent(t, rec, "passing", func(e timeline.Event) bool {
		return e.Kind == timeline.ConsulCheckStatus && e.Status == timeline.StatusPassing
	})
	lat = append(lat, latency(changed, e))

	changed = time.Now()
	if err := a.Client.Agent().ServiceDeregister("orders-1"); err != nil {
		t.Fatal(err)
	}
	e = waitEvent(t, rec, "deregistered", func(e timeline.Event) bool { return e.Kind == timeline.ConsulDeregistered })
	lat = append(lat, latency(changed, e))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for i, l := range lat {
		// A blocking query answers on change; a poll every WaitTime (30 s)
		// would be far beyond this.
		if l > 2*time.Second {
			t.Errorf("change %d recorded %s after it was made: not a blocking query", i, l)
		}
	}
	t.Logf("consul change -> timeline event latency: register %s, passing %s, deregister %s", lat[0], lat[1], lat[2])
	for _, e := range rec.Snapshot().Events {
		if !timeline.ValidKind(e.Source, e.Kind) {
			t.Errorf("invalid kind %s/%s", e.Source, e.Kind)
		}
	}
}

// While Consul cannot be reached the watch keeps trying, records the outage
// as a gap, and then sees what is there.
func TestConsulObserverRecordsGap(t *testing.T) {
	a := startAgent(t)
	if err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "pay-1", Name: "payments", Address: "10.0.0.9", Port: 8080}); err != nil {
		t.Fatal(err)
	}
	// An address where nothing listens yet; later a forwarder to the agent.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := api.DefaultConfig()
	cfg.Address = addr
	client, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := timeline.NewRecorder(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = (&Consul{Client: client, Services: []string{"payments"}, Rec: rec, WaitTime: time.Second}).Run(ctx)
	}()
	time.Sleep(500 * time.Millisecond)
	stop := forward(t, addr, a.Server.HTTPAddr)
	defer stop()
	gap := waitEvent(t, rec, "gap", func(e timeline.Event) bool { return e.Kind == timeline.HarnessGap })
	if gap.Until-gap.At < 300*time.Millisecond {
		t.Errorf("gap %s..%s shorter than the outage", gap.At, gap.Until)
	}
	waitEvent(t, rec, "registered after the gap", func(e timeline.Event) bool {
		return e.Kind == timeline.ConsulRegistered && e.Instance == "pay-1" && e.At >= gap.Until
	})
}

// forward accepts on addr and copies each connection to target.
func forward(t *testing.T, addr, target string) func() {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c) }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return func() { ln.Close() }
}
