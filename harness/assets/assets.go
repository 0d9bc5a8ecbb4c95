// Package assets finds the files kubegrace runs besides its Go code (the
// kind config, image recipes, host scripts, fixture source, built-in
// specs): a checkout of the repository when there is one, else the copy
// embedded in the binary, written once to the build cache.
package assets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubegrace/kubegrace"
	"github.com/kubegrace/kubegrace/harness/cache"
)

// Root returns the folder to run from. repo, if set, must be a checkout
// (it has kind-config.yaml and images/); else the current folder is used
// when it is one; else the embedded assets, written to
// <cache>/assets/<hash of their content>/.
func Root(repo string) (string, error) {
	if repo != "" {
		if !IsCheckout(repo) {
			return "", fmt.Errorf("--repo %s: not a kubegrace checkout (no kind-config.yaml and images/project/build.sh there)", repo)
		}
		return filepath.Abs(repo)
	}
	if IsCheckout(".") {
		return filepath.Abs(".")
	}
	return Materialize(filepath.Join(cache.Dir(), "assets"))
}

// IsCheckout reports whether dir holds the repository's layout.
func IsCheckout(dir string) bool {
	for _, f := range []string{"kind-config.yaml", filepath.Join("images", "project", "build.sh"), filepath.Join("scenarios", "specs")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// Materialize writes the embedded assets under parent/<hash>/ (once: an
// existing complete copy is reused) and returns that folder. Scripts and
// files under bin/ are made executable (embedding keeps no modes).
func Materialize(parent string) (string, error) {
	sum, err := hash(kubegrace.Assets)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(parent, sum)
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(parent+"-tmp", "")
	if err != nil {
		if err := os.MkdirAll(parent+"-tmp", 0o755); err != nil {
			return "", fmt.Errorf("assets: %w", err)
		}
		if tmp, err = os.MkdirTemp(parent+"-tmp", ""); err != nil {
			return "", fmt.Errorf("assets: %w", err)
		}
	}
	defer os.RemoveAll(tmp)
	err = fs.WalkDir(kubegrace.Assets, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(tmp, filepath.FromSlash(path))
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := kubegrace.Assets.ReadFile(path)
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(path, ".sh") || strings.Contains(path, "/bin/") {
			mode = 0o755
		}
		return os.WriteFile(target, b, mode)
	})
	if err != nil {
		return "", fmt.Errorf("assets: write %s: %w", tmp, err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another kubegrace wrote it first: use that one.
		if _, serr := os.Stat(done); serr == nil {
			return dir, nil
		}
		return "", fmt.Errorf("assets: %w", err)
	}
	return dir, nil
}

// hash is a short digest of every embedded path and content.
func hash(fsys fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %d\n", path, len(b))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("assets: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}
