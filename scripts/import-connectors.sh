#!/usr/bin/env bash
# Imports the GHL connectors (connectors/ghl-*.yaml) from GoHighLevel's official OpenAPI
# documents with `sluice connector import`, each with its import settings from
# connectors/import/NAME.yaml. Usage:
#   scripts/import-connectors.sh            # rewrite the connectors that are stale
#   scripts/import-connectors.sh --check    # exit 1 when one is not up to date (scripts/test.sh)
# The documents are read from ../shared/reference/ghl/highlevel-api-docs (GHL_API_DOCS to
# point elsewhere).
set -euo pipefail
cd "$(dirname "$0")/.."
docs="${GHL_API_DOCS:-../shared/reference/ghl/highlevel-api-docs}"
if [ ! -f "$docs/apps/contacts.json" ]; then
  echo "import-connectors.sh: GHL's OpenAPI documents are not at $docs" >&2
  exit 2
fi
cargo build -q --locked -p sluice-cli
sluice="${CARGO_TARGET_DIR:-target}/debug/sluice"
status=0
for pair in contacts:contacts users:users locations:locations businesses:businesses \
  opportunities:opportunities calendars:calendars conversations:conversations; do
  name="ghl-${pair%%:*}"
  doc="$docs/apps/${pair##*:}.json"
  if ! "$sluice" connector import "$doc" --name "$name" --overrides "connectors/import/$name.yaml" \
    "$@" 2>"target/import-$name.log"; then
    cat "target/import-$name.log" >&2
    status=1
  fi
done
exit "$status"
