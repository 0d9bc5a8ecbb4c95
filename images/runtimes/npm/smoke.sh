#!/usr/bin/env bash
# smoke.sh [IMAGE]: proves the npm image in Docker alone (no Kubernetes).
# On a docker network of its own it starts an app (the image's CMD,
# `npm start`) 3 s before the project's Consul image (agent -dev), checks it
# registers once Consul answers, then runs the app image four times:
#   1. npm-start: the image's CMD ["npm", "start"] (npm is PID 1, it runs
#      `sh -c "node server.js"`), then `docker stop`
#   2. node-header: `node server.js` as PID 1, IDENTITY_CHECK=header, then
#      `docker stop` (the control: node's own SIGTERM handler gets the signal)
#   3. nohandler: `node server-nohandler.js` as PID 1, then `docker stop`
#   4. nohandler-probe: `node server-nohandler.js` as PID 1, one SIGTERM by
#      `docker kill -s TERM`, then a look at whether node is still running
#      and at its signal dispositions before and after
# and reports, from Consul's HTTP API, /proc/<pid>/status and the app's own
# log lines: the time to registered and to passing, the processes and which
# catch SIGTERM, how long `docker stop` took, the exit code, whether node's
# SIGTERM handler ran and whether the registration stayed. Each case checks
# the outcome measured when this script was written (README.md) and fails
# when it changes. Everything it starts is removed on exit. Needs curl.
# IMAGE defaults to what build.sh prints (building it if needed).
set -euo pipefail
LOG_TAG=npm-smoke
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"

ref=${1:-$(bash "$HERE/build.sh" | tail -1)}
source "$HERE/../smoke-lib.sh"

smoke_setup npm
log "app image $ref, consul image $consul_ref"
smoke_early_app "npm start" "$ref"
docker rm -f "$p-early" >/dev/null
curl -s -X PUT "$consul/v1/agent/service/deregister/early-$(printf '%s\n' "$early" | sed -n 's/.* started .*instance=early-\([^ ]*\) .*/\1/p')" >/dev/null

