#!/usr/bin/env bash
# Installs what the fast test tier needs on the host and a fresh machine
# lacks: the init programs the entrypoint variants use (tini, dumb-init,
# from Debian packages), a POSIX sh, jq (the node's CNI route plugin is
# tested on the host) and Debian's CNI plugins (host-local steering is
# tested against the real host-local). Idempotent: does nothing when they
# are already there.
set -euo pipefail

log() { printf '[install-test-deps] %s\n' "$*" >&2; }

declare -A pkg_of=([tini]=tini [dumb-init]=dumb-init [bash]=bash [dash]=dash [jq]=jq)
missing=()
for bin in "${!pkg_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || missing+=("${pkg_of[$bin]}")
done
# Not on PATH: Debian keeps CNI plugins in /usr/lib/cni.
hostlocal=/usr/lib/cni/host-local
[[ -x $hostlocal ]] || missing+=(containernetworking-plugins)
if ((${#missing[@]} == 0)); then
  exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  log "missing: ${missing[*]}; install these packages (Debian/Ubuntu: apt-get install ${missing[*]}) and run again"
  exit 1
fi
log "installing from Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || log "apt-get update failed; trying the existing package lists"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for bin in "${!pkg_of[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || { log "still missing after install: $bin"; exit 1; }
done
[[ -x $hostlocal ]] || { log "still missing after install: $hostlocal"; exit 1; }
log "installed: ${missing[*]}"
