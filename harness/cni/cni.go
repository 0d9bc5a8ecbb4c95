// Package cni reads a node's pod network as its container runtime does:
// the first CNI configuration file in /etc/cni/net.d by name (containerd's
// go-cni sorts the folder and takes the first .conf, .conflist or .json),
// parsed with the CNI project's own libcni, and, where the IPAM is
// host-local, its state folder and ranges parsed with host-local's own
// config code. The IP reuse fault steers host-local from that (Steer),
// predicting the next address with host-local's own allocator; the
// preflight reports it. DaemonSet names are only a hint where the harness
// cannot read the nodes.
package cni

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
)

// Dir is where the runtime reads pod network configs.
const Dir = "/etc/cni/net.d"

// DefaultDataDir is host-local's state folder when its config names none
// (host-local backend/disk: defaultDataDir).
const DefaultDataDir = "/var/lib/cni/networks"

// The IPAM types the harness knows a way of its own for, as configs name
// them. The AWS VPC CNI plugin (aws-cni) is its own IPAM: its ipamd hands
// addresses out.
const (
	IPAMHostLocal = "host-local"
	IPAMCalico    = "calico-ipam"
	IPAMAWSVPC    = "aws-cni"
	pluginFlannel = "flannel"
	usePodCIDR    = "usePodCidr"
)

// The IPAM families the IP reuse fault has a way of its own for: the one
// vocabulary of the preflight's ipam_family, fault.Env.IPAM and the
// methods.
const (
	FamilyHostLocal = "host-local"
	FamilyCalico    = "calico"
	FamilyAWSVPC    = "aws-vpc-cni"
)

// Family is the IPAM family of n's IPAM type ("" for one without a way of
// its own).
func (n Network) Family() string {
	switch n.IPAM {
	case IPAMHostLocal:
		return FamilyHostLocal
	case IPAMCalico:
		return FamilyCalico
	case IPAMAWSVPC:
		return FamilyAWSVPC
	}
	return ""
}

// Network is a node's pod network as its runtime uses it.
type Network struct {
	// File is the config file (under Dir).
	File string `json:"file"`
	// Name is the network's name (host-local's state folder is named by it).
	Name string `json:"name"`
	// Plugins are the chain's plugin types, in order.
	Plugins []string `json:"plugins"`
	// IPAM is the address manager's type: an ipam block's type, or the
	// main plugin's where it is its own (aws-cni); "" where none shows.
	IPAM string `json:"ipam"`
	// StateDir is host-local's state folder: its dataDir (or
	// DefaultDataDir) joined with Name. Only for host-local.
	StateDir string `json:"state_dir,omitempty"`
	// Ranges are host-local's range sets, as written (subnets, with
	// rangeStart-rangeEnd where set).
	Ranges []string `json:"ranges,omitempty"`

	sets []allocator.RangeSet // host-local's, canonicalized by its own code
}

// String says it in a few words.
func (n Network) String() string {
	s := fmt.Sprintf("%s (network %s: %s, IPAM %s", n.File, n.Name, strings.Join(n.Plugins, " + "), n.IPAM)
	if n.StateDir != "" {
		s += ", state in " + n.StateDir + ", ranges " + strings.Join(n.Ranges, " ")
	}
	return s + ")"
}

// FirstFile is the config the runtime uses among names (files in Dir):
// the first by name among .conf, .conflist and .json (go-cni's
// loadFromConfDir with its default of one network); "" if none.
func FirstFile(names []string) string {
	var confs []string
	for _, n := range names {
		switch path.Ext(n) {
		case ".conf", ".conflist", ".json":
			confs = append(confs, n)
		}
	}
	slices.Sort(confs)
	if len(confs) == 0 {
		return ""
	}
	return confs[0]
}

