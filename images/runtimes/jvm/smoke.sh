#!/usr/bin/env bash
# smoke.sh [IMAGE]: proves the JVM seed image in Docker alone (no
# Kubernetes). On a docker network of its own it starts an app 3 s before
# the project's Consul image (agent -dev), checks it registers once Consul
# answers, then runs the app image three times:
#   1. /app/start.sh (the seed: bash runs java without exec) then `docker stop`
#   2. /app/start-exec.sh (the fix), IDENTITY_CHECK=header, then `docker stop`
#   3. /app/start-exec.sh with DRAIN=2s, then `docker stop`
# and reports, from Consul's HTTP API and the app's own log lines: the time
# to registered and to passing, who got SIGTERM, how long `docker stop` took,
# the exit code, whether the registration stayed, the JVM's own shutdown time
# and its RSS. Everything it starts is removed on exit. Needs curl.
# IMAGE defaults to what build.sh prints (building it if needed).
set -euo pipefail
LOG_TAG=jvm-smoke
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"

ref=${1:-$(bash "$HERE/build.sh" | tail -1)}
source "$HERE/../smoke-lib.sh"

smoke_setup jvm
log "app image $ref, consul image $consul_ref"
smoke_early_app "start-exec.sh" "$ref" /app/start-exec.sh
docker stop "$p-early" >/dev/null

# catches_term CONTAINER PID: yes when PID has a SIGTERM handler (bit 15 of
# SigCgt in /proc/PID/status); as PID 1 of its namespace a process without one
# never gets SIGTERM from outside.
catches_term() {
  local m
  m=$(docker exec "$1" awk '/^SigCgt/ {print $2}' "/proc/$2/status")
  if (( (16#$m >> 14) & 1 )); then echo "yes (SigCgt $m)"; else echo "no (SigCgt $m)"; fi
}

# run_case NAME CMD ENV...: starts the app, waits for passing, stops it with
# docker stop and reports.
run_case() {
  local name=$1 cmd=$2; shift 2
  local c="$p-$name" envs=() e
  for e in SERVICE_NAME=orders "CONSUL_ADDR=${consul#http://}" CHECK_INTERVAL=1s "$@"; do envs+=(-e "$e"); done
  containers+=("$c")
  log "--- $name: $cmd ${*:-}"
  local t0 id
  t0=$(now_ms)
  docker run -d --name "$c" --network "$net" --stop-timeout "$STOP_TIMEOUT" "${envs[@]}" "$ref" "$cmd" >/dev/null
  id="orders-$(docker inspect -f '{{.Config.Hostname}}' "$c")"
  smoke_wait_passing "$name" "$c" "$id" "$t0" || return 0
  log "processes: $(docker exec "$c" ps -eo pid=,comm= | awk '{printf "%s%s=%s", (NR>1?", ":""), $2, $1}')"
  local jpid rss mem
  jpid=$(docker exec "$c" pgrep -x java)
  rss=$(docker exec "$c" awk '/VmRSS/ {print $2 " " $3}' "/proc/$jpid/status")
  mem=$(docker stats --no-stream --format '{{.MemUsage}}' "$c")
  log "java pid $jpid RSS $rss; docker stats $mem"
  log "catches SIGTERM: java (pid $jpid) $(catches_term "$c" "$jpid"), pid 1 ($(docker exec "$c" cat /proc/1/comm)) $(catches_term "$c" 1)"

  if [[ $name == exec-header ]]; then smoke_identity "$c" "$id"; fi

  smoke_stop "$c" "$id"
  local t1=$stop_t1 t2=$stop_t2 code=$stop_code finished=$stop_finished st=$stop_status
  local lines hook stopped
  lines=$(docker logs "$c" 2>&1)
  printf '%s\n' "$lines" | sed 's/^/    /' >&2
  hook=$(printf '%s\n' "$lines" | awk '$3 == "shutdown-hook" {print $1}')
  stopped=$(printf '%s\n' "$lines" | awk '$3 == "stopped" {print $1}')
  if [[ -n $hook && -n $stopped ]]; then
    local th ts
    th=$(date -d "$hook" +%s%3N); ts=$(date -d "$stopped" +%s%3N)
    log "JVM: stop began -> shutdown hook $((th - t1)) ms, hook -> stopped line $((ts - th)) ms, stopped line -> process exit $((finished - ts)) ms; SIGTERM to exit $((finished - t1)) ms"
  fi
  case $name in
  noexec)
    check "no-exec: the JVM never ran its shutdown hook (bash as PID 1 dropped SIGTERM)" "$([[ -z $hook ]]; echo $?)"
    check "no-exec: killed after the ${STOP_TIMEOUT}s stop timeout (exit 137)" "$([[ $code == 137 && $((t2 - t1)) -ge $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    check "no-exec: the registration stayed in Consul ($st)" "$([[ $st != absent ]]; echo $?)"
    # Leave the next case a clean catalog.
    curl -s -X PUT "$consul/v1/agent/service/deregister/$id" >/dev/null
    ;;
  exec*)
    check "exec: the JVM ran its shutdown hook" "$([[ -n $hook ]]; echo $?)"
    check "exec: deregistered (consul: $st)" "$([[ $st == absent ]]; echo $?)"
    check "exec: exited on SIGTERM before the stop timeout (exit $code)" "$([[ $code == 143 && $((t2 - t1)) -lt $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    ;;
  esac
}

run_case noexec /app/start.sh
run_case exec-header /app/start-exec.sh IDENTITY_CHECK=header
run_case exec-drain /app/start-exec.sh DRAIN=2s

if [[ $fail == 0 ]]; then log "smoke passed"; else log "smoke FAILED"; fi
exit $fail
