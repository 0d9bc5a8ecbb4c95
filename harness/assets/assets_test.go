package assets

import (
	"os"
	"path/filepath"
	"testing"
)

// The embedded assets come out as a checkout would have them, scripts
// executable, and a second call reuses the copy.
func TestMaterialize(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "assets")
	dir, err := Materialize(parent)
	if err != nil {
		t.Fatal(err)
	}
	if !IsCheckout(dir) {
		t.Fatalf("%s does not look like a checkout", dir)
	}
	for _, f := range []string{"images/project/build.sh", "images/kind-node/files/usr/local/bin/kubegrace-cni", "hack/build-consul.sh", "fixtures/entrypoints/bash-noexec.sh"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode()&0o100 == 0 {
			t.Errorf("%s: %v, mode %v: want an executable", f, err, st.Mode())
		}
	}
	for _, f := range []string{"go.mod", "go.sum", "fixtures/app/main.go", "harness/consul/VERSION", "kind-config.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	specs, _ := filepath.Glob(filepath.Join(dir, "scenarios", "specs", "*.yaml"))
	if len(specs) < 10 {
		t.Errorf("built-in specs: %v", specs)
	}
	again, err := Materialize(parent)
	if err != nil || again != dir {
		t.Errorf("second call: %s %v, want %s", again, err, dir)
	}
}

func TestRootRefusesANonCheckout(t *testing.T) {
	if _, err := Root(t.TempDir()); err == nil {
		t.Error("--repo of an empty folder must be refused")
	}
}
