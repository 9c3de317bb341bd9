#!/usr/bin/env bash
# Makes `debian:<suite>-slim` available to Docker (suite: $1, default trixie, Debian stable). Tries a pull
# first; on machines with no container registry it builds the image with debootstrap from the
# Debian mirror apt is configured with here and imports it. The rootfs tarball is cached, so a
# warm machine imports in seconds.
set -euo pipefail

SUITE=${1:-trixie}
IMAGE=debian:$SUITE-slim
CACHE_DIR=${LIVECODE_CACHE_DIR:-/var/cache/livecode}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  exit 0
fi
if timeout 60 docker pull "$IMAGE" >/dev/null 2>&1; then
  echo "bootstrap-base-image: pulled $IMAGE"
  exit 0
fi

mkdir -p "$CACHE_DIR"
tarball="$CACHE_DIR/$SUITE-minbase.tar"
if [ ! -s "$tarball" ]; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "bootstrap-base-image: installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq debootstrap >/dev/null
  fi
  # The mirror apt already uses here is the one this machine can reach; no mirror is written
  # into the project.
  mirror=$( (cat /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -E '^URIs:' | awk '{print $2}';
             grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}') \
    | grep -v security | head -n 1 || true)
  if [ -z "$mirror" ]; then
    echo "bootstrap-base-image: no Debian mirror in apt's configuration (/etc/apt/sources.list or" >&2
    echo "  /etc/apt/sources.list.d/*.sources); configure one, or make $IMAGE available to Docker" >&2
    exit 1
  fi
  root=$(mktemp -d)
  echo "bootstrap-base-image: debootstrap $SUITE from $mirror (about a minute)"
  debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$CACHE_DIR/debootstrap-$SUITE.log" 2>&1 || {
    tail -n 30 "$CACHE_DIR/debootstrap-$SUITE.log" >&2
    exit 1
  }
  # Trim what a container never needs, as the official slim image does.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$root"
fi
docker import "$tarball" "$IMAGE" >/dev/null
echo "bootstrap-base-image: imported $IMAGE from $tarball"
