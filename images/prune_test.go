package images

import "testing"

func TestSplitRef(t *testing.T) {
	for ref, want := range map[string][3]string{
		"kubegrace/kind-node:v1.34.4-2f4064668ba4": {"kubegrace/kind-node", "v1.34.4-2f4064668ba4", "ok"},
		"localhost:5000/kubegrace/fixture:abc":     {"localhost:5000/kubegrace/fixture", "abc", "ok"},
		"localhost:5000/kubegrace/fixture":         {"", "", ""},
		"kubegrace/fixture":                        {"", "", ""},
		"kubegrace/fixture@sha256:0123":            {"", "", ""},
	} {
		repo, tag, ok := splitRef(ref)
		if repo != want[0] || tag != want[1] || ok != (want[2] == "ok") {
			t.Errorf("%s: %q %q %v, want %v", ref, repo, tag, ok, want)
		}
	}
}
