#!/usr/bin/env bash
# Runs every test of livecode: unit tests, and integration tests against a real Docker engine,
# on SQLite and again on PostgreSQL. Installs and starts Docker when it is missing (root only),
# makes the base image when no registry can be reached, and builds the runner and the
# environment images first.
set -euo pipefail
cd "$(dirname "$0")/.."

# A throwaway PostgreSQL cluster on loopback (Debian's postgresql, installed when missing) for
# the store tests and the suite's pass on PostgreSQL; stopped however this script ends.
postgres=$(bash scripts/test-postgres.sh start) # assigned first, so that a failed start stops here
eval "$postgres"
trap 'bash scripts/test-postgres.sh stop "$LIVECODE_TEST_POSTGRES_DIR"' EXIT

# Debian's nginx (installed when missing, never started as the system's): the balancer and
# cluster tests run their own in front of their replicas.
LIVECODE_NGINX=$(bash scripts/ensure-nginx.sh)
export LIVECODE_NGINX

bash scripts/ensure-docker.sh
# gVisor's runsc, registered with that engine, for the gvisor tests and conformance under it.
bash scripts/ensure-runsc.sh
# Every image, the runner's included, is built on Debian stable.
bash scripts/bootstrap-base-image.sh trixie

cargo build --locked
echo "--- building environment images"
./target/debug/livecode images build
bash scripts/check-readme-table.sh

echo "--- cargo test"
cargo test --locked -- --test-threads "${LIVECODE_TEST_THREADS:-4}"

echo "--- the integration suite again, on PostgreSQL"
# The balancer and cluster tests are the same on both passes (a cluster is always PostgreSQL).
LIVECODE_IT_STORE=postgres cargo test --locked --test it -- --test-threads "${LIVECODE_TEST_THREADS:-4}" \
  --skip balancer:: --skip cluster::

echo "--- conformance of python, c, java and node under gVisor (runsc)"
LIVECODE_CONFORMANCE_RUNTIME=runsc LIVECODE_CONFORMANCE_ENVIRONMENTS=python,c,java,node \
  cargo test --locked --test conformance

echo "--- schemathesis against the server's OpenAPI document"
bash scripts/schemathesis.sh

echo "--- the server's image, started with docker-compose.yml"
bash scripts/test-server-image.sh

echo "--- the compose cluster: PostgreSQL, three replicas, nginx (deploy/cluster/compose.yml)"
bash scripts/test-cluster-compose.sh

echo "--- browser tests (headless Chromium; screenshots in test-artifacts/screenshots/)"
bash web/test/run.sh
