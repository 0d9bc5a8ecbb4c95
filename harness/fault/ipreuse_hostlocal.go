// IP reuse by steering host-local: its state on the node names the address
// it reserved last in each range set, and the next pod gets the next free
// one after it (cni.Network.Steer says which to write, checked with
// host-local's own allocator).

package fault

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// steerable sets MethodHostLocal where the node's pod network (the CNI
// config its runtime uses, Env.Networks) is host-local, the harness can
// run commands there, the victim's address is held in the state folder
// that config names, and host-local's own allocator agrees it would hand
// the address out next once steered. Decided before the victim is
// deleted; otherwise the pool is filled, or, where the spec forces
// host-local, the scenario is inconclusive.
func (r *reuse) steerable(ctx context.Context) error {
	if r.f.Method == MethodPoolFill {
		return nil
	}
	err := r.planSteering(ctx)
	switch {
	case err == nil:
		r.method = MethodHostLocal
		return nil
	case r.f.Method == MethodHostLocal:
		return fmt.Errorf("method host-local: %w: %w", err, ErrCannotForce)
	case ctx.Err() != nil:
		return err
	}
	r.env.Logf("ip-reuse: %v: filling the pool", err)
	return nil
}

// planSteering reads the victim node's host-local state and plans the
// write that makes the victim's address the next one.
func (r *reuse) planSteering(ctx context.Context) error {
	if r.env.NodeExec == nil {
		return errors.New("no access to the node's files on this cluster")
	}
	n, ok := r.env.Networks[r.node]
	if !ok {
		return fmt.Errorf("the pod network of node %s was not read (no node access there)", r.node)
	}
	if n.IPAM != cni.IPAMHostLocal {
		return fmt.Errorf("node %s's pod network (%s) is not host-local", r.node, n)
	}
	held, err := r.held(ctx, n)
	if err != nil {
		return err
	}
	if !slices.Contains(held, r.ip) {
		return fmt.Errorf("node %s's host-local state %s does not hold %s (holds %d addresses)", r.node, n.StateDir, r.ip, len(held))
	}
	if _, err := n.Steer(r.ip, held); err != nil {
		return fmt.Errorf("node %s: %w", r.node, err)
	}
	if _, err := r.env.NodeExec(ctx, r.node, "sh", "-c", "command -v flock"); err != nil {
		return fmt.Errorf("node %s has no flock to hold host-local's lock with: %w", r.node, err)
	}
	r.network = n
	return nil
}

// held lists the addresses host-local's state folder on the node holds.
func (r *reuse) held(ctx context.Context, n cni.Network) ([]string, error) {
	out, err := r.env.NodeExec(ctx, r.node, "ls", "-1A", n.StateDir)
	if err != nil {
		return nil, fmt.Errorf("list host-local's state %s on %s: %w", n.StateDir, r.node, err)
	}
	return cni.Held(strings.Fields(out)), nil
}

// steer waits until host-local has released the victim's address (its
// address file is gone: the kubelet releases it when it tears the sandbox
// down), then, holding host-local's lock, writes the cursor that makes it
// the next address handed out (Steer, over the state as it is then).
func (r *reuse) steer(ctx context.Context) error {
	n := r.network
	addr := path.Join(n.StateDir, r.ip)
	err := poll.Until(ctx, "host-local released "+r.ip+" on "+r.node, poll.Quick, func(ctx context.Context) (bool, error) {
		out, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `[ -e "$1" ] && echo held || echo free`, "_", addr)
		if err != nil {
			return false, err
		}
		if strings.TrimSpace(out) != "free" {
			return poll.Not("%s still held", r.ip)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	held, err := r.held(ctx, n)
	if err != nil {
		return err
	}
	s, err := n.Steer(r.ip, held)
	if err != nil {
		return fmt.Errorf("node %s: %w", r.node, err)
	}
	if _, err := r.env.NodeExec(ctx, r.node, "flock", s.Lock, "sh", "-c", `printf %s "$1" > "$2"`, "_", s.Last, s.File); err != nil {
		return fmt.Errorf("steer host-local on %s: %w", r.node, err)
	}
	return nil
}
