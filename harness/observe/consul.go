// Package observe holds the watchers that feed a run's timeline: Consul's
// view of the watched services, the pods' lifecycle from the Kubernetes API,
// the fixture's own lifecycle and caller lines from the pods' logs, and the
// kernel's signals and processes of the pods (Kernel, on this host or fed
// by kernel agents on the nodes: RunAgent and its stream, AgentLine). Each
// records onto one timeline.Recorder, so every observation shares a clock.
package observe

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/kubegrace/kubegrace/harness/timeline"
)

// Consul watches the health of each watched service with blocking queries
// (index + wait): Consul answers as soon as the service's instances or check
// statuses change, so an event is recorded within milliseconds of Consul
// applying the change. It records registered / deregistered per instance and
// every check-status change, with Consul's index. Errors and index resets do
// not end the watch: an outage is recorded as a gap, then the watch resumes.
type Consul struct {
	Client   *api.Client
	Services []string
	Rec      *timeline.Recorder
	Scenario string
	// WaitTime is the blocking query's maximum wait (default 10s).
	WaitTime time.Duration
}

type instanceState struct {
	status string // Consul's aggregated status, before CheckStatus
	ip     string
	port   int
}

// Run watches until ctx ends; it returns nil then, or the panics of
// watches that ended early (each recorded as a gap of its service).
func (c *Consul) Run(ctx context.Context) error {
	if c.WaitTime == 0 {
		c.WaitTime = 10 * time.Second
	}
	var wg sync.WaitGroup
	var ps panics
	for _, s := range c.Services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if v := recover(); v != nil {
					err := recovered("consul watch of "+s, v)
					ps.add(err)
					at := time.Now()
					<-ctx.Done() // the service is not watched until the observer stops
					c.Rec.Record(at, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: c.Scenario, Service: s,
						Until: max(c.Rec.Offset(time.Now()), c.Rec.Offset(at)+1), Reason: "consul watch of " + s, Detail: "watch panicked: " + firstLine(err.Error())})
				}
			}()
			c.watch(ctx, s)
		}()
	}
	wg.Wait()
	return ps.err()
}

// gap records that the observer did not watch from from until until
// (Set: its Run panicked).
func (c *Consul) gap(from, until time.Time, detail string) {
	c.Rec.Record(from, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: c.Scenario,
		Until: max(c.Rec.Offset(until), c.Rec.Offset(from)+1), Reason: "consul watch", Detail: detail})
}

func (c *Consul) watch(ctx context.Context, service string) {
	var (
		index    uint64
		known    = map[string]instanceState{}
		gapStart time.Time
		backoff  = 100 * time.Millisecond
	)
	for ctx.Err() == nil {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: c.WaitTime}).WithContext(ctx)
		entries, meta, err := c.Client.Health().Service(service, "", false, q)
		now := time.Now()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return
			}
			if gapStart.IsZero() {
				gapStart = now
			}
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		if !gapStart.IsZero() {
			c.Rec.Record(gapStart, timeline.Event{Source: timeline.SourceHarness, Kind: timeline.HarnessGap, Scenario: c.Scenario,
				Service: service, Until: c.Rec.Offset(now), Reason: "consul watch of " + service, Detail: "health query failed; changes in between may be missed"})
			gapStart = time.Time{}
		}
		// Consul's rule for blocking queries: if the index goes backwards
		// (a restored or restarted server), start over from 0.
		if meta.LastIndex < index || meta.LastIndex == 0 {
			index = 0
		} else {
			index = meta.LastIndex
		}
		c.diff(now, service, meta.LastIndex, entries, known)
	}
}

// diff turns one health answer into events against what was known.
func (c *Consul) diff(now time.Time, service string, index uint64, entries []*api.ServiceEntry, known map[string]instanceState) {
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.Service.ID
		seen[id] = true
		var own api.HealthChecks
		for _, chk := range e.Checks {
			if chk.ServiceID == id {
				own = append(own, chk)
			}
		}
		// Compared raw, so that e.g. maintenance -> critical is still a
		// change (its Detail says so) though both record as critical.
		st := instanceState{status: own.AggregatedStatus(), ip: e.Service.Address, port: e.Service.Port}
		if st.ip == "" {
			st.ip = e.Node.Address
		}
		prev, ok := known[id]
		base := timeline.Event{Source: timeline.SourceConsul, Scenario: c.Scenario, Service: service, Instance: id, IP: st.ip, Port: st.port, Index: index}
		if !ok || prev.ip != st.ip || prev.port != st.port {
			ev := base
			ev.Kind = timeline.ConsulRegistered
			c.Rec.Record(now, ev)
			prev.status = "" // first status after each registration is recorded
		}
		if prev.status != st.status {
			ev := base
			ev.Kind = timeline.ConsulCheckStatus
			ev.Status, ev.Detail = CheckStatus(st.status)
			c.Rec.Record(now, ev)
		}
		known[id] = st
	}
	gone := make([]string, 0)
	for id := range known {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	sort.Strings(gone)
	for _, id := range gone {
		st := known[id]
		c.Rec.Record(now, timeline.Event{Source: timeline.SourceConsul, Kind: timeline.ConsulDeregistered, Scenario: c.Scenario,
			Service: service, Instance: id, IP: st.ip, Port: st.port, Index: index})
		delete(known, id)
	}
}

// CheckStatus maps an instance's aggregated Consul check status (as from
// api.HealthChecks.AggregatedStatus) to a timeline status, which has only
// passing, warning and critical. Whatever does not map one to one becomes
// critical, the status under which Consul does not route to the instance,
// and the raw status is returned as detail so that nothing is hidden:
//
//   - maintenance: an instance in maintenance mode is left out of
//     passing-only queries, exactly like a critical one;
//   - empty: Consul's answer when a check has a status it does not know;
//   - anything else: a status this observer does not know.
//
// Detail is empty for passing, warning and critical.
func CheckStatus(consul string) (status, detail string) {
	switch consul {
	case api.HealthPassing, api.HealthWarning, api.HealthCritical:
		return consul, ""
	case api.HealthMaint:
		return timeline.StatusCritical, "consul status maintenance: not routed to"
	case "":
		return timeline.StatusCritical, "consul status empty: a check has a status consul does not know"
	default:
		return timeline.StatusCritical, fmt.Sprintf("consul status %q: unknown, recorded as critical", consul)
	}
}
