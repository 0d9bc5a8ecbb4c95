package cni

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The runtime's network is the first config by name among .conf,
// .conflist and .json (go-cni), whatever else the folder holds.
func TestFirstFile(t *testing.T) {
	if got := FirstFile([]string{"99-loopback.conf", "10-kindnet.conflist", "README", "05-cilium.conflist", "calico-kubeconfig"}); got != "05-cilium.conflist" {
		t.Errorf("first %q", got)
	}
	if got := FirstFile([]string{"calico-kubeconfig", "tuning"}); got != "" {
		t.Errorf("no config: %q", got)
	}
}

// Configs shaped as the projects write them, written here from their
// sources (kindnetd's template in kind
// images/kindnetd/cmd/kindnetd/cni.go; Calico's and Canal's
// cni_network_config in projectcalico/calico manifests; flannel's
// cni-conf.json in kube-flannel.yml; the AWS VPC CNI's misc/10-aws.conflist;
// GKE's ptp conflist): the IPAM, its family, and host-local's state folder.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name, file, conf, podCIDR string
		plugins                   []string
		ipam, family, state       string
	}{
		{"kindnetd", "10-kindnet.conflist", `{"cniVersion": "0.3.1", "name": "kindnet", "plugins": [{"type": "ptp", "ipMasq": false, "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam-state", "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": "10.244.1.0/24"}]]}, "mtu": 1500}, {"type": "portmap", "capabilities": {"portMappings": true}}]}`, "",
			[]string{"ptp", "portmap"}, IPAMHostLocal, FamilyHostLocal, "/run/cni-ipam-state/kindnet"},
		{"calico", "10-calico.conflist", `{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "mtu": 1500, "ipam": {"type": "calico-ipam"}, "policy": {"type": "k8s"}, "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}}, {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}, {"type": "bandwidth", "capabilities": {"bandwidth": true}}]}`, "",
			[]string{"calico", "portmap", "bandwidth"}, IPAMCalico, FamilyCalico, ""},
		{"canal", "10-canal.conflist", `{"name": "k8s-pod-network", "cniVersion": "0.3.1", "plugins": [{"type": "calico", "log_level": "info", "datastore_type": "kubernetes", "mtu": 1450, "ipam": {"type": "host-local", "subnet": "usePodCidr"}, "policy": {"type": "k8s"}, "kubernetes": {"kubeconfig": "/etc/cni/net.d/calico-kubeconfig"}}, {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}}, {"type": "bandwidth", "capabilities": {"bandwidth": true}}]}`, "10.244.1.0/24",
			[]string{"calico", "portmap", "bandwidth"}, IPAMHostLocal, FamilyHostLocal, "/var/lib/cni/networks/k8s-pod-network"},
		{"flannel", "10-flannel.conflist", `{"name": "cbr0", "cniVersion": "0.3.1", "plugins": [{"type": "flannel", "delegate": {"hairpinMode": true, "isDefaultGateway": true}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}`, "10.244.1.0/24",
			[]string{"flannel", "portmap"}, IPAMHostLocal, FamilyHostLocal, "/var/lib/cni/networks/cbr0"},
		{"aws", "10-aws.conflist", `{"cniVersion": "0.4.0", "name": "aws-cni", "disableCheck": true, "plugins": [{"name": "aws-cni", "type": "aws-cni", "vethPrefix": "eni", "mtu": "9001", "podSGEnforcingMode": "strict", "pluginLogFile": "/var/log/aws-routed-eni/plugin.log", "pluginLogLevel": "DEBUG", "capabilities": {"io.kubernetes.cri.pod-annotations": true}}, {"name": "egress-cni", "type": "egress-cni", "mtu": "9001", "enabled": "false", "randomizeSNAT": "prng", "nodeIP": "", "ipam": {"type": "host-local", "ranges": [[{"subnet": "169.254.172.0/22"}]], "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "/run/cni/v4pd/egress-v6-ipam"}, "pluginLogFile": "/var/log/aws-routed-eni/egress-v6-plugin.log", "pluginLogLevel": "DEBUG"}, {"type": "portmap", "capabilities": {"portMappings": true}, "snat": true}]}`, "",
			[]string{"aws-cni", "egress-cni", "portmap"}, IPAMAWSVPC, FamilyAWSVPC, ""},
		{"gke", "10-gke-ptp.conflist", `{"cniVersion": "0.3.1", "name": "gke-pod-network", "plugins": [{"type": "ptp", "mtu": 1460, "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}, {"type": "portmap", "capabilities": {"portMappings": true}}]}`, "",
			[]string{"ptp", "portmap"}, IPAMHostLocal, FamilyHostLocal, "/var/lib/cni/networks/gke-pod-network"},
		{"cilium", "05-cilium.conflist", `{"cniVersion": "0.3.1", "name": "cilium", "plugins": [{"type": "cilium-cni", "enable-debug": false, "log-file": "/var/run/cilium/cilium-cni.log"}]}`, "",
			[]string{"cilium-cni"}, "", "", ""},
	} {
		n, err := Parse("/etc/cni/net.d/"+tc.file, []byte(tc.conf), tc.podCIDR)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(n.Plugins, tc.plugins) || n.IPAM != tc.ipam || n.Family() != tc.family || n.StateDir != tc.state {
			t.Errorf("%s: plugins %v, IPAM %q (family %q), state %q; want %v, %q (%q), %q", tc.name, n.Plugins, n.IPAM, n.Family(), n.StateDir, tc.plugins, tc.ipam, tc.family, tc.state)
		}
		if tc.state != "" && len(n.Ranges) == 0 {
			t.Errorf("%s: no ranges", tc.name)
		}
		if _, err := n.Steer("10.244.1.9", nil); (tc.state == "") != errors.Is(err, ErrNotSteerable) {
			t.Errorf("%s: steering: %v", tc.name, err)
		}
	}
	if _, err := Parse("/etc/cni/net.d/10-x.conflist", []byte(`{"name": "x", "plugins": [{"type": "ptp", "ipam": {"type": "host-local"}}]}`), ""); err == nil {
		t.Error("host-local without ranges must be refused")
	}
}

// The projects' own configs, copied from their source with only their
// placeholders filled (testdata/SOURCES.md names each file's origin).
func TestParseTheProjectsConfigs(t *testing.T) {
	for file, want := range map[string]struct{ family, state string }{
		"kindnetd.conflist":    {FamilyHostLocal, "/run/cni-ipam-state/kindnet"},
		"calico.conflist":      {FamilyCalico, ""},
		"canal.conflist":       {FamilyHostLocal, "/var/lib/cni/networks/k8s-pod-network"},
		"flannel.conflist":     {FamilyHostLocal, "/var/lib/cni/networks/cbr0"},
		"aws-vpc-cni.conflist": {FamilyAWSVPC, ""},
		"gke-ptp.conflist":     {FamilyHostLocal, ""},
		"cilium.conflist":      {"", ""},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		n, err := Parse("/etc/cni/net.d/"+file, data, "10.244.1.0/24")
		if err != nil {
			t.Errorf("%s: %v", file, err)
			continue
		}
		if n.Family() != want.family || (want.state != "" && n.StateDir != want.state) || (want.family == FamilyHostLocal && n.StateDir == "") {
			t.Errorf("%s: %s; want family %q, state %q", file, n, want.family, want.state)
		}
		t.Logf("%s: %s", file, n)
	}
}
