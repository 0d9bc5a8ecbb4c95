//go:build kind

// Package cluster is the kind tier's substrate check: a real kind cluster
// from the repo's kind-config.yaml, the project's images loaded, a fixture
// pod running. Build tag `kind` keeps it out of `make test`; `make
// test-kind` runs it.
package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/images"
)

func TestClusterTier(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kind tier: cluster substrate")
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// A cluster of its own, so the test never touches the user's.
const name = "kubegrace-it"

var (
	prepared *env.Prepared
	c        *cluster.Cluster
	img      images.Project
)

var _ = BeforeSuite(func(ctx SpecContext) {
	root := repoRoot()
	_ = cluster.Delete(name, nil) // a leftover from an interrupted run
	var err error
	prepared, err = env.PrepareCluster(ctx, env.Options{
		Repo:         root,
		Name:         name,
		NodeImage:    os.Getenv("KUBEGRACE_NODE_IMAGE"),
		Nodes:        2, // pod traffic across nodes, scenarios side by side
		ReadyTimeout: 4 * time.Minute,
		LogDir:       filepath.Join(root, "reports", "kind-tier-logs"),
		Log:          GinkgoWriter,
	})
	if prepared != nil {
		DeferCleanup(func() { Expect(prepared.Cluster.Delete()).To(Succeed()) })
	}
	Expect(err).NotTo(HaveOccurred())
	c, img = prepared.Cluster, prepared.Images
	// The registry is built here, on the set-up's deadline: built inside
	// the existing-cluster specs, a cold build (about 2 min on a fresh
	// machine) ran out their first spec's time before its cluster existed.
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "build-registry.sh")).CombinedOutput()
	Expect(err).NotTo(HaveOccurred(), "hack/build-registry.sh: %s", out)
}, NodeTimeout(80*time.Minute))

