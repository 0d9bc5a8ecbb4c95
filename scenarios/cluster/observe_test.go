//go:build kind

package cluster

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/run"
	"github.com/kubegrace/kubegrace/harness/scenario"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/reports"
)

// testdata loads YAML specs of testdata/.
func testdata(files ...string) []scenario.Spec {
	var specs []scenario.Spec
	for _, f := range files {
		s, err := scenario.Load(filepath.Join(repoRoot(), "scenarios", "cluster", "testdata", f))
		Expect(err).NotTo(HaveOccurred())
		specs = append(specs, s)
	}
	return specs
}

// runSpec runs one YAML spec of testdata/ through the real Runner, the way
// the main job does, and writes its report.
func runSpec(ctx SpecContext, file string) (run.Result, timeline.Timeline, reports.Run, []check.Verdict, string) {
	spec := testdata(file)[0]
	started := time.Now()
	rec := timeline.NewRecorder(started)
	e, err := env.StartOn(ctx, prepared, env.Options{Repo: repoRoot(), Kernel: env.KernelRequired, Log: GinkgoWriter}, nil, rec)
	Expect(err).NotTo(HaveOccurred())
	runner := e.Runner(GinkgoWriter, nil)
	res := runner.Run(ctx, spec, rec)
	Expect(e.Stop()).To(Succeed())
	tl := rec.Snapshot()
	kinfo := e.Kernel.Report
	dir := filepath.Join(repoRoot(), "reports", "kind-tier-"+spec.Name+"-"+started.Format("20060102-150405"))
	rr, verdicts, werr := reports.Publish(dir, false, reports.Meta{Started: started, Kernel: &kinfo}, job.ScenarioRuns([]run.Result{res}), tl, nil)
	Expect(werr).NotTo(HaveOccurred())
	fmt.Fprintf(GinkgoWriter, "report: %s\n", dir)
	for _, st := range res.Steps {
		GinkgoWriter.Printf("step %-16s %-8s %8s %s\n", st.Name, st.Phase, st.Duration.Round(time.Millisecond), st.Error)
	}
	return res, tl, rr, verdicts, dir
}

// One fixture pod (exec entrypoint) deleted, watched by every observer: the
// smallest spec that exercises the whole harness through the real Runner.
var _ = Describe("the Runner on one pod deletion", Label("kind", "observe"), Ordered, func() {
	var (
		res      run.Result
		tl       timeline.Timeline
		rr       reports.Run
		verdicts []check.Verdict
		dir      string
		victim   string
	)

	BeforeAll(func(ctx SpecContext) {
		res, tl, rr, verdicts, dir = runSpec(ctx, "one-pod-deleted.yaml")
		Expect(res.Err).NotTo(HaveOccurred())
		for _, e := range tl.Events {
			if e.Source == timeline.SourcePod && e.Kind == timeline.PodDeletionRequested && e.Service == "orders" {
				victim = e.Pod
			}
		}
		Expect(victim).NotTo(BeEmpty(), "no orders pod was deleted")
	}, NodeTimeout(6*time.Minute))

	find := func(name, subject string) check.Verdict {
		for _, v := range verdicts {
			if v.Name == name && v.Subject == subject {
				return v
			}
		}
		Fail(fmt.Sprintf("no verdict %s for %q in %+v", name, subject, verdicts))
		return check.Verdict{}
	}

	It("ran every step, timed, with the fault recorded by its wrapper", func() {
		var names []string
		for _, s := range res.Steps {
			names = append(names, s.Name)
			Expect(s.Error).To(BeEmpty(), "step %s", s.Name)
		}
		Expect(names).To(Equal([]string{"namespace", "observe pods", "consul", "services", "callers", "observe consul",
			"services ready", "callers ready", "faults", "drain", "settle", "teardown"}))
		Expect(res.Phase(run.PhaseFaults)).To(BeNumerically(">", 0))
		var kinds []string
		for _, e := range tl.Events {
			if e.Source == timeline.SourceFault {
				kinds = append(kinds, e.Kind)
			}
		}
		Expect(kinds).To(Equal([]string{timeline.FaultStart, timeline.FaultEnd}))
		Expect(res.Faults).To(HaveLen(1))
		Expect(res.Faults[0]).To(ContainSubstring(victim))
	})

	It("recorded the pod's life from creation to deletion", func() {
		var kinds []string
		for _, e := range tl.Events {
			if e.Source == timeline.SourcePod && e.Pod == victim {
				kinds = append(kinds, e.Kind)
			}
		}
		Expect(kinds).To(ContainElements(timeline.PodCreated, timeline.PodIPAssigned, timeline.PodReady,
			timeline.PodDeletionRequested, timeline.PodContainerTerminated, timeline.PodDeleted))
	})

	It("collected the app's shutdown lines from a pod that is gone", func() {
		var kinds []string
		for _, e := range tl.Events {
			if e.Source == timeline.SourceApp && e.Pod == victim {
				kinds = append(kinds, e.Kind)
			}
		}
		Expect(kinds).To(ContainElements(timeline.AppRegistered, timeline.AppSignal, timeline.AppDeregistered, timeline.AppExiting))
	})

	It("judges the exec entrypoint: SIGTERM delivered, deregistered within the grace period, not SIGKILLed", func() {
		Expect(find(check.NameSignalDelivered, victim).Value).To(Equal(1.0))
		lat := find(check.NameDeregistrationLatency, victim)
		Expect(lat.Value).To(BeNumerically(">", 0))
		Expect(lat.Value).To(BeNumerically("<", 5000))
		Expect(find(check.NameKilledBySIGKILL, victim).Value).To(Equal(0.0))
		Expect(find(check.NameStaleWindow, "").Value).To(Equal(0.0))
		Expect(find(check.NameOKCalls, "").Value).To(BeNumerically(">", 10), "the caller reached orders through Consul")
		Expect(find(check.NameWrongTargetCalls, "").Value).To(Equal(0.0))
		Expect(find(check.NameObserverGaps, "").Value).To(Equal(0.0))
		for _, e := range rr.Expectations {
			Expect(e.Met).To(BeTrue(), e.Message)
		}
	})

	It("wrote a report whose verdicts and expectations recompute identically from the saved timeline", func() {
		for _, f := range []string{"run.json", "timeline.jsonl", "verdicts.json", "report.md", "report.html"} {
			Expect(filepath.Join(dir, f)).To(BeAnExistingFile())
		}
		_, identical, diff, err := reports.Recheck(dir)
		Expect(err).NotTo(HaveOccurred())
		Expect(identical).To(BeTrue(), diff)
		st, _ := os.Stat(filepath.Join(dir, "report.html"))
		GinkgoWriter.Printf("report.html %d bytes\n", st.Size())
	})
})

