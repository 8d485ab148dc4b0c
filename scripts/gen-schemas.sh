#!/usr/bin/env bash
# Regenerates the committed JSON Schemas, and the runner API's OpenAPI document, from the Rust types.
set -euo pipefail
cd "$(dirname "$0")/.."
for kind in flow fixture connector project seed; do
  cargo run -q -p sluice-cli -- schema "$kind" > "schemas/$kind.schema.json"
done
cargo run -q -p sluice-cli -- schema openapi > schemas/openapi.json
echo "schemas/ regenerated"