// Parse reads a config file's contents (file names it, for its type and
// the report). podCIDR is the node's pod CIDR: Calico's host-local
// ("subnet": "usePodCidr") and flannel's generated host-local take their
// range from it.
func Parse(file string, data []byte, podCIDR string) (Network, error) {
	var list *libcni.NetworkConfigList
	var err error
	if strings.HasSuffix(file, ".conflist") {
		list, err = libcni.ConfListFromBytes(data)
	} else {
		var conf *libcni.NetworkConfig
		if conf, err = libcni.ConfFromBytes(data); err == nil {
			list, err = libcni.ConfListFromConf(conf)
		}
	}
	if err != nil {
		return Network{}, fmt.Errorf("CNI config %s: %w", file, err)
	}
	n := Network{File: file, Name: list.Name}
	for _, p := range list.Plugins {
		n.Plugins = append(n.Plugins, p.Network.Type)
	}
	for _, p := range list.Plugins {
		ipam, err := ipamOf(p)
		if err != nil {
			return n, fmt.Errorf("CNI config %s, plugin %s: %w", file, p.Network.Type, err)
		}
		if ipam == nil {
			continue
		}
		n.IPAM = ipam.typ
		if ipam.typ == IPAMHostLocal {
			if err := n.hostLocal(list, ipam.raw, podCIDR); err != nil {
				return n, fmt.Errorf("CNI config %s: host-local: %w", file, err)
			}
		}
		break
	}
	return n, nil
}

// ipamBlock is a plugin's ipam type with its raw block.
type ipamBlock struct {
	typ string
	raw map[string]any
}

// ipamOf is the IPAM a plugin uses: its ipam block; flannel's, which it
// generates as host-local with the default state folder; the AWS plugin,
// which is its own; nil for plugins without one (portmap, bandwidth...).
func ipamOf(p *libcni.PluginConfig) (*ipamBlock, error) {
	var conf struct {
		IPAM map[string]any `json:"ipam"`
	}
	if err := json.Unmarshal(p.Bytes, &conf); err != nil {
		return nil, err
	}
	switch {
	case conf.IPAM != nil:
		t, _ := conf.IPAM["type"].(string)
		return &ipamBlock{typ: t, raw: conf.IPAM}, nil
	case p.Network.Type == pluginFlannel:
		// flannel's plugin delegates with "ipam": {"type": "host-local",
		// "ranges": [[{"subnet": <the node's flannel subnet>}]]}.
		return &ipamBlock{typ: IPAMHostLocal, raw: map[string]any{"type": IPAMHostLocal, "subnet": usePodCIDR}}, nil
	case p.Network.Type == IPAMAWSVPC:
		return &ipamBlock{typ: IPAMAWSVPC}, nil
	}
	return nil, nil
}

// hostLocal fills the state folder and ranges from a host-local ipam
// block, parsed by host-local's own LoadIPAMConfig (old-style "subnet"
// and "ranges" alike, with its defaults for rangeStart, rangeEnd and the
// gateway).
func (n *Network) hostLocal(list *libcni.NetworkConfigList, ipam map[string]any, podCIDR string) error {
	raw, err := json.Marshal(map[string]any{"name": list.Name, "cniVersion": list.CNIVersion, "ipam": ipam})
	if err != nil {
		return err
	}
	// "usePodCidr" stands for the node's pod CIDR, as Calico's CNI plugin
	// substitutes it before calling host-local.
	podCIDRJSON, _ := json.Marshal(podCIDR)
	raw = bytes.ReplaceAll(raw, []byte(`"`+usePodCIDR+`"`), podCIDRJSON)
	conf, _, err := allocator.LoadIPAMConfig(raw, "")
	if err != nil {
		return err
	}
	dataDir := conf.DataDir
	if dataDir == "" {
		dataDir = DefaultDataDir
	}
	n.StateDir = path.Join(dataDir, list.Name)
	n.sets = conf.Ranges
	for _, set := range conf.Ranges {
		var rs []string
		for _, r := range set {
			rs = append(rs, r.String())
		}
		n.Ranges = append(n.Ranges, strings.Join(rs, ","))
	}
	return nil
}

// Exec runs a command on a node and returns its output.
type Exec func(ctx context.Context, node string, argv ...string) (string, error)

// Read reads the network node's runtime uses, through exec.
func Read(ctx context.Context, exec Exec, node, podCIDR string) (Network, error) {
	out, err := exec(ctx, node, "ls", "-1A", Dir)
	if err != nil {
		return Network{}, fmt.Errorf("list %s on %s: %w", Dir, node, err)
	}
	first := FirstFile(strings.Fields(out))
	if first == "" {
		return Network{}, fmt.Errorf("node %s has no CNI config in %s (found %q)", node, Dir, strings.TrimSpace(out))
	}
	file := path.Join(Dir, first)
	data, err := exec(ctx, node, "cat", file)
	if err != nil {
		return Network{}, fmt.Errorf("read %s on %s: %w", file, node, err)
	}
	return Parse(file, []byte(data), podCIDR)
}
