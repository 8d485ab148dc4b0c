#!/usr/bin/env bash
# Runs every check of the project: formatting, lints, the whole test suite, and the flow
# schema against an independent JSON Schema validator. Installs what it needs (into target/).
# Usage: scripts/test.sh        (CI runs exactly this through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
started=$(date +%s)

step() { printf '\n== %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo test --workspace"
cargo test --workspace --locked

step "sluice validate workflows/ (the examples are valid)"
cargo run -q --locked -p sluice-cli -- validate workflows/

step "independent JSON Schema check (check-jsonschema from PyPI)"
tools=target/tools
venv="$tools/venv"
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'check-jsonschema==0.39.0'
fi
"$venv/bin/check-jsonschema" --schemafile schemas/flow.schema.json workflows/*.yaml
"$venv/bin/check-jsonschema" --schemafile schemas/connector.schema.json connectors/*.yaml

step "generated files are fresh"
if [ -f ../shared/reference/ghl/highlevel-api-docs/apps/contacts.json ]; then
  python3 scripts/gen-ghl-connector.py --check 2>/dev/null
else
  echo "skipped: ../shared/reference (GHL's official OpenAPI document) is absent"
fi

echo
echo "all checks passed in $(( $(date +%s) - started )) s"
