#!/usr/bin/env bash
# Tests the compose cluster for real (deploy/cluster/compose.yml): builds the images
# (scripts/build-server-image.sh, scripts/build-cluster-images.sh), brings PostgreSQL, three
# replicas and nginx up under a project of its own against this machine's engine (installing
# docker-compose when missing, as root), checks PostgreSQL's password login and that every
# replica answers through nginx, then creates a session through nginx with the API key and
# runs a program. Everything it made goes, even on failure: containers, volumes, and the
# sessions' containers of its replicas. Needs the python environment image (scripts/test.sh
# builds it). LIVECODE_IMAGE names the server's image (livecode:latest).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-compose >/dev/null && ! docker compose version >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-cluster-compose: needs docker-compose (or the compose plugin)" >&2
    exit 1
  fi
  echo "test-cluster-compose: installing docker-compose"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
fi
project="livecode-cluster-test-$$"
compose() {
  local file=deploy/cluster/compose.yml
  if docker compose version >/dev/null 2>&1; then
    docker compose -f "$file" -p "$project" "$@"
  else
    docker-compose -f "$file" -p "$project" "$@"
  fi
}

export LIVECODE_IMAGE="${LIVECODE_IMAGE:-livecode:latest}"
bash scripts/build-server-image.sh "$LIVECODE_IMAGE"
bash scripts/build-cluster-images.sh

# The replicas' containers carry these labels, so that only this run's are removed.
export LIVECODE_INSTANCE_PREFIX="$project-"
export LIVECODE_PORT
LIVECODE_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export LIVECODE_PUBLIC_URL="http://127.0.0.1:$LIVECODE_PORT"
export DOCKER_GID
DOCKER_GID=$(stat -c %g /var/run/docker.sock)
export LIVECODE_API_KEY LIVECODE_POSTGRES_PASSWORD
LIVECODE_API_KEY=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
LIVECODE_POSTGRES_PASSWORD=$(python3 -c 'import secrets; print(secrets.token_hex(24))')
base="$LIVECODE_PUBLIC_URL"
cleanup() {
  status=$?
  [ "$status" -eq 0 ] || compose logs --no-color --tail 30 >&2 || true
  compose down -v >/dev/null 2>&1 || true
  for n in 1 2 3; do
    ids=$(docker ps -aq --filter "label=livecode.instance=${project}-replica$n")
    [ -z "$ids" ] || docker rm -f -v $ids >/dev/null
  done
}
trap cleanup EXIT

echo "--- the cluster comes up: PostgreSQL, three replicas, nginx on :$LIVECODE_PORT"
compose up -d >/dev/null 2>&1
for _ in $(seq 240); do
  curl -fsS "$base/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$base/api/v1/health" >/dev/null

echo "--- PostgreSQL takes the livecode role's password over TCP"
compose exec -T -e PGPASSWORD="$LIVECODE_POSTGRES_PASSWORD" postgres \
  psql -h 127.0.0.1 -U livecode -d livecode -tAc 'select current_user' | grep -qx livecode
if compose exec -T -e PGPASSWORD=wrong postgres \
  psql -h 127.0.0.1 -U livecode -d livecode -tAc 'select 1' >/dev/null 2>&1; then
  echo "PostgreSQL let a wrong password in" >&2; exit 1
fi

echo "--- every replica answers through nginx"
# Paths of no session are balanced round robin; nginx's access log names the replica that
# answered each request (upstream=), counted when it answered at the first try.
for _ in $(seq 30); do
  for _ in $(seq 6); do curl -fsS "$base/api/v1/health" >/dev/null; done
  answered=$(compose logs --no-color nginx 2>/dev/null | grep 'GET /api/v1/health' \
    | grep ' upstream_status=200 ' | grep -o 'upstream=[^ ]*' | sort -u | wc -l)
  [ "$answered" -ge 3 ] && break
  sleep 1
done
[ "$answered" -ge 3 ] || { echo "only $answered replicas answered through nginx" >&2; exit 1; }

echo "--- the replicas run as one cluster: each sees the three"
health=$(curl -fsS "$base/api/v1/health" -H "authorization: Bearer $LIVECODE_API_KEY")
python3 - "$health" <<'PY'
import json, sys
health = json.loads(sys.argv[1])
peers = health["cluster"]["peers"]
assert len(peers) == 3 and all(p["alive"] for p in peers), health
assert sorted(p["url"] for p in peers) == [f"http://replica{n}:8080" for n in (1, 2, 3)], health
PY

echo "--- a session through nginx, with the key"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$base/api/v1/sessions" \
  -H 'content-type: application/json' -d '{"environment":"python"}')
[ "$code" = 401 ] || { echo "without the key: expected 401, got $code" >&2; exit 1; }
created=$(curl -fsS -X POST "$base/api/v1/sessions" -H "authorization: Bearer $LIVECODE_API_KEY" \
  -H 'content-type: application/json' -d '{"environment":"python"}')
id=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["session_id"])' <<<"$created")
ran=$(curl -fsS -X POST "$base/api/v1/sessions/$id/execute" -H "authorization: Bearer $LIVECODE_API_KEY" \
  -H 'content-type: application/json' -d '{"code":"print(6*7)"}')
python3 - "$ran" <<'PY'
import json, sys
ran = json.loads(sys.argv[1])
assert ran["status"] == "completed" and ran["exit_code"] == 0, ran
assert ran["stdout"] == "42\n", ran
print("ran through the cluster:", ran["stdout"].strip(), f'({ran["execution_time"]:.3f} s)')
PY
echo "cluster compose: ok"
