package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
