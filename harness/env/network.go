package env

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kubegrace/kubegrace/harness/cni"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
)

// readNetworks reads, through node access, the pod network each node's
// runtime uses (cni.Read: the first config in /etc/cni/net.d), into
// e.Networks, and tells the preflight. Node access pods then get each
// host-local state folder mounted (mount). A node that cannot be read is
// said and left out: its IP reuse falls back to filling the pool.
func (e *Env) readNetworks(ctx context.Context, log io.Writer, mount func(ctx context.Context, dirs []string) error) error {
	if e.NodeExec == nil {
		return nil
	}
	var nodes corev1.NodeList
	if err := e.Cluster.Client.Resources().List(ctx, &nodes); err != nil {
		return fmt.Errorf("list nodes: %w", err)
	}
	e.Networks = map[string]cni.Network{}
	unread := map[string]string{}
	var dirs []string
	for _, n := range nodes.Items {
		if !slices.Contains(e.Nodes, n.Name) {
			continue
		}
		net, err := cni.Read(ctx, cni.Exec(e.NodeExec), n.Name, n.Spec.PodCIDR)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			unread[n.Name] = err.Error()
			fmt.Fprintf(log, "pod network of node %s not read: %v\n", n.Name, err)
			continue
		}
		e.Networks[n.Name] = net
		if net.StateDir != "" && !slices.Contains(dirs, net.StateDir) {
			dirs = append(dirs, net.StateDir)
		}
	}
	e.Preflight = e.Preflight.WithNetworks(e.Networks, unread)
	for _, line := range e.Preflight.Networks {
		fmt.Fprintf(log, "pod network: %s\n", line)
	}
	if mount != nil && len(dirs) > 0 {
		return mount(ctx, dirs)
	}
	return nil
}

// mountStateFor gives the node access pods the host-local state folders
// dirs (where none of nodeaccess.Mounts holds them), restarting them.
func mountStateFor(pods *nodeaccess.Pods, log io.Writer) func(ctx context.Context, dirs []string) error {
	return func(ctx context.Context, dirs []string) error {
		var extra []string
		for _, d := range dirs {
			if !slices.ContainsFunc(nodeaccess.Mounts, func(m string) bool { return d == m || strings.HasPrefix(d, m+"/") }) {
				extra = append(extra, d)
			}
		}
		if len(extra) == 0 {
			return nil
		}
		fmt.Fprintf(log, "node access: mounting host-local's state %s into its pods\n", strings.Join(extra, ", "))
		return pods.Mount(ctx, extra)
	}
}
