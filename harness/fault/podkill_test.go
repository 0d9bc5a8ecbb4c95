package fault

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killInit against a real "container": a PID namespace of its own (init
// and a child) in a cgroup whose path names the container ID, as the
// runtime's cgroups do, beside a decoy in the same cgroup that is outside
// that PID namespace. The script must kill the namespace's PID 1, and the
// kernel then ends the child too.
func TestKillInitKillsTheContainersPID1(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root: a cgroup and a PID namespace of its own")
	}
	id := fmt.Sprintf("%064x", time.Now().UnixNano())
	var cg string
	for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"} {
		dir := filepath.Join(root, "kubegrace-test-"+id)
		if os.Mkdir(dir, 0o755) == nil {
			cg = dir
			break
		}
	}
	if cg == "" {
		t.Skip("no cgroup hierarchy to make a cgroup in")
	}
	t.Cleanup(func() { _ = os.Remove(cg) })

	// The shell joins the cgroup, then becomes unshare, whose fork is PID 1
	// of the new namespace (a sleep, with a second sleep as its child).
	ctr := exec.Command("sh", "-c", `echo $$ > "$1/cgroup.procs" && exec unshare --pid --fork --mount-proc sh -c 'sleep 600 & echo child $!; exec sleep 600'`, "_", cg)
	out, err := ctr.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := ctr.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctr.Process.Kill(); _ = ctr.Wait() })
	buf := make([]byte, 64)
	if _, err := out.Read(buf); err != nil || !strings.HasPrefix(string(buf), "child ") {
		t.Fatalf("the container did not start: %q %v", buf, err)
	}
	procs := func() []string {
		b, _ := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
		return strings.Fields(string(b))
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(procs()) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	before := procs()
	if len(before) != 3 {
		t.Fatalf("cgroup holds %v, want unshare, the namespace's init and its child", before)
	}

	got, err := exec.Command("sh", "-c", killInit, "kill-init", id).CombinedOutput()
	if err != nil {
		t.Fatalf("killInit: %v: %s", err, got)
	}
	t.Logf("%s", got)
	if !strings.Contains(string(got), "of 3 process(es) of the container, its PID 1") {
		t.Errorf("killInit said %q", got)
	}
	// unshare (outside the namespace) ends once its child, the namespace's
	// init, is gone; the namespace's other process is gone with it.
	done := make(chan error, 1)
	go func() { done <- ctr.Wait() }()
	select {
	case <-time.After(10 * time.Second):
		t.Fatalf("unshare still waits; cgroup holds %v", procs())
	case <-done:
	}
	for _, p := range before {
		if pid, _ := strconv.Atoi(p); pid > 0 && syscall.Kill(pid, 0) == nil {
			if b, _ := os.ReadFile("/proc/" + p + "/stat"); !strings.Contains(string(b), ") Z ") {
				t.Errorf("PID %s of the container still runs", p)
			}
		}
	}
}

// No process of the container: the script says so and fails, so the fault
// errs instead of reporting a kill that did not happen.
func TestKillInitWithoutTheContainerFails(t *testing.T) {
	got, err := exec.Command("sh", "-c", killInit, "kill-init", strings.Repeat("f", 64)).CombinedOutput()
	if err == nil || !strings.Contains(string(got), "no process of container") {
		t.Fatalf("got %q, %v", got, err)
	}
}
