// Package process runs entrypoint variants the way a container runtime
// does, without a cluster: as PID 1 of a fresh PID namespace, signalled from
// the parent namespace. The kernel rules that decide the incident apply
// unchanged here: a signal sent to a namespace's init from outside is
// dropped unless init has a handler for it (SIGKILL always lands), and when
// init exits every other process in the namespace is SIGKILLed.
package process

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Isolation is how a new PID namespace is obtained.
type Isolation string

const (
	// IsolationPIDNS: root, a plain CLONE_NEWPID.
	IsolationPIDNS Isolation = "pid-namespace"
	// IsolationUserPIDNS: not root, a user namespace (mapped to the caller's
	// own uid) that owns the new PID namespace.
	IsolationUserPIDNS Isolation = "user+pid-namespace"
)

// ErrUnsupported says no PID namespace can be made here; callers skip with
// its message rather than pass silently.
var ErrUnsupported = errors.New("cannot create a PID namespace")

var (
	probeOnce sync.Once
	probed    Isolation
	probeErr  error
)

// Probe finds the isolation this process can use, by starting /bin/true in
// one. The answer is cached.
func Probe() (Isolation, error) {
	probeOnce.Do(func() {
		candidates := []Isolation{IsolationPIDNS, IsolationUserPIDNS}
		if os.Geteuid() != 0 {
			candidates = candidates[1:]
		}
		var errs []error
		for _, iso := range candidates {
			cmd := exec.Command("/bin/true")
			cmd.SysProcAttr = sysProcAttr(iso)
			if err := cmd.Run(); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", iso, err))
				continue
			}
			probed = iso
			return
		}
		probeErr = fmt.Errorf("%w (uid %d): %w", ErrUnsupported, os.Geteuid(), errors.Join(errs...))
	})
	return probed, probeErr
}

func sysProcAttr(iso Isolation) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID,
		// If the harness dies, its namespaces die with it: nothing leaks.
		Pdeathsig: syscall.SIGKILL,
		// Own process group, like a container: a terminal's Ctrl-C reaches
		// the harness, which decides what the namespace gets.
		Setpgid: true,
	}
	if iso == IsolationUserPIDNS {
		a.Cloneflags |= syscall.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: os.Geteuid(), HostID: os.Geteuid(), Size: 1}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: os.Getegid(), HostID: os.Getegid(), Size: 1}}
	}
	return a
}

// Init is a running PID namespace whose PID 1 runs a container command.
type Init struct {
	cmd      *exec.Cmd
	done     chan struct{}
	exitedAt time.Time
	waitErr  error
}

// InitSpec is what to run as PID 1.
type InitSpec struct {
	Argv   []string
	Env    []string // the whole environment of PID 1
	Dir    string
	Stdout io.Writer
	Stderr io.Writer
}

// StartInit starts spec.Argv as PID 1 of a new PID namespace. The returned
// Init is reaped in the background; Done closes when the whole namespace is
// gone, because the kernel reaps a namespace's init only after every other
// process in it has exited.
func StartInit(spec InitSpec) (*Init, error) {
	if len(spec.Argv) == 0 {
		return nil, errors.New("start init: empty command")
	}
	iso, err := Probe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(spec.Argv[0], spec.Argv[1:]...)
	cmd.Env, cmd.Dir, cmd.Stdout, cmd.Stderr = spec.Env, spec.Dir, spec.Stdout, spec.Stderr
	cmd.SysProcAttr = sysProcAttr(iso)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %q as PID 1 (%s): %w", spec.Argv, iso, err)
	}
	p := &Init{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		p.exitedAt = time.Now()
		close(p.done)
	}()
	return p, nil
}

// HostPID is PID 1's process id in the harness's namespace.
func (p *Init) HostPID() int { return p.cmd.Process.Pid }

// Signal sends sig to PID 1 from the parent namespace, as the kubelet's
// runtime does. Signalling a namespace that is already gone is not an error.
func (p *Init) Signal(sig syscall.Signal) error {
	err := p.cmd.Process.Signal(sig)
	if err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("send %v to PID 1 (host pid %d): %w", sig, p.HostPID(), err)
	}
	return nil
}

// Done is closed once the namespace is empty.
func (p *Init) Done() <-chan struct{} { return p.done }

// Wait blocks until the namespace is empty or ctx ends.
func (p *Init) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for PID 1 (host pid %d) to exit: %w", p.HostPID(), ctx.Err())
	}
}

// Exit describes how PID 1 ended; valid after Done.
type Exit struct {
	At       time.Time
	Code     int    // exit status, or -1 when killed by a signal
	Signal   string // the signal that killed PID 1, if any
	Signaled bool
}

// Exit returns how PID 1 ended. Call it after Done.
func (p *Init) Exit() Exit {
	<-p.done
	e := Exit{At: p.exitedAt, Code: -1}
	st := p.cmd.ProcessState
	if st == nil {
		return e
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signaled, e.Signal = true, SignalName(ws.Signal())
		return e
	}
	e.Code = st.ExitCode()
	return e
}

// SignalName is the conventional SIGxxx name.
func SignalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return s.String()
}
