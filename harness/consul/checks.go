package consul

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// CheckStatus returns the status of the agent check checkID ("passing",
// "warning", "critical"), or "" when the agent has no such check.
func CheckStatus(ctx context.Context, client *api.Client, checkID string) (string, error) {
	checks, err := client.Agent().ChecksWithFilterOpts("", (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", fmt.Errorf("list agent checks: %w", err)
	}
	if c, ok := checks[checkID]; ok {
		return c.Status, nil
	}
	return "", nil
}

// WaitCheckStatus waits, at t's pace, until check checkID has status want
// and returns when it was first seen so (as precise as t.Interval).
func WaitCheckStatus(ctx context.Context, client *api.Client, checkID, want string, t poll.Timing) (time.Time, error) {
	var at time.Time
	err := poll.Until(ctx, fmt.Sprintf("check %s %s", checkID, want), t, func(ctx context.Context) (bool, error) {
		got, err := CheckStatus(ctx, client, checkID)
		if err != nil {
			return poll.Not("%v", err)
		}
		if got != want {
			return poll.Not("status %q", got)
		}
		at = time.Now()
		return true, nil
	})
	return at, err
}

// ServiceRegistered reports whether the agent still holds service instance id.
func ServiceRegistered(ctx context.Context, client *api.Client, id string) (bool, error) {
	svc, _, err := client.Agent().Service(id, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		var se api.StatusError
		if errors.As(err, &se) && se.Code == 404 {
			return false, nil
		}
		return false, fmt.Errorf("look up service %s: %w", id, err)
	}
	return svc != nil, nil
}

// PassingInstances lists the instances of service that Consul would give a
// caller: health endpoint, passing only.
func PassingInstances(ctx context.Context, client *api.Client, service string) ([]*api.ServiceEntry, error) {
	entries, _, err := client.Health().Service(service, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("passing instances of %s: %w", service, err)
	}
	return entries, nil
}

// Passing is the wait condition "at least want instances of service pass
// their checks".
func Passing(client *api.Client, service string, want int) poll.Condition {
	return func(ctx context.Context) (bool, error) {
		p, err := PassingInstances(ctx, client, service)
		if err != nil {
			return poll.Not("%v", err)
		}
		if len(p) < want {
			return poll.Not("%d passing", len(p))
		}
		return true, nil
	}
}
