package images

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The node's chained CNI plugin, run as the runtime runs it, with a fake
// ip(8) that records its arguments: it must point the pod's host route at
// the pod's own host-side veth and pass the previous result on.
func TestKubegraceRouteTakesTheHostRouteOver(t *testing.T) {
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq is not installed (make test installs it)")
	}
	bin := t.TempDir()
	calls := filepath.Join(bin, "calls")
	fakeIP := "#!/bin/sh\necho \"$*\" >> " + calls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "ip"), []byte(fakeIP), 0o755); err != nil {
		t.Fatal(err)
	}
	prev := `{"cniVersion":"0.4.0","interfaces":[{"name":"veth1a2b3c4d","mac":"aa:bb:cc:dd:ee:ff"},{"name":"eth0","mac":"11:22:33:44:55:66","sandbox":"/var/run/netns/cni-1"}],` +
		`"ips":[{"version":"4","interface":1,"address":"10.244.0.2/27","gateway":"10.244.0.1"}],"routes":[{"dst":"0.0.0.0/0"}],"dns":{}}`
	conf := `{"cniVersion":"0.4.0","name":"kubegrace","type":"kubegrace-route","prevResult":` + prev + `}`
	run := func(command string) (string, error) {
		cmd := exec.Command("bash", filepath.Join("kind-node", "files", "opt", "cni", "bin", "kubegrace-route"))
		cmd.Stdin = strings.NewReader(conf)
		cmd.Env = append(os.Environ(), "CNI_COMMAND="+command, "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.Output()
		return string(out), err
	}
	out, err := run("ADD")
	if err != nil {
		t.Fatalf("ADD: %v: %s", err, out)
	}
	got, _ := os.ReadFile(calls)
	if strings.TrimSpace(string(got)) != "route replace 10.244.0.2/32 dev veth1a2b3c4d" {
		t.Errorf("ip was called with %q, want the route to 10.244.0.2 taken over by the pod's own veth", got)
	}
	var passed map[string]any
	if err := json.Unmarshal([]byte(out), &passed); err != nil || len(passed["interfaces"].([]any)) != 2 || passed["cniVersion"] != "0.4.0" {
		t.Errorf("the previous result must be passed on: %s (%v)", out, err)
	}
	if out, err := run("DEL"); err != nil || out != "" {
		t.Errorf("DEL: %q %v", out, err)
	}
	if out, err := run("VERSION"); err != nil || !strings.Contains(out, `"0.4.0"`) {
		t.Errorf("VERSION: %q %v", out, err)
	}
}
