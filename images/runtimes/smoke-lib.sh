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
