//go:build kind

package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
	kindcluster "sigs.k8s.io/kind/pkg/cluster"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/preflight"
	"github.com/kubegrace/kubegrace/harness/scenario"
)

// A cluster the harness did not create: made here with kind's own API and
// kind's default config (one node, a /24 pod CIDR), as a user would, then
// handed to the job by kubeconfig. Its containerd pulls localhost:PORT
// from a real registry (CNCF Distribution, built from the module proxy)
// on this host, for --image-registry.
var _ = Describe("a cluster the harness did not create", Label("kind", "existing"), Ordered, func() {
	const extName = "kubegrace-ext"
	var kubeconfig, registry string
	// restricted is a kubeconfig with only the rights of preflight's RBAC
	// role (the ServiceAccount's token).
	var restricted string
	var tmp string // lives as long as the container's specs

	BeforeAll(func(ctx SpecContext) {
		tmp = GinkgoT().TempDir()
		registry = startRegistry(ctx)
		gateway, err := exec.CommandContext(ctx, "docker", "network", "inspect", "kind", "-f",
			`{{range .IPAM.Config}}{{if not (eq (len (split .Subnet ":")) 1)}}{{else}}{{.Gateway}}{{end}}{{end}}`).Output()
		Expect(err).NotTo(HaveOccurred())
		// The node sees this host's /proc at /hostproc: kind nodes share this
		// host's kernel but not its PIDs, and the kernel agent maps the
		// kernel's PIDs to pods through it (on a real node, its own /proc).
		cfg := &v1alpha4.Cluster{TypeMeta: v1alpha4.TypeMeta{Kind: "Cluster", APIVersion: "kind.x-k8s.io/v1alpha4"},
			Nodes: []v1alpha4.Node{{Role: v1alpha4.ControlPlaneRole, ExtraMounts: []v1alpha4.Mount{{HostPath: "/proc", ContainerPath: "/hostproc", Readonly: true}}}},
			ContainerdConfigPatches: []string{fmt.Sprintf("[plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.%q]\n  endpoint = [\"http://%s:%s\"]",
				registry, strings.TrimSpace(string(gateway)), strings.TrimPrefix(registry, "localhost:"))}}
		p := kindcluster.NewProvider(kindcluster.ProviderWithDocker())
		_ = p.Delete(extName, "")
		kubeconfig = filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(p.Create(extName, kindcluster.CreateWithV1Alpha4Config(cfg), kindcluster.CreateWithNodeImage(c.NodeImage.Image), kindcluster.CreateWithKubeconfigPath(kubeconfig),
			kindcluster.CreateWithWaitForReady(2*time.Minute), kindcluster.CreateWithDisplayUsage(false), kindcluster.CreateWithDisplaySalutation(false))).To(Succeed())
		DeferCleanup(func() { Expect(p.Delete(extName, kubeconfig)).To(Succeed()) })
	}, NodeTimeout(5*time.Minute))

	It("is found as kind, read by the preflight, and never deleted by the harness", func(ctx SpecContext) {
		p, err := env.PrepareCluster(ctx, env.Options{Repo: repoRoot(), Kubeconfig: kubeconfig, SkipImages: true, Log: GinkgoWriter})
		Expect(err).NotTo(HaveOccurred())
		Expect(p.Cluster.Kind).To(BeTrue())
		Expect(p.Cluster.Created).To(BeFalse())
		Expect(p.Cluster.Delete()).To(MatchError(ContainSubstring("the harness did not create it")))
		r, err := preflight.Check(ctx, p.Cluster, nil, preflight.Options{NodeAccess: nodeaccess.ModeDocker})
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
		specs := testdata("ip-reuse-no-callers.yaml", "ip-reuse-pool.yaml")
		dir := filepath.Join(repoRoot(), "reports", "kind-tier-existing")
		res, err := job.Run(ctx, job.Options{Specs: specs, ReportsDir: dir, Log: GinkgoWriter,
			Env: env.Options{Repo: repoRoot(), Kubeconfig: kubeconfig, Kernel: env.KernelRequired, Log: GinkgoWriter}})
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

	// The ClusterRole `kubegrace preflight --rbac` prints is enough for a
	// run: a ServiceAccount bound to it, and nothing else, runs a pod
	// deletion with a caller and an IP reuse.
	It("runs with only the rights of preflight's RBAC role", func(ctx SpecContext) {
		cs := adminClient(ctx, kubeconfig)
		role := preflight.RunnerRole("kubegrace-runner-test", false)
		_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "kubegrace-runner", Namespace: "default"}}
		_, err = cs.CoreV1().ServiceAccounts("default").Create(ctx, sa, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		_, err = cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: role.Name},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: sa.Namespace}},
		}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		tok, err := cs.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())

		raw, err := clientcmd.LoadFromFile(kubeconfig)
		Expect(err).NotTo(HaveOccurred())
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["ext"] = raw.Clusters[raw.Contexts[raw.CurrentContext].Cluster]
		cfg.AuthInfos["runner"] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
		cfg.Contexts["runner"] = &clientcmdapi.Context{Cluster: "ext", AuthInfo: "runner"}
		cfg.CurrentContext = "runner"
		restricted = filepath.Join(tmp, "kubeconfig-runner")
		Expect(clientcmd.WriteToFile(*cfg, restricted)).To(Succeed())

		specs := testdata("one-pod-deleted.yaml", "ip-reuse-no-callers.yaml")
		res, err := job.Run(ctx, job.Options{Specs: specs, ReportsDir: filepath.Join(repoRoot(), "reports", "kind-tier-rbac"), Log: GinkgoWriter,
			Env: env.Options{Repo: repoRoot(), Kubeconfig: restricted, Log: GinkgoWriter}})
		Expect(err).NotTo(HaveOccurred(), "a run with the preflight role's rights")
		for _, r := range res.Results {
			Expect(r.Err).NotTo(HaveOccurred(), r.Spec.Name)
		}
		Expect(res.Run.Unmet()).To(BeEmpty())
	}, SpecTimeout(5*time.Minute))

	// Node access and the kernel observer through the harness's own
	// privileged DaemonSets, as on a cluster that is not kind on this host:
	// opt-in, with only the rights `preflight --rbac --allow-privileged`
	// prints, IP reuse steers host-local state through one, the kernel
	// agent sees the signals, and both are gone after the run.
	It("reaches nodes and their kernel through its own DaemonSets with --allow-privileged, and removes them", func(ctx SpecContext) {
		cs := adminClient(ctx, kubeconfig)
		_, err := cs.RbacV1().ClusterRoles().Update(ctx, preflight.RunnerRole("kubegrace-runner-test", true), metav1.UpdateOptions{})
		Expect(err).NotTo(HaveOccurred())

		specs := testdata("ip-reuse-no-callers.yaml")
		specs[0].Name = "ip-reuse-node-access-pods"
		// The built-in pod-kill: its SIGKILL goes to the container's init
		// from the node access pod (host PID namespace), with no crictl.
		podKill, err := scenario.Load(filepath.Join(repoRoot(), "scenarios", "specs", "pod-kill.yaml"))
		Expect(err).NotTo(HaveOccurred())
		specs = append(specs, podKill)
		opts := env.Options{Repo: repoRoot(), Kubeconfig: restricted, Log: GinkgoWriter, NodeAccess: nodeaccess.ModePods, KernelAgentHostProc: "/hostproc"}
		_, err = job.Run(ctx, job.Options{Specs: specs, ReportsDir: filepath.Join(repoRoot(), "reports", "kind-tier-node-access"), Log: GinkgoWriter, Env: opts})
		Expect(err).To(MatchError(ContainSubstring("give --allow-privileged")), "privileged pods only when asked")

		opts.AllowPrivileged, opts.Kernel = true, env.KernelRequired
		res, err := job.Run(ctx, job.Options{Specs: specs, ReportsDir: filepath.Join(repoRoot(), "reports", "kind-tier-node-access"), Log: GinkgoWriter, Env: opts})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Results[0].Err).NotTo(HaveOccurred())
		Expect(res.Results[0].Faults[0]).To(ContainSubstring("by host-local state"))
		Expect(res.Results[1].Err).NotTo(HaveOccurred())
		Expect(res.Results[1].Faults[0]).To(MatchRegexp(`SIGKILL to PID \d+ of \d+ process\(es\) of the container, its PID 1`))
		Expect(res.Run.Unmet()).To(BeEmpty(), "pod-kill's expectations (killed_by_sigkill == 1) as with docker exec")
		Expect(res.Run.Kernel.Agents).To(Equal([]string{extName + "-control-plane"}))
		Expect(res.Run.Kernel.Recorded).To(BeNumerically(">", 0), "the agent's events of the scenario's pods: %s", res.Run.Kernel)
		var signals int
		for _, v := range res.Verdicts {
			if v.Name == "sigterm_dropped" && v.Scenario == specs[0].Name {
				signals++
				// bash-exec: the app is PID 1 with a handler; the kernel saw
				// the runtime's SIGTERM reach it.
				Expect(v.Value).To(BeZero())
				Expect(v.Message).To(HavePrefix("kernel: SIGTERM to PID 1 (fixture) was delivered"), "a signal verdict from the agent's events")
			}
		}
		Expect(signals).To(BeNumerically(">", 0))
		var pf preflight.Report
		Expect(json.Unmarshal(res.Run.Preflight, &pf)).To(Succeed())
		Expect(pf.NodeAccess).To(HavePrefix("yes: privileged node access pods"))
		Expect(pf.Creates[0]).To(HavePrefix("namespace kubegrace-system: DaemonSet kubegrace-node-access"))
		_, err = cs.CoreV1().Namespaces().Get(ctx, "kubegrace-system", metav1.GetOptions{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the node access namespace is removed: %v", err)
	}, SpecTimeout(5*time.Minute))

	// Images pushed to a registry and pulled by the cluster, never loaded.
	It("pulls the run's images from --image-registry", func(ctx SpecContext) {
		spec := testdata("one-pod-deleted.yaml")[0]
		spec.Name = "one-pod-deleted-pulled"
		res, err := job.Run(ctx, job.Options{Specs: []scenario.Spec{spec}, ReportsDir: filepath.Join(repoRoot(), "reports", "kind-tier-registry"), Log: GinkgoWriter,
			Env: env.Options{Repo: repoRoot(), Kubeconfig: kubeconfig, ImageRegistry: registry, Log: GinkgoWriter}})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Run.Unmet()).To(BeEmpty())
		var pulled []string
		for ref := range res.Run.Images {
			if strings.HasPrefix(ref, registry+"/kubegrace/") {
				pulled = append(pulled, ref)
			}
		}
		Expect(pulled).To(HaveLen(2), "Consul and the fixture, by their pushed names: %v", res.Run.Images)
		out, err := exec.CommandContext(ctx, "docker", "exec", extName+"-control-plane", "crictl", "images", "-o", "json").Output()
		Expect(err).NotTo(HaveOccurred())
		for _, ref := range pulled {
			Expect(string(out)).To(ContainSubstring(ref), "the node pulled %s", ref)
		}
	}, SpecTimeout(4*time.Minute))
})

