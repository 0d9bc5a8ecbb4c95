# Shared by the image and tool build scripts: pinned versions, the cache
# folder (the same rule as harness/cache), logging, module lookups and the
# inputs hash that tags images.
# shellcheck shell=bash

# Pinned inputs. Changing one changes the node image's tag.
K8S_VERSION="${K8S_VERSION:-v1.34.4}"
ETCD_VERSION="v3.6.5"        # kubeadm v1.34 wants registry.k8s.io/etcd:3.6.5-0
COREDNS_VERSION="v1.12.1"    # kubeadm v1.34 wants registry.k8s.io/coredns/coredns:v1.12.1
PAUSE_TAGS="3.10.1 3.10"     # kubeadm v1.34 wants 3.10.1; kind's containerd config says 3.10
CRICTL_VERSION="v1.34.0"
KIND_VERSION="v0.30.0"       # the kind Go module whose base files the node uses
DEBIAN_SUITE="bookworm"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

CACHE="${KUBEGRACE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kubegrace}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export CGO_ENABLED=0
export GOFLAGS="-mod=mod -buildvcs=false"

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${LOG_TAG:-images}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# mod_field MODULE@VERSION FIELD: a field of `go mod download -json`.
mod_field() {
  go mod download -json "$1" | sed -n "s/^[[:space:]]*\"$2\": \"\\(.*\\)\",\$/\\1/p"
}

# image_exists REF: the local docker engine has the image.
image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

# inputs_hash FILE...: a short hash over files and the pinned versions above.
inputs_hash() {
  {
    printf '%s\n' "$K8S_VERSION" "$ETCD_VERSION" "$COREDNS_VERSION" "$PAUSE_TAGS" "$CRICTL_VERSION" "$KIND_VERSION" "$DEBIAN_SUITE"
    cat "$@"
  } | sha256sum | cut -c1-12
}
