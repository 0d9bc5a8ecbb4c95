//go:build linux

package kernel

import (
	"context"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// A thread of this process, by its TID: /proc/TID is readable though not
// listed, and its Tgid names the process (how a fork event's child is told
// to be a thread).
func TestReadProcThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := syscall.Gettid()
	th, err := ReadProc("/proc", tid)
	if err != nil {
		t.Fatal(err)
	}
	if th.TGID != os.Getpid() || th.HostPID != tid {
		t.Errorf("ReadProc(tid %d) = HostPID %d TGID %d; want TGID %d", tid, th.HostPID, th.TGID, os.Getpid())
	}
}

// A real ignored signal: SIG_IGN survives exec, and /proc shows it.
func TestReadProcIgnoredSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", `trap "" QUIT; exec sleep 30`)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start bash: %v", err)
	}
	defer cmd.Wait()
	defer cancel()
	var p Proc
	deadline := time.Now().Add(5 * time.Second)
	for {
		var err error
		p, err = ReadProc("/proc", cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if p.Comm == "sleep" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if p.Comm != "sleep" {
		t.Fatalf("comm = %q, the exec did not happen", p.Comm)
	}
	if !p.Ignores(int(syscall.SIGQUIT)) || p.Ignores(int(syscall.SIGTERM)) || p.Catches(int(syscall.SIGTERM)) {
		t.Errorf("SigIgn %x SigCgt %x: want QUIT ignored, TERM neither ignored nor caught", p.SigIgn, p.SigCgt)
	}
	if p.PPID != os.Getpid() || p.Cmdline != "sleep 30" {
		t.Errorf("PPID, Cmdline = %d, %q", p.PPID, p.Cmdline)
	}
}
