#!/usr/bin/env bash
# Builds the kernel agent image: the project's Debian base with the kubegrace
# binary given as $1 at /usr/local/bin/kubegrace. `kubegrace kernel-agent`
# runs from it on each node of a cluster whose nodes are not on this host
# (--allow-privileged). Tagged by a hash of the binary and the base, a no-op
# when it exists. Prints AGENT=<ref> on stdout.
set -euo pipefail
LOG_TAG=kernel-agent
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../lib.sh"

bin=${1:?usage: build.sh KUBEGRACE-BINARY}
[[ -x $bin ]] || die "$bin is not an executable"
pkgs() { grep -v '^#' "$1" | tr -s ' \n' '\n' | grep -v '^$'; }
base=$(bash "$HERE/../debian/rootfs.sh" debian-base $(pkgs "$HERE/../debian/base-packages.txt") | tail -1)
base_id=$(docker image inspect -f '{{.Id}}' "$base")
hash=$( (sha256sum <"$bin"; echo "$base_id") | sha256sum | cut -c1-12)
ref="kubegrace/kernel-agent:$hash"
if image_exists "$ref"; then
  log "$ref exists"
  echo "AGENT=$ref"; exit 0
fi
work=$(mktemp -d)
c=""
trap '[[ -n $c ]] && docker rm -f "$c" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/usr/local/bin"
cp "$bin" "$work/usr/local/bin/kubegrace"
c=$(docker create "$base")
docker cp "$work/." "$c:/"
docker commit --change 'ENTRYPOINT ["/usr/local/bin/kubegrace", "kernel-agent"]' "$c" "$ref" >/dev/null
log "built $ref"
echo "AGENT=$ref"
