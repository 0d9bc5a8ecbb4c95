package consul

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// TestAgent is a real single-node Consul agent (server mode) on loopback,
// started by consul's own sdk/testutil, with a known leader.
type TestAgent struct {
	Server *testutil.TestServer
	Client *api.Client
}

// StartTestAgent starts a test agent from the pinned binary. As with
// testutil, if it fails nothing is left running; on success the agent is
// stopped in t's cleanup. Agent logs go to logs (nil: discarded).
func StartTestAgent(ctx context.Context, t testutil.TestingTB, logs io.Writer) (*TestAgent, error) {
	bin, err := LocalBinary(ctx)
	if err != nil {
		return nil, err
	}
	// testutil runs "consul" from PATH; put the pinned one first.
	dir := filepath.Dir(bin)
	if p := os.Getenv("PATH"); !strings.HasPrefix(p, dir+string(os.PathListSeparator)) {
		if err := os.Setenv("PATH", dir+string(os.PathListSeparator)+p); err != nil {
			return nil, err
		}
	}
	if logs == nil {
		logs = io.Discard
	}
	srv, err := testutil.NewTestServerConfigT(t, func(c *testutil.TestServerConfig) {
		c.Stdout, c.Stderr = logs, logs
		c.LogLevel = "warn"
	})
	if err != nil {
		return nil, fmt.Errorf("start consul test agent: %w", err)
	}
	cfg := api.DefaultConfig()
	cfg.Address = srv.HTTPAddr
	client, err := api.NewClient(cfg)
	if err != nil {
		_ = srv.Stop()
		return nil, fmt.Errorf("consul client for %s: %w", srv.HTTPAddr, err)
	}
	if err := WaitForLeader(ctx, client, 30*time.Second); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	a := &TestAgent{Server: srv, Client: client}
	t.Cleanup(func() { _ = srv.Stop() })
	return a, nil
}

// WaitForLeader waits on Consul's real readiness signal: a known leader.
func WaitForLeader(ctx context.Context, client *api.Client, timeout time.Duration) error {
	return poll.Until(ctx, "consul leader elected", poll.Quick.For(timeout), func(ctx context.Context) (bool, error) {
		leader, err := client.Status().LeaderWithQueryOptions((&api.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return poll.Not("%v", err)
		}
		if leader == "" {
			return poll.Not("no leader yet")
		}
		return true, nil
	})
}
