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

step "throw-away PostgreSQL for the run-store tests (127.0.0.1, a temp folder)"
# The run store's tests run on SQLite and on PostgreSQL at $SLUICE_TEST_POSTGRES; its PostgreSQL
# tests fail (never skip) without one. Uses the server already named there, if any; otherwise
# installs Debian's `postgresql` when missing and starts a cluster that is removed on exit.
pg_dir=""
stop_test_postgres() {
  if [ -n "$pg_dir" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
}
as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ -n "${SLUICE_TEST_POSTGRES:-}" ]; then
  echo "using SLUICE_TEST_POSTGRES from the environment"
else
  if ! compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  pg_bin=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
  pg_dir=$(mktemp -d)
  trap stop_test_postgres EXIT
  if [ "$(id -u)" = 0 ]; then chown postgres "$pg_dir"; fi
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres >"$pg_dir/initdb.log"
  pg_started=""
  for _ in 1 2 3 4 5; do
    pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w start \
      -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=300" >/dev/null; then
      pg_started=1
      break
    fi
  done
  if [ -z "$pg_started" ]; then
    cat "$pg_dir/log" >&2
    echo "PostgreSQL did not start" >&2
    exit 1
  fi
  export SLUICE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/postgres"
  echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port"
fi

step "cargo test --workspace"
cargo test --workspace --locked

step "sluice validate workflows/ (the examples are valid)"
cargo run -q --locked -p sluice-cli -- validate workflows/

step "sluice test workflows/ (every example against its fixture: canned answers, sandbox, cassettes)"
cargo run -q --locked -p sluice-cli -- test workflows/

step "independent JSON Schema check (check-jsonschema from PyPI)"
tools=target/tools
venv="$tools/venv"
if [ ! -x "$venv/bin/check-jsonschema" ]; then
  mkdir -p "$tools"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'check-jsonschema==0.39.0'
fi
# (the flows against the flow schema; FLOW.test.yaml fixtures against the fixture schema)
flows=$(ls workflows/*.yaml | grep -v '\.test\.yaml$')
# shellcheck disable=SC2086
"$venv/bin/check-jsonschema" --schemafile schemas/flow.schema.json $flows
"$venv/bin/check-jsonschema" --schemafile schemas/connector.schema.json connectors/*.yaml
"$venv/bin/check-jsonschema" --schemafile schemas/seed.schema.json docs/examples/seed.json workflows/recipes.seed.json
"$venv/bin/check-jsonschema" --schemafile schemas/fixture.schema.json workflows/*.test.yaml

step "yaml-language-server (VS Code's YAML extension, npm) on the schemas sluice init writes"
bash tests/editor/run.sh

step "Neovim (Debian's, headless) with the snippet of docs/editors.md starts sluice lsp"
if ! command -v nvim >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq neovim >/dev/null
fi
bash tests/editor/neovim.sh

step "the official GHL SDK (@gohighlevel/api-client, npm) against the sandbox"
bash scripts/sdk-check/run.sh

step "the web view in Chromium (headless, playwright-core; screenshots in target/screenshots/)"
# Debian's Chromium; playwright-core (pinned in tests/browser/package-lock.json) drives it.
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
bash tests/browser/run.sh

step "generated files are fresh (the GHL connectors, imported from GHL's OpenAPI documents)"
if [ -f ../shared/reference/ghl/highlevel-api-docs/apps/contacts.json ]; then
  bash scripts/import-connectors.sh --check
else
  echo "skipped: ../shared/reference (GHL's official OpenAPI documents) is absent"
fi

echo
echo "all checks passed in $(( $(date +%s) - started )) s"
