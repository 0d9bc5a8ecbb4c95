// Package cache says where kubegrace keeps what it builds and writes outside
// the clone (the Consul binary, node-image binaries, kubeconfigs), so that a
// fresh clone or a CI run on the same machine reuses it. images/lib.sh
// holds the same rule for the build scripts (a test checks they agree).
package cache

import (
	"os"
	"path/filepath"
)

// Dir is $KUBEGRACE_CACHE, else <user cache dir>/kubegrace
// ($XDG_CACHE_HOME or ~/.cache on Linux).
func Dir() string {
	if d := os.Getenv("KUBEGRACE_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "kubegrace")
	}
	return filepath.Join(os.TempDir(), "kubegrace-cache")
}
