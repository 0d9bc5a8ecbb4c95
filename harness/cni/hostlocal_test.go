package cni

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// hostLocalBin is Debian's host-local (containernetworking-plugins), the
// same code kindnetd's and the offline node's networks run.
const hostLocalBin = "/usr/lib/cni/host-local"

// realHostLocal runs the real host-local over a network whose state is in
// a folder of the test's own.
type realHostLocal struct {
	t    *testing.T
	conf string // the network config host-local reads on stdin
	net  Network
}

func newRealHostLocal(t *testing.T, ranges string) *realHostLocal {
	t.Helper()
	if _, err := os.Stat(hostLocalBin); err != nil {
		t.Skip("Debian's containernetworking-plugins is not installed (make test installs it)")
	}
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock (util-linux)")
	}
	dir := t.TempDir()
	ipam := fmt.Sprintf(`{"type": "host-local", "dataDir": %q, "ranges": %s}`, dir, ranges)
	h := &realHostLocal{t: t, conf: fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "kindnet", "type": "ptp", "ipam": %s}`, ipam)}
	var err error
	h.net, err = Parse("/etc/cni/net.d/10-kindnet.conflist", []byte(fmt.Sprintf(`{"cniVersion": "0.4.0", "name": "kindnet", "plugins": [{"type": "ptp", "ipam": %s}, {"type": "portmap"}]}`, ipam)), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "kindnet"); h.net.StateDir != want {
		t.Fatalf("state dir %s, want %s", h.net.StateDir, want)
	}
	return h
}

// run runs host-local's command for container id and returns the
// addresses it gave.
func (h *realHostLocal) run(command, id string) []string {
	h.t.Helper()
	cmd := exec.Command(hostLocalBin)
	cmd.Env = []string{"CNI_COMMAND=" + command, "CNI_CONTAINERID=" + id, "CNI_NETNS=/var/run/netns/" + id, "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"}
	cmd.Stdin = strings.NewReader(h.conf)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("host-local %s %s: %v: %s", command, id, err, out)
	}
	if command != "ADD" {
		return nil
	}
	var res struct {
		IPs []struct{ Address string } `json:"ips"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		h.t.Fatalf("host-local ADD result %s: %v", out, err)
	}
	var ips []string
	for _, ip := range res.IPs {
		ips = append(ips, strings.Split(ip.Address, "/")[0])
	}
	return ips
}

// held lists the addresses in the state folder, as the fault does.
func (h *realHostLocal) held() []string {
	es, err := os.ReadDir(h.net.StateDir)
	if err != nil {
		h.t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return Held(names)
}

// steer plans the steering onto addr and writes it as the fault does on
// a node: flock on host-local's lock, then the cursor.
func (h *realHostLocal) steer(addr string) Steering {
	h.t.Helper()
	s, err := h.net.Steer(addr, h.held())
	if err != nil {
		h.t.Fatal(err)
	}
	if out, err := exec.Command("flock", s.Lock, "sh", "-c", `printf %s "$1" > "$2"`, "_", s.Last, s.File).CombinedOutput(); err != nil {
		h.t.Fatalf("write %s: %v: %s", s.File, err, out)
	}
	return s
}

// The real host-local hands out the victim's address next once steered:
// in the middle of a range, at a range's first address (the cursor is the
// previous range's end, or the last range's for the first), in a second
// range, and in a dual-stack network's IPv6 range set (its own cursor,
// last_reserved_ip.1).
func TestSteeringWithTheRealHostLocal(t *testing.T) {
	t.Run("one range", func(t *testing.T) {
		h := newRealHostLocal(t, `[[{"subnet": "10.244.1.0/28"}]]`)
		var got []string
		for i := range 5 {
			got = append(got, h.run("ADD", fmt.Sprint("c", i))...)
		}
		if got[0] != "10.244.1.2" || got[4] != "10.244.1.6" {
			t.Fatalf("host-local handed out %v", got)
		}
		h.run("DEL", "c2") // 10.244.1.4
		if s := h.steer("10.244.1.4"); s.Last != "10.244.1.3" || filepath.Base(s.File) != "last_reserved_ip.0" {
			t.Errorf("steering %+v", s)
		}
		if ips := h.run("ADD", "taker"); ips[0] != "10.244.1.4" {
			t.Errorf("taker got %v, want the victim's 10.244.1.4", ips)
		}
		// The first address after the gateway: host-local's range starts
		// at the gateway (.1) and skips it.
		h.run("DEL", "c0")
		if s := h.steer("10.244.1.2"); s.Last != "10.244.1.1" {
			t.Errorf("steering onto the first address: %+v", s)
		}
		if ips := h.run("ADD", "taker2"); ips[0] != "10.244.1.2" {
			t.Errorf("taker2 got %v, want 10.244.1.2", ips)
		}
	})
	t.Run("two ranges with their own starts", func(t *testing.T) {
		h := newRealHostLocal(t, `[[{"subnet": "10.244.1.0/28", "rangeStart": "10.244.1.2", "rangeEnd": "10.244.1.4"}, {"subnet": "10.244.2.0/28", "rangeStart": "10.244.2.3", "rangeEnd": "10.244.2.5"}]]`)
		for i := range 5 {
			h.run("ADD", fmt.Sprint("c", i)) // .1.2-.1.4, then .2.3, .2.4
		}
		h.run("DEL", "c3") // 10.244.2.3, the second range's start
		if s := h.steer("10.244.2.3"); s.Last != "10.244.1.4" {
			t.Errorf("steering onto the second range's start: %+v, want the first range's end as the cursor", s)
		}
		if ips := h.run("ADD", "taker"); ips[0] != "10.244.2.3" {
			t.Errorf("taker got %v, want 10.244.2.3", ips)
		}
		h.run("DEL", "c0") // 10.244.1.2, the first range's start
		if s := h.steer("10.244.1.2"); s.Last != "10.244.2.5" {
			t.Errorf("steering onto the first range's start: %+v, want the last range's end", s)
		}
		if ips := h.run("ADD", "taker2"); ips[0] != "10.244.1.2" {
			t.Errorf("taker2 got %v, want 10.244.1.2", ips)
		}
	})
	t.Run("dual stack, the IPv6 address", func(t *testing.T) {
		h := newRealHostLocal(t, `[[{"subnet": "10.244.1.0/28"}], [{"subnet": "fd00:10:244:1::/120"}]]`)
		var v6 []string
		for i := range 4 {
			v6 = append(v6, h.run("ADD", fmt.Sprint("c", i))[1])
		}
		h.run("DEL", "c1")
		if s := h.steer(v6[1]); filepath.Base(s.File) != "last_reserved_ip.1" {
			t.Errorf("steering an IPv6 address writes %s, want the IPv6 range set's cursor last_reserved_ip.1", s.File)
		}
		if ips := h.run("ADD", "taker"); ips[1] != v6[1] {
			t.Errorf("taker got %v, want %s", ips, v6[1])
		}
	})
}
