//go:build kind

package cluster

import (
	"path/filepath"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/scenario"
)

// coldSpecs are the built-in specs that once failed on a fresh machine
// only: a JVM serving seconds after its image was first loaded, and
// shutdown windows on a node whose files were not cached.
var coldSpecs = []string{"jvm-incident", "nginx-exec", "remediation-tini-g"}

// A fresh machine's first run, without a fresh machine: the runtime
// images removed from the nodes (loaded again by the run, read from disk
// at their first start) and the page cache dropped. The outcomes must be a
// warm run's: every expectation met.
var _ = Describe("a node made cold on purpose", Label("kind", "cold"), func() {
	It("meets every expectation of the JVM incident, nginx-exec and tini -g", func(ctx SpecContext) {
		all, err := scenario.LoadAll(filepath.Join(repoRoot(), "scenarios", "specs"))
		Expect(err).NotTo(HaveOccurred())
		var specs []scenario.Spec
		var refs []string
		for _, s := range all {
			if slices.Contains(coldSpecs, s.Name) {
				specs = append(specs, s)
				for _, svc := range s.Services {
					if svc.Image != "" && !slices.Contains(refs, svc.Image) {
						refs = append(refs, svc.Image)
					}
				}
			}
		}
		Expect(specs).To(HaveLen(len(coldSpecs)))
		Expect(c.MakeCold(ctx, refs...)).To(Succeed())

		res, err := job.Run(ctx, job.Options{Specs: specs, ReportsDir: filepath.Join(repoRoot(), "reports", "kind-tier-cold"), Log: GinkgoWriter,
			Env: env.Options{Repo: repoRoot(), Name: name, NodeImage: c.NodeImage.Image, Nodes: 2, Log: GinkgoWriter}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Run.Inconclusive).To(BeEmpty())
		for _, r := range res.Results {
			Expect(r.Err).NotTo(HaveOccurred(), r.Spec.Name)
		}
		Expect(res.Run.Expectations).NotTo(BeEmpty())
		for _, e := range res.Run.Expectations {
			Expect(e.Met).To(BeTrue(), "%s: %s (%s)", e.Scenario, e.Message, e.Why)
		}
		GinkgoWriter.Printf("cold run: %s\n", res.Dir)
	}, SpecTimeout(15*time.Minute))
})
