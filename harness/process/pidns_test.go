package process

import (
	"bytes"
	"context"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The runtime semantics the matrix depends on, checked directly: the
// command is PID 1, a signal without a handler is dropped, SIGKILL lands.
func TestInitIsPID1AndIgnoresUnhandledTERM(t *testing.T) {
	if _, err := Probe(); err != nil {
		t.Skip(err)
	}
	var out bytes.Buffer
	p, err := StartInit(InitSpec{Argv: []string{"/bin/sh", "-c", "echo pid=$$; exec sleep 30"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx); err == nil {
		t.Fatal("PID 1 without a TERM handler must survive SIGTERM from the parent namespace")
	}
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := p.Wait(ctx2); err != nil {
		t.Fatal(err)
	}
	if e := p.Exit(); !e.Signaled || e.Signal != "SIGKILL" {
		t.Errorf("exit %+v", e)
	}
	if !strings.Contains(out.String(), "pid=1") {
		t.Errorf("not PID 1: %q", out.String())
	}
}

func TestStartInitRejectsEmptyCommand(t *testing.T) {
	if _, err := StartInit(InitSpec{}); err == nil {
		t.Fatal("want an error")
	}
}
