package images

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// Push tags each local image as registry/<ref> and pushes it, for a
// cluster that pulls its images rather than having them loaded. It returns
// the pushed reference of each ref. registry is a host[:port][/path]
// prefix, e.g. localhost:5000 or registry.example.com/team.
func Push(ctx context.Context, registry string, refs []string, progress io.Writer) (map[string]string, error) {
	registry = strings.TrimSuffix(registry, "/")
	if registry == "" || strings.Contains(registry, "://") {
		return nil, fmt.Errorf("--image-registry %q: want host[:port][/path], e.g. localhost:5000", registry)
	}
	out := map[string]string{}
	for _, ref := range refs {
		if _, done := out[ref]; done {
			continue
		}
		target := registry + "/" + ref
		if b, err := exec.CommandContext(ctx, "docker", "tag", ref, target).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("docker tag %s %s: %w: %s", ref, target, err, strings.TrimSpace(string(b)))
		}
		fmt.Fprintf(progress, "pushing %s\n", target)
		if b, err := exec.CommandContext(ctx, "docker", "push", target).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("docker push %s: %w: %s (is the registry reachable from this host, and logged in to?)", target, err, lastLine(string(b)))
		}
		out[ref] = target
	}
	return out, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
