package images

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// pruneSuperseded removes the other tags of ref's repository: the images
// kubegrace tags by a hash of their inputs pile up with every change of
// those inputs (the node image is 1.15 GB). docker refuses to remove an
// image a container still uses (a cluster on an older node image), so
// such a tag stays until that cluster is gone; "latest" always stays.
// Failures are not errors: a tag left is only disk.
func pruneSuperseded(ctx context.Context, ref string, progress io.Writer) {
	repo, keep, ok := splitRef(ref)
	if !ok {
		return
	}
	out, err := exec.CommandContext(ctx, "docker", "images", repo, "--format", "{{.Tag}}").Output()
	if err != nil {
		return
	}
	removed := 0
	for _, tag := range strings.Fields(string(out)) {
		if tag == keep || tag == "latest" || tag == "<none>" {
			continue
		}
		if exec.CommandContext(ctx, "docker", "rmi", repo+":"+tag).Run() == nil {
			removed++
		}
	}
	if removed > 0 {
		fmt.Fprintf(progress, "removed %d superseded image(s) of %s (kept %s)\n", removed, repo, keep)
	}
}

// splitRef splits repo:tag; a digest or a ref without a tag is not split.
func splitRef(ref string) (repo, tag string, ok bool) {
	if strings.Contains(ref, "@") {
		return "", "", false
	}
	i := strings.LastIndexByte(ref, ':')
	if i < 0 || strings.Contains(ref[i:], "/") {
		return "", "", false
	}
	return ref[:i], ref[i+1:], true
}
