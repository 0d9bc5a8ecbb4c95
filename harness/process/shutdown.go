package process

import (
	"context"
	"fmt"
	"syscall"
	"time"

	"github.com/kubegrace/kubegrace/fixtures/app/event"
)

// ShutdownSpec is one process-level run of the kubelet's stop sequence:
// start a container command as PID 1, wait until the app is registered, send
// SIGTERM to PID 1, and SIGKILL it if the namespace is not empty after Grace.
type ShutdownSpec struct {
	Name  string
	Argv  []string
	Env   []string
	Grace time.Duration // terminationGracePeriodSeconds
	// ReadyTimeout bounds start until the app's registered event.
	ReadyTimeout time.Duration
	// StillRegistered asks the registry, after the namespace is gone,
	// whether the instance is still listed: the app's own word that it
	// deregistered is not taken on trust.
	StillRegistered func(ctx context.Context, instanceID string) (bool, error)
}

// ShutdownResult is what one run measured. Durations are milliseconds
// from the moment SIGTERM was sent to PID 1.
type ShutdownResult struct {
	Name string   `json:"variant"`
	Argv []string `json:"argv"`
	// AppPID is the app's PID inside the namespace: 1 when it is init.
	AppPID     int    `json:"app_pid"`
	InstanceID string `json:"instance_id"`
	GraceMS    int64  `json:"grace_ms"`
	// AppSignal is the signal the app reported receiving ("" if none).
	AppSignal     string   `json:"app_signal,omitempty"`
	SignalAfterMS *float64 `json:"signal_after_ms,omitempty"`
	// AppDeregistered: the app reported its deregistration. An app killed
	// right after Consul accepted the call never reports it, so the registry
	// has the last word (StillRegistered).
	AppDeregistered bool     `json:"app_deregistered"`
	DeregAfterMS    *float64 `json:"deregistered_after_ms,omitempty"`
	// StillRegistered is the registry's answer once the namespace was gone.
	StillRegistered bool `json:"still_registered"`
	// AppExitCode is the code the app reported in its exiting event; nil
	// when it never got that far (killed).
	AppExitCode *int `json:"app_exit_code,omitempty"`
	// KilledAfterGrace: the namespace was not empty after Grace, so the
	// harness sent SIGKILL, as the kubelet would.
	KilledAfterGrace bool `json:"killed_after_grace"`
	// EmptyAfterMS is SIGTERM until the last process of the namespace was
	// gone (the kernel reaps init last).
	EmptyAfterMS float64 `json:"namespace_empty_after_ms"`
	InitExitCode int     `json:"init_exit_code"`
	InitSignal   string  `json:"init_killed_by,omitempty"`
	// Events are the app's lifecycle events; Output the other lines.
	Events []event.Event `json:"events"`
	Output []string      `json:"output,omitempty"`
}

// Deregistered is the registry's word: the instance is gone from it.
func (r ShutdownResult) Deregistered() bool { return !r.StillRegistered }

// SawSIGTERM says whether the app itself received SIGTERM.
func (r ShutdownResult) SawSIGTERM() bool { return r.AppSignal == "SIGTERM" }

// AppKilled says whether the app ended without reaching its exiting event.
func (r ShutdownResult) AppKilled() bool { return r.AppExitCode == nil }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func msSince(t0 time.Time, e event.Event) *float64 {
	v := ms(e.Time().Sub(t0))
	return &v
}

// MeasureShutdown runs spec once. An error means the run could not be
// measured (start failed, the app never registered, the namespace would not
// die); what the entrypoint did with the signal is in the result either way.
func MeasureShutdown(ctx context.Context, spec ShutdownSpec) (res ShutdownResult, err error) {
	res = ShutdownResult{Name: spec.Name, Argv: spec.Argv, GraceMS: spec.Grace.Milliseconds()}
	log := NewEventLog()
	init, err := StartInit(InitSpec{Argv: spec.Argv, Env: spec.Env, Stdout: log.Stream("stdout"), Stderr: log.Stream("stderr")})
	if err != nil {
		return res, err
	}
	defer func() {
		// Whatever happened, leave nothing running.
		select {
		case <-init.Done():
		default:
			_ = init.Signal(syscall.SIGKILL)
			<-init.Done()
		}
		res.Events, res.Output = log.Events(), log.Other()
	}()

	ready, ok := log.WaitFor(spec.ReadyTimeout, init.Done(), event.Registered, event.RegisterFailed)
	switch {
	case !ok:
		return res, fmt.Errorf("%s: app not registered within %s (output: %q)", spec.Name, spec.ReadyTimeout, log.Other())
	case ready.Kind == event.RegisterFailed:
		return res, fmt.Errorf("%s: app could not register: %s", spec.Name, ready.Error)
	}
	res.AppPID, res.InstanceID = ready.PID, ready.Instance

	t0 := time.Now()
	if err := init.Signal(syscall.SIGTERM); err != nil {
		return res, err
	}
	select {
	case <-init.Done():
	case <-time.After(spec.Grace):
		res.KilledAfterGrace = true
		if err := init.Signal(syscall.SIGKILL); err != nil {
			return res, err
		}
	case <-ctx.Done():
		return res, fmt.Errorf("%s: %w", spec.Name, ctx.Err())
	}
	waitCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := init.Wait(waitCtx); err != nil {
		return res, fmt.Errorf("%s: namespace not empty 10s after SIGKILL: %w", spec.Name, err)
	}
	exit := init.Exit()
	res.EmptyAfterMS = ms(exit.At.Sub(t0))
	res.InitExitCode, res.InitSignal = exit.Code, exit.Signal

	if e, ok := log.First(event.Signal); ok {
		res.AppSignal, res.SignalAfterMS = e.Signal, msSince(t0, e)
	}
	if e, ok := log.First(event.Deregistered); ok {
		res.AppDeregistered, res.DeregAfterMS = true, msSince(t0, e)
	}
	if e, ok := log.First(event.Exiting); ok {
		res.AppExitCode = e.ExitCode
	}
	if spec.StillRegistered != nil {
		if res.StillRegistered, err = spec.StillRegistered(ctx, res.InstanceID); err != nil {
			return res, fmt.Errorf("%s: %w", spec.Name, err)
		}
	}
	return res, nil
}
