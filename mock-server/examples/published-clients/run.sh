#!/usr/bin/env bash
# Try published TikTok v2 clients (two Python packages, two npm packages, two Rust crates)
# against a running mock, as a
# new user would: the mock's demo app, its consent page (auto_approve=1), its API.
#
#   bash mock-server/examples/published-clients/run.sh http://127.0.0.1:8080  # a mock with its demo data
#
# Installs everything into a temporary directory (removed at the end; CARGO_TARGET_DIR, if
# set, is used for the Rust build instead of a temporary one). The probes are next to this
# file. Each probe runs the steps its client covers and asserts the
# known client bugs (so a change shows). Exits non-zero if any probe fails.
#
# Notes: tiktok-studio-mcp's OAuth listener is fixed on port 8902 (its redirect URI
# http://localhost:8902/ is added to the demo app through the control API); the
# passport probe flips and restores the mock setting api.unknown_fields.
set -uo pipefail

MOCK="${1:?usage: run.sh MOCK_URL}"
MOCK="${MOCK%/}"
HERE="$(cd "$(dirname "$0")" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

curl -fsS "$MOCK/_mock/health" >/dev/null || { echo "no mock at $MOCK" >&2; exit 2; }

declare -A RESULT
run() { # name, command...
  local name="$1"; shift
  echo "=== $name"
  if "$@"; then RESULT[$name]=ok; else RESULT[$name]="FAILED ($?)"; fi
}

# --- Python
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "tiktok-studio-mcp==0.1.4" "tiktok-api-client==0.0.15" \
  requests  # tiktok-api-client imports requests without declaring it
run tiktok-studio-mcp timeout 120 "$WORK/venv/bin/python" "$HERE/probe_tiktok_studio_mcp.py" "$MOCK"
run tiktok-api-client timeout 120 "$WORK/venv/bin/python" "$HERE/probe_tiktok_api_client.py" "$MOCK"

# --- Node (ES modules resolve node_modules next to the file: copy the probes there)
mkdir -p "$WORK/node"
cp "$HERE"/*.mjs "$WORK/node/"
(cd "$WORK/node" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
  "arctic@3.7.0" "passport-tiktok-auth@1.0.12")
run arctic timeout 120 node "$WORK/node/probe_arctic.mjs" "$MOCK"
run passport-tiktok-auth timeout 120 node "$WORK/node/probe_passport_tiktok_auth.mjs" "$MOCK"

# --- Rust
cp -r "$HERE/rust" "$WORK/rust"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$WORK/target}"
(
  cd "$WORK/rust" || exit 1
  cargo fetch -q || exit 1
  # tiktok_rust's AuthService has TikTok's host in a private field with no setter: patch
  # that one line in a scratch copy of the published crate (read from an environment
  # variable instead), used through [patch.crates-io].
  src="$(cargo metadata -q --format-version 1 | python3 -c '
import json, os, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "tiktok_rust":
        print(os.path.dirname(p["manifest_path"]))')"
  mkdir -p .patched && cp -r "$src" .patched/tiktok_rust && chmod -R u+w .patched
  sed -i 's|base_url: String::from("https://open.tiktokapis.com"),|base_url: std::env::var("TIKTOK_RUST_BASE_URL").unwrap_or_else(\|_\| String::from("https://open.tiktokapis.com")),|' \
    .patched/tiktok_rust/src/auth/service.rs
  grep -q TIKTOK_RUST_BASE_URL .patched/tiktok_rust/src/auth/service.rs || { echo "patch did not apply" >&2; exit 1; }
  printf '\n[patch.crates-io]\ntiktok_rust = { path = ".patched/tiktok_rust" }\n' >> Cargo.toml
  cargo build -q --bins
) || RESULT[rust-build]=FAILED
if [ -z "${RESULT[rust-build]:-}" ]; then
  run tiktokapi-v2 timeout 120 "$CARGO_TARGET_DIR/debug/probe_tiktokapi_v2" "$MOCK"
  run tiktok_rust env TIKTOK_RUST_BASE_URL="$MOCK" timeout 120 "$CARGO_TARGET_DIR/debug/probe_tiktok_rust" "$MOCK"
fi

echo "=== summary"
status=0
for k in "${!RESULT[@]}"; do
  echo "$k: ${RESULT[$k]}"
  [ "${RESULT[$k]}" = ok ] || status=1
done
exit $status
