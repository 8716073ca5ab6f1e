#!/usr/bin/env bash
# Runs the mock's Python (pytest) and Node (node:test) examples against the built binary:
# each starts it, reads its --ready-json line and makes one call.
#
# Usage: .ci/other-languages.sh   Needs python3 (pytest is installed in the venv under
# target/ the first time, so PyPI must be reachable then) and node 18 or later.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q -p tiktok-mock --locked
export TIKTOK_MOCK_BIN="$(pwd)/${CARGO_TARGET_DIR:-target}/debug/tiktok-mock"
if [[ "${CARGO_TARGET_DIR:-}" == /* ]]; then
    export TIKTOK_MOCK_BIN="$CARGO_TARGET_DIR/debug/tiktok-mock"
fi

# shellcheck source=venv.sh
source .ci/venv.sh
"$python" -m pip install --quiet --disable-pip-version-check pytest
"$python" -m pytest -q -p no:cacheprovider mock-server/examples/python

node --test mock-server/examples/node/
