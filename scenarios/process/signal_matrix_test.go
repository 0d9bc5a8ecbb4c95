package process

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/fixtures/entrypoints"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/process"
)

// The matrix's settings: a short grace period keeps the tier fast; the drain
// delay stands for a Spring app's graceful shutdown, long enough that an
// init which exits before the app has drained cuts the drain off visibly.
const (
	matrixGrace = 3 * time.Second
	matrixDrain = 1 * time.Second
)

// odds says how often a behaviour showed in repeated measured runs.
type odds int

const (
	never odds = iota
	always
	// sometimes: runs go both ways; here a race between the app's shutdown
	// and its init's exit, which makes the kernel SIGKILL the app.
	sometimes
)

func (o odds) check(got bool, what string) {
	GinkgoHelper()
	switch o {
	case always:
		Expect(got).To(BeTrue(), what)
	case never:
		Expect(got).To(BeFalse(), what)
	}
}

// outcome is what a variant does with the kubelet's SIGTERM.
type outcome struct {
	// GetsSIGTERM: the app reports receiving SIGTERM.
	GetsSIGTERM odds
	// Deregisters: Consul no longer lists the instance afterwards.
	Deregisters odds
	// ExitsCleanly: the app reaches its own exit 0 rather than being
	// SIGKILLed, by the harness after grace or by the kernel when init exits.
	ExitsCleanly odds
	// KilledAfterGrace: nothing ended within the grace period.
	KilledAfterGrace odds
}

// expected is the measured truth per variant (Linux, Debian bookworm: bash
// 5.2, dash 0.5.12, tini 0.19, dumb-init 1.2.5); docs/signal-matrix.md says
// why each behaves as it does and how often the racy ones go which way.
var expected = map[string]outcome{
	entrypoints.BashNoExec:      {GetsSIGTERM: never, Deregisters: never, ExitsCleanly: never, KilledAfterGrace: always},
	entrypoints.BashExec:        {GetsSIGTERM: always, Deregisters: always, ExitsCleanly: always, KilledAfterGrace: never},
	entrypoints.ShNoExec:        {GetsSIGTERM: never, Deregisters: never, ExitsCleanly: never, KilledAfterGrace: always},
	entrypoints.BashTrap:        {GetsSIGTERM: always, Deregisters: always, ExitsCleanly: always, KilledAfterGrace: never},
	entrypoints.BashC:           {GetsSIGTERM: always, Deregisters: always, ExitsCleanly: always, KilledAfterGrace: never},
	entrypoints.TiniNoExec:      {GetsSIGTERM: never, Deregisters: never, ExitsCleanly: never, KilledAfterGrace: never},
	entrypoints.TiniGroupNoExec: {GetsSIGTERM: sometimes, Deregisters: sometimes, ExitsCleanly: never, KilledAfterGrace: never},
	entrypoints.DumbInitNoExec:  {GetsSIGTERM: sometimes, Deregisters: sometimes, ExitsCleanly: never, KilledAfterGrace: never},
}

var _ = Describe("signal delivery by entrypoint variant", Label("fast", "signals"), Ordered, func() {
	results := map[string]process.ShutdownResult{}

	BeforeAll(func(ctx SpecContext) {
		var specs []process.ShutdownSpec
		for i, v := range entrypoints.All() {
			addr := fmt.Sprintf("127.0.1.%d", i+1)
			specs = append(specs, process.ShutdownSpec{
				Name: v.Name,
				Argv: v.Argv(layout),
				Env: appEnv("sig-"+v.Name, addr, freePort(addr),
					"FIXTURE_DRAIN_DELAY="+matrixDrain.String(), "FIXTURE_CHECK_INTERVAL=1s"),
				Grace:        matrixGrace,
				ReadyTimeout: 20 * time.Second,
				StillRegistered: func(ctx context.Context, id string) (bool, error) {
					return consul.ServiceRegistered(ctx, agent.Client, id)
				},
			})
		}
		list, errs := process.MeasureAll(ctx, specs)
		for i, r := range list {
			Expect(errs[i]).NotTo(HaveOccurred(), "variant %s could not be measured", r.Name)
			results[r.Name] = r
		}

		writeTierReport("signal-matrix", fmt.Sprintf("Signal matrix (grace %s, app drain %s)", matrixGrace, matrixDrain),
			process.FormatMatrix(list), map[string]any{
				"grace_ms": matrixGrace.Milliseconds(),
				"drain_ms": matrixDrain.Milliseconds(),
				"results":  list,
			})
	}, NodeTimeout(2*time.Minute))

	It("has an expectation for every variant", func() {
		for _, v := range entrypoints.All() {
			Expect(expected).To(HaveKey(v.Name))
		}
	})

	for _, v := range entrypoints.All() {
		It(v.Name+": "+v.Summary, func() {
			r, want := results[v.Name], expected[v.Name]
			want.GetsSIGTERM.check(r.SawSIGTERM(), "app received SIGTERM")
			want.Deregisters.check(r.Deregistered(), "Consul no longer lists the instance")
			if r.AppDeregistered {
				// The app's own word must never contradict the registry.
				Expect(r.StillRegistered).To(BeFalse(), "app says deregistered but Consul still lists it")
			}
			want.ExitsCleanly.check(!r.AppKilled() && *r.AppExitCode == 0, "app reached its own exit 0")
			want.KilledAfterGrace.check(r.KilledAfterGrace, "SIGKILL needed after the grace period")
			if r.KilledAfterGrace {
				Expect(r.EmptyAfterMS).To(BeNumerically(">=", float64(matrixGrace.Milliseconds())))
			} else {
				Expect(r.EmptyAfterMS).To(BeNumerically("<", float64(matrixGrace.Milliseconds())))
			}
			if want.ExitsCleanly == always {
				// A clean stop takes the app's drain, not the grace period.
				Expect(r.EmptyAfterMS).To(BeNumerically(">=", float64(matrixDrain.Milliseconds())))
			}
		})
	}
})
