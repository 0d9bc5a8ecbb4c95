//go:build kind

package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/consul/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/labels"
	"github.com/kubegrace/kubegrace/harness/observe"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

// The harness reaches each scenario's Consul only through the API server
// (a port-forward to its pod). Here the real Consul observer watches one
// in-cluster Consul two ways at once, through that tunnel and through a
// NodePort on a node's address (the way it was reached before), while the
// test registers and deregisters instances: both must see every change,
// and the time from the write to each observer's event is reported, so
// the tunnel's cost is measured against the direct path on the same
// changes.
var _ = Describe("Consul through the API server", Label("kind", "consul"), Ordered, func() {
	const ns, rounds = "kg-consul-tunnel", 40

	It("is deployed with a ClusterIP Service and answers through the tunnel, as fast as the observer needs", func(ctx SpecContext) {
		cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func(ctx SpecContext) {
			_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		})
		ic, err := consul.Deploy(ctx, c.Client, consul.DeployOptions{Namespace: ns, Image: img.Consul})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ic.Close)
		svc, err := cs.CoreV1().Services(ns).Get(ctx, "consul", metav1.GetOptions{})
		Expect(err).NotTo(HaveOccurred())
		Expect(svc.Spec.Type).To(Equal(corev1.ServiceTypeClusterIP), "the harness needs no NodePort")
		Expect(ic.Addr).To(HavePrefix("127.0.0.1:"))

		// The direct path, for comparison only: a NodePort on a node's
		// InternalIP, which a Linux docker host routes to.
		np, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "consul-nodeport", Labels: labels.PartOf()},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: svc.Spec.Selector,
				Ports: []corev1.ServicePort{{Port: 8500, TargetPort: intstr.FromInt32(8500)}}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		var nodeIP string
		for _, a := range nodes.Items[0].Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				nodeIP = a.Address
			}
		}
		cfg := api.DefaultConfig()
		cfg.Address = net.JoinHostPort(nodeIP, strconv.Itoa(int(np.Spec.Ports[0].NodePort)))
		direct, err := api.NewClient(cfg)
		Expect(err).NotTo(HaveOccurred())
		Expect(consul.WaitForLeader(ctx, direct, time.Minute)).To(Succeed())

		// Both observers on one recorder, told apart by their Scenario.
		start := time.Now()
		rec := timeline.NewRecorder(start)
		w := observe.Start(ctx,
			&observe.Consul{Client: ic.Client, Services: []string{"probe"}, Rec: rec, Scenario: "tunnel"},
			&observe.Consul{Client: direct, Services: []string{"probe"}, Rec: rec, Scenario: "nodeport"})
		time.Sleep(500 * time.Millisecond) // both blocking queries are waiting

		// Each write goes through the tunnel (as the harness's would), one
		// at a time, the next once both observers saw the last.
		type write struct {
			at   time.Duration
			kind string
			id   string
		}
		var writes []write
		seen := func(scenario, kind, id string) (time.Duration, bool) {
			for _, e := range rec.Snapshot().Events {
				if e.Scenario == scenario && e.Kind == kind && e.Instance == id {
					return e.At, true
				}
			}
			return 0, false
		}
		for i := range rounds {
			id := fmt.Sprintf("probe-%d", i)
			kind := timeline.ConsulRegistered
			at := rec.Offset(time.Now())
			if i%2 == 0 {
				err = ic.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: "probe", Address: "10.0.0.1", Port: 8080 + i})
			} else {
				id, kind = fmt.Sprintf("probe-%d", i-1), timeline.ConsulDeregistered
				err = ic.Client.Agent().ServiceDeregister(id)
			}
			Expect(err).NotTo(HaveOccurred())
			writes = append(writes, write{at, kind, id})
			Eventually(func() bool {
				_, a := seen("tunnel", kind, id)
				_, b := seen("nodeport", kind, id)
				return a && b
			}).WithTimeout(10*time.Second).WithPolling(5*time.Millisecond).Should(BeTrue(), "%s %s seen by both observers", kind, id)
		}
		Expect(w.Stop()).To(Succeed())
		n, last := ic.Tunnel.Reforwards()
		Expect(n).To(BeZero(), "the tunnel broke: %v", last)

		lat := map[string][]time.Duration{}
		for _, wr := range writes {
			for _, path := range []string{"tunnel", "nodeport"} {
				at, _ := seen(path, wr.kind, wr.id)
				lat[path] = append(lat[path], at-wr.at)
			}
		}
		for _, path := range []string{"nodeport", "tunnel"} {
			d := lat[path]
			slices.Sort(d)
			line := fmt.Sprintf("Consul observer, write through the tunnel → event seen via %s, %d changes: min %s, median %s, max %s",
				path, len(d), d[0].Round(10*time.Microsecond), d[len(d)/2].Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
			GinkgoWriter.Println(line)
			AddReportEntry("consul latency "+path, line)
		}
		// No timing threshold here (timings are recorded, not asserted):
		// what must hold is that the tunnel saw every change the direct
		// path saw, which the loop above required.
		Expect(lat["tunnel"]).To(HaveLen(rounds))
	}, NodeTimeout(5*time.Minute))

	It("survives the API server's connection breaking: the tunnel forwards again on the same address", func(ctx SpecContext) {
		cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		ns := ns + "-break"
		DeferCleanup(func(ctx SpecContext) {
			_ = cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
		})
		ic, err := consul.Deploy(ctx, c.Client, consul.DeployOptions{Namespace: ns, Image: img.Consul})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(ic.Close)
		// client-go ends a whole forwarder when one forwarded connection
		// fails at the pod's end (ErrLostConnectionToPod): here, a tunnel
		// to a port nothing listens on, broken by every connection.
		broken, err := consul.Forward(ctx, c.Client.RESTConfig(), ns, ic.Tunnel.Pod, 1)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(broken.Close)
		for want := 1; want <= 2; want++ {
			conn, err := net.DialTimeout("tcp", broken.Addr, time.Second)
			Expect(err).NotTo(HaveOccurred(), "the tunnel's address %s listens again after %d break(s)", broken.Addr, want-1)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = conn.Read(make([]byte, 1))
			conn.Close()
			Eventually(func() int { n, _ := broken.Reforwards(); return n }).WithTimeout(20 * time.Second).Should(BeNumerically(">=", want))
		}
		_, last := broken.Reforwards()
		GinkgoWriter.Printf("the broken tunnel's last break: %v\n", last)
		// The tunnel the harness uses is a forwarder of its own.
		n, _ := ic.Tunnel.Reforwards()
		Expect(n).To(BeZero())
		Expect(consul.WaitForLeader(context.Background(), ic.Client, 10*time.Second)).To(Succeed())
	}, NodeTimeout(3*time.Minute))
})
