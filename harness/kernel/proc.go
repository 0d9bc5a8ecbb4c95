package kernel

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// Proc is what /proc says of a live process. A process's entry is gone once
// it is reaped, so map PIDs while pods run, not after the fact.
type Proc struct {
	// HostPID is the PID as the procRoot's namespace sees it (the host's
	// with /proc on the Docker host); PPID its parent's, likewise.
	HostPID, PPID int
	// TGID is the process the task belongs to: HostPID for a process, the
	// process's PID when ReadProc was given a thread ID (/proc/TID exists
	// though readdir does not list it).
	TGID int
	// NSPID is the NSpid chain from /proc/PID/status: host, ..., innermost
	// (the container's). On kind: host, kind node, container.
	NSPID []int
	// Comm is /proc/PID/comm; Cmdline the arguments joined by spaces (""
	// for kernel threads and zombies). Exe is the program file
	// (/proc/PID/exe, as the process's mount namespace names it): for a
	// script, Comm is the script's name and Exe its interpreter.
	Comm, Cmdline, Exe string
	// Args are the arguments as the process has them (Cmdline joins them).
	Args []string
	// PodUID (dashed, as the API server writes it; for a static pod the
	// kubelet's manifest hash, 32 hex digits, which the mirror pod carries
	// in its kubernetes.io/config.hash annotation) and ContainerID (the CRI
	// ID, as in status.containerStatuses[].containerID without the
	// "containerd://" prefix), from /proc/PID/cgroup; empty when the process
	// is not in a Kubernetes pod.
	PodUID, ContainerID string
	// SigCgt, SigIgn and SigBlk are the caught, ignored and blocked signal
	// masks (bit sig-1). A caught TERM does not prove the handler does what
	// the user hopes (node as PID 1 catches TERM and still ignores it).
	SigCgt, SigIgn, SigBlk uint64
}

// InnerPID is the PID inside the innermost PID namespace (the container's),
// the last of NSPID; 0 if unknown.
func (p Proc) InnerPID() int {
	if len(p.NSPID) == 0 {
		return 0
	}
	return p.NSPID[len(p.NSPID)-1]
}

// Catches says whether the process has a handler installed for sig.
func (p Proc) Catches(sig int) bool { return maskHas(p.SigCgt, sig) }

// Ignores says whether the process has sig set to SIG_IGN.
func (p Proc) Ignores(sig int) bool { return maskHas(p.SigIgn, sig) }

// Blocks says whether the process's main thread blocks sig.
func (p Proc) Blocks(sig int) bool { return maskHas(p.SigBlk, sig) }

func maskHas(mask uint64, sig int) bool {
	return sig >= 1 && sig <= 64 && mask&(1<<(sig-1)) != 0
}

// ReadProc reads one process from procRoot ("/proc" normally; tests pass a
// fake tree). An error wrapping fs.ErrNotExist means the process is gone.
func ReadProc(procRoot string, pid int) (Proc, error) { return readProc(procRoot, pid, false) }

// ReadPodProc is ReadProc for the hot path, new processes (every fork on
// the host): it stops as soon as the process is not one of a pod's. A
// thread (TGID is not its PID) comes back with its status fields only; a
// process outside any pod (no pod UID in its cgroup) with those and its
// cgroup's. Only a pod's process gets its comm, cmdline and exe read.
func ReadPodProc(procRoot string, pid int) (Proc, error) { return readProc(procRoot, pid, true) }

func readProc(procRoot string, pid int, podsOnly bool) (Proc, error) {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	p := Proc{HostPID: pid}
	status, err := readProcFile(dir, "status")
	if err != nil {
		return Proc{}, err
	}
	if err := parseStatus(string(status), &p); err != nil {
		return Proc{}, fmt.Errorf("%s/status: %w", dir, err)
	}
	if podsOnly && p.TGID != 0 && p.TGID != p.HostPID {
		return p, nil
	}
	cg, err := readProcFile(dir, "cgroup")
	if err != nil {
		return Proc{}, err
	}
	if p.PodUID, p.ContainerID, _ = ParseCgroup(string(cg)); podsOnly && p.PodUID == "" {
		return p, nil
	}
	comm, err := readProcFile(dir, "comm")
	if err != nil {
		return Proc{}, err
	}
	p.Comm = strings.TrimSuffix(string(comm), "\n")
	cmdline, err := readProcFile(dir, "cmdline")
	if err != nil {
		return Proc{}, err
	}
	if s := strings.TrimRight(string(cmdline), "\x00"); s != "" {
		p.Args = strings.Split(s, "\x00")
	}
	p.Cmdline = strings.Join(p.Args, " ")
	p.Exe, _ = os.Readlink(filepath.Join(dir, "exe")) // unreadable for kernel threads and zombies
	return p, nil
}

// readProcFile reads dir/name; a process that vanished between reads gives
// ESRCH on some files: report that as fs.ErrNotExist too.
func readProcFile(dir, name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, syscall.ESRCH) {
		return nil, fmt.Errorf("%s/%s: %w (%v)", dir, name, fs.ErrNotExist, err)
	}
	return b, err
}

