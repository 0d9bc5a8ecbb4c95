package process

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
	"github.com/kubegrace/kubegrace/harness/consul"
	"github.com/kubegrace/kubegrace/harness/poll"
)

// AppSpec is one fixture app process: its container command and environment.
type AppSpec struct {
	Argv []string
	Env  []string
}

// StaleSpec is the incident's second mechanism at process level: Old is
// registered with an HTTP check on Addr:Port, is SIGKILLed (so it never
// deregisters), its check goes critical, and New, another service, starts on
// the same address and port.
type StaleSpec struct {
	Name     string
	Old, New AppSpec
	Client   *api.Client
	// Observe is how long Old's check is watched after New registered.
	Observe time.Duration
	// Poll is the interval at which check status is sampled: the
	// resolution of what is measured, so no preset's.
	Poll time.Duration
}

// StatusChange is one observed status of a check, at ms since New started.
type StatusChange struct {
	Status string  `json:"status"`
	AtMS   float64 `json:"at_ms"`
}

// StaleResult is what one stale-check run measured.
type StaleResult struct {
	Name        string `json:"name"`
	Address     string `json:"address"`
	OldService  string `json:"old_service"`
	OldInstance string `json:"old_instance"`
	NewService  string `json:"new_service"`
	Identity    string `json:"identity_check"`
	// CriticalAfterKillMS: SIGKILL of Old until its check was seen critical.
	CriticalAfterKillMS float64 `json:"critical_after_kill_ms"`
	// StaleOpenAfterMS: New's listener opened until Old's check was seen passing
	// again (the stale window opens); nil if it stayed critical.
	StaleOpenAfterMS *float64 `json:"stale_open_after_ms,omitempty"`
	// OldCheck is every status of Old's check seen while observing.
	OldCheck []StatusChange `json:"old_check"`
	// NewPassing: New's own check passed (the observation was meaningful).
	NewPassing bool `json:"new_passing"`
	// CallerReached is the service a caller reached when it asked Consul for
	// a passing Old instance and called GET /; "" if Consul had none.
	CallerReached string  `json:"caller_reached,omitempty"`
	ObservedMS    float64 `json:"observed_ms"`
}

// StaleOpened says whether Old's registration passed again.
func (r StaleResult) StaleOpened() bool { return r.StaleOpenAfterMS != nil }

// WrongTarget says whether a caller of Old's service reached another one.
func (r StaleResult) WrongTarget() bool {
	return r.CallerReached != "" && r.CallerReached != r.OldService
}

// startApp starts one app as PID 1 of its own namespace and waits for its
// registration; it returns the registered event and the started event (the
// listener opened).
func startApp(spec AppSpec, timeout time.Duration) (*Init, event.Event, event.Event, error) {
	log := NewEventLog()
	p, err := StartInit(InitSpec{Argv: spec.Argv, Env: spec.Env, Stdout: log.Stream("stdout"), Stderr: log.Stream("stderr")})
	if err != nil {
		return nil, event.Event{}, event.Event{}, err
	}
	e, ok := log.WaitFor(timeout, p.Done(), event.Registered, event.RegisterFailed)
	if !ok || e.Kind != event.Registered {
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
		return nil, e, e, fmt.Errorf("app %q did not register within %s: %s %q", spec.Argv, timeout, e.Error, log.Other())
	}
	started, _ := log.First(event.Started)
	return p, e, started, nil
}

func stop(p *Init) {
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
	}
}

