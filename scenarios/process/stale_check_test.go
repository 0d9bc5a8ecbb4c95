package process

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/kubegrace/kubegrace/harness/process"
)

const (
	staleCheckInterval = time.Second
	// staleObserve is long enough for several checks of the old
	// registration after the new service is up.
	staleObserve = 4 * staleCheckInterval
)

// staleCase is one run: the old service's identity-check mode.
type staleCase struct {
	name     string
	identity string
	addr     string
}

var staleCases = []staleCase{
	{"incident: plain check", "off", "127.0.2.1"},
	{"remedy: instance id in header", "header", "127.0.2.2"},
	{"remedy: instance id in path", "path", "127.0.2.3"},
}

var _ = Describe("stale registration on a reused address", Label("fast", "stale-check"), Ordered, func() {
	results := map[string]process.StaleResult{}

	BeforeAll(func(ctx SpecContext) {
		list := make([]process.StaleResult, len(staleCases))
		errs := make([]error, len(staleCases))
		done := make(chan int)
		for i, c := range staleCases {
			// Services are named per case: a caller resolving one case's
			// service must not find another case's instances.
			port := freePort(c.addr)
			common := []string{
				"FIXTURE_CHECK_INTERVAL=" + staleCheckInterval.String(),
				"FIXTURE_CHECK_TIMEOUT=500ms",
				"FIXTURE_IDENTITY_CHECK=" + c.identity,
			}
			spec := process.StaleSpec{
				Name:    c.name,
				Old:     process.AppSpec{Argv: []string{layout.App}, Env: appEnv(fmt.Sprintf("orders-%d", i), c.addr, port, common...)},
				New:     process.AppSpec{Argv: []string{layout.App}, Env: appEnv(fmt.Sprintf("payments-%d", i), c.addr, port, common...)},
				Client:  agent.Client,
				Observe: staleObserve,
				Poll:    50 * time.Millisecond,
			}
			go func() {
				defer func() { done <- i }()
				list[i], errs[i] = process.MeasureStale(ctx, spec)
			}()
		}
		for range staleCases {
			<-done
		}
		for i, c := range staleCases {
			Expect(errs[i]).NotTo(HaveOccurred(), c.name)
			results[c.name] = list[i]
		}
		writeTierReport("stale-check", fmt.Sprintf("Stale check at process level (check interval %s)", staleCheckInterval),
			process.FormatStale(list), map[string]any{
				"check_interval_ms": staleCheckInterval.Milliseconds(),
				"results":           list,
			})
	}, NodeTimeout(90*time.Second))

	It("opens a stale window with a plain check: the killed service's registration passes again", func() {
		r := results["incident: plain check"]
		Expect(r.NewPassing).To(BeTrue(), "the new service's own check passed")
		Expect(r.CriticalAfterKillMS).To(BeNumerically("<=", float64((staleCheckInterval + time.Second).Milliseconds())))
		Expect(r.StaleOpened()).To(BeTrue(), "old registration passing again; saw %v", r.OldCheck)
		// Consul checks on its interval: the window opens within about one
		// interval of the new service listening (slack for polling and load).
		Expect(*r.StaleOpenAfterMS).To(BeNumerically("<=", float64((staleCheckInterval + time.Second).Milliseconds())))
		Expect(r.WrongTarget()).To(BeTrue(), "a caller of %s reached %q", r.OldService, r.CallerReached)
		Expect(r.CallerReached).To(Equal(r.NewService))
	})

	for _, name := range []string{"remedy: instance id in header", "remedy: instance id in path"} {
		It("keeps the killed service critical when the check carries its instance id ("+name+")", func() {
			r := results[name]
			Expect(r.NewPassing).To(BeTrue(), "the new service's own check passed, so checks were running")
			Expect(r.StaleOpened()).To(BeFalse(), "old registration passed again; saw %v", r.OldCheck)
			Expect(r.OldCheck).NotTo(BeEmpty())
			for _, s := range r.OldCheck {
				Expect(s.Status).To(Equal("critical"))
			}
			Expect(r.ObservedMS).To(BeNumerically(">=", float64(staleObserve.Milliseconds())))
			Expect(r.CallerReached).To(BeEmpty(), "no passing instance of %s", r.OldService)
		})
	}
})
