package consul

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func fakeConsul(t *testing.T, script string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "consul")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A missing, failing, wrong or hanging binary is one clear error, fast.
func TestLocalBinaryErrors(t *testing.T) {
	cases := map[string]struct {
		path string
		want string
	}{
		"missing": {filepath.Join(t.TempDir(), "nope"), "make tools"},
		"fails":   {fakeConsul(t, "echo corrupt >&2; exit 1"), "corrupt"},
		"wrong":   {fakeConsul(t, `echo '{"Version":"1.9.0"}'`), `"1.9.0"`},
		"hangs":   {fakeConsul(t, "exec sleep 60"), "killed"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Setenv("KUBEGRACE_CONSUL", tc.path)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := LocalBinary(ctx)
			if !errors.Is(err, ErrBinary) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v should wrap ErrBinary and mention %q", err, tc.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestLocalBinaryAcceptsPinnedVersion(t *testing.T) {
	t.Setenv("KUBEGRACE_CONSUL", fakeConsul(t, `echo '{"Version":"1.22.0"}'`))
	if _, err := LocalBinary(context.Background()); err != nil {
		t.Fatal(err)
	}
}
