#!/usr/bin/env bash
# Runs yaml-language-server (the server of VS Code's YAML extension; pinned in package.json and
# package-lock.json) on a project made by `sluice init`: what it flags, shows on hover and
# completes with the schemas Sluice writes (yaml-ls.test.mjs). Builds the sluice binary,
# installs the npm package into tests/editor/node_modules (git-ignored; skipped when present and
# current, so it runs offline once installed). Needs node (20+) and npm.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --quiet -p sluice-cli
export SLUICE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/sluice"

cd "$here"
if [[ ! -d node_modules/yaml-language-server ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node --test --test-concurrency=1 yaml-ls.test.mjs
