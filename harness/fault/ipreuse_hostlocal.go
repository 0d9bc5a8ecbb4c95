// IP reuse by steering host-local: its state on the node names the address
// it reserved last, and the next pod gets the one after it.

package fault

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// steerable sets MethodHostLocal where the node shows host-local state for
// the victim's address and the harness can run commands there.
func (r *reuse) steerable(ctx context.Context) error {
	if r.f.Method == MethodPoolFill {
		return nil
	}
	if r.env.NodeExec == nil {
		if r.f.Method == MethodHostLocal {
			return fmt.Errorf("method host-local needs access to the node's files, which this cluster does not give: %w", ErrCannotForce)
		}
		return nil
	}
	out, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `for d in /var/lib/cni/networks/*/; do [ -e "$d$1" ] && echo "$d"; done; true`, "_", r.ip)
	if err != nil {
		r.env.Logf("ip-reuse: cannot look for host-local state on %s (%v): filling the pool", r.node, err)
		return nil
	}
	dirs := strings.Fields(out)
	if len(dirs) == 1 {
		r.method, r.stateDir = MethodHostLocal, dirs[0]
	} else if r.f.Method == MethodHostLocal {
		return fmt.Errorf("method host-local: node %s shows no host-local state for %s under /var/lib/cni/networks/: %w", r.node, r.ip, ErrCannotForce)
	} else {
		r.env.Logf("ip-reuse: node %s shows no single host-local state for %s under /var/lib/cni/networks/ (found %q): filling the pool", r.node, r.ip, out)
	}
	return nil
}

// steer waits until host-local has released the victim's address (its
// address file is gone: the kubelet releases it when it tears the sandbox
// down), then records the address before it as the last one reserved:
// host-local hands out the next free address after it. For the first
// address of the range the one before is outside the range, and host-local
// then starts at the range's start: the victim's address again.
func (r *reuse) steer(ctx context.Context) error {
	addr := r.stateDir + r.ip
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
	prev, err := previousIP(r.ip)
	if err != nil {
		return err
	}
	if _, err := r.env.NodeExec(ctx, r.node, "sh", "-c", `printf %s "$1" > "$2"`, "_", prev, r.stateDir+"last_reserved_ip.0"); err != nil {
		return fmt.Errorf("steer host-local on %s: %w", r.node, err)
	}
	return nil
}

// previousIP is the IPv4 address before ip.
func previousIP(ip string) (string, error) {
	a := net.ParseIP(ip).To4()
	if a == nil {
		return "", fmt.Errorf("%q is not an IPv4 address (host-local steering is IPv4 only)", ip)
	}
	n := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	n--
	return net.IPv4(byte(n>>24), byte(n>>16), byte(n>>8), byte(n)).String(), nil
}
