#!/usr/bin/env bash
# smoke.sh [IMAGE [QUIT_IMAGE]]: proves the nginx images in Docker alone (no
# Kubernetes). On a docker network of its own it starts the project's Consul
# image (agent -dev) and runs nginx five times, each ended by `docker stop`:
#   1. noexec:         kubegrace/nginx-app, its CMD /app/start.sh (bash runs nginx
#                      without exec), a request in flight
#   2. exec-idle:      kubegrace/nginx-app, /app/start-exec.sh, no request
#   3. exec-inflight:  the same, a request in flight
#   4. quit-idle:      kubegrace/nginx-app-quit (STOPSIGNAL SIGQUIT, CMD
#                      /app/start-exec.sh): docker stop sends SIGQUIT; no request
#   5. quit-inflight:  the same, a request in flight
# The request in flight is GET /slow (64 KiB at 16 KiB/s, about 3 s), started
# 0.5 s before the stop. 0.5 s into the stop it also asks for the health path
# on a new connection. nginx does not register in Consul: this script
# registers each nginx itself (as a registrar would) with a 1 s HTTP check,
# to show how long Consul keeps it passing. It reports the processes and
# which catch SIGTERM/SIGQUIT, how long `docker stop` took, the exit code,
# the signal nginx says it got and whether it quit gracefully (its own
# notice lines), and what happened to both requests. Each case checks the
# outcome measured when this script was written (README.md). Everything it
# starts is removed on exit. Needs curl.
# The images default to what build.sh prints (building them if needed).
set -euo pipefail
LOG_TAG=nginx-smoke
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"

