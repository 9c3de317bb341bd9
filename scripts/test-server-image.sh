#!/usr/bin/env bash
# Tests the server's image for real: builds it (scripts/build-server-image.sh), starts it with
# docker-compose.yml against this machine's engine (installing docker-compose when missing,
# as root), checks that it refuses open mode, then creates a session through it with the API
# key and runs a program. Needs the python environment image (scripts/test.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-server-image: needs docker-compose (or the compose plugin)" >&2
    exit 1
  fi
  echo "test-server-image: installing docker-compose"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
compose() {
  if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}

bash scripts/build-server-image.sh livecode:latest

project="livecode-image-test-$$"
export LIVECODE_INSTANCE="$project"
export LIVECODE_PORT
LIVECODE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export DOCKER_GID
DOCKER_GID=$(stat -c %g /var/run/docker.sock)
base="http://127.0.0.1:$LIVECODE_PORT"
cleanup() {
  status=$?
  [ "$status" -eq 0 ] || compose -p "$project" logs --no-color --tail 30 >&2 || true
  compose -p "$project" down -v >/dev/null 2>&1 || true
  ids=$(docker ps -aq --filter "label=livecode.instance=$project")
  [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
}
trap cleanup EXIT

echo "--- without an API key, the compose file's server refuses to start"
export LIVECODE_API_KEY=""
compose -p "$project" up -d >/dev/null 2>&1
refused=""
for _ in $(seq 40); do
  if compose -p "$project" logs --no-color 2>&1 | grep -q "allow_open_mode is false"; then refused=yes; break; fi
  sleep 0.5
done
[ -n "$refused" ] || { echo "expected the server to refuse open mode" >&2; exit 1; }
if curl -fsS "$base/api/v1/health" >/dev/null 2>&1; then
  echo "the server serves in open mode" >&2; exit 1
fi
echo "refused: $(compose -p "$project" logs --no-color 2>&1 | grep -m1 -o "api_key is empty.*")"
compose -p "$project" down >/dev/null 2>&1

echo "--- with a key, a session through the container"
LIVECODE_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
compose -p "$project" up -d >/dev/null 2>&1
for _ in $(seq 120); do
  curl -fsS "$base/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$base/api/v1/health" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/sessions" \
  -H 'content-type: application/json' -d '{"environment":"python"}')
[ "$code" = 401 ] || { echo "without the key: expected 401, got $code" >&2; exit 1; }
created=$(curl -fsS -X POST "$base/api/v1/sessions" -H "authorization: Bearer $LIVECODE_API_KEY" \
  -H 'content-type: application/json' -d '{"environment":"python","code":"print(input()[::-1])"}')
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])' <<<"$created")
ran=$(curl -fsS -X POST "$base/api/v1/sessions/$id/execute" -H "authorization: Bearer $LIVECODE_API_KEY" \
  -H 'content-type: application/json' -d '{"stdin":"egami\n"}')
python3 - "$ran" <<'PY'
import json, sys
ran = json.loads(sys.argv[1])
assert ran["status"] == "completed" and ran["exit_code"] == 0, ran
assert ran["stdout"] == "image\n", ran
print("ran through the image:", ran["stdout"].strip(), f'({ran["execution_time"]:.3f} s)')
PY
curl -fsS "$base/metrics" -H "authorization: Bearer $LIVECODE_API_KEY" | grep -q '^livecode_runs_total{environment="python",status="completed"} 1'
echo "server image: ok"