// adminClient is a clientset with the kubeconfig's own (admin) rights.
func adminClient(ctx SpecContext, kubeconfig string) kubernetes.Interface {
	admin, err := cluster.Connect(ctx, kubeconfig, "", nil)
	Expect(err).NotTo(HaveOccurred())
	cs, err := kubernetes.NewForConfig(admin.Client.RESTConfig())
	Expect(err).NotTo(HaveOccurred())
	return cs
}

// startRegistry runs a registry on this host (hack/build-registry.sh builds
// it once) on a free port, stopped when the suite ends; it returns
// localhost:PORT, which Docker pushes to over plain HTTP.
func startRegistry(ctx SpecContext) string {
	out, err := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(), "hack", "build-registry.sh")).Output()
	Expect(err).NotTo(HaveOccurred(), "hack/build-registry.sh")
	lines := strings.Fields(string(out))
	bin := lines[len(lines)-1]
	l, err := net.Listen("tcp", ":0")
	Expect(err).NotTo(HaveOccurred())
	port := l.Addr().(*net.TCPAddr).Port
	Expect(l.Close()).To(Succeed())
	dir := GinkgoT().TempDir()
	conf := filepath.Join(dir, "config.yml")
	Expect(os.WriteFile(conf, fmt.Appendf(nil, "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 0.0.0.0:%d\n", filepath.Join(dir, "data"), port), 0o644)).To(Succeed())
	cmd := exec.Command(bin, "serve", conf)
	cmd.Stdout, cmd.Stderr = GinkgoWriter, GinkgoWriter
	Expect(cmd.Start()).To(Succeed())
	DeferCleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	addr := fmt.Sprintf("localhost:%d", port)
	Eventually(func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}).WithTimeout(10 * time.Second).Should(Succeed())
	return addr
}
