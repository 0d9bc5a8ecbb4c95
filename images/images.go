// Package images builds the images a run needs by running the build scripts
// beside this file; each script tags its image by a hash of its inputs and
// does nothing when it exists. Progress goes to the given writer; the
// scripts print the resulting references on stdout.
package images

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/kubegrace/kubegrace/harness/docker"
)

// Project is the project's own images.
type Project struct {
	Consul  string
	Fixture string
}

// run executes script under root with bash and args, streaming stderr to
// progress, and returns its stdout.
func run(ctx context.Context, root, script string, progress io.Writer, args ...string) (string, error) {
	var stdout bytes.Buffer
	var tail tailWriter
	cmd := exec.CommandContext(ctx, "bash", append([]string{filepath.Join(root, script)}, args...)...)
	cmd.Dir = root
	cmd.Stdout = &stdout
	cmd.Stderr = io.MultiWriter(progress, &tail)
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w: %s", script, err, tail.String())
	}
	return stdout.String(), nil
}

// OfflineNode builds (or finds) the offline kind node image.
func OfflineNode(ctx context.Context, root string, progress io.Writer) (string, error) {
	out, err := run(ctx, root, "images/kind-node/build.sh", progress)
	if err != nil {
		return "", err
	}
	return builtRef(ctx, "images/kind-node/build.sh", out, progress)
}

// BuildProject builds (or finds) the Consul and fixture images.
func BuildProject(ctx context.Context, root string, progress io.Writer) (Project, error) {
	out, err := run(ctx, root, "images/project/build.sh", progress)
	if err != nil {
		return Project{}, err
	}
	var p Project
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "CONSUL":
			p.Consul = v
		case "FIXTURE":
			p.Fixture = v
		}
	}
	if p.Consul == "" || p.Fixture == "" {
		return p, fmt.Errorf("images/project/build.sh did not print both references: %q", out)
	}
	pruneSuperseded(ctx, p.Consul, progress)
	pruneSuperseded(ctx, p.Fixture, progress)
	return p, nil
}

// builtRef is the image reference a build script printed last, its
// repository's superseded tags removed.
func builtRef(ctx context.Context, script, out string, progress io.Writer) (string, error) {
	lines := strings.Fields(out)
	if len(lines) == 0 {
		return "", fmt.Errorf("%s printed no image reference", script)
	}
	ref := lines[len(lines)-1]
	pruneSuperseded(ctx, ref, progress)
	return ref, nil
}

// tailWriter keeps the last lines written, for error messages.
type tailWriter struct{ lines []string }

func (t *tailWriter) Write(p []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		t.lines = append(t.lines, l)
		if len(t.lines) > 5 {
			t.lines = t.lines[1:]
		}
	}
	return len(p), nil
}

func (t *tailWriter) String() string { return strings.Join(t.lines, " | ") }

// IDs maps each local image reference to its image ID (the content digest
// of its config), for reports: a rerun can check it has the same bits.
func IDs(ctx context.Context, refs ...string) map[string]string {
	ids := map[string]string{}
	for _, ref := range refs {
		id, err := docker.ImageID(ctx, ref)
		if err != nil {
			id = "unknown: " + err.Error()
		}
		ids[ref] = id
	}
	return ids
}

// DebianBase builds (or finds) the project's Debian base image, the base
// of every image the project makes, and returns its reference.
func DebianBase(ctx context.Context, root string, progress io.Writer) (string, error) {
	pkgs, err := os.ReadFile(filepath.Join(root, "images", "debian", "base-packages.txt"))
	if err != nil {
		return "", fmt.Errorf("read base packages: %w", err)
	}
	args := []string{"debian-base"}
	for _, line := range strings.Split(string(pkgs), "\n") {
		if line, _, _ = strings.Cut(line, "#"); strings.TrimSpace(line) != "" {
			args = append(args, strings.Fields(line)...)
		}
	}
	out, err := run(ctx, root, "images/debian/rootfs.sh", progress, args...)
	if err != nil {
		return "", err
	}
	return builtRef(ctx, "images/debian/rootfs.sh", out, progress)
}

// Runtimes are the images of real runtimes the built-in specs use, by the
// reference the specs name, and the recipe that builds each (offline, from
// Debian packages). A spec names the stable reference; the recipe's own
// tag is a hash of its inputs.
var Runtimes = map[string]string{
	"kubegrace/jvm-app:latest":        "images/runtimes/jvm/build.sh",
	"kubegrace/npm-app:latest":        "images/runtimes/npm/build.sh",
	"kubegrace/nginx-app:latest":      "images/runtimes/nginx/build.sh",
	"kubegrace/nginx-app-quit:latest": "images/runtimes/nginx/build-quit.sh",
}

// BuildRuntime builds (or finds) the built-in runtime image ref names and
// tags it as ref. It is false, with no error, for a ref that is not a
// built-in runtime.
func BuildRuntime(ctx context.Context, root, ref string, progress io.Writer) (bool, error) {
	script, ok := Runtimes[ref]
	if !ok {
		return false, nil
	}
	out, err := run(ctx, root, script, progress)
	if err != nil {
		return true, err
	}
	built, err := builtRef(ctx, script, out, progress)
	if err != nil {
		return true, err
	}
	if out, err := exec.CommandContext(ctx, "docker", "tag", built, ref).CombinedOutput(); err != nil {
		return true, fmt.Errorf("docker tag %s %s: %w: %s", built, ref, err, strings.TrimSpace(string(out)))
	}
	return true, nil
}

// KernelAgent builds (or finds) the kernel agent image: the Debian base and
// a kubegrace binary for linux, built from the checkout at root when there
// is one, else this very binary (an installed kubegrace).
func KernelAgent(ctx context.Context, root string, progress io.Writer) (string, error) {
	bin := ""
	if _, err := os.Stat(filepath.Join(root, "cmd", "kubegrace", "main.go")); err == nil {
		dir, err := os.MkdirTemp("", "kubegrace-agent-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "kubegrace")
		fmt.Fprintln(progress, "kernel agent: building kubegrace for linux from", root)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/kubegrace")
		cmd.Dir, cmd.Stderr = root, progress
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("kernel agent: go build ./cmd/kubegrace: %w", err)
		}
	} else if exe, err := os.Executable(); err == nil && runtime.GOOS == "linux" && filepath.Base(exe) == "kubegrace" {
		bin = exe
	} else {
		return "", fmt.Errorf("kernel agent: no kubegrace binary for linux to put in its image (run an installed kubegrace on linux, or from a checkout)")
	}
	out, err := run(ctx, root, "images/agent/build.sh", progress, bin)
	if err != nil {
		return "", err
	}
	ref, ok := strings.CutPrefix(strings.TrimSpace(out), "AGENT=")
	if !ok || ref == "" {
		return "", fmt.Errorf("images/agent/build.sh printed no image reference: %q", out)
	}
	pruneSuperseded(ctx, ref, progress)
	return ref, nil
}
