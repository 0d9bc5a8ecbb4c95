#!/usr/bin/env bash
# Builds a Node.js service started by `npm start`, offline from Debian
# packages (no registry, no `docker build`, no `npm install`):
#   kubegrace/npm-base:bookworm-<hash>  debootstrap root with nodejs 18 and npm 9 (rootfs.sh)
#   kubegrace/npm-app:<hash>            the base + /app (package.json whose start
#                                       script is `node server.js`, server.js with
#                                       a SIGTERM handler, server-nohandler.js
#                                       without one, app.js, .npmrc);
#                                       CMD ["npm", "start"], so npm is PID 1
# The app has no dependencies, so there is no node_modules and nothing to
# install. The tag is a hash of the app files, this script, build-lib.sh and the base
# image id; an existing image makes this a no-op. Prints the image reference
# on stdout (last line); logs to stderr.
set -euo pipefail
LOG_TAG=npm
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../lib.sh"
source "$HERE/../build-lib.sh"

# Debian bookworm names: nodejs (18.x) and npm (9.x), bash for looking
# inside, tini for init variants, procps for ps/pgrep.
PACKAGES=(nodejs npm bash ca-certificates tini procps)
# debootstrap's resolver follows real package names only, not virtual ones
# (Provides), so these are the providers apt itself picks for the virtual
# packages npm's dependency tree names (npm -> node-postcss-selector-parser
# is only provided by node-css-loader, which pulls webpack, babel and eslint:
# that is what `apt-get install npm` installs on bookworm too). Without them
# dpkg leaves npm unconfigured and debootstrap fails.
PACKAGES+=(
  node-cli-table              # node-cli-table3 (npm)
  node-css-selector-tokenizer # node-cssesc (npm)
  node-css-loader             # node-postcss-selector-parser (npm)
  node-function-bind          # node-has (node-resolve)
  node-fancy-log              # node-color-support (node-gauge)
  node-jest-debbundle         # node-import-local (webpack)
  eslint                      # node-types-eslint (webpack)
  node-ampproject-remapping   # node-jridgewell-source-map (node-terser)
  node-tape                   # node-for-each (node-deep-equal)
  node-npm-run-path           # node-path-key (node-istanbul)
  node-read-pkg               # node-type-fest (node-istanbul)
  node-n3                     # node-queue-microtask (node-globby)
  node-json-schema            # node-types-json-schema (eslint)
  node-babel7                 # node-babel-helper-module-imports, node-babel-types
)
APP_FILES=(app/package.json app/.npmrc app/app.js app/server.js app/server-nohandler.js)

runtime_base npm-base "${PACKAGES[@]}"
runtime_tag npm-app "${APP_FILES[@]}"
if image_exists "$ref"; then
  log "$ref exists"
  echo "$ref"; exit 0
fi
runtime_work

mkdir -p "$work/root/app"
for f in "${APP_FILES[@]}"; do install -m 0644 "$HERE/$f" "$work/root/app/"; done
log "checking the app with the base's node"
docker run --rm --network none -v "$work/root/app:/app:ro" -w /app "$base" \
  bash -c 'set -e; for f in app.js server.js server-nohandler.js; do node --check "$f"; done; npm run --silent env >/dev/null' >&2

runtime_commit "$ref" 'ENTRYPOINT []' 'CMD ["npm", "start"]' 'WORKDIR /app' 'EXPOSE 8080'
log "built $ref in $((SECONDS - start)) s"
echo "$ref"
