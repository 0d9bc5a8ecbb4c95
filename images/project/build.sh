#!/usr/bin/env bash
# Builds the project's own images on the offline Debian base (so the same
# image results with or without a registry), each tagged by a hash of its
# contents, a no-op when it exists:
#   kubegrace/consul:<version>-<hash>  the Consul agent `make tools` builds
#   kubegrace/fixture:<hash>           the fixture app + every entrypoint
#                                      variant (bash, dash, tini, dumb-init)
# Prints CONSUL=<ref> and FIXTURE=<ref> on stdout.
set -euo pipefail
LOG_TAG=images
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../lib.sh"

pkgs() { grep -v '^#' "$1" | tr -s ' \n' '\n' | grep -v '^$'; }
base=$(bash "$HERE/../debian/rootfs.sh" debian-base $(pkgs "$HERE/../debian/base-packages.txt") | tail -1)
base_id=$(docker image inspect -f '{{.Id}}' "$base")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# commit_on_base REF DIR CHANGES...: base + DIR's tree copied to /, committed.
commit_on_base() {
  local ref=$1 dir=$2 c; shift 2
  c=$(docker create "$base")
  docker cp "$dir/." "$c:/"
  local args=()
  for ch in "$@"; do args+=(--change "$ch"); done
  docker commit "${args[@]}" "$c" "$ref" >/dev/null
  docker rm "$c" >/dev/null
}

consul_bin=$(bash "$REPO_ROOT/hack/build-consul.sh" | tail -1)
consul_version=$(basename "$(dirname "$consul_bin")")
consul_ref="kubegrace/consul:$consul_version-$(cat "$consul_bin" <(echo "$base_id") | sha256sum | cut -c1-12)"
if image_exists "$consul_ref"; then
  log "$consul_ref exists"
else
  mkdir -p "$work/consul/usr/local/bin"
  cp "$consul_bin" "$work/consul/usr/local/bin/consul"
  commit_on_base "$consul_ref" "$work/consul" 'ENTRYPOINT ["/usr/local/bin/consul"]' 'CMD ["agent", "-dev", "-client", "0.0.0.0"]'
  log "built $consul_ref"
fi

log "building the fixture app"
mkdir -p "$work/fixture/opt/kubegrace/bin" "$work/fixture/opt/kubegrace/entrypoints"
(cd "$REPO_ROOT" && go build -trimpath -ldflags "-s -w" -o "$work/fixture/opt/kubegrace/bin/fixture" ./fixtures/app)
cp "$REPO_ROOT"/fixtures/entrypoints/*.sh "$work/fixture/opt/kubegrace/entrypoints/"
chmod 0755 "$work/fixture/opt/kubegrace/entrypoints/"*.sh
fixture_hash=$( (cd "$work/fixture" && find . -type f | sort | xargs sha256sum; echo "$base_id") | sha256sum | cut -c1-12)
fixture_ref="kubegrace/fixture:$fixture_hash"
if image_exists "$fixture_ref"; then
  log "$fixture_ref exists"
else
  # The default command is the incident's entrypoint; scenarios choose one.
  commit_on_base "$fixture_ref" "$work/fixture" 'ENTRYPOINT []' 'CMD ["/opt/kubegrace/entrypoints/bash-noexec.sh"]' \
    'ENV FIXTURE_APP=/opt/kubegrace/bin/fixture'
  log "built $fixture_ref"
fi
echo "CONSUL=$consul_ref"
echo "FIXTURE=$fixture_ref"
