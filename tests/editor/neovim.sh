#!/usr/bin/env bash
# Tries the Neovim snippet of docs/editors.md: headless Neovim (Debian's; scripts/test.sh
# installs it) starts `sluice lsp` for a project made by `sluice init` whose first flow has a
# misspelled action, and must show Sluice's diagnostic (code and hint) and its hover of an action.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
cargo build --quiet -p sluice-cli
export SLUICE_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/sluice"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$SLUICE_BIN" init "$tmp/p" >/dev/null
cd "$tmp/p"
sed -i 's/action: ghl.list_notes/action: ghl.list_notse/' workflows/hello.yaml
export SLUICE_HOVER_LINE
SLUICE_HOVER_LINE="$(grep -n 'action: ghl.get_contact' workflows/hello.yaml | cut -d: -f1)"
export SLUICE_NVIM_OUT="$tmp/seen.txt"
timeout 60 nvim --headless -u NONE -i NONE -c "filetype on" -c "luafile $here/neovim.lua" >/dev/null 2>&1 || true
echo "Neovim $(nvim --version | head -n 1 | cut -d' ' -f2):"
sed 's/^/  /' "$SLUICE_NVIM_OUT"
typo_line="$(grep -n 'list_notse' workflows/hello.yaml | cut -d: -f1)"
grep -q "^diagnostic $typo_line:[0-9]* sluice::plan::unknown_operation connector \`ghl-contacts\` has no operation \`list_notse\` | help: did you mean \`list_notes\`?" "$SLUICE_NVIM_OUT" \
  || { echo "neovim.sh: the diagnostic of the misspelled action is missing" >&2; exit 1; }
grep -q '^hover \*\*ghl.get_contact\*\* — .*`GET /contacts/{contactId}`' "$SLUICE_NVIM_OUT" \
  || { echo "neovim.sh: the hover of the action is missing" >&2; exit 1; }
echo "neovim: the diagnostic and the hover arrived"
