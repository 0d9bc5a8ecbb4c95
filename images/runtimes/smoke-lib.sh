# Sourced by images/runtimes/*/smoke.sh after images/lib.sh: what every
# runtime's Docker-only smoke test shares. smoke_setup NAME makes a docker
# network of its own (removed on exit with every container in $containers);
# smoke_consul [ALIAS] starts the project's Consul image there and sets
# $consul once it has a leader; smoke_early_app LABEL IMAGE [CMD...] checks
# that an app started 3 s before Consul registers once Consul answers.

# smoke_setup NAME: $p (container name prefix), $net, $containers, $fail.
smoke_setup() {
  consul_ref=${CONSUL_IMAGE:-$(docker images 'kubegrace/consul' --format '{{.Repository}}:{{.Tag}}' | head -1)}
  [[ -n $consul_ref ]] || die "no kubegrace/consul image: run images/project/build.sh (make images) first"
  STOP_TIMEOUT=${STOP_TIMEOUT:-10}
  p="kg$1-smoke-$$"
  net=$p
  containers=()
  fail=0
  trap smoke_cleanup EXIT
  docker network create "$net" >/dev/null
}

smoke_cleanup() {
  for c in "${containers[@]}"; do docker rm -f -v "$c" >/dev/null 2>&1 || true; done
  docker network rm "$net" >/dev/null 2>&1 || true
}

now_ms() { date +%s%3N; }
ip_of() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }

check() { # check WHAT COND-RESULT(0/1)
  if [[ $2 == 0 ]]; then log "ok: $1"; else log "FAIL: $1"; fail=1; fi
}

# smoke_consul [ALIAS]: Consul (agent -dev) on the network, reachable by
# ALIAS from the other containers; $consul is its address from the host.
smoke_consul() {
  local alias=()
  [[ -z ${1:-} ]] || alias=(--network-alias "$1")
  containers+=("$p-consul")
  docker run -d --name "$p-consul" --network "$net" "${alias[@]}" "$consul_ref" >/dev/null
  consul="http://$(ip_of "$p-consul"):8500"
  for _ in $(seq 1 100); do
    [[ $(curl -s -m 1 "$consul/v1/status/leader" || true) == *:* ]] && break
    sleep 0.2
  done
  [[ $(curl -s -m 1 "$consul/v1/status/leader" || true) == *:* ]] || die "consul at $consul has no leader; its log: $(docker logs --tail 5 "$p-consul" 2>&1)"
  log "consul up at $consul"
}

# smoke_early_app LABEL IMAGE [CMD...]: an app started before Consul must
# retry until it answers (as in a Pod whose Consul Service is not up yet);
# it reaches Consul by the alias "consul". Starts Consul, checks, and
# leaves $early (the app's log) and the container $p-early stopped.
smoke_early_app() {
  local label=$1 image=$2
  shift 2
  containers+=("$p-early")
  docker run -d --name "$p-early" --network "$net" -e SERVICE_NAME=early -e CONSUL_ADDR=consul:8500 -e CHECK_INTERVAL=1s "$image" "$@" >/dev/null
  sleep 3
  smoke_consul consul
  for _ in $(seq 1 100); do docker logs "$p-early" 2>/dev/null | grep -q ' registered ' && break; sleep 0.2; done
  early=$(docker logs "$p-early" 2>/dev/null)
  log "app ($label) started 3 s before consul: $(printf '%s\n' "$early" | grep -c register-retry) retries, then: $(printf '%s\n' "$early" | grep ' registered ' | cut -d' ' -f3- || echo 'never registered')"
  check "an app started before consul registers once it answers" "$(printf '%s\n' "$early" | grep -Eq ' registered .*attempts=([2-9]|[1-9][0-9]+)$'; echo $?)"
}

# status ID: passing, warning, critical, or "absent" from the local agent.
status() {
  local code body
  body=$(curl -s -m 2 -w '\n%{http_code}' "$consul/v1/agent/health/service/id/$1?format=text" || true)
  code=${body##*$'\n'}; body=${body%$'\n'*}
  if [[ $code == 404 ]]; then echo absent; else echo "${body:-unknown}"; fi
}

# smoke_wait_passing NAME CONTAINER ID T0: waits up to 30 s for instance ID
# to pass in Consul and logs the times from T0 (ms); returns 1 (and marks
# the run failed, with the app's log) if it never does.
smoke_wait_passing() {
  local name=$1 c=$2 id=$3 t0=$4 t_reg= t_pass= st
  for _ in $(seq 1 300); do
    st=$(status "$id")
    [[ -z $t_reg && $st != absent ]] && t_reg=$(now_ms)
    [[ $st == passing ]] && { t_pass=$(now_ms); break; }
    sleep 0.1
  done
  [[ -n $t_pass ]] || { log "$name never passing (last: $st); app log:"; docker logs "$c" >&2; fail=1; return 1; }
  log "registered $((t_reg - t0)) ms, passing $((t_pass - t0)) ms after docker run (check interval 1s); instance $id, address $(ip_of "$c")"
}

# smoke_identity CONTAINER ID: the app's identity check (IDENTITY_CHECK=
# header): Consul's check names the instance, and another instance's name
# gets 503.
smoke_identity() {
  local c=$1 id=$2 ip ok bad
  ip=$(ip_of "$c")
  # Consul's API does not show a check's headers: the app logs the first
  # health request that names it, which before our own curl is Consul's.
  check "Consul's check sent X-Instance-Id: $id" "$(docker logs "$c" | grep -q "identity-check-seen header=X-Instance-Id instance=$id\$"; echo $?)"
  ok=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Instance-Id: $id" "http://$ip:8080/actuator/health")
  bad=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Instance-Id: orders-someone-else" "http://$ip:8080/actuator/health")
  log "identity: own header $ok, other instance's header $bad; GET / $(curl -s "http://$ip:8080/")"
  check "identity header: 200 for own id, 503 for another" "$([[ $ok == 200 && $bad == 503 ]]; echo $?)"
}

# smoke_stop CONTAINER ID: docker stop, then what Consul says of ID. Sets
# stop_t1 and stop_t2 (ms around the stop), stop_finished (the container's
# exit, ms), stop_code (exit code) and stop_status (Consul right after, or
# once the next check has run).
smoke_stop() {
  local c=$1 id=$2
  stop_t1=$(now_ms)
  docker stop "$c" >/dev/null
  stop_t2=$(now_ms)
  stop_code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
  stop_finished=$(date -d "$(docker inspect -f '{{.State.FinishedAt}}' "$c")" +%s%3N)
  stop_status=$(status "$id")
  log "docker stop took $((stop_t2 - stop_t1)) ms (container exited $((stop_finished - stop_t1)) ms after the stop began); exit code $stop_code; consul right after: $stop_status"
  if [[ $stop_status == passing ]]; then
    # The address is gone; the next check run (1s) turns the entry critical.
    for _ in $(seq 1 50); do stop_status=$(status "$id"); [[ $stop_status == passing ]] || break; sleep 0.1; done
    log "consul $(( $(now_ms) - stop_t2 )) ms after the stop: $stop_status"
  fi
}
