//go:build kind

// Package e2e is the main job as a Ginkgo suite: every built-in scenario in
// scenarios/specs runs on the harness's kind cluster (created or reused),
// one report is written for the run, and each scenario is one spec that
// passes when all its expectations are met. Labels come from the scenario
// specs, so `-ginkgo.label-filter=remediation` runs a subset.
package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/reports"
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "kubegrace scenarios")
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// specs are loaded while the tree is built, so each becomes a labelled spec.
var specs = func() []scenario.Spec {
	out, err := scenario.LoadAll(filepath.Join(repoRoot(), "scenarios", "specs"))
	if err != nil {
		panic(err) // a broken built-in spec is a build error of the suite
	}
	return out
}()

var res job.Result

var _ = BeforeSuite(func(ctx SpecContext) {
	match := func([]string) bool { return true }
	if f := GinkgoLabelFilter(); f != "" {
		var err error
		match, err = types.ParseLabelFilter(f)
		Expect(err).NotTo(HaveOccurred())
	}
	var selected []scenario.Spec
	for _, s := range specs {
		if match(s.LabelsAndName()) {
			selected = append(selected, s)
		}
	}
	name := os.Getenv("KUBEGRACE_CLUSTER")
	if name == "" {
		name = cluster.DefaultName
	}
	var err error
	res, err = job.Run(ctx, job.Options{
		Specs: selected, Log: os.Stdout, ReportsDir: filepath.Join(repoRoot(), "reports"),
		Env: env.Options{Repo: repoRoot(), Name: name, NodeImage: os.Getenv("KUBEGRACE_NODE_IMAGE"), Nodes: cluster.NodesFromEnv(), Log: os.Stdout},
	})
	// Scenario errors are reported per spec below; only a job that could
	// not start (no cluster, no images) fails here.
	if len(res.Results) == 0 {
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(90*time.Minute))

var _ = Describe("built-in scenarios", func() {
	for _, s := range specs {
		It(s.Name, Label(s.LabelsAndName()...), func() {
			var r *run.Result
			for i := range res.Results {
				if res.Results[i].Spec.Name == s.Name {
					r = &res.Results[i]
				}
			}
			Expect(r).NotTo(BeNil(), "scenario %s did not run", s.Name)
			Expect(r.Err).NotTo(HaveOccurred())
			for _, e := range res.Run.Expectations {
				if e.Scenario == s.Name {
					Expect(e.Met).To(BeTrue(), "%s (%s)", e.Message, e.Why)
				}
			}
		})
	}
})

var _ = ReportAfterSuite("report", func(r Report) {
	if res.Dir == "" {
		return
	}
	if err := reporters.GenerateJUnitReport(r, filepath.Join(res.Dir, ginkgoJUnit)); err != nil {
		fmt.Fprintf(os.Stdout, "junit report: %v\n", err)
	}
	fmt.Fprintf(os.Stdout, "\n%s\nreport: %s\n        %s\n", reports.Summary(res.Run),
		filepath.Join(res.Dir, reports.HTMLFile), filepath.Join(repoRoot(), "reports", "latest", reports.MarkdownFile))
})
