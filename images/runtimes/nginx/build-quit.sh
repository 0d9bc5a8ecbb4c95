#!/usr/bin/env bash
# Builds (or finds) both nginx images with build.sh and prints the
# STOPSIGNAL SIGQUIT variant, kubegrace/nginx-app-quit:<hash>, last: the
# recipe images.Runtimes names for kubegrace/nginx-app-quit:latest.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
out=$(bash "$HERE/build.sh")
quit=$(printf '%s\n' "$out" | grep '^kubegrace/nginx-app-quit:' | tail -1)
[[ -n $quit ]] || { echo "build-quit.sh: build.sh printed no kubegrace/nginx-app-quit reference: $out" >&2; exit 1; }
echo "$quit"
