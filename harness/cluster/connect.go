package cluster

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/e2e-framework/klient"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"
	"sigs.k8s.io/kind/pkg/log"
)

// Connect returns a cluster the harness did not create, from a kubeconfig
// and context ("" for its current one). It creates, recreates and deletes
// nothing. When the nodes are kind nodes running in this host's Docker
// (their providerID says kind://docker/<cluster>/<node> and the containers
// are here), the cluster gets kind's node handles: images are loaded into
// the nodes, and faults can run commands on them (Cluster.Kind).
func Connect(ctx context.Context, kubeconfig, context string, logger log.Logger) (*Cluster, error) {
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
	if context == "" {
		context = raw.CurrentContext
	}
	if _, ok := raw.Contexts[context]; !ok {
		var have []string
		for name := range raw.Contexts {
			have = append(have, name)
		}
		slices.Sort(have)
		return nil, fmt.Errorf("--context %q is not in %s (it has: %s)", context, kubeconfig, strings.Join(have, ", "))
	}
	client, err := klient.NewWithKubeConfigFile(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", kubeconfig, err)
	}
	if context != raw.CurrentContext {
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, context, &clientcmd.ConfigOverrides{}, nil).ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("context %q of %s: %w", context, kubeconfig, err)
		}
		if client, err = klient.New(cfg); err != nil {
			return nil, fmt.Errorf("client for context %q: %w", context, err)
		}
	}
	c := &Cluster{Name: context, KubeconfigPath: kubeconfig, Client: client, logger: logger, foreign: true,
		NodeImage: NodeImageChoice{Source: "existing", Why: "a cluster the harness did not create"}}
	var list corev1.NodeList
	if err := client.Resources().List(ctx, &list); err != nil {
		return nil, fmt.Errorf("cluster of context %q does not answer: list nodes: %w", context, err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("cluster of context %q has no nodes", context)
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
