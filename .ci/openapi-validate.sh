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
        # Debian-style pythons ship venv without ensurepip: make the venv bare and
        # install pip into it from its wheel on PyPI, which runs from the zip.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv"
        wheel="$("$python" - <<'PY'
import json, os, tempfile, urllib.parse, urllib.request
index = "https://pypi.org/pypi/pip/json"
with urllib.request.urlopen(index, timeout=60) as response:
    release = json.load(response)
url = next(f["url"] for f in release["urls"] if f["filename"].endswith(".whl"))
url = urllib.parse.urljoin(index, url)  # Mirrors may answer with relative links.
path = os.path.join(tempfile.mkdtemp(), url.rsplit("/", 1)[1])
urllib.request.urlretrieve(url, path)
print(path)
PY
)"
        "$python" "$wheel/pip" install --quiet "$wheel"
        rm -f "$wheel"
    fi
fi

"$python" -m pip install --quiet --disable-pip-version-check openapi-spec-validator
"$venv/bin/openapi-spec-validator" "$document"
