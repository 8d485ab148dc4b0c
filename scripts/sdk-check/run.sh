#!/usr/bin/env bash
# Runs the official GoHighLevel SDK (@gohighlevel/api-client, pinned in package.json) against
# a fresh Sluice sandbox: builds and starts `cargo run -p sluice-sandbox --example serve`,
# installs the SDK into scripts/sdk-check/node_modules (git-ignored), runs check.js, and
# stops the sandbox on exit. Needs cargo, node (20+) and npm with access to the npm registry.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

cargo build --quiet -p sluice-sandbox --example serve
server="${CARGO_TARGET_DIR:-$root/target}/debug/examples/serve"

out="$(mktemp)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -f "$out"
}
trap cleanup EXIT

"$server" 127.0.0.1:0 >"$out" &
pid=$!

url=""
for _ in $(seq 1 100); do
  url="$(head -n 1 "$out" 2>/dev/null || true)"
  [[ "$url" == http://* ]] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "run.sh: the sandbox exited before printing its URL" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ "$url" != http://* ]]; then
  echo "run.sh: no URL from the sandbox after 10 s" >&2
  exit 1
fi
echo "sandbox at $url"

cd "$here"
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
SANDBOX_URL="$url" node check.js
