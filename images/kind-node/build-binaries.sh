#!/usr/bin/env bash
# Builds every Go binary the offline kind node needs, from the Go module
# proxy only, into $CACHE/kind-node/bin/<name>-<version> (kept across
# clones; a cached binary is not rebuilt):
#   kubelet kubeadm kubectl kube-apiserver kube-controller-manager
#   kube-scheduler kube-proxy  (k8s.io/kubernetes, version-stamped)
#   etcd, coredns, crictl, pause
# Cold on 2 cores with an empty GOCACHE: 8m39s and 9m32s (2026-11-25: the
# seven Kubernetes commands 325-386 s in one go build, coredns 101-109 s,
# crictl 41-55 s, etcd 32-36 s). Seconds when cached.
set -euo pipefail
LOG_TAG=binaries
source "$(dirname "$0")/../lib.sh"

BIN="$CACHE/kind-node/bin"
mkdir -p "$BIN"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

k8s_cmds=(kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

have_all_k8s() {
  local c
  for c in "${k8s_cmds[@]}"; do [[ -x "$BIN/$c-$K8S_VERSION" ]] || return 1; done
}

build_k8s() {
  have_all_k8s && { log "kubernetes $K8S_VERSION binaries cached"; return; }
  local src_mod src_dir commit minor staging
  src_mod="$(mod_field "k8s.io/kubernetes@$K8S_VERSION" GoMod)"
  src_dir="$(mod_field "k8s.io/kubernetes@$K8S_VERSION" Dir)"
  commit="$(mod_field "k8s.io/kubernetes@$K8S_VERSION" Hash)"
  [[ -f $src_mod ]] || die "cannot download k8s.io/kubernetes@$K8S_VERSION"
  # k8s.io/kubernetes replaces its staging modules with ./staging paths and
  # requires them at v0.0.0; the wrapper requires the published v0.X.Y.
  staging="v0.${K8S_VERSION#v1.}"
  mkdir -p "$work/k8s"
  awk -v staging="$staging" '
    /^module / { print "module kubegrace.local/k8s-build"; next }
    /^replace \($/ { skip = 1; next }
    skip && /^\)$/ { skip = 0; next }
    skip { next }
    /^replace / { next }
    { sub(/ v0\.0\.0$/, " " staging); print }
  ' "$src_mod" > "$work/k8s/go.mod"
  printf '\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >> "$work/k8s/go.mod"
  cp "$src_dir/go.sum" "$work/k8s/go.sum"; chmod u+w "$work/k8s/go.sum"
  printf '//go:build tools\n\npackage tools\n\nimport _ "k8s.io/kubernetes/cmd/kubelet"\n' > "$work/k8s/tools.go"
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  local c start=$SECONDS pkgs=()
  for c in "${k8s_cmds[@]}"; do
    [[ -x "$BIN/$c-$K8S_VERSION" ]] || pkgs+=("k8s.io/kubernetes/cmd/$c")
  done
  # One go build for all of them: the shared packages compile once, and the
  # go command schedules compiling and linking across the binaries.
  log "building ${pkgs[*]##*/} $K8S_VERSION in one go build"
  mkdir -p "$work/k8s-out"
  (cd "$work/k8s" && go build -trimpath -ldflags "$ldflags" -o "$work/k8s-out/" "${pkgs[@]}")
  for c in "${pkgs[@]##*/}"; do
    mv "$work/k8s-out/$c" "$BIN/$c-$K8S_VERSION"
  done
  # (Outputs are read whole: with pipefail, `| grep -q` can fail by SIGPIPE.)
  local v; v=$("$BIN/kubectl-$K8S_VERSION" version --client 2>&1 || true)
  [[ $v == *"$K8S_VERSION"* ]] || die "kubectl does not report $K8S_VERSION: $v"
  log "kubernetes binaries built in $((SECONDS - start)) s"
}

build_etcd() {
  [[ -x "$BIN/etcd-$ETCD_VERSION" ]] && { log "etcd $ETCD_VERSION cached"; return; }
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd"
  cat > "$work/etcd/main.go" <<'GO'
// etcd, as the upstream binary's main does.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  (cd "$work/etcd" && go mod init kubegrace.local/etcd >/dev/null 2>&1 \
    && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1 \
    && go build -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION" .)
  local v; v=$("$BIN/etcd-$ETCD_VERSION" --version 2>&1 || true)
  [[ $v == *"${ETCD_VERSION#v}"* ]] || die "etcd does not report $ETCD_VERSION: $v"
}

build_coredns() {
  [[ -x "$BIN/coredns-$COREDNS_VERSION" ]] && { log "coredns $COREDNS_VERSION cached"; return; }
  log "building coredns $COREDNS_VERSION (a module of its own: it does not compile beside client-go v0.34)"
  local src_mod src_dir
  src_mod="$(mod_field "github.com/coredns/coredns@$COREDNS_VERSION" GoMod)"
  src_dir="$(mod_field "github.com/coredns/coredns@$COREDNS_VERSION" Dir)"
  mkdir -p "$work/coredns"
  awk '/^module / { print "module kubegrace.local/coredns-build"; next } { print }' "$src_mod" > "$work/coredns/go.mod"
  printf '\nrequire github.com/coredns/coredns %s\n' "$COREDNS_VERSION" >> "$work/coredns/go.mod"
  cp "$src_dir/go.sum" "$work/coredns/go.sum"; chmod u+w "$work/coredns/go.sum"
  printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/coredns/coredns"\n' > "$work/coredns/tools.go"
  (cd "$work/coredns" && go build -trimpath -ldflags "-s -w" -o "$BIN/coredns-$COREDNS_VERSION" github.com/coredns/coredns)
  local v; v=$("$BIN/coredns-$COREDNS_VERSION" -version 2>&1 || true)
  [[ $v == *"${COREDNS_VERSION#v}"* ]] || die "coredns does not report $COREDNS_VERSION: $v"
}

build_crictl() {
  [[ -x "$BIN/crictl-$CRICTL_VERSION" ]] && { log "crictl $CRICTL_VERSION cached"; return; }
  log "building crictl $CRICTL_VERSION"
  mkdir -p "$work/crictl"
  (cd "$work/crictl" && go mod init kubegrace.local/crictl >/dev/null 2>&1 \
    && printf '//go:build tools\n\npackage tools\n\nimport _ "sigs.k8s.io/cri-tools/cmd/crictl"\n' > tools.go \
    && go get "sigs.k8s.io/cri-tools@$CRICTL_VERSION" >/dev/null 2>&1 \
    && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" -o "$BIN/crictl-$CRICTL_VERSION" sigs.k8s.io/cri-tools/cmd/crictl)
}

build_pause() {
  local src="$REPO_ROOT/images/kind-node/pause/main.go" h
  h="$(sha256sum "$src" | cut -c1-12)"
  [[ -x "$BIN/pause-$h" ]] && { log "pause cached"; return; }
  log "building pause"
  (cd "$REPO_ROOT" && go build -trimpath -ldflags "-s -w" -o "$BIN/pause-$h" ./images/kind-node/pause)
}

# timed NAME FUNCTION: runs a build step and says how long it took.
timed() {
  local start=$SECONDS
  "$2"
  log "$1: $((SECONDS - start)) s"
}

# One after another: each go build already keeps both cores busy. Side by
# side (Kubernetes beside the small ones, and Consul beside all of them) was
# measured slower on 2 cores: 961 s against 906 s with empty caches.
start=$SECONDS
timed pause build_pause
timed crictl build_crictl
timed etcd build_etcd
timed coredns build_coredns
timed kubernetes build_k8s
log "all node binaries in $BIN ($((SECONDS - start)) s)"
