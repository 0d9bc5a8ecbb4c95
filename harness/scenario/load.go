package scenario

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Load reads and validates one spec file.
func Load(path string) (Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Spec{}, fmt.Errorf("read scenario: %w", err)
	}
	s, err := Parse(raw)
	if err != nil {
		return Spec{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}

// LoadAll reads spec files and folders (every *.yaml in a folder, in name
// order) and checks that no two specs share a name: a name is a namespace
// and a report section. It is the one loader the CLI and the suites use.
func LoadAll(paths ...string) ([]Spec, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("scenario: %w", err)
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		in, err := filepath.Glob(filepath.Join(p, "*.yaml"))
		if err != nil || len(in) == 0 {
			return nil, fmt.Errorf("no scenario specs (*.yaml) in %s", p)
		}
		files = append(files, in...)
	}
	var specs []Spec
	seen := map[string]string{}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			return nil, err
		}
		if prev, dup := seen[s.Name]; dup {
			return nil, fmt.Errorf("scenario name %q is used by %s and %s", s.Name, prev, f)
		}
		seen[s.Name] = f
		specs = append(specs, s)
	}
	return specs, nil
}

// Select keeps the specs that carry one of labels or are named by one
// (all of them when labels is empty).
func Select(specs []Spec, labels []string) []Spec {
	if len(labels) == 0 {
		return specs
	}
	var out []Spec
	for _, s := range specs {
		if slices.ContainsFunc(labels, func(l string) bool { return l == s.Name || slices.Contains(s.Labels, l) }) {
			out = append(out, s)
		}
	}
	return out
}

// Labels are the spec's labels and its name, for label filters.
func (s Spec) LabelsAndName() []string { return append(slices.Clone(s.Labels), s.Name) }
