package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/kubegrace/kubegrace/harness/scenario"
)

// Files kubegrace init writes.
const (
	initSpecFile = "my-incident.yaml"
	initCIFile   = "kubegrace-ci.md"
)

// newInitCommand returns "kubegrace init", which starts a user's own
// scenario: a starter spec, the spec's JSON Schema beside it for editors,
// and CI snippets that run it.
func newInitCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Write a starter scenario spec, its JSON Schema and a CI snippet into DIR (default .)",
		Long: `Writes into DIR (default the current folder; created if missing):

  ` + initSpecFile + `            a starter spec modelled on the incident: a bash
                              script without exec, the shared actuator check,
                              a rolling update, an IP reused by another
                              service, a caller and expectations
  ` + scenario.SchemaFile + `  its JSON Schema; the spec's first line points
                              editors (YAML language server) at it, offline
  ` + initCIFile + `             a GitHub Actions job and a plain shell step that
                              run the spec and keep the report and junit.xml

Existing files are left alone (and nothing is written) unless --force.`,
		Example: "  kubegrace init\n  kubegrace init ci/kubegrace --force",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(cmd.OutOrStdout(), dir, force)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "overwrite files that already exist")
	return cmd
}

// initFile is one file init writes and what it is for.
type initFile struct {
	name, what string
	content    []byte
}

