//go:build kind

package cluster

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/preflight"
	"github.com/kubegrace/kubegrace/harness/scenario"
)

// A cluster the harness did not create: made here with kind's own API and
// kind's default config (one node, a /24 pod CIDR), as a user would, then
// handed to the job by kubeconfig.
var _ = Describe("a cluster the harness did not create", Label("kind", "existing"), Ordered, func() {
	const extName = "kubegrace-ext"
	var kubeconfig string

	BeforeAll(func(ctx SpecContext) {
		p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
		_ = p.Delete(extName, "")
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(p.Create(extName, kindcluster.CreateWithNodeImage(c.NodeImage.Image), kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithWaitForReady(2*time.Minute), kindcluster.CreateWithDisplayUsage(false), kindcluster.CreateWithDisplaySalutation(false))).To(Succeed())
		DeferCleanup(func() { Expect(p.Delete(extName, kubeconfig)).To(Succeed()) })
	}, NodeTimeout(5*time.Minute))

	It("is found as kind, read by the preflight, and never deleted by the harness", func(ctx SpecContext) {
		p, err := job.PrepareCluster(ctx, job.ClusterOptions{Repo: repoRoot(), Kubeconfig: kubeconfig, SkipImages: true, Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Cluster.Kind).To(BeTrue())
		Expect(p.Cluster.Created).To(BeFalse())
		Expect(p.Cluster.Delete()).To(MatchError(ContainSubstring("the harness did not create it")))
		r, err := preflight.Check(ctx, p.Cluster, nil)
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Print(r.String())
		Expect(r.Nodes).To(HavePrefix("1, 1 of them run pods"))
		Expect(r.PodCIDR).To(ContainSubstring("/24 (254 addresses)"))
		Expect(r.IPAM).To(HavePrefix("host-local"))
		Expect(r.IPReuse).To(HavePrefix("host-local state"))

		_, err = cluster.Connect(ctx, kubeconfig, "no-such-context", nil)
		Expect(err).To(MatchError(ContainSubstring(`--context "no-such-context" is not in`)))
	}, SpecTimeout(2*time.Minute))

	It("runs specs there: IP reuse by host-local state, and inconclusive where the pool (/24) cannot be filled", func(ctx SpecContext) {
		var specs []scenario.Spec
		for _, f := range []string{"ip-reuse-no-callers.yaml", "ip-reuse-pool.yaml"} {
			s, err := scenario.Load(filepath.Join(repoRoot(), "scenarios", "cluster", "testdata", f))
			Expect(err).NotTo(HaveOccurred())
			specs = append(specs, s)
		}
		dir := filepath.Join(repoRoot(), "reports", "kind-tier-existing")
		res, err := job.Run(ctx, job.Options{Specs: specs, ReportsDir: dir, Log: GinkgoWriter, Kernel: job.KernelRequired,
			Cluster: job.ClusterOptions{Repo: repoRoot(), Kubeconfig: kubeconfig, Log: GinkgoWriter}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Results).To(HaveLen(2))
		steer, pool := res.Results[0], res.Results[1]
		Expect(steer.Err).NotTo(HaveOccurred())
		Expect(steer.Faults[0]).To(ContainSubstring("by host-local state"))
		Expect(pool.Err).NotTo(HaveOccurred())
		Expect(pool.Inconclusive).To(ContainSubstring("the address could not be reused"))
		Expect(pool.Inconclusive).To(ContainSubstring("254 addresses, and the node runs at most 110 pods"))
		Expect(res.Run.Inconclusive).To(HaveKey(pool.Spec.Name))
		Expect(res.Run.KindConfig).To(BeEmpty(), "the repo's kind config was not used")
		var pf preflight.Report
		Expect(json.Unmarshal(res.Run.Preflight, &pf)).To(Succeed())
		Expect(pf.IPReuse).To(HavePrefix("host-local state"))
		md, err := os.ReadFile(filepath.Join(res.Dir, "report.md"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(md)).To(ContainSubstring("1 scenario(s) inconclusive"))
		Expect(string(md)).To(ContainSubstring("**inconclusive**: ip-reuse-pool: "))
	}, SpecTimeout(5*time.Minute))
})
