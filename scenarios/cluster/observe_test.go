//go:build kind

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/timeline"
	"github.com/kubegrace/kubegrace/harness/workload"
	"github.com/kubegrace/kubegrace/images"
	"github.com/kubegrace/kubegrace/reports"
)

// One fixture pod (exec entrypoint) deleted, watched by every observer:
// the smallest scripted scenario that exercises the whole harness core.
var _ = Describe("observers, verdicts and report on one pod deletion", Label("kind", "observe"), Ordered, func() {
	const (
		ns       = "kg-observe"
		scenario = "one-pod-deleted"
		service  = "orders"
		grace    = 5 * time.Second
	)
	var (
		tl       timeline.Timeline
		verdicts []check.Verdict
		dir      string
		victim   string
	)

	BeforeAll(func(ctx SpecContext) {
		r := c.Client.Resources()
		cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			_ = r.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		})
		cons, err := consul.Deploy(ctx, c.Client, consul.DeployOptions{Image: img.Consul})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) { _ = cons.Teardown(ctx, time.Minute) })

		started := time.Now()
		rec := timeline.NewRecorder(started)
		set := observe.Start(ctx,
			&observe.Pods{Clientset: cs, Namespace: ns, Rec: rec, Scenario: scenario},
			&observe.Consul{Client: cons.Client, Services: []string{service}, Rec: rec, Scenario: scenario},
		)
		dep, err := workload.Deployment(ns, workload.Service{Name: service, Entrypoint: "bash-exec", GraceSeconds: int64(grace.Seconds()),
			CheckInterval: time.Second, DrainDelay: time.Second}, img.Fixture, cons.ServiceAddr)
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Create(ctx, dep)).To(Succeed())
		caller := workload.Caller(ns, "caller", service, img.Fixture, cons.ServiceAddr, 100*time.Millisecond)
		Expect(r.Create(ctx, caller)).To(Succeed())

		Eventually(func(g Gomega) {
			passing, err := consul.PassingInstances(ctx, cons.Client, service)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(passing).To(HaveLen(1))
			victim = passing[0].Service.ID[len(service)+1:] // instance id is <service>-<pod name>
		}).WithContext(ctx).WithTimeout(2 * time.Minute).WithPolling(250 * time.Millisecond).Should(Succeed())

		rec.Record(time.Now(), timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultStart, Scenario: scenario, Pod: victim, Detail: "pod delete"})
		Expect(r.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: victim, Namespace: ns}})).To(Succeed())
		Eventually(func() bool {
			err := r.Get(ctx, victim, ns, &corev1.Pod{})
			return err != nil
		}).WithContext(ctx).WithTimeout(grace + 30*time.Second).WithPolling(100 * time.Millisecond).Should(BeTrue())
		rec.Record(time.Now(), timeline.Event{Source: timeline.SourceFault, Kind: timeline.FaultEnd, Scenario: scenario, Pod: victim, Detail: "pod delete"})
		time.Sleep(2 * time.Second) // settle: the replacement registers, callers go on
		Expect(set.Stop()).To(Succeed())
		tl = rec.Snapshot()

		cctx := check.Context{Scenario: scenario, DefaultGrace: grace, WatchedServices: []string{service}}
		dir = filepath.Join(repoRoot(), "reports", "kind-tier-"+started.Format("20060102-150405"))
		run := reports.Run{
			Started:       started,
			Finished:      time.Now(),
			Images:        images.IDs(ctx, img.Consul, img.Fixture, c.NodeImage.Image),
			CheckContexts: map[string]check.Context{scenario: cctx},
		}
		verdicts = reports.Verdicts(run, tl)
		Expect(reports.Write(dir, run, tl, verdicts)).To(Succeed())
		fmt.Fprintf(GinkgoWriter, "report: %s\n", dir)
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
		Expect(lat.Value).To(BeNumerically("<", float64(grace.Milliseconds())))
		Expect(find(check.NameKilledBySIGKILL, victim).Value).To(Equal(0.0))
		Expect(find(check.NameStaleWindow, "").Value).To(Equal(0.0))
		Expect(find(check.NameOKCalls, "").Value).To(BeNumerically(">", 10), "the caller reached orders through Consul")
		Expect(find(check.NameWrongTargetCalls, "").Value).To(Equal(0.0))
		for _, v := range verdicts {
			GinkgoWriter.Printf("%-24s %-36s %10.1f %-5s %s\n", v.Name, v.Subject, v.Value, v.Unit, v.Message)
		}
	})

	It("wrote a report whose verdicts recompute identically from the saved timeline", func() {
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
