package cluster

import (
	"fmt"
	"os"

	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	"sigs.k8s.io/yaml"
)

// LoadConfig reads a kind cluster config strictly: an unknown field or a
// wrong type is an error naming the file, before kind is asked to do
// anything.
func LoadConfig(path string) (*v1alpha4.Cluster, []byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read kind config: %w", err)
	}
	var c v1alpha4.Cluster
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		return nil, nil, fmt.Errorf("kind config %s does not parse: %w", path, err)
	}
	if c.Kind != "Cluster" || c.APIVersion != "kind.x-k8s.io/v1alpha4" {
		return nil, nil, fmt.Errorf("kind config %s: want kind: Cluster, apiVersion: kind.x-k8s.io/v1alpha4; got kind %q, apiVersion %q", path, c.Kind, c.APIVersion)
	}
	if len(c.Nodes) == 0 {
		return nil, nil, fmt.Errorf("kind config %s: no nodes", path)
	}
	controlPlanes := 0
	for i, n := range c.Nodes {
		switch n.Role {
		case v1alpha4.ControlPlaneRole:
			controlPlanes++
		case v1alpha4.WorkerRole:
		default:
			return nil, nil, fmt.Errorf("kind config %s: nodes[%d].role %q: want control-plane or worker", path, i, n.Role)
		}
		if n.Image != "" {
			return nil, nil, fmt.Errorf("kind config %s: nodes[%d].image is set; choose the node image with the harness's node-image option so every node uses the same one", path, i)
		}
	}
	if controlPlanes == 0 {
		return nil, nil, fmt.Errorf("kind config %s: no control-plane node", path)
	}
	return &c, raw, nil
}

// WithNodes is cfg with n nodes: its first control plane and n-1 workers
// (copies of its first worker, if it has one, else plain workers).
func WithNodes(cfg *v1alpha4.Cluster, n int) *v1alpha4.Cluster {
	out := *cfg
	out.Nodes = nil
	worker := v1alpha4.Node{Role: v1alpha4.WorkerRole}
	for _, node := range cfg.Nodes {
		if node.Role == v1alpha4.WorkerRole {
			worker = node
			break
		}
	}
	for _, node := range cfg.Nodes {
		if node.Role == v1alpha4.ControlPlaneRole {
			out.Nodes = append(out.Nodes, node)
			break
		}
	}
	for len(out.Nodes) < max(n, 1) {
		out.Nodes = append(out.Nodes, worker)
	}
	return &out
}