# term CONTAINER PID: what PID does with SIGTERM, from /proc/PID/status:
# "caught" (a handler: bit 15 of SigCgt), "ignored" or "default". As PID 1
# of its namespace a process with the default action never gets SIGTERM
# from outside; note node installs a handler of its own (below).
term() {
  local cgt ign
  read -r cgt ign < <(docker exec "$1" awk '/^SigCgt/ {c=$2} /^SigIgn/ {i=$2} END {print c, i}' "/proc/$2/status")
  if (( (16#$cgt >> 14) & 1 )); then echo "caught (SigCgt $cgt)"
  elif (( (16#$ign >> 14) & 1 )); then echo "ignored (SigIgn $ign)"
  else echo "default (SigCgt $cgt)"; fi
}

# at EVENT LINES: the epoch ms of the app's first EVENT line, or empty.
at() {
  local t
  t=$(printf '%s\n' "$2" | awk -v e="$1" '$2 == "npm-app" && $3 == e {print $1; exit}')
  [[ -z $t ]] || date -d "$t" +%s%3N
}

# since T T0: "N ms" from T0 to T, or "never" when T is empty.
since() { if [[ -n $1 ]]; then echo "$(($1 - $2)) ms"; else echo never; fi; }

# run_case NAME CMD ENV...: starts the app (CMD "-" is the image's CMD),
# waits for passing, stops it with docker stop and reports.
run_case() {
  local name=$1 cmd=$2; shift 2
  local c="$p-$name" envs=() e args=()
  for e in SERVICE_NAME=orders "CONSUL_ADDR=${consul#http://}" CHECK_INTERVAL=1s "$@"; do envs+=(-e "$e"); done
  [[ $cmd == - ]] || read -r -a args <<<"$cmd"
  containers+=("$c")
  log "--- $name: ${cmd/#-/image CMD (npm start)} ${*:-}"
  local t0 id
  t0=$(now_ms)
  docker run -d --name "$c" --network "$net" --stop-timeout "$STOP_TIMEOUT" "${envs[@]}" "$ref" "${args[@]}" >/dev/null
  id="orders-$(docker inspect -f '{{.Config.Hostname}}' "$c")"
  smoke_wait_passing "$name" "$c" "$id" "$t0" || return 0
  log "processes (comm=pid<-ppid): $(docker exec "$c" ps -eo pid=,ppid=,comm= | awk '$3 != "ps" {printf "%s%s=%s<-%s", (NR>1?", ":""), $3, $1, $2}')"
  log "pid 1: comm '$(docker exec "$c" cat /proc/1/comm)', exe $(docker exec "$c" readlink /proc/1/exe), cmdline '$(docker exec "$c" cat /proc/1/cmdline | tr '\0' ' ' | sed 's/ *$//')'"
  local npid rss
  npid=$(docker exec "$c" pgrep -x node)
  rss=$(docker exec "$c" awk '/VmRSS/ {print $2 " " $3}' "/proc/$npid/status")
  log "node pid $npid RSS $rss; docker stats $(docker stats --no-stream --format '{{.MemUsage}}' "$c")"
  log "SIGTERM: pid 1 ($(docker exec "$c" cat /proc/1/comm)) $(term "$c" 1); node (pid $npid) $(term "$c" "$npid")"

  if [[ $name == node-header ]]; then smoke_identity "$c" "$id"; fi

  smoke_stop "$c" "$id"
  local t1=$stop_t1 t2=$stop_t2 code=$stop_code finished=$stop_finished st=$stop_status
  local lines out th tdr ts
  lines=$(docker logs "$c" 2>&1)
  out=$(docker logs "$c" 2>/dev/null)
  printf '%s\n' "$lines" | sed 's/^/    /' >&2
  th=$(at sigterm "$out"); tdr=$(at deregistered "$out"); ts=$(at stopped "$out")
  if [[ -n $th ]]; then
    log "node's SIGTERM handler ran $((th - t1)) ms after the stop began; deregistered $(since "$tdr" "$t1"), stopped line $(since "$ts" "$t1"), container exit $((finished - t1)) ms"
  else
    log "node's SIGTERM handler never ran (no sigterm line)"
  fi
  case $name in
  npm-start)
    check "npm-start: node's SIGTERM handler never ran (npm passed SIGTERM to sh, not node)" "$([[ -z $th ]]; echo $?)"
    check "npm-start: npm reports its child killed by SIGTERM" "$(printf '%s\n' "$lines" | grep -q '^npm ERR! signal SIGTERM'; echo $?)"
    check "npm-start: npm exited 1 before the stop timeout (node died with the namespace)" "$([[ $code == 1 && $((t2 - t1)) -lt $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    check "npm-start: the registration stayed in Consul ($st)" "$([[ $st != absent ]]; echo $?)"
    curl -s -X PUT "$consul/v1/agent/service/deregister/$id" >/dev/null
    ;;
  node-header)
    check "node server.js: the SIGTERM handler ran" "$([[ -n $th ]]; echo $?)"
    check "node server.js: deregistered (consul: $st)" "$([[ $st == absent ]]; echo $?)"
    check "node server.js: exited 0 before the stop timeout (exit $code)" "$([[ $code == 0 && $((t2 - t1)) -lt $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    ;;
  nohandler)
    check "nohandler: killed after the ${STOP_TIMEOUT}s stop timeout (exit 137)" "$([[ $code == 137 && $((t2 - t1)) -ge $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    check "nohandler: the registration stayed in Consul ($st)" "$([[ $st != absent ]]; echo $?)"
    curl -s -X PUT "$consul/v1/agent/service/deregister/$id" >/dev/null
    ;;
  esac
}

# probe_nohandler: why node without a handler survives SIGTERM as PID 1.
probe_nohandler() {
  local c="$p-nohandler-probe" before after alive
  containers+=("$c")
  log "--- nohandler-probe: node server-nohandler.js, one SIGTERM (docker kill -s TERM)"
  docker run -d --name "$c" --network "$net" -e SERVICE_NAME=probe -e CONSUL_ADDR=127.0.0.1:1 "$ref" node server-nohandler.js >/dev/null
  for _ in $(seq 1 50); do docker logs "$c" 2>/dev/null | grep -q ' started ' && break; sleep 0.1; done
  before=$(term "$c" 1)
  docker kill -s TERM "$c" >/dev/null
  sleep 1
  alive=$(docker inspect -f '{{.State.Running}}' "$c")
  after=$([[ $alive == true ]] && term "$c" 1 || echo "n/a (exited $(docker inspect -f '{{.State.ExitCode}}' "$c"))")
  log "node as PID 1 with no JS handler: SIGTERM before the signal $before; 1 s after one SIGTERM: running=$alive, SIGTERM $after"
  check "nohandler-probe: node (PID 1) survives SIGTERM and its handler is gone after it" "$([[ $alive == true && $after == default* ]]; echo $?)"
  docker rm -f "$c" >/dev/null
}

run_case npm-start -
run_case node-header "node server.js" IDENTITY_CHECK=header
run_case nohandler "node server-nohandler.js"
probe_nohandler

if [[ $fail == 0 ]]; then log "smoke passed"; else log "smoke FAILED"; fi
exit $fail
