#!/usr/bin/env bash
# Builds nginx as a runtime image, offline from Debian packages (no
# registry, no `docker build`), in two variants committed from the same
# container:
#   kubegrace/nginx-base:bookworm-<hash>  debootstrap root with nginx (rootfs.sh)
#   kubegrace/nginx-app:<hash>            the base + /etc/nginx/nginx.conf (:8080,
#                                         /actuator/health, a static page, logs to
#                                         stdout/stderr, pid in /tmp) + /app/html +
#                                         /app/start.sh (bash runs nginx without
#                                         exec) and /app/start-exec.sh (with exec);
#                                         CMD ["/app/start.sh"]
#   kubegrace/nginx-app-quit:<hash>       nginx-app + STOPSIGNAL SIGQUIT (nginx's graceful
#                                         quit) and CMD ["/app/start-exec.sh"]
# The tag (the same for both) is a hash of the config, the page, the start
# scripts, this script, build-lib.sh and the base image id; existing images make this a
# no-op. Prints both references on stdout: the -quit one, then nginx-app
# last (build-quit.sh prints the -quit one last); logs to stderr.
set -euo pipefail
LOG_TAG=nginx
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"
source "$HERE/../build-lib.sh"

# Debian bookworm names: nginx is the server itself (1.22, no dynamic modules;
# nginx-light is nginx plus the echo module, so bigger), bash for start.sh,
# tini for init variants, procps for ps/pgrep when looking inside.
PACKAGES=(nginx bash tini procps)

runtime_base nginx-base "${PACKAGES[@]}"
runtime_tag nginx-app nginx.conf html/index.html start.sh start-exec.sh
quit="kubegrace/nginx-app-quit:$hash"
if image_exists "$ref" && image_exists "$quit"; then
  log "$ref and $quit exist"
  echo "$quit"; echo "$ref"; exit 0
fi
runtime_work

mkdir -p "$work/root/app/html" "$work/root/etc/nginx"
install -m 0644 "$HERE/nginx.conf" "$work/root/etc/nginx/nginx.conf"
install -m 0644 "$HERE/html/index.html" "$work/root/app/html/"
head -c 65536 /dev/zero >"$work/root/app/html/slow"
chmod 0644 "$work/root/app/html/slow"
install -m 0755 "$HERE/start.sh" "$HERE/start-exec.sh" "$work/root/app/"

log "checking nginx.conf with the base's nginx"
docker run --rm --network none -v "$work/root/etc/nginx/nginx.conf:/etc/nginx/nginx.conf:ro" "$base" \
  nginx -t -q -g 'daemon off;' >&2

runtime_commit "$ref" 'ENTRYPOINT []' 'CMD ["/app/start.sh"]' 'WORKDIR /app' 'EXPOSE 8080'
# `docker commit --change` takes no STOPSIGNAL (only CMD, ENTRYPOINT, ENV,
# EXPOSE, LABEL, ONBUILD, USER, VOLUME, WORKDIR), but commit keeps the
# container's own stop signal: so the -quit image is committed from a
# container of the image just made (the same files), created with
# --stop-signal SIGQUIT.
docker rm -f "$c" >/dev/null
c=$(docker create --stop-signal SIGQUIT "$ref")
docker commit --change 'CMD ["/app/start-exec.sh"]' "$c" "$quit" >/dev/null
[[ $(docker image inspect -f '{{.Config.StopSignal}}' "$quit") == SIGQUIT ]] || die "$quit has no STOPSIGNAL SIGQUIT"
log "built $ref and $quit in $((SECONDS - start)) s"
echo "$quit"
echo "$ref"
