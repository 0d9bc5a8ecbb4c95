#!/usr/bin/env bash
# Builds the incident's seed as a real JVM image, offline from Debian
# packages (no registry, no `docker build`):
#   kubegrace/jvm-base:bookworm-<hash>  debootstrap root with OpenJDK 17 (rootfs.sh)
#   kubegrace/jvm-app:<hash>            the base + /app/app.jar (App.java, compiled
#                                       by the base's own javac in a throwaway
#                                       container) + /app/start.sh (the seed:
#                                       bash runs java without exec) and
#                                       /app/start-exec.sh (the fix)
# The tag is a hash of App.java, the start scripts, this script, build-lib.sh and the base
# image id; an existing image makes this a no-op. Prints the image reference
# on stdout (last line); logs to stderr.
set -euo pipefail
LOG_TAG=jvm
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"
source "$HERE/../build-lib.sh"

# Debian bookworm names: the JDK (javac, jar) headless, bash for start.sh,
# tini for init variants, procps for ps/pgrep when looking inside.
PACKAGES=(openjdk-17-jdk-headless bash ca-certificates tini procps)

runtime_base jvm-base "${PACKAGES[@]}"
runtime_tag jvm-app App.java start.sh start-exec.sh
if image_exists "$ref"; then
  log "$ref exists"
  echo "$ref"; exit 0
fi
runtime_work

log "compiling App.java with the base's javac"
mkdir -p "$work/src" "$work/root/app"
cp "$HERE/App.java" "$work/src/"
docker run --rm --network none -v "$work/src:/src" -w /src "$base" \
  bash -c 'set -e; javac -Xlint:all -d classes App.java; jar --create --file app.jar --main-class App -C classes .; chown -R '"$(id -u):$(id -g)"' /src' >&2
cp "$work/src/app.jar" "$work/root/app/app.jar"
install -m 0755 "$HERE/start.sh" "$HERE/start-exec.sh" "$work/root/app/"

runtime_commit "$ref" 'ENTRYPOINT []' 'CMD ["/app/start.sh"]' 'WORKDIR /app' 'EXPOSE 8080'
log "built $ref in $((SECONDS - start)) s"
echo "$ref"