if [[ $# -ge 2 ]]; then
  ref=$1 quit=$2
else
  refs=$(bash "$HERE/build.sh")
  ref=${1:-$(printf '%s\n' "$refs" | tail -1)}
  quit=$(printf '%s\n' "$refs" | grep '^kubegrace/nginx-app-quit:' | tail -1)
fi
source "$HERE/../smoke-lib.sh"

smoke_setup nginx
work=$(mktemp -d)
trap 'smoke_cleanup; rm -rf "$work"' EXIT
log "images $ref and $quit (stop signal: $(docker image inspect -f '{{.Config.StopSignal}}' "$quit")), consul image $consul_ref"
smoke_consul

# sigs CONTAINER PID: what PID does with SIGTERM and SIGQUIT (caught: a
# handler, bit N-1 of SigCgt; ignored; or default), from /proc/PID/status.
sigs() {
  local cgt ign out= s n
  read -r cgt ign < <(docker exec "$1" awk '/^SigCgt/ {c=$2} /^SigIgn/ {i=$2} END {print c, i}' "/proc/$2/status")
  for s in TERM:15 QUIT:3; do
    n=${s#*:}
    if (( (16#$cgt >> (n - 1)) & 1 )); then out+="${s%:*} caught, "
    elif (( (16#$ign >> (n - 1)) & 1 )); then out+="${s%:*} ignored, "
    else out+="${s%:*} default, "; fi
  done
  echo "${out%, } (SigCgt $cgt)"
}

# run_case NAME IMAGE CMD INFLIGHT(yes/no): starts nginx (CMD "-" is the
# image's), registers it in Consul, stops it with docker stop and reports.
run_case() {
  local name=$1 image=$2 cmd=$3 inflight=$4 args=()
  local c="$p-$name"
  [[ $cmd == - ]] || args=("$cmd")
  containers+=("$c")
  local stopsig shown=$cmd
  stopsig=$(docker image inspect -f '{{or .Config.StopSignal "SIGTERM"}}' "$image")
  [[ $cmd != - ]] || shown="(image CMD $(docker image inspect -f '{{join .Config.Cmd " "}}' "$image"))"
  log "--- $name: $image $shown, stop signal $stopsig, request in flight: $inflight"
  local t0 ip id st
  t0=$(now_ms)
  docker run -d --name "$c" --network "$net" --stop-timeout "$STOP_TIMEOUT" "$image" "${args[@]}" >/dev/null
  ip=$(ip_of "$c")
  for _ in $(seq 1 100); do
    [[ $(curl -s -m 1 "http://$ip:8080/actuator/health" || true) == '{"status":"UP"}' ]] && break
    sleep 0.05
  done
  [[ $(curl -s -m 1 "http://$ip:8080/actuator/health" || true) == '{"status":"UP"}' ]] || { log "$name never answered; log:"; docker logs "$c" >&2; fail=1; return; }
  log "answering $(( $(now_ms) - t0 )) ms after docker run; GET / $(curl -s -o /dev/null -w '%{http_code} %{content_type} %{size_download} B' "http://$ip:8080/")"
  id="web-$(docker inspect -f '{{.Config.Hostname}}' "$c")"
  curl -s -X PUT "$consul/v1/agent/service/register" -d "{\"ID\":\"$id\",\"Name\":\"web\",\"Address\":\"$ip\",\"Port\":8080,\"Check\":{\"HTTP\":\"http://$ip:8080/actuator/health\",\"Interval\":\"1s\",\"Timeout\":\"1s\"}}" >/dev/null
  for _ in $(seq 1 50); do st=$(status "$id"); [[ $st == passing ]] && break; sleep 0.1; done
  log "registered by this script as $id: $st"
  local procs master
  procs=$(docker exec "$c" ps -eo pid=,ppid=,user=,args= | grep -v ' ps -eo')
  log "processes: $(printf '%s\n' "$procs" | awk '{pid=$1; ppid=$2; user=$3; $1=$2=$3=""; sub(/^ +/, ""); printf "%s[%s<-%s %s]", (NR>1?"; ":""), $0, ppid, user}')"
  master=$(docker exec "$c" pgrep -f '^nginx: master')
  log "signals: pid 1 ($(docker exec "$c" cat /proc/1/comm)) $(sigs "$c" 1); nginx master (pid $master) $(sigs "$c" "$master")"

  local curl_pid=
  if [[ $inflight == yes ]]; then
    curl -s -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "http://$ip:8080/slow" >"$work/$name.slow" 2>&1 &
    curl_pid=$!
    sleep 0.5
  fi
  local t1 t2 code finished stop_pid health
  t1=$(now_ms)
  { docker stop "$c" >/dev/null; now_ms >"$work/$name.stopped"; } &
  stop_pid=$!
  sleep 0.5
  # 200, or 000 with curl exit 7 (refused: the listener is closed) or 28 (no
  # answer in 1 s: the container and its address are gone).
  health=$(curl -s -m 1 -o /dev/null -w '%{http_code}' "http://$ip:8080/actuator/health" 2>/dev/null; echo " curl exit $?")
  wait "$stop_pid"
  t2=$(cat "$work/$name.stopped")
  code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  finished=$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$c")" +%s%3N)
  st=$(status "$id")
  log "docker stop took $((t2 - t1)) ms (container exited $((finished - t1)) ms after the stop began); exit code $code; health on a new connection 0.5 s into the stop: HTTP $health; consul right after: $st"
  if [[ $st == passing ]]; then
    for _ in $(seq 1 50); do st=$(status "$id"); [[ $st == passing ]] || break; sleep 0.1; done
    log "consul $(( $(now_ms) - t2 )) ms after the stop: $st"
  fi
  curl -s -X PUT "$consul/v1/agent/service/deregister/$id" >/dev/null
  local slow= slow_rc=
  if [[ -n $curl_pid ]]; then
    wait "$curl_pid" && slow_rc=0 || slow_rc=$?
    slow=$(cat "$work/$name.slow")
    log "request in flight (GET /slow, 65536 B): HTTP code, bytes, seconds = $slow; curl exit $slow_rc"
  fi
  local lines said
  lines=$(docker logs "$c" 2>&1)
  printf '%s\n' "$lines" | grep -v '"GET /actuator/health' | sed 's/^/    /' >&2
  said=$(printf '%s\n' "$lines" | grep -E 'signal [0-9]+ \(SIG[A-Z]+\) received|gracefully shutting down|exiting|exit$' | sed -E 's/^[0-9\/]+ [0-9:]+ \[notice\] //' | paste -sd';' - | sed 's/;/; /g' || true)
  log "nginx said: ${said:-nothing about a signal}"
  local graceful=no
  printf '%s\n' "$lines" | grep -q 'gracefully shutting down' && graceful=yes
  log "graceful quit: $graceful"
  case $name in
  noexec)
    check "noexec: nginx never got a signal (bash as PID 1 dropped SIGTERM)" "$(printf '%s\n' "$lines" | grep -q ' received'; [[ $? != 0 ]]; echo $?)"
    check "noexec: killed after the ${STOP_TIMEOUT}s stop timeout (exit 137)" "$([[ $code == 137 && $((t2 - t1)) -ge $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    check "noexec: still answering health 0.5 s into the stop" "$([[ $health == 200* ]]; echo $?)"
    ;;
  exec-*)
    check "$name: nginx got SIGTERM (fast shutdown, not graceful)" "$(printf '%s\n' "$lines" | grep -q 'signal 15 (SIGTERM) received'; echo $?)"
    check "$name: exited 0 before the stop timeout (exit $code)" "$([[ $code == 0 && $((t2 - t1)) -lt $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    [[ $inflight == no ]] || check "$name: the request in flight was cut off (curl exit $slow_rc)" "$([[ $slow_rc != 0 ]]; echo $?)"
    ;;
  quit-*)
    check "$name: nginx got SIGQUIT and quit gracefully" "$(printf '%s\n' "$lines" | grep -q 'signal 3 (SIGQUIT) received'; [[ $? == 0 && $graceful == yes ]]; echo $?)"
    check "$name: exited 0 before the stop timeout (exit $code)" "$([[ $code == 0 && $((t2 - t1)) -lt $((STOP_TIMEOUT * 1000)) ]]; echo $?)"
    if [[ $inflight == yes ]]; then
      check "$name: the request in flight completed (65536 B) before nginx exited" "$([[ $slow_rc == 0 && $slow == '200 65536 '* ]]; echo $?)"
      check "$name: no new connections during the quit (health: $health)" "$([[ $health != 200* ]]; echo $?)"
    fi
    ;;
  esac
}

run_case noexec "$ref" - yes
run_case exec-idle "$ref" /app/start-exec.sh no
run_case exec-inflight "$ref" /app/start-exec.sh yes
run_case quit-idle "$quit" - no
run_case quit-inflight "$quit" - yes

if [[ $fail == 0 ]]; then log "smoke passed"; else log "smoke FAILED"; fi
exit $fail
