package env

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	kindcmd "sigs.k8s.io/kind/pkg/cmd"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/images"
)

// Prepared is a cluster with the project's images in it: what
// `kubegrace cluster create` and the kind tier need, and the first half of
// Start.
type Prepared struct {
	Cluster *cluster.Cluster
	Images  images.Project
	// Registry is where images were pushed for the cluster to pull ("":
	// loaded into kind nodes).
	Registry string
}

// PrepareCluster creates or reuses the kind cluster, or connects to the
// one o.Kubeconfig names, and builds and provides the project's images
// (unless o.SkipImages).
func PrepareCluster(ctx context.Context, o Options) (*Prepared, error) {
	o = o.withDefaults()
	start := time.Now()
	var c *cluster.Cluster
	var err error
	if o.Kubeconfig != "" {
		c, err = cluster.Connect(ctx, o.Kubeconfig, o.Context, kindcmd.NewLogger())
		if err != nil {
			return nil, err
		}
		kind := "not a kind cluster of this host"
		if c.Kind {
			kind = "kind nodes in this host's Docker"
		}
		fmt.Fprintf(o.Log, "using cluster %s from %s as it is (%s): nothing is created there but the scenarios' namespaces\n", c.Name, o.Kubeconfig, kind)
	} else {
		c, err = cluster.Ensure(ctx, cluster.Options{
			Name: o.Name, ConfigPath: o.ConfigPath, NodeImage: o.NodeImage, Nodes: o.Nodes,
			Keep: o.Keep, LogDir: o.LogDir, ReadyTimeout: o.ReadyTimeout, Logger: kindcmd.NewLogger(),
			BuildOfflineImage: func(ctx context.Context) (string, error) {
				fmt.Fprintln(o.Log, "offline kind node image: checking it is built (cold: the longest step; README has the measured time)")
				return images.OfflineNode(ctx, o.Repo, o.Log)
			},
		})
		if err != nil {
			return nil, err
		}
		verb := "reused"
		if c.Created {
			verb = "created"
		}
		fmt.Fprintf(o.Log, "cluster %s %s in %.1fs (node image %s)\n", c.Name, verb, time.Since(start).Seconds(), c.NodeImage.Image)
	}
	p := &Prepared{Cluster: c, Registry: o.ImageRegistry}
	if o.SkipImages {
		return p, nil
	}
	return p, p.provideProject(ctx, o.Repo, o.Log)
}

func (o Options) withDefaults() Options {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ConfigPath == "" {
		o.ConfigPath = filepath.Join(o.Repo, "kind-config.yaml")
	}
	return o
}

// Provide gets images into the cluster: pushed to the registry when one is
// given (the references returned are the pushed ones), else loaded into
// kind nodes of this host.
func (p *Prepared) Provide(ctx context.Context, log io.Writer, refs ...string) ([]string, error) {
	if p.Registry != "" {
		pushed, err := images.Push(ctx, p.Registry, refs, log)
		if err != nil {
			return nil, err
		}
		out := make([]string, len(refs))
		for i, r := range refs {
			out[i] = pushed[r]
		}
		return out, nil
	}
	if !p.Cluster.Kind {
		return nil, fmt.Errorf("cluster %s: its nodes are not kind nodes of this host, so images cannot be loaded into them: give --image-registry, a registry this host can push to and the cluster can pull from", p.Cluster.Name)
	}
	return refs, p.Cluster.LoadImages(ctx, refs...)
}

// provideProject builds the project's images and gets them into the
// cluster. After the cluster, not beside it: on 2 cores the Consul build
// beside the node image's Go builds was measured slower than one after
// the other.
func (p *Prepared) provideProject(ctx context.Context, repo string, log io.Writer) error {
	built, err := images.BuildProject(ctx, repo, log)
	if err != nil {
		return err
	}
	refs, err := p.Provide(ctx, log, built.Consul, built.Fixture)
	if err != nil {
		return err
	}
	p.Images = images.Project{Consul: refs[0], Fixture: refs[1]}
	return nil
}

// provideOwnImages gets the images of the user's own that specs name into
// the cluster, from the local Docker engine (the built-in specs' runtimes
// are built here first), and returns the references the cluster knows
// them by: the pushed ones with a registry, else the same. A missing image
// is an error naming the spec's field and how to get it there.
func (p *Prepared) provideOwnImages(ctx context.Context, specs []scenario.Spec, repo string, log io.Writer) (map[string]string, error) {
	var refs []string
	for _, s := range specs {
		for i, svc := range s.Services {
			if svc.Image == "" || slices.Contains(refs, svc.Image) {
				continue
			}
			if _, err := images.BuildRuntime(ctx, repo, svc.Image, log); err != nil {
				return nil, fmt.Errorf("scenario %s: services[%d].image %s: %w", s.Name, i, svc.Image, err)
			}
			if err := cluster.LocalImage(ctx, svc.Image); err != nil {
				return nil, fmt.Errorf("scenario %s: services[%d].image: %w", s.Name, i, err)
			}
			refs = append(refs, svc.Image)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	got, err := p.Provide(ctx, log, refs...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(refs))
	for i, r := range refs {
		out[r] = got[i]
	}
	return out, nil
}

// WithImages returns specs whose services' own images are the references
// the cluster knows (as Start provided them); the specs given are left as
// they were, and run.json shows what ran.
func WithImages(specs []scenario.Spec, refs map[string]string) []scenario.Spec {
	out := make([]scenario.Spec, len(specs))
	for i, s := range specs {
		s.Services = slices.Clone(s.Services)
		for j := range s.Services {
			if r, ok := refs[s.Services[j].Image]; ok {
				s.Services[j].Image = r
			}
		}
		out[i] = s
	}
	return out
}
