#!/usr/bin/env bash
# Validates the tool manifest with the jsonschema package, in the venv under target/ that
# .ci/openapi-validate.sh also uses: each tool's inputSchema against the JSON Schema
# 2020-12 metaschema, tool names unique and of MCP's alphabet.
#
# Usage: .ci/tools-validate.sh [PATH]   (default: generated/tools.json)
# Needs only python3; PyPI must be reachable the first time.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

manifest="${1:-generated/tools.json}"
if [[ $# -ge 1 && "$manifest" != /* ]]; then
    manifest="$(pwd)/$manifest"
fi

cd "$repo_root"

if [[ ! -f "$manifest" ]]; then
    echo "tools-validate: no such file: $manifest" >&2
    exit 1
fi

# shellcheck source=venv.sh
source .ci/venv.sh

"$python" -m pip install --quiet --disable-pip-version-check jsonschema

"$python" - "$manifest" <<'PY'
import json
import re
import sys

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

path = sys.argv[1]
with open(path, encoding="utf-8") as handle:
    manifest = json.load(handle)

problems = []
names = set()
for index, tool in enumerate(manifest.get("tools", [])):
    name = tool.get("name", "")
    where = f"tools[{index}] ({name})"
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", name):
        problems.append(f"{where}: name is not 1-128 of A-Za-z0-9_-.")
    if name in names:
        problems.append(f"{where}: name repeated")
    names.add(name)
    schema = tool.get("inputSchema")
    if not isinstance(schema, dict) or schema.get("type") != "object":
        problems.append(f"{where}: inputSchema is not an object schema")
        continue
    if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
        problems.append(f"{where}: inputSchema is not declared 2020-12")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as error:
        problems.append(f"{where}: {error.message} at {list(error.absolute_path)}")
        continue
    # Arguments must be an object of known properties.
    validator = Draft202012Validator(schema)
    if validator.is_valid([]) or validator.is_valid({"not_a_property": 1}):
        problems.append(f"{where}: accepts arguments that are not its properties")

if not names:
    problems.append("no tools")
for problem in problems:
    print(f"tools-validate: {path}: {problem}", file=sys.stderr)
if problems:
    sys.exit(1)
print(f"tools-validate: {path}: {len(names)} tools, every inputSchema valid 2020-12")
PY
