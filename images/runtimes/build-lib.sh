# Sourced by images/runtimes/*/build.sh after images/lib.sh: what every
# runtime image build shares. runtime_base NAME PACKAGES... makes the
# runtime's Debian base; runtime_tag NAME FILE... names its image by a hash
# of FILE... (beside the build script), this file, the build script and the
# base; runtime_work gives a work folder and a container slot removed on
# exit; runtime_commit REF CHANGE... commits the base plus $work/root.

# runtime_base NAME PACKAGES...: $base and $base_id; starts the clock ($start).
runtime_base() {
  start=$SECONDS
  base=$(bash "$HERE/../../debian/rootfs.sh" "$@" | tail -1)
  base_id=$(docker image inspect -f '{{.Id}}' "$base")
}

# runtime_tag NAME FILE...: $hash and $ref (kubegrace/NAME:$hash).
runtime_tag() {
  local name=$1; shift
  hash=$( (cd "$HERE" && sha256sum "$@" build.sh ../build-lib.sh; echo "$base_id") | sha256sum | cut -c1-12)
  ref="kubegrace/$name:$hash"
}

# runtime_work: $work (a temporary folder) and $c (a container, once set),
# both removed on exit.
runtime_work() {
  work=$(mktemp -d)
  c=
  trap 'runtime_cleanup' EXIT
}
runtime_cleanup() {
  [[ -z $c ]] || docker rm -f "$c" >/dev/null 2>&1 || true
  rm -rf "$work"
}

# runtime_commit REF CHANGE...: $base with $work/root copied to / committed
# as REF, each CHANGE a `docker commit --change` line.
runtime_commit() {
  local ref=$1 args=() ch; shift
  for ch in "$@"; do args+=(--change "$ch"); done
  log "committing $ref"
  c=$(docker create "$base")
  docker cp "$work/root/." "$c:/"
  docker commit "${args[@]}" "$c" "$ref" >/dev/null
}
