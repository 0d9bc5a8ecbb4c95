package cluster

import (
	"bytes"
	"context"
	"fmt"
	"strings"
)

// MakeCold makes the kind nodes as a fresh machine's would be for refs:
// the images removed from every node's containerd (so the next run loads
// them again, and their first start reads every layer from disk), then
// the kernel's page cache dropped (the nodes share this host's kernel).
// It is how a test checks that outcomes on a cold node are those of a
// warm one, without a fresh machine.
func (c *Cluster) MakeCold(ctx context.Context, refs ...string) error {
	ns, err := c.Nodes()
	if err != nil {
		return err
	}
	for _, n := range ns {
		for _, ref := range refs {
			// crictl rmi fails for an image the node does not hold: that
			// node is cold for it already.
			if out, err := c.Exec(ctx, n.String(), "crictl", "rmi", ref); err != nil && !strings.Contains(out, "not found") && !strings.Contains(out, "no such image") {
				return err
			}
		}
	}
	if len(ns) == 0 {
		return nil
	}
	_, err = c.Exec(ctx, ns[0].String(), "sh", "-c", "sync && echo 3 > /proc/sys/vm/drop_caches")
	return err
}

// Exec runs argv in the kind node container named node and returns its
// output (stdout and stderr); the error keeps the command and the output.
func (c *Cluster) Exec(ctx context.Context, node string, argv ...string) (string, error) {
	ns, err := c.Nodes()
	if err != nil {
		return "", err
	}
	for _, n := range ns {
		if n.String() != node {
			continue
		}
		var out bytes.Buffer
		cmd := n.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.SetStdout(&out)
		cmd.SetStderr(&out)
		if err := cmd.Run(); err != nil {
			return out.String(), fmt.Errorf("%s on node %s: %w: %s", strings.Join(argv, " "), node, err, strings.TrimSpace(out.String()))
		}
		return out.String(), nil
	}
	return "", fmt.Errorf("no node %s in cluster %s", node, c.Name)
}
