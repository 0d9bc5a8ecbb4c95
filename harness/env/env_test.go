package env

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/kubegrace/kubegrace/harness/cluster"
	"github.com/kubegrace/kubegrace/harness/nodeaccess"
	"github.com/kubegrace/kubegrace/harness/timeline"
)

func TestParseKernelMode(t *testing.T) {
	for in, want := range map[string]KernelMode{"": KernelAuto, "auto": KernelAuto, "off": KernelOff, "require": KernelRequired} {
		if got, err := ParseKernelMode(in); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	if _, err := ParseKernelMode("maybe"); err == nil {
		t.Error("an unknown mode must be refused")
	}
}

// Without the kernel (here: turned off), the runner's scenarios fall back
// and the report says why.
func TestStartKernelOff(t *testing.T) {
	e := &Env{Prepared: &Prepared{Cluster: &cluster.Cluster{Name: "k", Kind: true}}, Kernel: &Kernel{}}
	if err := e.startKernel(context.Background(), Options{Kernel: KernelOff, Log: io.Discard}, timeline.NewRecorder(time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	r := e.Runner(io.Discard, nil)
	if r.Kernel || r.PodIndex != nil || e.Kernel.Report.Available || e.Kernel.Report.Reason == "" {
		t.Errorf("runner kernel %v, report %+v", r.Kernel, e.Kernel.Report)
	}
	if s := e.Kernel.Report.String(); !strings.HasPrefix(s, "off:") {
		t.Errorf("report line %q", s)
	}
}

// Nodes not on this host without node access pods: no kernel observer,
// and the reason says so; with --kernel require that is an error.
func TestStartKernelUnreachable(t *testing.T) {
	for _, mode := range []KernelMode{KernelAuto, KernelRequired} {
		e := &Env{Prepared: &Prepared{Cluster: &cluster.Cluster{Name: "staging"}}, Kernel: &Kernel{}}
		err := e.startKernel(context.Background(), Options{Kernel: mode, Log: io.Discard}, timeline.NewRecorder(time.Now()))
		if (err != nil) != (mode == KernelRequired) || !strings.Contains(e.Kernel.Report.Reason, "not on this host") {
			t.Errorf("%q: error %v, reason %q", mode, err, e.Kernel.Report.Reason)
		}
	}
}

// All kernel agents together get one deadline: silent agents do not each
// get a fresh one (before, N silent agents held the run N minutes).
func TestAwaitAgentsOneDeadline(t *testing.T) {
	first := make(chan error, 3)
	first <- nil
	start := time.Now()
	err := awaitAgents(first, 3, time.After(100*time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "2 of 3 kernel agents") {
		t.Errorf("error %v; want 2 of 3 silent", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("took %s for a deadline of 100 ms", time.Since(start))
	}
	first <- nil
	first <- errors.New("no tracefs")
	if err := awaitAgents(first, 2, nil); err == nil || !strings.Contains(err.Error(), "no tracefs") {
		t.Errorf("an agent that cannot trace: %v", err)
	}
}

// Node access: docker exec only into kind nodes of this host, privileged
// pods only when allowed, and an error naming the flag otherwise.
func TestNodeAccessMode(t *testing.T) {
	kind, other := &cluster.Cluster{Name: "k", Kind: true}, &cluster.Cluster{Name: "staging"}
	for _, tc := range []struct {
		o       Options
		c       *cluster.Cluster
		want    string
		wantErr string
	}{
		{Options{}, kind, nodeaccess.ModeDocker, ""},
		{Options{}, other, "", ""},
		{Options{AllowPrivileged: true}, other, nodeaccess.ModePods, ""},
		{Options{AllowPrivileged: true}, kind, nodeaccess.ModeDocker, ""},
		{Options{NodeAccess: nodeaccess.ModePods}, kind, "", "give --allow-privileged"},
		{Options{NodeAccess: nodeaccess.ModePods, AllowPrivileged: true}, kind, nodeaccess.ModePods, ""},
		{Options{NodeAccess: nodeaccess.ModeDocker}, other, "", "not kind nodes of this host"},
		{Options{NodeAccess: "ssh"}, other, "", `--node-access "ssh": want auto, docker or pods`},
	} {
		got, err := NodeAccessMode(tc.o, tc.c.Name, tc.c.Kind)
		if got != tc.want || (err == nil) != (tc.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%+v on %s: got %q, %v; want %q, error with %q", tc.o, tc.c.Name, got, err, tc.want, tc.wantErr)
		}
	}
}
