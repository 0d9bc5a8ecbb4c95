// Package process is the fast tier: the incident's two mechanisms shown
// with real processes, real signals and a real Consul agent, but no cluster
// and no docker. Each entrypoint variant runs as PID 1 of its own PID
// namespace, exactly the kernel semantics a container runtime gives it.
package process

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/process"
)

func TestProcessTier(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "process tier: signal delivery and stale checks without a cluster")
}

var (
	// layout is where this run installed the fixture app and scripts.
	layout entrypoints.Layout
	// agent is the suite's Consul: one real agent for every spec.
	agent *consul.TestAgent
	// reportDir receives this tier's report files.
	reportDir string
)

var _ = BeforeSuite(func(ctx SpecContext) {
	if iso, err := process.Probe(); err != nil {
		Skip("process tier needs a PID namespace (root, or unprivileged user namespaces): " + err.Error())
	} else {
		GinkgoWriter.Printf("PID namespaces: %s\n", iso)
	}
	for _, bin := range entrypoints.Binaries() {
		_, err := exec.LookPath(bin)
		Expect(err).NotTo(HaveOccurred(), "entrypoint variants need %s on PATH: run `make tools` (hack/install-test-deps.sh)", bin)
	}

	app, err := gexec.Build("github.com/kubegrace/kubegrace/fixtures/app")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(gexec.CleanupBuildArtifacts)
	dir := GinkgoT().TempDir()
	Expect(entrypoints.WriteScripts(filepath.Join(dir, "entrypoints"))).To(Succeed())
	layout = entrypoints.Layout{App: app, ScriptDir: filepath.Join(dir, "entrypoints")}

	logs, err := os.Create(filepath.Join(dir, "consul.log"))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(logs.Close)
	agent, err = consul.StartTestAgent(ctx, GinkgoT(), logs)
	Expect(err).NotTo(HaveOccurred())

	reportDir = os.Getenv("KUBEGRACE_REPORT_DIR")
	if reportDir == "" {
		_, file, _, _ := runtime.Caller(0)
		reportDir = filepath.Join(filepath.Dir(file), "..", "..", "reports", "fast-tier")
	}
	Expect(os.MkdirAll(reportDir, 0o755)).To(Succeed())
}, NodeTimeout(3*time.Minute))

// appEnv is the fixture's environment for one instance on loopback.
func appEnv(service, addr string, port int, extra ...string) []string {
	env := append([]string{
		"PATH=" + os.Getenv("PATH"),
		"FIXTURE_SERVICE_NAME=" + service,
		"FIXTURE_CONSUL_ADDR=" + agent.Server.HTTPAddr,
		"FIXTURE_ADVERTISE_ADDR=" + addr,
		"FIXTURE_LISTEN_ADDR=" + addr,
		"FIXTURE_PORT=" + itoa(port),
	}, layout.Env()...)
	return append(env, extra...)
}

func itoa(n int) string { return strconv.Itoa(n) }

// freePort finds a TCP port free on ip (the kernel picks it).
func freePort(ip string) int {
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	Expect(err).NotTo(HaveOccurred())
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeTierReport prints a table to stdout (this tier's headline) and writes
// it as name.txt, with payload plus a timestamp as name.json, to reportDir.
func writeTierReport(name, title, table string, payload map[string]any) {
	GinkgoHelper()
	fmt.Fprintf(os.Stdout, "\n%s:\n%s\n", title, table)
	payload["generated_at"] = time.Now().UTC().Format(time.RFC3339)
	b, err := json.MarshalIndent(payload, "", "  ")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(filepath.Join(reportDir, name+".json"), b, 0o644)).To(Succeed())
	Expect(os.WriteFile(filepath.Join(reportDir, name+".txt"), []byte(table), 0o644)).To(Succeed())
}
