#!/usr/bin/env bash
# rootfs.sh NAME PACKAGES... : makes a Debian root file system with
# debootstrap (Debian packages only, no registry) and imports it into docker
# as kubegrace/NAME:<hash of suite+packages>, printed on stdout. The tarball
# is cached in $CACHE/debian, so a docker engine that lost the image
# re-imports it in seconds; an existing image makes this a no-op.
set -euo pipefail
LOG_TAG=debian
source "$(dirname "$0")/../lib.sh"

name=$1; shift
pkgs=$(printf '%s\n' "$@" | sort -u | paste -sd, -)
hash=$(printf '%s %s %s\n' "$DEBIAN_SUITE" "$name" "$pkgs" | sha256sum | cut -c1-12)
ref="kubegrace/$name:$DEBIAN_SUITE-$hash"
tarball="$CACHE/debian/$name-$DEBIAN_SUITE-$hash.tar.gz"

if image_exists "$ref"; then
  log "$ref exists"
  echo "$ref"; exit 0
fi
# Two builds at once (two make targets, a job and a kind tier) may want the
# same base: one build of a root file system at a time, the other finds it.
mkdir -p "$CACHE/debian"
exec 9>"$CACHE/debian/$name.lock"
flock 9
if image_exists "$ref"; then
  log "$ref exists (built beside this one)"
  echo "$ref"; exit 0
fi
if [[ ! -f $tarball ]]; then
  [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap from Debian packages"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null \
      || die "apt-get install debootstrap failed"
  fi
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  log "debootstrap $DEBIAN_SUITE ($name: $pkgs); about a minute"
  start=$SECONDS
  debootstrap --variant=minbase --include="$pkgs" "$DEBIAN_SUITE" "$dir/root" "$DEBIAN_MIRROR" >"$dir/debootstrap.log" 2>&1 \
    || die "debootstrap failed; last lines: $(tail -5 "$dir/debootstrap.log")"
  # Smaller and reproducible enough: no package lists, caches or logs.
  rm -rf "$dir/root"/var/lib/apt/lists/* "$dir/root"/var/cache/apt/*.bin "$dir/root"/var/cache/apt/archives/*.deb \
    "$dir/root"/var/log/* "$dir/root"/tmp/*
  mkdir -p "$CACHE/debian"
  tar -C "$dir/root" --numeric-owner -czf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  log "rootfs built in $((SECONDS - start)) s: $(du -h "$tarball" | cut -f1)"
fi
log "importing $ref"
docker import --change 'CMD ["/bin/bash"]' "$tarball" "$ref" >/dev/null
echo "$ref"
