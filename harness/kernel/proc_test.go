package kernel

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

const (
	podUID   = "6f3b2a9c-1d2e-4f5a-9b8c-7d6e5f4a3b2c"
	podUIDus = "6f3b2a9c_1d2e_4f5a_9b8c_7d6e5f4a3b2c"
	cid      = "8e1c0d5b6a7f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d"
	nodeID   = "4f0c1b2a3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4"
)

func TestParseCgroup(t *testing.T) {
	systemdKind := "/docker/" + nodeID + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/" +
		"kubelet-kubepods-besteffort-pod" + podUIDus + ".slice/cri-containerd-" + cid + ".scope"
	cases := []struct {
		name     string
		content  string
		uid, cid string
		ok       bool
	}{
		{
			name: "v1 hybrid, kind node in Docker, systemd driver (this host's form)",
			content: "9:name=systemd:" + systemdKind + "\n8:pids:" + systemdKind + "\n7:blkio:" + systemdKind +
				"\n4:memory:" + systemdKind + "\n1:cpu:" + systemdKind + "\n0::/\n",
			uid: podUID, cid: cid, ok: true,
		},
		{
			name:    "v1, some controllers stop at the pod, one names the container",
			content: "5:devices:/kubepods/burstable/pod" + podUID + "\n4:memory:/kubepods/burstable/pod" + podUID + "/" + cid + "\n0::/\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "v2, systemd driver, Guaranteed pod (no QoS level)",
			content: "0::/kubepods.slice/kubepods-pod" + podUIDus + ".slice/cri-containerd-" + cid + ".scope\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "v2, systemd driver, burstable, CRI-O",
			content: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDus + ".slice/crio-" + cid + ".scope\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "CRI-O's conmon is in the pod but in no container",
			content: "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + podUIDus + ".slice/crio-conmon-" + cid + ".scope\n",
			uid:     podUID, cid: "", ok: true,
		},
		{
			name:    "v2, cgroupfs driver, besteffort",
			content: "0::/kubepods/besteffort/pod" + podUID + "/" + cid + "\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "v2, cgroupfs driver, Guaranteed",
			content: "0::/kubepods/pod" + podUID + "/" + cid + "\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "cgroupfs nested in a kind node",
			content: "0::/docker/" + nodeID + "/kubelet/kubepods/burstable/pod" + podUID + "/" + cid + "\n",
			uid:     podUID, cid: cid, ok: true,
		},
		{
			name:    "the pod's cgroup itself",
			content: "0::/kubepods/besteffort/pod" + podUID + "\n",
			uid:     podUID, ok: true,
		},
		{
			// Read on this host from kube-apiserver's /proc/PID/cgroup (kind
			// node in Docker, cgroup v1 hybrid): devices stops at the pod.
			// A static pod's cgroup carries the manifest hash, 32 hex digits.
			name: "real: static pod kube-apiserver, devices without container",
			content: "5:devices:/docker/e22fcdf9da2a7deb2a93d31cfaef6b98d4cbf31dc1f848251f0ca169c4e518a5/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod14b0a4f745ecdd800686c781e851f259.slice\n" +
				"4:memory:/docker/e22fcdf9da2a7deb2a93d31cfaef6b98d4cbf31dc1f848251f0ca169c4e518a5/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod14b0a4f745ecdd800686c781e851f259.slice/cri-containerd-1fbbdea7fa17869df73b9bd9f62f54dfa9a7fbb200d50c62e3562fac7f486153.scope\n",
			uid: "14b0a4f745ecdd800686c781e851f259", cid: "1fbbdea7fa17869df73b9bd9f62f54dfa9a7fbb200d50c62e3562fac7f486153", ok: true,
		},
		{
			name: "real: coredns (API pod UID)",
			content: "5:devices:/docker/e22fcdf9da2a7deb2a93d31cfaef6b98d4cbf31dc1f848251f0ca169c4e518a5/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod07a62913_e4a5_4f21_989d_a78a67ff0fd5.slice/cri-containerd-2659c08e2288bf7bc15331c841929f05111bfef2ef49fcbe77afffa00f33c1e7.scope\n" +
				"0::/docker/e22fcdf9da2a7deb2a93d31cfaef6b98d4cbf31dc1f848251f0ca169c4e518a5/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/kubelet-kubepods-burstable-pod07a62913_e4a5_4f21_989d_a78a67ff0fd5.slice/cri-containerd-2659c08e2288bf7bc15331c841929f05111bfef2ef49fcbe77afffa00f33c1e7.scope\n",
			uid: "07a62913-e4a5-4f21-989d-a78a67ff0fd5", cid: "2659c08e2288bf7bc15331c841929f05111bfef2ef49fcbe77afffa00f33c1e7", ok: true,
		},
		{name: "this host's own shell", content: "9:name=systemd:/\n4:memory:/process_api/17a4eed3bb38cb1a34887c43a5e7d494\n0::/\n"},
		{name: "the kind node's own systemd", content: "0::/docker/" + nodeID + "/init.scope\n"},
		{name: "containerd on the node", content: "0::/docker/" + nodeID + "/system.slice/containerd.service\n"},
		{name: "a pod-like name not under kubepods", content: "0::/user.slice/pod" + podUID + "/" + cid + "\n"},
		{name: "empty", content: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			uid, id, ok := ParseCgroup(c.content)
			if uid != c.uid || id != c.cid || ok != c.ok {
				t.Errorf("ParseCgroup = (%q, %q, %v), want (%q, %q, %v)", uid, id, ok, c.uid, c.cid, c.ok)
			}
		})
	}
}

