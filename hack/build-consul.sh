#!/usr/bin/env bash
# Builds the Consul agent from the Go module proxy (no release download, no
# registry) into a cache outside the clone, keyed by version, so that later
# runs and CI on the same machine reuse it. Prints the binary's path last.
#
# Consul's go.mod has replace directives to its own sub-folders, so
# `go install github.com/hashicorp/consul@vX` fails; a wrapper module that
# requires consul plus its sub-modules at the versions consul pins works.
set -euo pipefail

LOG_TAG=build-consul
source "$(dirname "$0")/../images/lib.sh" # CACHE
# The one pin of the Consul version; the Go code embeds the same file.
CONSUL_VERSION="$(cat "$(dirname "$0")/../harness/consul/VERSION")"
OUT_DIR="$CACHE/consul/$CONSUL_VERSION"
BIN="$OUT_DIR/consul"


# The first line of `consul version` is "Consul vX.Y.Z". (Read it whole:
# with pipefail, `| head -1` would fail the check through SIGPIPE.)
reports_version() { local out; out=$("$1" version 2>/dev/null) && [[ ${out%%$'\n'*} == "Consul $CONSUL_VERSION" ]]; }

if [[ -x "$BIN" ]] && reports_version "$BIN"; then
  log "cached: $BIN"
  echo "$BIN"
  exit 0
fi

command -v go >/dev/null || { log "go is not on PATH; install Go 1.26"; exit 1; }

# envoyextensions and troubleshoot sub-module versions that consul v1.22.0
# pins have no checksum-database entry; the module proxy still serves them.
export GONOSUMDB="github.com/hashicorp/consul${GONOSUMDB:+,$GONOSUMDB}"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0

log "fetching github.com/hashicorp/consul@$CONSUL_VERSION from the module proxy"
src_mod="$(go mod download -json "github.com/hashicorp/consul@$CONSUL_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
src_dir="$(go mod download -json "github.com/hashicorp/consul@$CONSUL_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[[ -f "$src_mod" && -d "$src_dir" ]] || { log "could not download consul $CONSUL_VERSION"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Wrapper module: consul's own go.mod (same requires, same excludes) with the
# module line renamed, the replace block dropped, and consul itself required.
awk '
  /^module / { print "module kubegrace.local/consul-build"; next }
  /^replace \($/ { skip = 1; next }
  skip && /^\)$/ { skip = 0; next }
  skip { next }
  /^replace / { next }
  { print }
' "$src_mod" > "$work/go.mod"
printf '\nrequire github.com/hashicorp/consul %s\n' "$CONSUL_VERSION" >> "$work/go.mod"
cp "$src_dir/go.sum" "$work/go.sum"
chmod u+w "$work/go.sum"
cat > "$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/hashicorp/consul"
GO

log "building consul $CONSUL_VERSION (CGO_ENABLED=0; about 5 minutes cold on 2 cores)"
start=$SECONDS
mkdir -p "$OUT_DIR"
(
  cd "$work"
  go build -trimpath -ldflags "-s -w -X github.com/hashicorp/consul/version.GitCommit=$(go mod download -json "github.com/hashicorp/consul@$CONSUL_VERSION" | sed -n 's/^[[:space:]]*"Hash": "\(.*\)",$/\1/p' | cut -c1-9)" \
    -o "$BIN.tmp" github.com/hashicorp/consul
)
mv "$BIN.tmp" "$BIN"
reports_version "$BIN" || { log "built binary does not report $CONSUL_VERSION: $("$BIN" version 2>&1)"; exit 1; }
log "built $BIN in $((SECONDS - start)) s"
echo "$BIN"
