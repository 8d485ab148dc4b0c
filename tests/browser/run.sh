#!/usr/bin/env bash
# Runs the web view's end-to-end tests (web.test.mjs) in Debian's Chromium, headless, driven by
# playwright-core (pinned in package.json; no browser download). Builds the sluice binary,
# installs the npm package into tests/browser/node_modules (git-ignored), and runs the tests;
# screenshots go to target/screenshots/. Needs /usr/bin/chromium: scripts/test.sh installs it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --quiet -p sluice-cli
export SLUICE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/sluice"

cd "$here"
if [[ ! -d node_modules/playwright-core ]] || [[ package-lock.json -nt node_modules/.package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node --test --test-concurrency=1 web.test.mjs