// fakeProc writes a /proc/<pid> entry the way the kernel shows it.
func fakeProc(t *testing.T, root string, pid, ppid int, nspid, comm, cmdline, cgroup string, cgt, ign string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	status := "Name:\t" + comm + "\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t" + strconv.Itoa(pid) +
		"\nNgid:\t0\nPid:\t" + strconv.Itoa(pid) + "\nPPid:\t" + strconv.Itoa(ppid) +
		"\nTracerPid:\t0\nNSpid:\t" + nspid + "\nNSsid:\t1\nThreads:\t1\nSigQ:\t0/96365\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n" +
		"SigBlk:\t0000000000010000\nSigIgn:\t" + ign + "\nSigCgt:\t" + cgt + "\nCapInh:\t0000000000000000\n"
	for name, content := range map[string]string{
		"status": status, "comm": comm + "\n", "cmdline": cmdline, "cgroup": cgroup,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadProcFake(t *testing.T) {
	root := t.TempDir()
	systemd := "1:name=systemd:/docker/" + nodeID + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" +
		podUIDus + ".slice/cri-containerd-" + cid + ".scope\n0::/\n"
	// The incident's init: a bash without TERM handler (SigCgt has only
	// SIGCHLD, bit 17), INT and QUIT ignored.
	fakeProc(t, root, 1481, 1460, "1481\t1078\t1", "ns-noexec.sh", "/bin/bash\x00/entrypoint.sh\x00", systemd,
		"0000000000010000", "0000000000000006")
	p, err := ReadProc(root, 1481)
	if err != nil {
		t.Fatal(err)
	}
	want := Proc{HostPID: 1481, PPID: 1460, TGID: 1481, NSPID: []int{1481, 1078, 1}, Comm: "ns-noexec.sh", Cmdline: "/bin/bash /entrypoint.sh",
		Args:   []string{"/bin/bash", "/entrypoint.sh"},
		PodUID: podUID, ContainerID: cid, SigCgt: 0x10000, SigIgn: 0x6, SigBlk: 0x10000}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("ReadProc =\n%+v\nwant\n%+v", p, want)
	}
	if p.InnerPID() != 1 {
		t.Errorf("InnerPID = %d, want 1", p.InnerPID())
	}
	if p.Catches(15) || !p.Catches(17) || !p.Ignores(2) || !p.Ignores(3) || p.Ignores(15) || !p.Blocks(17) {
		t.Errorf("masks: Catches(15)=%v Catches(17)=%v Ignores(2)=%v Ignores(3)=%v Ignores(15)=%v",
			p.Catches(15), p.Catches(17), p.Ignores(2), p.Ignores(3), p.Ignores(15))
	}
	if p.Catches(0) || p.Catches(65) {
		t.Error("signals outside 1..64 must be false")
	}

	_, err = ReadProc(root, 999)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadProc of a missing pid: err = %v, want fs.ErrNotExist", err)
	}
	if (Proc{}).InnerPID() != 0 {
		t.Error("InnerPID of an unknown NSpid must be 0")
	}
}

