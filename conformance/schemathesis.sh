#!/usr/bin/env bash
# An outside check of the mock against generated/openapi.yaml: schemathesis (PyPI)
# generates requests from the document, valid and invalid, sends them to the mock and
# checks every answer.
#
# Usage: bash conformance/schemathesis.sh
# Env:   SCHEMATHESIS_EXAMPLES  examples per operation and phase (default 100)
#        SCHEMATHESIS_SEED      the generator's seed (default fixed, so CI is repeatable)
# Needs python3 and cargo; PyPI must be reachable the first time (the venv is kept in
# target/schemathesis-venv). Takes about a minute on 2 cores after the mock is built.
#
# Checks run on every operation:
#   not_a_server_error            the mock never answers 5xx (no faults are injected here)
#   status_code_conformance       every status is documented for its operation
#   content_type_conformance      the Content-Type is the documented one
#   response_schema_conformance   the body validates against that status's schema
#   response_headers_conformance  documented headers are present and valid
# and on the token-authenticated operations:
#   ignored_auth                  a call without or with a wrong token is refused
#   missing_required_header       (none are required beyond auth; kept for additions)
# negative_data_rejection (schema-violating requests are refused) runs in a separate
# pass on the operations where it holds; see "Known problems" for the others.
#
# Not run:
#   positive_data_acceptance  see problems 1 and 2 below: schema-valid requests that the
#                             mock rightly refuses.
#   unsupported_method        by design the mock answers an undeclared method (TRACE,
#                             PUT, ...) with the gateway's 404 `Unsupported path(Janus)`,
#                             as TikTok's gateway does, not with 405.
#   use_after_free, ensure_resource_availability, object_level_authorization: need
#                             links between operations, which the document doesn't have.
#
# Runs, one per kind of credentials:
#   user     every user-token operation (read and write), with the demo token that has
#            every user scope.
#   research the Research API's comment list, with a client token (clt.) minted through
#            the control API: user tokens are refused there by design.
#   oauth    /v2/oauth/token/ and /v2/oauth/revoke/, without Authorization. They take
#            client_key/client_secret in the form body, which schemathesis fills with
#            generated strings, so only their refusal paths (invalid_client,
#            invalid_request) are exercised here; the Rust tests cover the flows.
#   negative negative_data_rejection on user_info, video_query, creator_info and
#            status_fetch.
#
# Known problems (found by this script; reported, not fixed here, the check or
# operation excluded as said):
#   1. (Fixed in the OpenAPI emitter: `fields` now has minLength 1 and a pattern of the
#      known names.) positive_data_acceptance stays off for problem 2.
#   2. OpenAPI vs JSON: integers written with a fraction part (`1000.0`) are integers
#      to JSON Schema 2020-12, but the mock answers 400 "is not an integer", as Go-style
#      decoders do. (positive_data_acceptance)
#   3. OpenAPI vs mock: the mock reads `null` in an optional request field as absent,
#      but the document declares those fields without "null" in their type (e.g.
#      post_info.title, source_info.video_url, video_id), so schemathesis expects a 4xx.
#      (negative_data_rejection on video_list, video_init, inbox_video_init,
#      content_init, research_comment_list)
#   4. (Fixed in the OpenAPI emitter: a body with no required field is not required.)
#      video_list stays out of the negative pass for problem 3 (`"max_count": null`).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

examples="${SCHEMATHESIS_EXAMPLES:-100}"
seed="${SCHEMATHESIS_SEED:-20261125}"
document="$repo_root/generated/openapi.yaml"
venv="target/schemathesis-venv"
# Pinned so that a new release's checks or generators don't change CI's verdict.
schemathesis_version="4.32.5"

# shellcheck source=../.ci/venv.sh
source .ci/venv.sh
if [[ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != *" $schemathesis_version" ]]; then
    "$python" -m pip install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

# Build first so the wait below is for the server, not the compiler.
cargo build -q -p tiktok-mock

# schemathesis and hypothesis keep their caches in the working directory.
work="$(mktemp -d "${TMPDIR:-/tmp}/schemathesis.XXXXXX")"
mock_pid=""
cleanup() {
    if [[ -n "$mock_pid" ]]; then
        # The mock runs in its own process group (setsid): cargo and the server with it.
        kill -- "-$mock_pid" 2>/dev/null || true
        wait "$mock_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# 1000× every rate limit so generated traffic doesn't run into 429s.
setsid cargo run -q -p tiktok-mock -- --addr 127.0.0.1:0 --rate-limit-scale 1000 \
    >"$work/mock.out" 2>"$work/mock.err" &
mock_pid=$!

# The first line is `listening on http://HOST:PORT`; then the demo app, then
# `access token, every user scope (open_id …): act.…`.
token=""
for _ in $(seq 1 300); do
    token="$(sed -n 's/^access token, every user scope ([^)]*): //p' "$work/mock.out")"
    [[ -n "$token" ]] && break
    if ! kill -0 "$mock_pid" 2>/dev/null; then
        echo "schemathesis.sh: the mock exited:" >&2
        cat "$work/mock.err" >&2
        exit 1
    fi
    sleep 0.2
done
if [[ -z "$token" ]]; then
    echo "schemathesis.sh: the mock printed no token in 60 s:" >&2
    cat "$work/mock.out" "$work/mock.err" >&2
    exit 1
fi
url="$(sed -n '1s/^listening on //p' "$work/mock.out")"
echo "mock at $url"

client_token="$("$python" - "$url" <<'PY'
import json, sys, urllib.request
request = urllib.request.Request(
    sys.argv[1] + "/_mock/tokens",
    data=b'{"kind": "client"}',
    headers={"Content-Type": "application/json"},
    method="POST",
)
with urllib.request.urlopen(request, timeout=30) as response:
    print(json.load(response)["access_token"])
PY
)"

core="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
failed=()
run() {
    local name="$1"
    shift
    echo "== schemathesis: $name"
    if ! (cd "$work" && "$repo_root/$venv/bin/schemathesis" run "$document" \
        --url "$url" \
        --phases examples,coverage,fuzzing \
        --max-examples "$examples" \
        --seed "$seed" \
        --continue-on-failure \
        --output-truncate true \
        "$@"); then
        failed+=("$name")
    fi
}

run user -H "Authorization: Bearer $token" \
    --checks "$core,ignored_auth,missing_required_header" \
    --exclude-path-regex '^/v2/(oauth|research)/'
run research -H "Authorization: Bearer $client_token" \
    --checks "$core,ignored_auth,missing_required_header" \
    --include-path-regex '^/v2/research/'
run oauth \
    --checks "$core" \
    --include-path-regex '^/v2/oauth/'
# Problems 3 and 4 above keep the other operations out of this pass.
run negative -H "Authorization: Bearer $token" \
    --checks negative_data_rejection \
    --include-path-regex '^/v2/(user/info|video/query|post/publish/creator_info/query|post/publish/status/fetch)/$'

if [[ ${#failed[@]} -gt 0 ]]; then
    echo "schemathesis.sh: failures in: ${failed[*]}" >&2
    exit 1
fi
echo "schemathesis: no failures"