// Two scenarios that each need a node to themselves, run by RunAll on the
// two-node cluster: side by side, each pinned to a node of its own.
var _ = Describe("the Runner forcing IP reuse", Label("kind", "ipreuse"), func() {
	It("runs two IP-reuse scenarios side by side, one per node: host-local steered, and the pool filled", func(ctx SpecContext) {
		specs := testdata("ip-reuse-no-callers.yaml", "ip-reuse-pool.yaml")
		rec := timeline.NewRecorder(time.Now())
		e, err := env.StartOn(ctx, prepared, env.Options{Repo: repoRoot(), Kernel: env.KernelOff, Log: GinkgoWriter}, specs, rec)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(e.Stop)
		runner := e.Runner(GinkgoWriter, nil)
		Expect(runner.Nodes).To(HaveLen(2), "the kind tier's cluster has two nodes, both running pods")
		results := runner.RunAll(ctx, specs, 2, rec)
		tl := rec.Snapshot()
		steer, pool := results[0], results[1]
		for _, r := range results {
			Expect(r.Err).NotTo(HaveOccurred(), r.Spec.Name)
			Expect(r.Node).NotTo(BeEmpty(), "%s had a node to itself", r.Spec.Name)
			for _, e := range tl.Events {
				if e.Source == timeline.SourcePod && e.Kind == timeline.PodScheduled && e.Scenario == r.Spec.Name {
					Expect(e.Detail).To(Equal(r.Node), "pod %s of %s pinned to its node", e.Pod, r.Spec.Name)
				}
			}
		}
		Expect(steer.Node).NotTo(Equal(pool.Node))
		Expect(steer.Started.Before(pool.Finished) && pool.Started.Before(steer.Finished)).To(BeTrue(), "they ran side by side")

		Expect(steer.Faults).To(HaveLen(1))
		Expect(steer.Faults[0]).To(ContainSubstring("taken by pod billing-reuse-"))
		Expect(steer.Faults[0]).To(ContainSubstring("by host-local state"))
		// How long forcing took is a timing, recorded in the report (and
		// logged here), not asserted: a CI run on the 2-core machine, with
		// the pool being filled on the other node, took over the 5 s once
		// asserted here. That it was steered, not filled, is the detail
		// above and the absence of fillers below.
		GinkgoWriter.Printf("forcing: steered %s, pool filled %s\n", steer.Forcing, pool.Forcing)
		Expect(pool.Faults[0]).To(ContainSubstring("by pool exhaustion"))
		Expect(fillers(tl, steer.Spec.Name)).To(BeZero())
		Expect(fillers(tl, pool.Spec.Name)).To(BeNumerically(">", 0), "filler pods are marked by their role on the timeline")
	}, SpecTimeout(6*time.Minute))
})

// fillers counts the IP-pool filler pods the timeline saw created for a
// scenario.
func fillers(tl timeline.Timeline, scenario string) int {
	n := 0
	for _, e := range tl.Events {
		if e.Scenario == scenario && e.Source == timeline.SourcePod && e.Kind == timeline.PodCreated && e.Role == timeline.RoleIPFiller {
			n++
			Expect(strings.HasPrefix(e.Pod, "ipfill-")).To(BeTrue())
		}
	}
	return n
}

var _ = Describe("the Runner on an image of the user's own", Label("kind", "own-image"), func() {
	It("loads it, fills its env, and judges the app process named", func(ctx SpecContext) {
		Expect(exec.CommandContext(ctx, "docker", "tag", img.Fixture, "kubegrace-test/own-app:1").Run()).To(Succeed())
		Expect(c.LoadImages(ctx, "kubegrace-test/own-app:1")).To(Succeed())
		res, tl, rr, _, _ := runSpec(ctx, "own-image.yaml")
		Expect(res.Err).NotTo(HaveOccurred())
		registered := false
		for _, e := range tl.Events {
			registered = registered || e.Source == timeline.SourceConsul && e.Kind == timeline.ConsulRegistered && e.Service == "orders"
		}
		Expect(registered).To(BeTrue(), "the app registered itself with the Consul address the harness filled in")
		for _, e := range rr.Expectations {
			Expect(e.Met).To(BeTrue(), e.Message)
		}
	}, SpecTimeout(5*time.Minute))
})
