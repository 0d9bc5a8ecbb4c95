#!/usr/bin/env bash
# Builds the offline kind node image for Kubernetes $K8S_VERSION from Debian
# packages and the Go module proxy only, the way kind's own node-image build
# assembles one (start the base, copy binaries, import images into
# containerd, commit), but with every image built from source instead of
# pulled. Prints the image reference last. The tag carries a hash of every
# input, so an existing image makes this a no-op that takes seconds.
set -euo pipefail
LOG_TAG=kind-node
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../lib.sh"

pkgs() { grep -v '^#' "$1" | tr -s ' \n' '\n' | grep -v '^$'; }
hash=$(inputs_hash "$HERE/build.sh" "$HERE/build-binaries.sh" "$HERE/packages.txt" "$HERE/pause/main.go" \
  "$HERE/../lib.sh" "$HERE/../debian/rootfs.sh" "$HERE/../debian/base-packages.txt" \
  $(find "$HERE/files" -type f | sort))
ref="kubegrace/kind-node:$K8S_VERSION-$hash"
if image_exists "$ref"; then
  log "$ref exists"
  echo "$ref"; exit 0
fi
start=$SECONDS
log "building $ref"

bash "$HERE/build-binaries.sh"
BIN="$CACHE/kind-node/bin"
pause_bin="$BIN/pause-$(sha256sum "$HERE/pause/main.go" | cut -c1-12)"
base=$(bash "$HERE/../debian/rootfs.sh" debian-base $(pkgs "$HERE/../debian/base-packages.txt") | tail -1)
node_base=$(bash "$HERE/../debian/rootfs.sh" kind-node-base $(pkgs "$HERE/packages.txt") | tail -1)

kind_dir="$(mod_field "sigs.k8s.io/kind@$KIND_VERSION" Dir)"
kind_files="$kind_dir/images/base/files"
[[ -d $kind_files ]] || die "kind $KIND_VERSION base files not found in the module cache ($kind_files)"

work=$(mktemp -d)
cid=""
cleanup() { [[ -n $cid ]] && docker rm -f -v "$cid" >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT

# scratch_image REF BINARY PATH-IN-IMAGE ENTRYPOINT-JSON
scratch_image() {
  local d="$work/img-${1//[\/:]/_}"
  mkdir -p "$d/tmp" "$(dirname "$d$3")"
  chmod 1777 "$d/tmp"
  cp "$2" "$d$3"
  tar -C "$d" --owner=0 --group=0 -c . | docker import \
    --change "ENTRYPOINT $4" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$1" >/dev/null
}

etcd_tag="${ETCD_VERSION#v}-0"
images=(
  "registry.k8s.io/kube-apiserver:$K8S_VERSION"
  "registry.k8s.io/kube-controller-manager:$K8S_VERSION"
  "registry.k8s.io/kube-scheduler:$K8S_VERSION"
  "registry.k8s.io/kube-proxy:$K8S_VERSION"
  "registry.k8s.io/etcd:$etcd_tag"
  "registry.k8s.io/coredns/coredns:$COREDNS_VERSION"
)
log "making component images (FROM scratch + the binary; kube-proxy on the Debian base for iptables)"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
  scratch_image "registry.k8s.io/$c:$K8S_VERSION" "$BIN/$c-$K8S_VERSION" "/usr/local/bin/$c" "[\"/usr/local/bin/$c\"]"
done
scratch_image "registry.k8s.io/etcd:$etcd_tag" "$BIN/etcd-$ETCD_VERSION" /usr/local/bin/etcd '["/usr/local/bin/etcd"]'
scratch_image "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" "$BIN/coredns-$COREDNS_VERSION" /coredns '["/coredns"]'
for t in $PAUSE_TAGS; do
  scratch_image "registry.k8s.io/pause:$t" "$pause_bin" /pause '["/pause"]'
  images+=("registry.k8s.io/pause:$t")
done
pc=$(docker create "$base")
docker cp "$BIN/kube-proxy-$K8S_VERSION" "$pc:/usr/local/bin/kube-proxy"
docker commit --change 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' --change 'CMD []' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  "$pc" "registry.k8s.io/kube-proxy:$K8S_VERSION" >/dev/null
docker rm "$pc" >/dev/null
docker save -o "$work/images.tar" "${images[@]}"

log "assembling the node from $node_base and kind $KIND_VERSION base files"
cid=$(docker run -d --privileged --entrypoint sleep "$node_base" infinity)
nexec() { docker exec "$cid" bash -ec "$1"; }
docker cp "$kind_files/." "$cid:/"
docker cp "$HERE/files/." "$cid:/"
for b in kubelet kubeadm kubectl; do docker cp "$BIN/$b-$K8S_VERSION" "$cid:/usr/bin/$b"; done
docker cp "$BIN/crictl-$CRICTL_VERSION" "$cid:/usr/local/bin/crictl"
docker cp "$work/images.tar" "$cid:/kind-images.tar"
nexec "
  chown -R root:root /kind /etc/systemd/system /usr/local/bin /usr/bin/kube*
  chmod 0755 /usr/local/bin/* /opt/cni/bin/kubegrace-route /kind/bin /kind/bin/* /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl
  # kind's unit runs /usr/local/bin/containerd; Debian installs it in /usr/bin.
  ln -sf /usr/bin/containerd /usr/local/bin/containerd
  # containerd looks for CNI plugins in /opt/cni/bin; Debian installs them in /usr/lib/cni.
  mkdir -p /opt/cni/bin && ln -sf /usr/lib/cni/* /opt/cni/bin/
  # A negative oom_score_adj needs CAP_SYS_RESOURCE, which some hosts cannot
  # grant; without this every pod sandbox fails ('can't get final child's PID').
  sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' /etc/containerd/config.toml
  ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer|length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}' \
    | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json
  # systemd in a container, as kind's base Dockerfile prepares it.
  find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
  rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
    /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
    /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
  echo ReadKMsg=no >> /etc/systemd/journald.conf
  ln -sf \"\$(command -v systemd || echo /lib/systemd/systemd)\" /sbin/init
  systemctl enable kubelet.service containerd.service undo-mount-hacks.service kubegrace-cni.service >/dev/null 2>&1
  systemctl mask systemd-binfmt.service >/dev/null 2>&1
  mkdir -p /etc/kubernetes/manifests
  echo -n '$K8S_VERSION' > /kind/version
"
log "importing ${#images[@]} images into the node's containerd"
nexec "
  nohup containerd >/var/log/kubegrace-build-containerd.log 2>&1 &
  for i in \$(seq 1 100); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && break; sleep 0.1; done
  ctr -n k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests /kind-images.tar >/dev/null
  ctr -n k8s.io images ls -q | grep -v -e '^sha256:' -e '^import-' | sort
  pkill containerd
  for i in \$(seq 1 100); do pgrep -x containerd >/dev/null || break; sleep 0.1; done
  rm -f /kind-images.tar /var/log/kubegrace-build-containerd.log
" | sed 's/^/  /' >&2
# (kind's base sets STOPSIGNAL SIGRTMIN+3; docker 20.10's commit cannot, and
# kind removes nodes with a kill, so nothing depends on it.)
docker commit \
  --change 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' --change 'CMD []' \
  --change 'ENV container=docker' \
  "$cid" "$ref" >/dev/null
log "built $ref in $((SECONDS - start)) s; size $(docker image inspect -f '{{.Size}}' "$ref" | awk '{printf "%.0f MB", $1/1e6}')"
echo "$ref"
