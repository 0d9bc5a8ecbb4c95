package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	jsv "github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// runInitCmd runs the init command's RunE as the CLI would, with flags.
func runInitCmd(t *testing.T, args []string, flags ...string) (string, error) {
	t.Helper()
	cmd := newInitCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	if err := cmd.ParseFlags(flags); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Args(cmd, args); err != nil {
		return "", err
	}
	err := cmd.RunE(cmd, args)
	return out.String(), err
}

// init writes a spec that kubegrace accepts and that its schema (written
// beside it, named in its first line) accepts too, and a CI snippet.
func TestInitWritesStarterFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	out, err := runInitCmd(t, []string{dir})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	for _, name := range []string{initSpecFile, scenario.SchemaFile, initCIFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("missing %s: %v", name, err)
		}
		if !strings.Contains(out, filepath.Join(dir, name)) {
			t.Errorf("output does not name %s:\n%s", name, out)
		}
	}
	if !strings.Contains(out, "kubegrace run --list "+filepath.Join(dir, initSpecFile)) {
		t.Errorf("output does not say what to run next:\n%s", out)
	}

	raw, err := os.ReadFile(filepath.Join(dir, initSpecFile))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := scenario.Parse(raw)
	if err != nil {
		t.Fatalf("starter spec does not parse: %v", err)
	}
	if spec.Name != "my-incident" || len(spec.Services) < 2 || len(spec.Callers) == 0 || len(spec.Expect) == 0 {
		t.Errorf("starter spec lacks parts of the worked example: %+v", spec)
	}
	var hasRollout, hasIPReuse bool
	for _, f := range spec.Faults {
		hasRollout = hasRollout || f.RollingUpdate != nil
		hasIPReuse = hasIPReuse || f.IPReuse != nil
	}
	if !hasRollout || !hasIPReuse || spec.Services[0].Entrypoint != "bash-noexec" {
		t.Errorf("starter spec should roll orders (bash-noexec) and reuse its IP: %+v", spec)
	}
	first, _, _ := strings.Cut(string(raw), "\n")
	if first != "# yaml-language-server: $schema="+scenario.SchemaFile {
		t.Errorf("first line %q is not the yaml-language-server modeline", first)
	}

	schema, err := os.ReadFile(filepath.Join(dir, scenario.SchemaFile))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(schema) {
		t.Fatalf("%s is not JSON", scenario.SchemaFile)
	}
	// The starter spec is valid under the schema file, as an editor sees it.
	doc, err := jsv.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsv.NewCompiler()
	if err := c.AddResource(scenario.SchemaFile, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(scenario.SchemaFile)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsv.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("starter spec fails its schema: %v", err)
	}
}

// The CI snippet installs kubegrace, runs the spec as root, keeps the
// report whatever the outcome; its workflow is YAML and its script is bash.
func TestInitCISnippet(t *testing.T) {
	dir := t.TempDir()
	if _, err := runInitCmd(t, []string{dir}); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(dir, initCIFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"go install github.com/kubegrace/kubegrace/cmd/kubegrace@latest",
		`sudo env "PATH=$PATH" kubegrace run --reports reports my-incident.yaml`,
		"reports/latest/junit.xml", "set -euo pipefail",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("%s lacks %q", initCIFile, want)
		}
	}
	blocks := regexp.MustCompile("(?s)```(yaml|bash)\n(.*?)```").FindAllSubmatch(md, -1)
	if len(blocks) != 2 {
		t.Fatalf("want a yaml and a bash block, got %d blocks", len(blocks))
	}
	var wf struct {
		Jobs map[string]struct {
			RunsOn string `json:"runs-on"`
			Steps  []struct {
				Uses string            `json:"uses"`
				If   string            `json:"if"`
				Run  string            `json:"run"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(blocks[0][2], &wf); err != nil {
		t.Fatalf("workflow: %v", err)
	}
	job, ok := wf.Jobs["graceful-shutdown"]
	if !ok || job.RunsOn != "ubuntu-latest" {
		t.Fatalf("workflow job: %+v", wf)
	}
	var setupGo, upload bool
	for _, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["go-version"] == "1.26" {
			setupGo = true
		}
		if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && s.If == "always()" && s.With["path"] == "reports/" {
			upload = true
		}
	}
	if !setupGo || !upload {
		t.Errorf("workflow: setup-go 1.26 %v, upload-artifact of reports/ if always() %v", setupGo, upload)
	}
	if bash, err := exec.LookPath("bash"); err == nil {
		check := exec.Command(bash, "-n")
		check.Stdin = bytes.NewReader(blocks[1][2])
		if out, err := check.CombinedOutput(); err != nil {
			t.Errorf("shell step: bash -n: %v: %s", err, out)
		}
	}
}

// A second init refuses, names the file and writes nothing; --force
// overwrites.
func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	if _, err := runInitCmd(t, []string{dir}); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, initSpecFile)
	mine := []byte("name: mine\n")
	if err := os.WriteFile(spec, mine, 0o644); err != nil {
		t.Fatal(err)
	}
	schema := filepath.Join(dir, scenario.SchemaFile)
	if err := os.Remove(schema); err != nil {
		t.Fatal(err)
	}

	_, err := runInitCmd(t, []string{dir})
	if err == nil || !strings.Contains(err.Error(), spec) || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("second init: error %v should name %s and --force", err, spec)
	}
	if got, _ := os.ReadFile(spec); !bytes.Equal(got, mine) {
		t.Errorf("%s was changed: %q", spec, got)
	}
	if _, err := os.Stat(schema); err == nil {
		t.Errorf("a refused init wrote %s", schema)
	}

	if _, err := runInitCmd(t, []string{dir}, "--force"); err != nil {
		t.Fatalf("init --force: %v", err)
	}
	if got, _ := os.ReadFile(spec); !bytes.Equal(got, []byte(starterSpec)) {
		t.Errorf("--force did not overwrite %s", spec)
	}
	if _, err := os.Stat(schema); err != nil {
		t.Errorf("--force did not write %s: %v", schema, err)
	}
}

// Without DIR, init writes into the current folder; more than one DIR is
// an error.
func TestInitDefaultsToCurrentFolder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	out, err := runInitCmd(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, initSpecFile)); err != nil {
		t.Errorf("no %s in the current folder: %v", initSpecFile, err)
	}
	if !strings.Contains(out, "wrote "+initSpecFile) {
		t.Errorf("output should name %s as is:\n%s", initSpecFile, out)
	}
	if _, err := runInitCmd(t, []string{"a", "b"}); err == nil {
		t.Errorf("two folders should be an error")
	}
}