func parseStatus(s string, p *Proc) error {
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var err error
		switch key {
		case "PPid":
			p.PPID, err = strconv.Atoi(val)
		case "Tgid":
			p.TGID, err = strconv.Atoi(val)
		case "NSpid":
			p.NSPID = p.NSPID[:0]
			for _, f := range strings.Fields(val) {
				n, e := strconv.Atoi(f)
				if e != nil {
					err = e
					break
				}
				p.NSPID = append(p.NSPID, n)
			}
		case "SigCgt":
			p.SigCgt, err = strconv.ParseUint(val, 16, 64)
		case "SigIgn":
			p.SigIgn, err = strconv.ParseUint(val, 16, 64)
		case "SigBlk":
			p.SigBlk, err = strconv.ParseUint(val, 16, 64)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	return sc.Err()
}

var (
	// systemd cgroup driver: kubepods-<qos>-pod<uid with _>.slice, or
	// kubepods-pod<uid>.slice for Guaranteed pods; kind's kubelet prefixes
	// "kubelet-".
	systemdPodRE = regexp.MustCompile(`^(?:kubelet-)?kubepods(?:-[a-z]+)?-pod([0-9a-fA-F_-]+)\.slice$`)
	// cgroupfs driver: .../kubepods/[<qos>/]pod<uid>/<container id>.
	cgroupfsPodRE = regexp.MustCompile(`^pod([0-9a-fA-F_-]+)$`)
	// A container's segment after the pod's: "cri-containerd-<id>.scope",
	// "crio-<id>.scope", "docker-<id>.scope" (systemd) or the bare ID
	// (cgroupfs). CRI-O's "crio-conmon-<id>.scope" is the monitor, not a
	// container: it does not match.
	containerRE = regexp.MustCompile(`^(?:cri-containerd-|crio-|docker-|containerd-)?([0-9a-f]{12,})(?:\.scope)?$`)
)

// ParseCgroup finds the pod UID and container ID in the content of
// /proc/PID/cgroup: cgroup v1 (one line per hierarchy) or v2 ("0::/..."),
// the systemd driver's form
// (.../kubelet-kubepods-besteffort-pod<uid with _>.slice/cri-containerd-<id>.scope,
// possibly nested under /docker/<node id>/kubelet.slice/) or cgroupfs's
// (/kubepods/besteffort/pod<uid>/<id>). ok is true when a pod was found;
// containerID is empty for a process in the pod's cgroup but no container's.
// The pod UID is returned dashed, as the API server writes it.
func ParseCgroup(content string) (podUID, containerID string, ok bool) {
	for _, line := range strings.Split(content, "\n") {
		// "hierarchy-ID:controllers:path"; the path may hold ':'.
		parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(parts) != 3 {
			continue
		}
		uid, cid, found := parseCgroupPath(parts[2])
		if !found {
			continue
		}
		// v1 lists one path per hierarchy, and some controllers may stop at
		// the pod: keep looking for a line that names the container too.
		if !ok || (containerID == "" && cid != "") {
			podUID, containerID, ok = uid, cid, true
		}
		if containerID != "" {
			break
		}
	}
	return podUID, containerID, ok
}

func parseCgroupPath(path string) (podUID, containerID string, ok bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i, seg := range segs {
		var raw string
		if m := systemdPodRE.FindStringSubmatch(seg); m != nil {
			raw = m[1]
		} else if m := cgroupfsPodRE.FindStringSubmatch(seg); m != nil && i > 0 && underKubepods(segs[:i]) {
			raw = m[1]
		} else {
			continue
		}
		uid := strings.ToLower(strings.ReplaceAll(raw, "_", "-"))
		if i+1 < len(segs) {
			if m := containerRE.FindStringSubmatch(segs[i+1]); m != nil {
				containerID = m[1]
			}
		}
		return uid, containerID, true
	}
	return "", "", false
}

// underKubepods: a cgroupfs pod segment counts only below "kubepods" (the
// QoS level, if any, sits between).
func underKubepods(parents []string) bool {
	n := len(parents)
	if parents[n-1] == "kubepods" {
		return true
	}
	return n >= 2 && parents[n-2] == "kubepods"
}

// ScanPods returns every process under procRoot that is in a Kubernetes pod,
// by PID: the processes that existed before tracing started. Processes that
// exit during the scan are skipped.
func ScanPods(procRoot string) ([]Proc, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	var out []Proc
	for _, pid := range pids {
		// The cgroup file first: most host processes are not in a pod, and
		// one small read rules them out.
		cg, err := readProcFile(filepath.Join(procRoot, strconv.Itoa(pid)), "cgroup")
		if err != nil {
			if gone(err) {
				continue
			}
			return out, err
		}
		if _, _, ok := ParseCgroup(string(cg)); !ok {
			continue
		}
		p, err := ReadProc(procRoot, pid)
		if err != nil {
			if gone(err) {
				continue
			}
			return out, err
		}
		if p.PodUID != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}