func runInit(out io.Writer, dir string, force bool) error {
	schema, err := scenario.Schema()
	if err != nil {
		return err
	}
	files := []initFile{
		{initSpecFile, "starter scenario spec: make it your incident", []byte(starterSpec)},
		{scenario.SchemaFile, "JSON Schema of specs, for your editor (regenerate: kubegrace spec schema)", append(schema, '\n')},
		{initCIFile, "CI snippets: a GitHub Actions job and a plain shell step", []byte(ciSnippet)},
	}
	if !force {
		var existing []string
		for _, f := range files {
			p := filepath.Join(dir, f.name)
			if _, err := os.Lstat(p); err == nil {
				existing = append(existing, p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("init: %w", err)
			}
		}
		switch len(existing) {
		case 0:
		case 1:
			return fmt.Errorf("init: %s exists; nothing written (--force overwrites it)", existing[0])
		default:
			return fmt.Errorf("init: %s exist; nothing written (--force overwrites them)", strings.Join(existing, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	flag := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if !force {
		flag |= os.O_EXCL // a file that appeared since the check is still not overwritten
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err := writeFile(p, f.content, flag); err != nil {
			return fmt.Errorf("init: %w", err)
		}
		fmt.Fprintf(tw, "wrote %s\t%s\n", p, f.what)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	spec := filepath.Join(dir, initSpecFile)
	fmt.Fprintf(out, `
Next:
  1. Make %[1]s your incident: services (entrypoint, grace
     period, check), faults, expected verdicts. Editors with the YAML language
     server complete and check it against %[2]s.
  2. Check it (no cluster needed):
       kubegrace run --list %[1]s
  3. Run it (needs Docker: kubegrace creates a kind cluster there). As root it
     also watches stop signals in the kernel:
       sudo env "PATH=$PATH" kubegrace run %[1]s
     Report: reports/latest/report.html; for CI, reports/latest/junit.xml.
  4. In CI: see %[3]s.
`, spec, filepath.Join(dir, scenario.SchemaFile), filepath.Join(dir, initCIFile))
	return nil
}

func writeFile(path string, content []byte, flag int) error {
	f, err := os.OpenFile(path, flag, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// starterSpec is the spec init writes: the README's worked example, as the
// incident (bash without exec as PID 1, every service on the same port and
// actuator path, an address reused by another service).
const starterSpec = `# yaml-language-server: $schema=` + scenario.SchemaFile + `
#
# A kubegrace scenario: an incident as data. Check it without a cluster with
#   kubegrace run --list my-incident.yaml
# and run it with
#   sudo env "PATH=$PATH" kubegrace run my-incident.yaml
# Every field is described in ` + scenario.SchemaFile + ` (the line above points
# editors at it); kubegrace's errors name the field (faults[1].ipReuse.by: ...).
name: my-incident                # DNS label; the namespace is kg-<name>
description: >
  orders starts from a bash script without exec, so bash is PID 1 and the
  kubelet's SIGTERM never reaches the app: it never deregisters from Consul.
  Every service serves its check on the same port and actuator path, so when
  a billing pod takes the address of a dead orders pod, the stale orders
  entry passes its check again and callers of orders reach billing.
labels: [mine]
services:
- name: orders
  replicas: 2
  entrypoint: bash-noexec        # bash-noexec bash-exec sh-noexec bash-trap bash-c
                                 # tini-noexec tini-g-noexec dumb-init-noexec
  terminationGracePeriodSeconds: 15
  # preStop: {sleepSeconds: 5}   # an exec preStop hook running sleep
  # The check every service shares: GET <pod IP>:8080/actuator/health, as a
  # Spring Cloud Consul service registers it. identity "off" (quoted: YAML
  # reads a bare off as false) is the incident; header or path put the
  # instance id in the check, and another instance answers 503.
  check: {interval: 1s, identity: "off"}
  # drain: 2s                    # the app keeps serving after deregistering
- name: billing
  entrypoint: bash-noexec
  terminationGracePeriodSeconds: 15
  check: {interval: 1s}
callers:
- {service: orders, interval: 100ms}   # resolves passing orders instances via Consul, calls GET /
faults:                          # in order; each recorded on the timeline
- rollingUpdate: {service: orders, maxSurge: 1, maxUnavailable: 0}
- ipReuse: {victim: {service: orders}, by: billing}   # billing's next pod gets a dead orders pod's IP
- wait: 4s
# other faults: podDelete: {service, index} (SIGTERM, then SIGKILL after the
# grace period); podKill: {service, index} (SIGKILL on the node, as a crash)
settle: 2s
expect:                          # the gate: verdict, subject (pod glob, "*" all, "" scenario-wide), op, value
- {verdict: signal_delivered, subject: "orders-*", op: "==", value: 0, why: "bash as PID 1 drops the kubelet's SIGTERM"}
- {verdict: reused_address_window, op: ">", value: 0, why: "a dead orders instance is listed passing while billing answers on its address"}
- {verdict: wrong_target_calls, op: ">", value: 0, why: "callers of orders reached billing"}
# The fix, as a second spec: entrypoint bash-exec (or bash-trap, or
# identity: header) for orders, and expect signal_delivered == 1,
# reused_address_window == 0 and wrong_target_calls == 0.
`

// ciSnippet is the CI file init writes.
const ciSnippet = "# Running my-incident.yaml in CI\n\n" +
	"`kubegrace run` exits non-zero when a scenario fails or an expectation is\n" +
	"not met: its exit status is the gate. Each run writes `reports/<run-id>/`\n" +
	"(report.html, report.md, run.json, timeline.jsonl, verdicts.json and\n" +
	"junit.xml) and points the link `reports/latest` at it.\n\n" +
	"The machine needs Go 1.26 and a Docker engine: kubegrace creates a kind\n" +
	"cluster in it and builds its images the first time (minutes). Run it as\n" +
	"root to observe stop signals in the kernel (tracefs): which process each\n" +
	"SIGTERM reached, and whether it was dropped. Without root (`--kernel auto`,\n" +
	"the default) kubegrace falls back to the app's log and exit codes, and the\n" +
	"report says so. `sudo` resets PATH, hence `sudo env \"PATH=$PATH\"`: it\n" +
	"finds kubegrace in $(go env GOPATH)/bin, and the go and docker it calls.\n\n" +
	"## GitHub Actions\n\n" +
	"```yaml\n" +
	`name: kubegrace
on:
  push:
    branches: [main]
  pull_request:
jobs:
  graceful-shutdown:
    runs-on: ubuntu-latest
    timeout-minutes: 60
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-go@v5
        with:
          go-version: '1.26'
      - name: Install kubegrace
        run: go install github.com/kubegrace/kubegrace/cmd/kubegrace@latest
      - name: Run my-incident.yaml
        # Root (sudo) for the kernel signal observer; the exit status is the gate.
        run: sudo env "PATH=$PATH" kubegrace run --reports reports my-incident.yaml
      - name: Keep the report
        if: always()
        uses: actions/upload-artifact@v4
        with:
          name: kubegrace-report
          # reports/<run-id>/ with report.html and junit.xml; reports/latest links to it
          path: reports/
` + "```\n\n" +
	"To show the results as test results, give your JUnit reporter\n" +
	"`reports/latest/junit.xml`: one test case per scenario, failed when an\n" +
	"expectation is not met (the unmet ones are the failure's text).\n\n" +
	"## Plain shell (any CI, a cron job)\n\n" +
	"```bash\n" +
	`#!/usr/bin/env bash
set -euo pipefail
go install github.com/kubegrace/kubegrace/cmd/kubegrace@latest
export PATH="$(go env GOPATH)/bin:$PATH"
status=0
# Root (sudo) for the kernel signal observer; drop sudo to run without it.
sudo env "PATH=$PATH" kubegrace run --reports reports my-incident.yaml || status=$?
# Whatever the outcome, keep the report folder and its junit.xml as artifacts
# (reports/latest is a link to reports/<run-id>/; -L copies the files).
mkdir -p artifacts
if [[ -e reports/latest ]]; then
  cp -rL reports/latest artifacts/kubegrace-report
  cp reports/latest/junit.xml artifacts/junit.xml 2>/dev/null || true
fi
exit "$status"  # the gate: non-zero when a scenario failed or an expectation was not met
` + "```\n"
