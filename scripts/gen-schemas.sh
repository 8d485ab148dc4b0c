#!/usr/bin/env bash
# Regenerates the committed JSON Schemas from the Rust types.
set -euo pipefail
cd "$(dirname "$0")/.."
for kind in flow connector project; do
  cargo run -q -p sluice-cli -- schema "$kind" > "schemas/$kind.schema.json"
done
echo "schemas/ regenerated"
