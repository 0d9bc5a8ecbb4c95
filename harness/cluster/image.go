package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"sigs.k8s.io/kind/pkg/apis/config/defaults"

	"github.com/kubegrace/kubegrace/harness/docker"
)

// DefaultKindImage is the node image kind v0.30 uses (Kubernetes v1.34).
const DefaultKindImage = defaults.Image

// NodeImageSource says where the chosen node image came from.
type NodeImageSource string

const (
	SourceExplicit NodeImageSource = "explicit"
	SourceKindest  NodeImageSource = "kindest/node"
	SourceOffline  NodeImageSource = "offline-build"
)

// NodeImageChoice is the outcome of ChooseNodeImage.
type NodeImageChoice struct {
	Image  string
	Source NodeImageSource
	// Why explains the choice in one line (for progress output and reports).
	Why string
}

// ChooseNodeImage picks the node image: an explicit one wins (it must
// exist locally or be pullable); otherwise kind's default kindest/node when
// it is present or can be pulled; otherwise the offline image, built by
// buildOffline (which is a no-op when the image exists).
func ChooseNodeImage(ctx context.Context, explicit string, pullTimeout time.Duration, buildOffline func(context.Context) (string, error)) (NodeImageChoice, error) {
	if explicit != "" {
		if err := ensureImage(ctx, explicit, pullTimeout); err != nil {
			return NodeImageChoice{}, fmt.Errorf("node image %q: %w", explicit, err)
		}
		return NodeImageChoice{explicit, SourceExplicit, "given explicitly"}, nil
	}
	if err := ensureImage(ctx, DefaultKindImage, pullTimeout); err == nil {
		return NodeImageChoice{DefaultKindImage, SourceKindest, "kind's default node image is available"}, nil
	} else if ctx.Err() != nil {
		return NodeImageChoice{}, ctx.Err()
	} else {
		img, berr := buildOffline(ctx)
		if berr != nil {
			return NodeImageChoice{}, fmt.Errorf("kindest/node cannot be pulled (%v) and the offline node image build failed: %w", err, berr)
		}
		return NodeImageChoice{img, SourceOffline, "kindest/node cannot be pulled (" + firstLineOf(err) + "); built offline"}, nil
	}
}

// ensureImage succeeds if docker has ref or can pull it within timeout.
func ensureImage(ctx context.Context, ref string, timeout time.Duration) error {
	if _, err := docker.ImageID(ctx, ref); err == nil {
		return nil
	} else if !docker.IsNoSuchImage(err) {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(pctx, "docker", "pull", ref).CombinedOutput()
	if err != nil {
		if pctx.Err() != nil {
			return fmt.Errorf("not present locally, and docker pull did not finish within %s", timeout)
		}
		return fmt.Errorf("not present locally, and docker pull failed: %s", strings.TrimSpace(string(out)))
	}
	return nil
}

func firstLineOf(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// LocalImage fails, saying how to get it there, when the local Docker
// engine lacks ref: images of the user's own are loaded, never pulled.
func LocalImage(ctx context.Context, ref string) error {
	_, err := docker.ImageID(ctx, ref)
	if docker.IsNoSuchImage(err) {
		return fmt.Errorf("image %q is not in the local Docker engine (%w): build it (docker build -t %s .) or load it (docker load -i IMAGE.tar); kubegrace never pulls",
			ref, err, ref)
	}
	return err
}
