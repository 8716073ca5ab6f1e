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

# shellcheck source=venv.sh
source .ci/venv.sh

"$python" -m pip install --quiet --disable-pip-version-check openapi-spec-validator
"$venv/bin/openapi-spec-validator" "$document"
