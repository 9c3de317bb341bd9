#!/usr/bin/env bash
# Builds the compose cluster's own images (deploy/cluster/compose.yml) from Debian's packages on
# debian:trixie-slim, which it makes when it cannot be pulled: livecode-postgres:latest and
# livecode-nginx:latest (or $1 and $2). The server's image is scripts/build-server-image.sh's.
set -euo pipefail
cd "$(dirname "$0")/.."
postgres_tag="${1:-livecode-postgres:latest}"
nginx_tag="${2:-livecode-nginx:latest}"

bash scripts/bootstrap-base-image.sh trixie
mkdir -p .docker
# The context is deploy/: the nginx config and the PostgreSQL entrypoint, nothing else.
for pair in "postgres:$postgres_tag" "nginx:$nginx_tag"; do
  name=${pair%%:*} tag=${pair#*:}
  echo "--- building $tag"
  DOCKER_BUILDKIT=0 docker build -t "$tag" -f "deploy/cluster/$name.Dockerfile" deploy \
    > ".docker/build-$name.log" 2>&1 \
    || { tail -n 40 ".docker/build-$name.log" >&2; exit 1; }
  echo "built $tag"
done
