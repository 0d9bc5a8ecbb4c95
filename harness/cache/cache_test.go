package cache

import (
	"os/exec"
	"strings"
	"testing"
)

// The shell build scripts find the cache by images/lib.sh's rule; both
// rules must name the same folder, or Go would not find what they built.
func TestShellRuleAgrees(t *testing.T) {
	for _, env := range []map[string]string{
		{"KUBEGRACE_CACHE": "/tmp/kg-cache", "XDG_CACHE_HOME": "", "HOME": "/root"},
		{"KUBEGRACE_CACHE": "", "XDG_CACHE_HOME": "/tmp/xdg", "HOME": "/root"},
		{"KUBEGRACE_CACHE": "", "XDG_CACHE_HOME": "", "HOME": "/home/someone"},
	} {
		for k, v := range env {
			t.Setenv(k, v)
		}
		out, err := exec.Command("bash", "-c", `unset -v $(for v in KUBEGRACE_CACHE XDG_CACHE_HOME; do [[ -z ${!v} ]] && echo $v; done); source ../../images/lib.sh && echo "$CACHE"`).Output()
		if err != nil {
			t.Fatalf("lib.sh: %v", err)
		}
		if got := strings.TrimSpace(string(out)); got != Dir() {
			t.Errorf("env %v: lib.sh says %s, Go says %s", env, got, Dir())
		}
	}
}
