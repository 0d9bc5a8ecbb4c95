//go:build kind

package cluster

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/check"
	"github.com/kubegrace/kubegrace/harness/env"
	"github.com/kubegrace/kubegrace/harness/probe"
	"github.com/kubegrace/kubegrace/images"
)

// Images built here from the project's Debian base, each starting sigapp
// (an app with a SIGTERM handler) another way, probed as a user would
// probe theirs.
var _ = Describe("kubegrace probe", Label("kind", "probe"), Ordered, func() {
	var base, app string

	// image commits base + sigapp + start.sh (if script is set) with cmd.
	image := func(ctx context.Context, ref, script string, cmd ...string) string {
		dir := GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(dir, "opt"), 0o755)).To(Succeed())
		Expect(exec.CommandContext(ctx, "cp", app, filepath.Join(dir, "opt", "sigapp")).Run()).To(Succeed())
		if script != "" {
			Expect(os.WriteFile(filepath.Join(dir, "start.sh"), []byte(script), 0o755)).To(Succeed())
		}
		out, err := exec.CommandContext(ctx, "docker", "create", base).Output()
		Expect(err).NotTo(HaveOccurred())
		c := strings.TrimSpace(string(out))
		defer exec.Command("docker", "rm", c).Run()
		Expect(exec.CommandContext(ctx, "docker", "cp", dir+"/.", c+":/").Run()).To(Succeed())
		quoted := make([]string, len(cmd))
		for i, a := range cmd {
			quoted[i] = `"` + a + `"`
		}
		Expect(exec.CommandContext(ctx, "docker", "commit", "--change", "ENTRYPOINT []", "--change", "CMD ["+strings.Join(quoted, ",")+"]", c, ref).Run()).To(Succeed())
		// Each run commits anew: the last run's image would stay behind,
		// untagged, run after run.
		DeferCleanup(func() { _ = exec.Command("docker", "rmi", ref).Run() })
		return ref
	}

	BeforeAll(func(ctx SpecContext) {
		var err error
		base, err = images.DebianBase(ctx, repoRoot(), GinkgoWriter)
		Expect(err).NotTo(HaveOccurred())
		app = filepath.Join(GinkgoT().TempDir(), "sigapp")
		build := exec.CommandContext(ctx, "go", "build", "-o", app, "./scenarios/cluster/testdata/sigapp")
		build.Dir, build.Env = repoRoot(), append(os.Environ(), "CGO_ENABLED=0")
		out, err := build.CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
	}, NodeTimeout(5*time.Minute))

	run := func(ctx context.Context, img string) probe.Result {
		res, err := probe.Run(ctx, probe.Options{
			Image: img, Grace: 5 * time.Second, ReportsDir: filepath.Join(repoRoot(), "reports"), Log: GinkgoWriter,
			Kernel:  env.KernelRequired,
			Cluster: env.Options{Repo: repoRoot(), Name: name, NodeImage: c.NodeImage.Image},
		})
		Expect(err).NotTo(HaveOccurred())
		GinkgoWriter.Printf("probe of %s in %.1f s:\n%s\n", img, res.Duration.Seconds(), res.Summary)
		Expect(filepath.Join(res.Dir, "report.html")).To(BeAnExistingFile())
		return res
	}
	value := func(res probe.Result, name string) check.Verdict {
		for _, v := range res.Verdicts {
			if v.Name == name && v.Subject == probe.PodName {
				return v
			}
		}
		Fail("no verdict " + name)
		return check.Verdict{}
	}

	It("fails a bash start script without exec: PID 1 drops SIGTERM, the app is SIGKILLed", func(ctx SpecContext) {
		res := run(ctx, image(ctx, "kubegrace-test/probe-noexec:1", "#!/usr/bin/env bash\n/opt/sigapp\n", "/start.sh"))
		Expect(res.Pass).To(BeFalse())
		Expect(res.App).To(HavePrefix("sigapp"))
		Expect(res.Init).To(HavePrefix("bash (PID 1)"))
		Expect(value(res, check.NameSigtermDropped).Value).To(Equal(1.0))
		Expect(value(res, check.NameKilledBySIGKILL).Value).To(Equal(1.0))
		Expect(res.Summary).To(ContainSubstring("exec"))
		var bash probe.Process
		for _, p := range res.Tree {
			if p.PID == 1 {
				bash = p
			}
		}
		Expect(bash.Comm).To(Equal("bash"))
		Expect(bash.TermHandling()).To(Equal("default"))
		Expect(res.ExitCode).To(Equal(137))
		Expect(res.Summary).To(ContainSubstring("exited with code 137 (128+9: killed by SIGKILL)"))
	}, SpecTimeout(4*time.Minute))

	It("passes the same script with exec", func(ctx SpecContext) {
		res := run(ctx, image(ctx, "kubegrace-test/probe-exec:1", "#!/usr/bin/env bash\nexec /opt/sigapp\n", "/start.sh"))
		Expect(res.Pass).To(BeTrue())
		Expect(res.App).To(Equal("sigapp (PID 1)"))
		Expect(value(res, check.NameKilledBySIGKILL).Value).To(Equal(0.0))
		Expect(value(res, check.NameShutdownWindow).Value).To(BeNumerically(">=", 300))
	}, SpecTimeout(4*time.Minute))

	It("names docker build and docker load for an image the engine does not have, and never pulls", func(ctx SpecContext) {
		_, err := probe.Run(ctx, probe.Options{Image: "kubegrace-test/not-built:1", Log: GinkgoWriter,
			Cluster: env.Options{Repo: repoRoot(), Name: name, NodeImage: c.NodeImage.Image}})
		Expect(err).To(MatchError(And(ContainSubstring("not in the local Docker engine"), ContainSubstring("docker build"), ContainSubstring("docker load"))))
	}, SpecTimeout(time.Minute))

	It("passes on the runtime's own message for a command the image does not have", func(ctx SpecContext) {
		img := image(ctx, "kubegrace-test/probe-nocmd:1", "", "/opt/sigapp")
		res, err := probe.Run(ctx, probe.Options{Image: img, Command: []string{"/opt/no-such-program"}, Grace: 5 * time.Second,
			ReportsDir: filepath.Join(repoRoot(), "reports"), Log: GinkgoWriter,
			Cluster: env.Options{Repo: repoRoot(), Name: name, NodeImage: c.NodeImage.Image}})
		Expect(err).To(MatchError(And(ContainSubstring("the container cannot start"), ContainSubstring("/opt/no-such-program"))))
		GinkgoWriter.Printf("missing command: %v\n", err)
		Expect(filepath.Join(res.Dir, "report.html")).To(BeAnExistingFile(), "a report even when the probe fails")
	}, SpecTimeout(2*time.Minute))

	It("shows tini -g: the app gets SIGTERM, and what ended it", func(ctx SpecContext) {
		res := run(ctx, image(ctx, "kubegrace-test/probe-tini-g:1", "#!/usr/bin/env bash\n/opt/sigapp\n", "tini", "-g", "--", "/start.sh"))
		// Whether the app ran before the kernel's SIGKILL (signal_delivered)
		// is the scheduler's race; that it got SIGTERM and how long it had
		// are not.
		Expect(res.Pass).To(BeTrue())
		Expect(value(res, check.NameSigtermDropped).Value).To(Equal(0.0))
		Expect(res.Tree[0].Comm).To(Equal("tini"))
		Expect(res.Tree[0].TermHandling()).To(Equal("sigwait"), "tini takes signals with sigtimedwait")
		Expect(res.Summary).To(ContainSubstring("waiting for SIGTERM with sigwait"))
		window := value(res, check.NameShutdownWindow)
		Expect(window.Value).To(BeNumerically(">=", 0))
		Expect(window.Message).To(Or(ContainSubstring("SIGKILL from the kernel"), ContainSubstring("(exit)")))
		GinkgoWriter.Printf("tini -g: %s\n", window.Message)
	}, SpecTimeout(4*time.Minute))
})
