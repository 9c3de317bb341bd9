#!/usr/bin/env bash
# Property-based tests of the HTTP API against its own OpenAPI document: schemathesis (from
# PyPI, installed once into a venv under target/) sends generated requests to a started
# server and fails on a status the document does not list (a 5xx included: the documented
# ones, 503 CAPACITY or DOCKER_UNAVAILABLE, are answers, so `not_a_server_error`, which
# refuses every 5xx, is left out), a content type it does not list, or a body its schema does
# not accept. Bounded: LIVECODE_SCHEMATHESIS_EXAMPLES cases per operation
# (default 25), which keeps it to a couple of minutes. POST /drain is left out: it stops the
# server under test (tests/it/openapi.rs calls it last). Needs target/debug/livecode built and
# the python and bash images.
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=4.32.5
VENV=target/schemathesis-venv
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi

data=$(mktemp -d)
instance="schemathesis-$$"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key="schemathesis-key-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
cleanup() {
    [ -n "${server:-}" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    ids=$(docker ps -aq --filter "label=livecode.instance=$instance")
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
    rm -rf "$data"
}
trap cleanup EXIT

# API-key mode (the key on every request), no warm pool, and few live sessions: the
# generated sessions each start a container, so their number is kept small.
LIVECODE_LISTEN="127.0.0.1:$port" LIVECODE_DATA_DIR="$data" LIVECODE_INSTANCE="$instance" \
    LIVECODE_API_KEY="$key" LIVECODE_BUILD_IMAGES_ON_START=false \
    LIVECODE_READ_VERSIONS_ON_START=false LIVECODE_POOL__DEFAULT_SIZE=0 \
    LIVECODE_QUOTAS__MAX_LIVE_SESSIONS=10 LIVECODE_QUOTAS__SESSIONS_PER_MINUTE=1000 \
    LIVECODE_QUOTAS__RUNS_PER_MINUTE=1000 LIVECODE_LOG=warn \
    ./target/debug/livecode serve >"$data/server.log" 2>&1 &
server=$!

# From target/, where schemathesis keeps its `.schemathesis` cache.
cd target
"../$VENV/bin/schemathesis" run "http://127.0.0.1:$port/api/v1/openapi.json" \
    --wait-for-schema 30 \
    --url "http://127.0.0.1:$port" \
    --header "Authorization: Bearer $key" \
    --exclude-operation-id drain \
    --checks status_code_conformance,content_type_conformance,response_schema_conformance \
    --max-examples "${LIVECODE_SCHEMATHESIS_EXAMPLES:-25}" \
    --phases examples,coverage,fuzzing \
    --request-timeout 30 \
    --seed 1 \
    --no-color
