#!/usr/bin/env bash
# Validates the OpenAPI document with openapi-spec-validator, in a venv under target/.
#
# Usage: .ci/openapi-validate.sh [PATH]   (default: generated/openapi.yaml)
# Needs only python3; PyPI must be reachable the first time.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Resolve the document before leaving the caller's directory.
document="${1:-generated/openapi.yaml}"
if [[ $# -ge 1 && "$document" != /* ]]; then
    document="$(pwd)/$document"
fi

cd "$repo_root"

if [[ ! -f "$document" ]]; then
    echo "openapi-validate: no such file: $document" >&2
    exit 1
fi

venv="target/ci-venv"
python="$venv/bin/python"

# A venv with a working pip; recreated if an earlier run left it half-made.
if [[ ! -x "$python" ]] || ! "$python" -m pip --version >/dev/null 2>&1; then
    rm -rf "$venv"
    mkdir -p target
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        # Debian-style pythons ship venv without ensurepip: make the venv bare, fetch
        # pip's wheel with the system pip (its configured index), and install it from
        # the wheel, which runs from the zip.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv"
        wheels="$(mktemp -d)"
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheels" pip
        wheel="$(ls "$wheels"/pip-*.whl)"
        "$python" "$wheel/pip" install --quiet "$wheel"
        rm -rf "$wheels"
    fi
fi

"$python" -m pip install --quiet --disable-pip-version-check openapi-spec-validator
"$venv/bin/openapi-spec-validator" "$document"
