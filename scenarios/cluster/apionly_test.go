//go:build kind

package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/job"
	"github.com/kubegrace/kubegrace/reports"
)

// A cluster reached only through its API server, as a managed cluster is
// from a laptop or a CI runner: the harness runs (the kubegrace binary, as
// a user runs it) in a network namespace of its own whose one way out is a
// bridge to the API server's address. Node addresses, NodePorts and pod
// addresses are unreachable from it; the Docker socket (a file) is not,
// so the cluster is still kind of this host for images and node access.
// The same spec, run on the host network and in that namespace, must give
// the same outcome for every expectation.
var _ = Describe("a cluster reached only through its API server", Label("kind", "apionly"), Ordered, func() {
	const netns = "kubegrace-it-apionly"
	var nsPath, bin string

	BeforeAll(func(ctx SpecContext) {
		_ = exec.Command("ip", "netns", "del", netns).Run() // a leftover of an interrupted run
		out, err := exec.CommandContext(ctx, "ip", "netns", "add", netns).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "ip netns add: %s", out)
		DeferCleanup(func() { _ = exec.Command("ip", "netns", "del", netns).Run() })
		out, err = exec.CommandContext(ctx, "ip", "-n", netns, "link", "set", "lo", "up").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "lo up: %s", out)
		nsPath = filepath.Join("/run/netns", netns)

		// The API server's address in the kubeconfig (kind: 127.0.0.1 and
		// a port of this host) is served inside the namespace by a bridge
		// to that same address outside: the kubeconfig is used unchanged.
		apiServer := apiServerHostPort(c.KubeconfigPath)
		l, err := listenIn(nsPath, apiServer)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { _ = l.Close() })
		go bridge(l, apiServer)

		bin = filepath.Join(GinkgoT().TempDir(), "kubegrace")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kubegrace")
		build.Dir = repoRoot()
		out, err = build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "go build: %s", out)
	}, NodeTimeout(5*time.Minute))

	It("reaches nothing but the API server from its namespace", func(ctx SpecContext) {
		cs, err := kubernetes.NewForConfig(c.Client.RESTConfig())
		Expect(err).NotTo(HaveOccurred())
		nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		Expect(err).NotTo(HaveOccurred())
		for _, n := range nodes.Items {
			for _, a := range n.Status.Addresses {
				if a.Type != corev1.NodeInternalIP {
					continue
				}
				// The kubelet's port: open on every node from the host.
				addr := net.JoinHostPort(a.Address, "10250")
				Expect(dialFrom("", addr)).To(Succeed(), "from the host network, %s answers", addr)
				Expect(dialFrom(nsPath, addr)).To(MatchError(ContainSubstring("unreachable")), "from the namespace, %s must not answer", addr)
			}
		}
		Expect(dialFrom(nsPath, apiServerHostPort(c.KubeconfigPath))).To(Succeed(), "the bridge to the API server")
	})

	It("runs a spec with pod deletions and callers, with the same outcomes as on the host network", func(ctx SpecContext) {
		spec := filepath.Join(repoRoot(), "scenarios", "cluster", "testdata", "one-pod-deleted.yaml")
		base := filepath.Join(repoRoot(), "reports", "kind-tier-apionly")
		Expect(os.RemoveAll(base)).To(Succeed())

		hostRes, err := job.Run(ctx, job.Options{Specs: testdata("one-pod-deleted.yaml"), ReportsDir: filepath.Join(base, "host"), Log: GinkgoWriter,
			Env: env.Options{Repo: repoRoot(), Kubeconfig: c.KubeconfigPath, Kernel: env.KernelRequired, Log: GinkgoWriter}})
		Expect(err).NotTo(HaveOccurred())
		Expect(hostRes.Results[0].Err).NotTo(HaveOccurred())

		run := exec.CommandContext(ctx, "nsenter", "--net="+nsPath, "--", bin, "run", "--kubeconfig", c.KubeconfigPath,
			"--repo", repoRoot(), "--kernel", "require", "--reports", filepath.Join(base, "netns"), spec)
		run.Stdout, run.Stderr = GinkgoWriter, GinkgoWriter
		Expect(run.Run()).To(Succeed(), "kubegrace run in the namespace")

		host, ns := expectations(filepath.Join(base, "host", "latest")), expectations(filepath.Join(base, "netns", "latest"))
		Expect(ns).NotTo(BeEmpty())
		Expect(ns).To(Equal(host), "each expectation's outcome in the namespace, as on the host network")
		for _, e := range ns {
			Expect(e).To(HaveSuffix(" met"))
		}
	}, SpecTimeout(6*time.Minute))
})

// expectations reads a report's judged expectations as "verdict subject op
// want: met|not met", in order.
func expectations(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "run.json"))
	Expect(err).NotTo(HaveOccurred())
	var r reports.Run
	Expect(json.Unmarshal(b, &r)).To(Succeed())
	var out []string
	for _, e := range r.Expectations {
		met := "not met"
		if e.Met {
			met = "met"
		}
		out = append(out, fmt.Sprintf("%s %s %s %g: %s", e.Verdict, e.Subject, e.Op, e.Want, met))
	}
	slices.Sort(out)
	return out
}

func apiServerHostPort(kubeconfig string) string {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	Expect(err).NotTo(HaveOccurred())
	u, err := url.Parse(cfg.Host)
	Expect(err).NotTo(HaveOccurred())
	return u.Host
}

// inNetns runs f on an OS thread that has joined the network namespace at
// path ("" for this process's own). Sockets keep the namespace they were
// made in, whichever thread uses them later. The thread is never unlocked,
// so it ends with f and no other goroutine runs in the namespace.
func inNetns(path string, f func()) error {
	if path == "" {
		f()
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			unix.Close(fd)
		}
		if err == nil {
			f()
		}
		errc <- err
	}()
	return <-errc
}

func listenIn(path, addr string) (net.Listener, error) {
	var l net.Listener
	var lerr error
	if err := inNetns(path, func() { l, lerr = net.Listen("tcp", addr) }); err != nil {
		return nil, err
	}
	return l, lerr
}

func dialFrom(path, addr string) error {
	var derr error
	if err := inNetns(path, func() {
		var conn net.Conn
		if conn, derr = net.DialTimeout("tcp", addr, 2*time.Second); derr == nil {
			conn.Close()
		}
	}); err != nil {
		return err
	}
	return derr
}

// bridge copies each connection accepted in the namespace to addr on the
// host network, both ways, until the listener closes.
func bridge(l net.Listener, addr string) {
	for {
		in, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer in.Close()
			out, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", addr)
			if err != nil {
				return
			}
			defer out.Close()
			var wg sync.WaitGroup
			wg.Add(2)
			pipe := func(dst, src net.Conn) {
				defer wg.Done()
				if _, err := io.Copy(dst, src); err != nil && !errors.Is(err, net.ErrClosed) {
					GinkgoWriter.Printf("bridge: %v\n", err)
				}
				if tc, ok := dst.(*net.TCPConn); ok {
					_ = tc.CloseWrite()
				}
			}
			go pipe(out, in)
			go pipe(in, out)
			wg.Wait()
		}()
	}
}
