package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

func TestLoadConfigRepoDefault(t *testing.T) {
	c, _, err := LoadConfig(filepath.Join("..", "..", "kind-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Nodes) != 1 || c.Networking.PodSubnet == "" {
		t.Errorf("repo kind-config: %+v", c)
	}
	if !strings.Contains(strings.Join(c.KubeadmConfigPatches, ""), `node-cidr-mask-size: "27"`) {
		t.Error("repo kind-config should give each node a /27 pod CIDR")
	}
}

func TestLoadConfigRejectsBadInput(t *testing.T) {
	cases := map[string]string{
		"missing.yaml":       "no such file",
		"unknown-field.yaml": `unknown field "replicas"`,
		"not-yaml.yaml":      "does not parse",
		"wrong-kind.yaml":    "want kind: Cluster",
		"bad-role.yaml":      `nodes[0].role "master"`,
		"workers-only.yaml":  "no control-plane",
		"node-image.yaml":    "nodes[0].image is set",
	}
	for file, want := range cases {
		t.Run(file, func(t *testing.T) {
			_, _, err := LoadConfig(filepath.Join("testdata", file))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error %v should contain %q", err, want)
			}
		})
	}
}

func TestCheckDockerWithoutDocker(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	err := CheckDocker(context.Background())
	if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "make cluster") {
		t.Errorf("want ErrNoDocker saying what to do, got %v", err)
	}
	// Ensure refuses before touching kind.
	_, err = Ensure(context.Background(), Options{ConfigPath: filepath.Join("..", "..", "kind-config.yaml"), ReadyTimeout: time.Second})
	if !errors.Is(err, ErrNoDocker) {
		t.Errorf("Ensure without docker: %v", err)
	}
}

func TestWithNodes(t *testing.T) {
	c, _, err := LoadConfig(filepath.Join("..", "..", "kind-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 4} {
		got := WithNodes(c, n)
		if len(got.Nodes) != n || got.Nodes[0].Role != "control-plane" {
			t.Errorf("WithNodes(%d) = %+v", n, got.Nodes)
		}
		for _, node := range got.Nodes[1:] {
			if node.Role != "worker" {
				t.Errorf("WithNodes(%d): node %+v, want a worker", n, node)
			}
		}
		if got.Networking.PodSubnet != c.Networking.PodSubnet || len(got.KubeadmConfigPatches) != len(c.KubeadmConfigPatches) {
			t.Errorf("WithNodes(%d) lost the config's networking or patches", n)
		}
	}
	if len(c.Nodes) != 1 {
		t.Errorf("WithNodes changed its input: %d nodes", len(c.Nodes))
	}
}

func TestNodesFor(t *testing.T) {
	for mem, want := range map[int64]int{0: 1, 4 << 30: 1, 8 << 30: 2, 10 << 30: 3, 24 << 30: MaxDefaultNodes} {
		if got := nodesFor(mem); got != want {
			t.Errorf("nodesFor(%d GiB) = %d, want %d", mem>>30, got, want)
		}
	}
	if n := DefaultNodes(); n < 1 || n > MaxDefaultNodes {
		t.Errorf("DefaultNodes() = %d", n)
	}
}

// A stale not-ready taint on a Ready node does not keep it from counting.
func TestNotReadyTaintOnAReadyNode(t *testing.T) {
	ready := corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionTrue}
	notReady := corev1.Taint{Key: corev1.TaintNodeNotReady, Effect: corev1.TaintEffectNoSchedule}
	cp := corev1.Taint{Key: controlPlaneTaint, Effect: corev1.TaintEffectNoSchedule}
	for _, tc := range []struct {
		taints []corev1.Taint
		ready  bool
		want   bool
	}{
		{nil, true, true},
		{[]corev1.Taint{notReady}, true, true},
		{[]corev1.Taint{notReady}, false, false},
		{[]corev1.Taint{cp}, true, false},
	} {
		n := corev1.Node{Spec: corev1.NodeSpec{Taints: tc.taints}}
		if tc.ready {
			n.Status.Conditions = []corev1.NodeCondition{ready}
		}
		if got := schedulable(n); got != tc.want {
			t.Errorf("taints %v ready %v: schedulable %v, want %v", tc.taints, tc.ready, got, tc.want)
		}
	}
}
