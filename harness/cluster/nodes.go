package cluster

import (
	"os"
	"strconv"
	"strings"
)

// Sizing, measured on the 2-core, 24 GiB CI machine (README "Measured
// times"): a kind node holds about 1 GB at rest, a scenario's pods a few
// hundred MB more.
const (
	// MaxDefaultNodes caps the default: more nodes than this bought no
	// time on 2 cores.
	MaxDefaultNodes = 4
	// hostReserve is memory left to the host (Docker, the harness, the
	// image builds).
	hostReserve = 4 << 30
	// perNode is what one node and the scenarios pinned to it take.
	perNode = 2 << 30
)

// DefaultNodes is the cluster size for this machine: as many nodes as its
// memory holds (after hostReserve, perNode each), at least 1, at most
// MaxDefaultNodes.
func DefaultNodes() int {
	return nodesFor(memTotal())
}

func nodesFor(mem int64) int {
	return min(max(int((mem-hostReserve)/perNode), 1), MaxDefaultNodes)
}

// memTotal is MemTotal from /proc/meminfo in bytes (0 if unknown).
func memTotal() int64 {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// NodesFromEnv is KUBEGRACE_NODES if set to a number, else DefaultNodes.
func NodesFromEnv() int {
	if n, err := strconv.Atoi(os.Getenv("KUBEGRACE_NODES")); err == nil && n > 0 {
		return n
	}
	return DefaultNodes()
}
