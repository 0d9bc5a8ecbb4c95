#!/usr/bin/env bash
# Makes sure a Docker engine answers, so kind can make clusters.
#   - Raise the host's inotify limits to what several kind nodes need.
#   - If `docker info` already works: change nothing more.
#   - Else, on a root Debian host: install docker.io (with containerd and
#     runc) from Debian, start dockerd in the background, wait until it
#     answers. Where the capability bounding set lacks CAP_SYS_RESOURCE
#     (some VMs), `docker run --privileged` (which kind needs) fails with
#     "unable to apply caps"; there, register a runc wrapper as the default
#     runtime that drops that one capability from each container's spec.
#   - Anything else stops with one message saying what to do.
# Idempotent. Logs of a dockerd started here: /var/log/kubegrace-dockerd.log.
set -euo pipefail

log() { printf '[prepare-host] %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

# Every kind node's kubelet, kube-proxy, containerd and systemd take inotify
# instances from one per-user pool of the host (128 by default). With 7
# nodes up (the e2e cluster of 4 and the kind tier's 2 + 1), kube-proxy of
# the last cluster failed with "too many open files" and its NodePorts never
# answered. kind's known-issues page asks for these values.
raise_inotify() {
  local key=$1 want=$2 have
  have=$(sysctl -n "$key" 2>/dev/null || echo 0)
  (( have >= want )) && return
  if [[ $(id -u) -eq 0 ]] && sysctl -q -w "$key=$want" 2>/dev/null; then
    log "raised $key from $have to $want (kind nodes share this pool)"
  else
    log "warning: $key is $have; several kind clusters at once need $want (sysctl -w $key=$want as root)"
  fi
}
raise_inotify fs.inotify.max_user_instances 1024
raise_inotify fs.inotify.max_user_watches 524288

if command -v docker >/dev/null 2>&1 && docker_answers; then
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "no Docker engine answers and this is not root: start Docker (or run as root on Debian to let this script install it)"
[[ -r /etc/debian_version ]] && command -v apt-get >/dev/null 2>&1 \
  || die "no Docker engine answers and this is not a Debian host: install and start Docker, then run again"

export DEBIAN_FRONTEND=noninteractive
need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v jq >/dev/null 2>&1 || need+=(jq)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if ((${#need[@]})); then
  log "installing from Debian packages: ${need[*]} (about a minute)"
  apt-get update -qq >/dev/null || log "apt-get update failed; trying the existing package lists"
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed"
fi

# CAP_SYS_RESOURCE is capability 24.
capbnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
if (( (16#$capbnd >> 24 & 1) == 0 )); then
  log "capability bounding set $capbnd lacks CAP_SYS_RESOURCE: registering the runc wrapper"
  install -d /usr/local/lib/kubegrace
  cat > /usr/local/lib/kubegrace/runc-drop-sys-resource <<'WRAP'
#!/usr/bin/env bash
# Installed by kubegrace hack/prepare-host.sh. This host cannot grant
# CAP_SYS_RESOURCE, so remove it from what a container asks for, then run
# the real runc. Spec files: `create/run --bundle DIR` (DIR/config.json) and
# `exec --process FILE`.
set -euo pipefail
drop='map(select(. != "CAP_SYS_RESOURCE"))'
filter_caps() { # $1 file, $2 jq path of the capabilities object
  local f=$1 tmp
  [[ -f $f ]] || return 0
  tmp=$(mktemp "$f.XXXXXX")
  jq "if $2 then $2 |= with_entries(.value |= (if type == \"array\" then $drop else . end)) else . end" "$f" >"$tmp" && mv "$tmp" "$f"
}
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[i]}" in
    --bundle|-b) filter_caps "${args[i+1]}/config.json" .process.capabilities ;;
    --bundle=*) filter_caps "${args[i]#--bundle=}/config.json" .process.capabilities ;;
    --process|-p) filter_caps "${args[i+1]}" .capabilities ;;
    --process=*) filter_caps "${args[i]#--process=}" .capabilities ;;
  esac
done
exec /usr/bin/runc "$@"
WRAP
  chmod 0755 /usr/local/lib/kubegrace/runc-drop-sys-resource
  install -d /etc/docker
  want='{"runtimes":{"kubegrace-runc":{"path":"/usr/local/lib/kubegrace/runc-drop-sys-resource"}},"default-runtime":"kubegrace-runc"}'
  if [[ -f /etc/docker/daemon.json ]]; then
    merged=$(jq -c --argjson w "$want" '. * $w' /etc/docker/daemon.json)
  else
    merged=$want
  fi
  printf '%s\n' "$merged" > /etc/docker/daemon.json
fi

# A dockerd that is still stopping keeps its pid file: wait for it to go.
for _ in $(seq 1 60); do
  [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null || break
  docker_answers && exit 0
  sleep 1
done
if [[ -f /var/run/docker.pid ]] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  die "a dockerd (pid $(cat /var/run/docker.pid)) runs but does not answer; see /var/log/kubegrace-dockerd.log"
fi
rm -f /var/run/docker.pid

log "starting dockerd in the background (log: /var/log/kubegrace-dockerd.log)"
setsid nohup dockerd >>/var/log/kubegrace-dockerd.log 2>&1 < /dev/null &
for i in $(seq 1 60); do
  if docker_answers; then
    log "docker answers after ${i}s: $(docker version --format '{{.Server.Version}}' 2>/dev/null)"
    exit 0
  fi
  sleep 1
done
die "dockerd did not answer within 60 s; last log lines: $(tail -5 /var/log/kubegrace-dockerd.log)"
