#!/usr/bin/env bash
# A user's path, from this checkout: `go install` of the kubegrace command
# (as `go install github.com/kubegrace/kubegrace/cmd/kubegrace@<version>`
# does from the module proxy), then, in an empty folder with no checkout:
# `kubegrace run --list` lists the built-in scenarios, and `kubegrace run` of
# a spec written there runs on the cluster and leaves a report and
# junit.xml in ./reports. Needs a Docker engine (make host); reuses the
# cluster `kubegrace` (creates it if absent).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log() { printf '[check-go-install] %s\n' "$*" >&2; }

start=$SECONDS
(cd "$repo" && GOBIN="$work/bin" go install ./cmd/kubegrace)
log "installed kubegrace in $((SECONDS - start)) s"
mkdir "$work/mine"
cd "$work/mine"

"$work/bin/kubegrace" run --list | tee list.txt
n=$(grep -c . list.txt)
grep -q '^incident-replay ' list.txt || { log "run --list from an empty folder does not list the built-in scenarios"; exit 1; }
log "run --list: $((n - 1)) built-in scenarios, no checkout"

cat > my-incident.yaml <<'SPEC'
name: go-install-check
description: one exec-started service, one pod deleted
services:
- {name: orders, entrypoint: bash-exec, terminationGracePeriodSeconds: 5, check: {interval: 1s}}
faults:
- podDelete: {service: orders}
settle: 1s
expect:
- {verdict: signal_delivered, subject: "orders-*", op: "==", value: 1}
- {verdict: killed_by_sigkill, subject: "orders-*", op: "==", value: 0}
SPEC
start=$SECONDS
"$work/bin/kubegrace" run my-incident.yaml
for f in reports/latest/report.html reports/latest/run.json reports/latest/junit.xml; do
  [[ -s $f ]] || { log "missing $f"; exit 1; }
done
grep -q 'testcase name="go-install-check"' reports/latest/junit.xml || { log "junit.xml lacks the scenario"; exit 1; }
log "run of a spec in an empty folder: report in ./reports ($((SECONDS - start)) s)"