func TestScanPodsFake(t *testing.T) {
	root := t.TempDir()
	systemd := "0::/docker/" + nodeID + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + podUIDus + ".slice/cri-containerd-" + cid + ".scope\n"
	cgroupfs := "0::/kubepods/besteffort/pod11111111-2222-3333-4444-555555555555/" + strings.Repeat("ab", 32) + "\n"
	fakeProc(t, root, 1, 0, "1", "systemd", "/sbin/init\x00", "0::/init.scope\n", "0", "0")
	fakeProc(t, root, 900, 1, "900\t1", "containerd", "/usr/bin/containerd\x00", "0::/docker/"+nodeID+"/system.slice/containerd.service\n", "0", "0")
	fakeProc(t, root, 1481, 900, "1481\t1078\t1", "app", "app\x00", systemd, "0", "0")
	fakeProc(t, root, 1500, 900, "1500\t1100\t7", "sleep", "sleep\x00300\x00", cgroupfs, "0", "0")
	// A process that vanished between readdir and the reads.
	if err := os.MkdirAll(filepath.Join(root, "1600"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"self", "sys", "net"} {
		if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ScanPods(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ScanPods found %d processes, want 2: %+v", len(got), got)
	}
	if got[0].HostPID != 1481 || got[0].PodUID != podUID || got[0].ContainerID != cid || got[0].InnerPID() != 1 {
		t.Errorf("first = %+v", got[0])
	}
	if got[1].HostPID != 1500 || got[1].PodUID != "11111111-2222-3333-4444-555555555555" || got[1].ContainerID != strings.Repeat("ab", 32) ||
		got[1].Cmdline != "sleep 300" || got[1].InnerPID() != 7 {
		t.Errorf("second = %+v", got[1])
	}
}

func TestReadProcSelf(t *testing.T) {
	p, err := ReadProc("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.HostPID != os.Getpid() || p.PPID != os.Getppid() || p.TGID != os.Getpid() {
		t.Errorf("HostPID, PPID = %d, %d; want %d, %d", p.HostPID, p.PPID, os.Getpid(), os.Getppid())
	}
	if len(p.NSPID) == 0 || p.NSPID[0] != os.Getpid() {
		t.Errorf("NSPID = %v, want it to start with %d", p.NSPID, os.Getpid())
	}
	exe := filepath.Base(os.Args[0])
	if len(exe) > 15 {
		exe = exe[:15] // TASK_COMM_LEN
	}
	if p.Comm != exe || !strings.Contains(p.Cmdline, filepath.Base(os.Args[0])) {
		t.Errorf("Comm, Cmdline = %q, %q; want %q and the test binary", p.Comm, p.Cmdline, exe)
	}
	// The Go runtime installs a handler for SIGURG (preemption) always.
	if !p.Catches(int(syscall.SIGURG)) {
		t.Errorf("SigCgt %x: the Go runtime's SIGURG handler is missing", p.SigCgt)
	}
	if p.PodUID != "" || p.ContainerID != "" {
		t.Errorf("the test runs on the host, yet PodUID, ContainerID = %q, %q", p.PodUID, p.ContainerID)
	}
}

var podUIDRE = regexp.MustCompile(`^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$`)

func TestScanPodsReal(t *testing.T) {
	got, err := ScanPods("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range got {
		// An API pod's UID is dashed (36); a static pod's cgroup carries its
		// manifest hash (32 hex digits).
		if !podUIDRE.MatchString(p.PodUID) {
			t.Errorf("ScanPods returned pid %d (%s) with pod UID %q", p.HostPID, p.Comm, p.PodUID)
		}
		if p.ContainerID != "" && len(p.ContainerID) != 64 {
			t.Errorf("pid %d (%s): container ID %q", p.HostPID, p.Comm, p.ContainerID)
		}
		if p.InnerPID() == 0 {
			t.Errorf("pid %d (%s): no NSpid", p.HostPID, p.Comm)
		}
	}
	t.Logf("%d processes in Kubernetes pods on this host", len(got))
	for _, p := range got {
		t.Logf("pid %d (inner %d) %s pod %s container %.12s", p.HostPID, p.InnerPID(), p.Comm, p.PodUID, p.ContainerID)
	}
}

// ReadPodProc reads a pod's process whole, and stops early for a process
// outside any pod (its cgroup says so) and for a thread (its Tgid says so).
func TestReadPodProcFake(t *testing.T) {
	root := t.TempDir()
	systemd := "0::/docker/" + nodeID + "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod" + podUIDus + ".slice/cri-containerd-" + cid + ".scope\n"
	fakeProc(t, root, 1481, 900, "1481\t1", "app", "app\x00-x\x00", systemd, "0", "0")
	fakeProc(t, root, 900, 1, "900", "containerd", "/usr/bin/containerd\x00", "0::/docker/"+nodeID+"/system.slice/containerd.service\n", "0", "0")
	full, err := ReadProc(root, 1481)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ReadPodProc(root, 1481); err != nil || !reflect.DeepEqual(got, full) {
		t.Errorf("a pod's process: %+v, %v; want ReadProc's %+v", got, err, full)
	}
	host, err := ReadPodProc(root, 900)
	if err != nil || host.PodUID != "" || host.Comm != "" || host.PPID != 1 {
		t.Errorf("a host process: %+v, %v; want its status, no pod, comm unread", host, err)
	}
	// A thread: status names another process as its group leader.
	fakeProc(t, root, 1490, 900, "1490\t2", "app", "app\x00", systemd, "0", "0")
	st := filepath.Join(root, "1490", "status")
	raw, err := os.ReadFile(st)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st, []byte(strings.Replace(string(raw), "Tgid:\t1490", "Tgid:\t1481", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	th, err := ReadPodProc(root, 1490)
	if err != nil || th.TGID != 1481 || th.PodUID != "" {
		t.Errorf("a thread: %+v, %v; want TGID 1481 and nothing more read", th, err)
	}
}
