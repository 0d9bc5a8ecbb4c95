// Package consul holds what the harness needs of Consul: the pinned agent
// binary built by `make tools`, a local test agent for the fast tier, and
// helpers that read check and catalog state.
package consul

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubegrace/kubegrace/harness/cache"
)

// Version is the Consul agent the project builds and tests against. Its
// one pin is the file VERSION, which hack/build-consul.sh reads too.
var Version = strings.TrimSpace(versionFile)

//go:embed VERSION
var versionFile string

// ErrBinary says the pinned consul is missing or unusable; its message
// says how to get it.
var ErrBinary = errors.New("consul agent binary unusable")

// LocalBinary finds the pinned consul: $KUBEGRACE_CONSUL if set, else the
// build cache. It runs `consul version` with a deadline, so a broken binary
// is one clear error rather than a hang in a test agent's start-up.
func LocalBinary(ctx context.Context) (string, error) {
	path := os.Getenv("KUBEGRACE_CONSUL")
	if path == "" {
		path = filepath.Join(cache.Dir(), "consul", Version, "consul")
	}
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w: %s not found: run `make tools` to build consul %s from the Go module proxy (about 5 minutes once)", ErrBinary, path, Version)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "version", "-format=json")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%w: %s version: %w: %s (rebuild it: rm %s && make tools)", ErrBinary, path, err, strings.TrimSpace(errOut.String()), path)
	}
	var v struct{ Version string }
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || "v"+v.Version != Version {
		return "", fmt.Errorf("%w: %s reports version %q, want %s (rebuild it: rm %s && make tools)", ErrBinary, path, v.Version, Version, path)
	}
	return path, nil
}