var _ = Describe("kind substrate", Label("kind", "cluster"), Ordered, func() {

	It("runs Kubernetes v1.34", func() {
		dc, err := discovery.NewDiscoveryClientForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		v, err := dc.ServerVersion()
		Expect(err).NotTo(HaveOccurred())
		Expect(v.GitVersion).To(HavePrefix("v1.34."))
		GinkgoWriter.Printf("server %s, node image %s (%s)\n", v.GitVersion, c.NodeImage.Image, c.NodeImage.Source)
	})

	It("runs a fixture pod whose address is in its node's pod CIDR", func(ctx SpecContext) {
		r := c.Client.Resources()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "fixture-smoke", Namespace: "default"},
			Spec: corev1.PodSpec{
				TerminationGracePeriodSeconds: new(int64),
				Containers: []corev1.Container{{
					Name:            "app",
					Image:           img.Fixture,
					ImagePullPolicy: corev1.PullNever,
					// The fixture image holds every entrypoint variant.
					Command: []string{"bash", "-c", "tini --version && dumb-init --version && exec sleep 600"},
				}},
			},
		}
		Expect(r.Create(ctx, pod)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) { _ = r.Delete(ctx, pod) })
		Eventually(func(g Gomega) {
			g.Expect(r.Get(ctx, pod.Name, pod.Namespace, pod)).To(Succeed())
			g.Expect(pod.Status.Phase).To(Equal(corev1.PodRunning), "pod status: %+v", pod.Status.ContainerStatuses)
			g.Expect(pod.Status.PodIP).NotTo(BeEmpty())
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		var node corev1.Node
		Expect(r.Get(ctx, pod.Spec.NodeName, "", &node)).To(Succeed())
		_, cidr, err := net.ParseCIDR(node.Spec.PodCIDR)
		Expect(err).NotTo(HaveOccurred(), "node %s pod CIDR %q", node.Name, node.Spec.PodCIDR)
		ones, _ := cidr.Mask.Size()
		Expect(ones).To(Equal(27), "kind-config.yaml asks for /27 per node")
		Expect(cidr.Contains(net.ParseIP(pod.Status.PodIP))).To(BeTrue(), "pod IP %s in %s", pod.Status.PodIP, cidr)
		GinkgoWriter.Printf("pod %s on %s: %s in %s\n", pod.Name, node.Name, pod.Status.PodIP, cidr)
	}, SpecTimeout(3*time.Minute))

	// The offline node image has no kindnetd: kubegrace-cni routes each
	// node's pod CIDR via that node. A pod on one node must reach a pod on
	// the other, both ways (Consul checks and callers cross nodes).
	It("routes pod traffic between nodes, both ways", func(ctx SpecContext) {
		r := c.Client.Resources()
		nodes, err := c.SchedulableNodes(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(nodes).To(HaveLen(2))
		cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		pod := func(name, node string, command []string, env ...corev1.EnvVar) *corev1.Pod {
			return &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
				Spec: corev1.PodSpec{
					NodeName: node, RestartPolicy: corev1.RestartPolicyNever, TerminationGracePeriodSeconds: new(int64),
					Containers: []corev1.Container{{Name: "app", Image: img.Fixture, ImagePullPolicy: corev1.PullNever, Command: command, Env: env}},
				},
			}
		}
		for i, node := range nodes {
			other := nodes[1-i]
			// The fixture serves HTTP while it retries registering with a
			// Consul that is not there.
			server := pod(fmt.Sprintf("cross-server-%d", i), node, []string{"/opt/kubegrace/bin/fixture"},
				corev1.EnvVar{Name: "FIXTURE_SERVICE_NAME", Value: "cross"})
			Expect(r.Create(ctx, server)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { _ = r.Delete(ctx, server) })
			Eventually(func(g Gomega) {
				g.Expect(r.Get(ctx, server.Name, server.Namespace, server)).To(Succeed())
				g.Expect(server.Status.PodIP).NotTo(BeEmpty())
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(Succeed())
			get := `for i in $(seq 30); do if exec 3<>/dev/tcp/$SERVER/8080; then printf 'GET /actuator/health HTTP/1.0\r\n\r\n' >&3; head -1 <&3; exit 0; fi; sleep 1; done; exit 1`
			client := pod(fmt.Sprintf("cross-client-%d", i), other, []string{"bash", "-c", get},
				corev1.EnvVar{Name: "SERVER", Value: server.Status.PodIP})
			Expect(r.Create(ctx, client)).To(Succeed())
			DeferCleanup(func(ctx SpecContext) { _ = r.Delete(ctx, client) })
			Eventually(func(g Gomega) {
				g.Expect(r.Get(ctx, client.Name, client.Namespace, client)).To(Succeed())
				g.Expect(client.Status.Phase).To(Equal(corev1.PodSucceeded), "client on %s to %s on %s: %+v", other, server.Status.PodIP, node, client.Status.ContainerStatuses)
			}).WithContext(ctx).WithTimeout(time.Minute).WithPolling(time.Second).Should(Succeed())
			out, err := cs.CoreV1().Pods("default").GetLogs(client.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(string(out)).To(HavePrefix("HTTP/1."), "answer from %s", node)
			GinkgoWriter.Printf("pod on %s reached pod %s on %s: %s", other, server.Status.PodIP, node, out)
		}
	}, SpecTimeout(4*time.Minute))

	It("reuses the healthy cluster instead of creating another", func(ctx SpecContext) {
		again, err := cluster.Ensure(ctx, cluster.Options{
			Name:       name,
			ConfigPath: filepath.Join(repoRoot(), "kind-config.yaml"),
			NodeImage:  c.NodeImage.Image,
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(again.Created).To(BeFalse())
	}, SpecTimeout(2*time.Minute))

	It("names an unknown node image in its error", func(ctx SpecContext) {
		_, err := cluster.Ensure(ctx, cluster.Options{
			Name:        "kubegrace-never",
			ConfigPath:  filepath.Join(repoRoot(), "kind-config.yaml"),
			NodeImage:   "kubegrace/no-such-node:v0",
			PullTimeout: 20 * time.Second,
		})
		Expect(err).To(MatchError(ContainSubstring(`node image "kubegrace/no-such-node:v0"`)))
		names, _ := kindClusters()
		Expect(names).NotTo(ContainElement("kubegrace-never"))
	}, SpecTimeout(time.Minute))
})

// kindClusters lists kind clusters through the docker label kind sets.
func kindClusters() ([]string, error) {
	out, err := exec.Command("docker", "ps", "-a", "--filter", "label=io.x-k8s.kind.cluster", "--format", `{{.Label "io.x-k8s.kind.cluster"}}`).Output()
	return strings.Fields(string(out)), err
}
