#!/usr/bin/env bash
# Builds the CNCF Distribution registry (the `registry` of registry:2) from
# the Go module proxy into a cache outside the clone, keyed by version, so
# that tests of `kubegrace run --image-registry` have a real registry on a
# machine with none. Prints the binary's path last.
set -euo pipefail

LOG_TAG=build-registry
source "$(dirname "$0")/../images/lib.sh" # CACHE
REGISTRY_VERSION=v3.1.2
BIN="$CACHE/registry/$REGISTRY_VERSION/registry"

if [[ -x "$BIN" ]]; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi
command -v go >/dev/null || die "go is not on PATH; install Go 1.26"
start=$SECONDS
log "building github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION from the module proxy"
mkdir -p "$(dirname "$BIN")"
GOBIN="$(dirname "$BIN")" CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
  go install -trimpath -ldflags "-s -w" "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION"
"$BIN" --version >/dev/null 2>&1 || die "the built registry does not run: $BIN"
log "built $BIN in $((SECONDS - start)) s"
echo "$BIN"
