#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine: installs docker.io and starts dockerd
# when none runs (CI machines start with nothing). Needs root for the install; idempotent.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-docker: no Docker engine and not root; install Docker (https://docs.docker.com/engine/install/)" >&2
    exit 1
  fi
  echo "ensure-docker: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq docker.io >/dev/null
fi

echo "ensure-docker: starting dockerd"
mkdir -p /var/log
nohup dockerd >/var/log/livecode-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "ensure-docker: engine ready ($(docker version --format '{{.Server.Version}}'))"
    exit 0
  fi
  sleep 1
done
echo "ensure-docker: dockerd did not come up; its log:" >&2
tail -n 40 /var/log/livecode-dockerd.log >&2 || true
exit 1