// MeasureStale runs spec once; the stale registration is removed at the end.
func MeasureStale(ctx context.Context, spec StaleSpec) (res StaleResult, err error) {
	res = StaleResult{Name: spec.Name}
	old, oldReg, _, err := startApp(spec.Old, 20*time.Second)
	if err != nil {
		return res, fmt.Errorf("%s: old: %w", spec.Name, err)
	}
	defer func() {
		// Remove the registration Old could not: leave the agent clean.
		_ = spec.Client.Agent().ServiceDeregister(oldReg.Instance)
	}()
	res.Address = net.JoinHostPort(oldReg.Address, strconv.Itoa(oldReg.Port))
	res.OldService, res.OldInstance = oldReg.Service, oldReg.Instance
	checkID := "service:" + oldReg.Instance
	svc, _, err := spec.Client.Agent().Service(oldReg.Instance, nil)
	if err != nil {
		return res, fmt.Errorf("%s: look up old registration: %w", spec.Name, err)
	}
	res.Identity = svc.Meta["identity_check"]
	sample := poll.Timing{Interval: spec.Poll}
	if _, err := consul.WaitCheckStatus(ctx, spec.Client, checkID, api.HealthPassing, sample.For(15*time.Second)); err != nil {
		return res, fmt.Errorf("%s: old never passed: %w", spec.Name, err)
	}

	// SIGKILL: no handler runs, no deregistration, as after a grace period.
	killedAt := time.Now()
	if err := old.Signal(syscall.SIGKILL); err != nil {
		return res, err
	}
	<-old.Done()
	critAt, err := consul.WaitCheckStatus(ctx, spec.Client, checkID, api.HealthCritical, sample.For(30*time.Second))
	if err != nil {
		return res, fmt.Errorf("%s: old check never went critical after SIGKILL: %w", spec.Name, err)
	}
	res.CriticalAfterKillMS = ms(critAt.Sub(killedAt))

	newApp, newReg, newStarted, err := startApp(spec.New, 20*time.Second)
	if err != nil {
		return res, fmt.Errorf("%s: new: %w", spec.Name, err)
	}
	defer stop(newApp)
	defer func() { _ = spec.Client.Agent().ServiceDeregister(newReg.Instance) }()
	res.NewService = newReg.Service
	if newReg.Address != oldReg.Address || newReg.Port != oldReg.Port {
		return res, fmt.Errorf("%s: new registered on %s:%d, not the old address %s", spec.Name, newReg.Address, newReg.Port, res.Address)
	}
	newStart := newStarted.Time() // its listener is open from here on

	last := ""
	deadline := time.Now().Add(spec.Observe)
	for time.Now().Before(deadline) {
		st, err := consul.CheckStatus(ctx, spec.Client, checkID)
		if err != nil {
			return res, fmt.Errorf("%s: %w", spec.Name, err)
		}
		now := time.Now()
		if st != last {
			res.OldCheck = append(res.OldCheck, StatusChange{Status: st, AtMS: ms(now.Sub(newStart))})
			last = st
		}
		if st == api.HealthPassing && res.StaleOpenAfterMS == nil {
			v := ms(now.Sub(newStart))
			res.StaleOpenAfterMS = &v
		}
		if !res.NewPassing {
			if ns, err := consul.CheckStatus(ctx, spec.Client, "service:"+newReg.Instance); err == nil && ns == api.HealthPassing {
				res.NewPassing = true
			}
		}
		if err := poll.Sleep(ctx, spec.Poll); err != nil {
			return res, err
		}
	}
	res.ObservedMS = ms(time.Since(newStart))

	// What a caller of Old's service gets now.
	passing, err := consul.PassingInstances(ctx, spec.Client, res.OldService)
	if err != nil {
		return res, err
	}
	if len(passing) > 0 {
		reached, err := callIdentity(ctx, passing[0].Service.Address, passing[0].Service.Port)
		if err != nil {
			return res, fmt.Errorf("%s: call the passing instance: %w", spec.Name, err)
		}
		res.CallerReached = reached
	}
	return res, nil
}

// callIdentity calls GET / on addr:port and returns the service that answered.
func callIdentity(ctx context.Context, addr string, port int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(addr, strconv.Itoa(port))+"/", nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var id struct{ Service string }
	if err := json.NewDecoder(resp.Body).Decode(&id); err != nil {
		return "", fmt.Errorf("decode GET / answer: %w", err)
	}
	return id.Service, nil
}

// FormatStale renders stale-check results as a table.
func FormatStale(results []StaleResult) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tIDENTITY CHECK\tCRITICAL AFTER KILL\tSTALE PASSING AGAIN\tCALLER OF OLD SERVICE REACHED")
	for _, r := range results {
		open := fmt.Sprintf("no (watched %.1fs)", r.ObservedMS/1000)
		if r.StaleOpenAfterMS != nil {
			open = fmt.Sprintf("yes, %.0fms after new service started", *r.StaleOpenAfterMS)
		}
		reached := "nobody (no passing instance)"
		if r.CallerReached != "" {
			reached = r.CallerReached
			if r.WrongTarget() {
				reached += " (WRONG SERVICE)"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0fms\t%s\t%s\n", r.Name, r.Identity, r.CriticalAfterKillMS, open, reached)
	}
	_ = tw.Flush()
	return b.String()
}
