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
	"slices"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/reporters"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/scenario"
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
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "scenarios", "specs", "*.yaml"))
	var out []scenario.Spec
	for _, f := range files {
		s, err := scenario.Load(f)
		if err != nil {
			panic(err) // a broken built-in spec is a build error of the suite
		}
		out = append(out, s)
	}
	return out
}()

func labelsOf(s scenario.Spec) []string { return append(slices.Clone(s.Labels), s.Name) }

var job scenario.JobResult

var _ = BeforeSuite(func(ctx SpecContext) {
	match := func([]string) bool { return true }
	if f := GinkgoLabelFilter(); f != "" {
		var err error
		match, err = types.ParseLabelFilter(f)
		Expect(err).NotTo(HaveOccurred())
	}
	var selected []scenario.Spec
	for _, s := range specs {
		if match(labelsOf(s)) {
			selected = append(selected, s)
		}
	}
	name := os.Getenv("KUBEGRACE_CLUSTER")
	if name == "" {
		name = cluster.DefaultName
	}
	var err error
	job, err = scenario.RunJob(ctx, scenario.JobOptions{
		Specs: selected, Repo: repoRoot(), ClusterName: name, NodeImage: os.Getenv("KUBEGRACE_NODE_IMAGE"),
		Parallel: 2, Log: os.Stdout,
	})
	// Scenario errors are reported per spec below; only a job that could
	// not start (no cluster, no images) fails here.
	if len(job.Results) == 0 {
		Expect(err).NotTo(HaveOccurred())
	}
}, NodeTimeout(75*time.Minute))

var _ = Describe("built-in scenarios", func() {
	for _, s := range specs {
		It(s.Name, Label(labelsOf(s)...), func() {
			var res *scenario.Result
			for i := range job.Results {
				if job.Results[i].Spec.Name == s.Name {
					res = &job.Results[i]
				}
			}
			Expect(res).NotTo(BeNil(), "scenario %s did not run", s.Name)
			Expect(res.Err).NotTo(HaveOccurred())
			for _, e := range job.Run.Expectations {
				if e.Scenario == s.Name {
					Expect(e.Met).To(BeTrue(), "%s (%s)", e.Message, e.Why)
				}
			}
		})
	}
})

var _ = ReportAfterSuite("report", func(r Report) {
	if job.Dir == "" {
		return
	}
	if err := reporters.GenerateJUnitReport(r, filepath.Join(job.Dir, "junit.xml")); err != nil {
		fmt.Fprintf(os.Stdout, "junit report: %v\n", err)
	}
	fmt.Fprintf(os.Stdout, "\n%s\nreport: %s\n        %s\n", scenario.Summary(job),
		filepath.Join(job.Dir, "report.html"), filepath.Join(repoRoot(), "reports", "latest", "report.md"))
})
