package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/log"

	"github.com/kubegrace/kubegrace/harness/poll"
)

// Connect returns a cluster the harness did not create, from a kubeconfig
// and context ("" for its current one). It creates, recreates and deletes
// nothing. When the nodes are kind nodes running in this host's Docker
// (their providerID says kind://docker/<cluster>/<node> and the containers
// are here), the cluster gets kind's node handles: images are loaded into
// the nodes, and faults can run commands on them (Cluster.Kind).
func Connect(ctx context.Context, kubeconfig, kubeContext string, logger log.Logger) (*Cluster, error) {
	if logger == nil {
		logger = log.NoopLogger{}
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	}
	raw, err := clientcmd.LoadFromFile(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s does not load: %w", kubeconfig, err)
	}
	if kubeContext == "" {
		kubeContext = raw.CurrentContext
	}
	if _, ok := raw.Contexts[kubeContext]; !ok {
		var have []string
		for name := range raw.Contexts {
			have = append(have, name)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("--context %q is not in %s (it has: %s)", kubeContext, kubeconfig, strings.Join(have, ", "))
	}
	client, err := klient.NewWithKubeConfigFile(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	if kubeContext != raw.CurrentContext {
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, kubeContext, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q of %s: %w", kubeContext, kubeconfig, err)
		}
		if client, err = klient.New(cfg); err != nil {
			return nil, fmt.Errorf("client for context %q: %w", kubeContext, err)
		}
	}
	c := &Cluster{Name: kubeContext, KubeconfigPath: kubeconfig, Client: client, logger: logger, foreign: true,
		NodeImage: NodeImageChoice{Source: "existing", Why: "a cluster the harness did not create"}}
	var list corev1.NodeList
	if err := client.Resources().List(ctx, &list); err != nil {
		return nil, fmt.Errorf("cluster of context %q does not answer: list nodes: %w", kubeContext, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("cluster of context %q has no nodes", kubeContext)
	}
	// A cluster just made (or a node just restarted) may not be Ready yet.
	if err := poll.Until(ctx, fmt.Sprintf("nodes of context %q Ready", kubeContext), poll.Slow.For(2*time.Minute), nodesReady(client.Resources(), &list)); err != nil {
		return nil, err
	}
	if name, ok := kindName(list.Items); ok {
		provider := kindcluster.NewProvider(kindcluster.ProviderWithDocker(), kindcluster.ProviderWithLogger(logger))
		if ns, err := provider.ListNodes(name); err == nil && len(ns) == len(list.Items) {
			c.provider, c.kindName, c.Kind = provider, name, true
			c.NodeImage = c.runningImage(ctx)
			c.NodeImage.Source, c.NodeImage.Why = "existing", "a kind cluster the harness did not create"
		}
	}
	return c, nil
}

// kindName is the kind cluster name all nodes' providerIDs agree on
// (kind://docker/<cluster>/<node>).
func kindName(nodes []corev1.Node) (string, bool) {
	name := ""
	for _, n := range nodes {
		rest, ok := strings.CutPrefix(n.Spec.ProviderID, "kind://docker/")
		if !ok {
			return "", false
		}
		cluster, _, ok := strings.Cut(rest, "/")
		if !ok || name != "" && cluster != name {
			return "", false
		}
		name = cluster
	}
	return name, name != ""
}
