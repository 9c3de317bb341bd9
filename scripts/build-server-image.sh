#!/usr/bin/env bash
# Builds the server's image (Dockerfile) as livecode:latest (or $1), on a machine with no
# container registry too: makes debian:trixie-slim when it cannot be pulled, and vendors the
# crates into the context from cargo's own cache and registry (as this machine's cargo is
# configured), so that the image build needs no crate registry.
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-livecode:latest}"

bash scripts/bootstrap-base-image.sh trixie
mkdir -p .docker
cargo vendor --locked --versioned-dirs .docker/vendor >/dev/null 2>.docker/vendor.log \
  || { cat .docker/vendor.log >&2; exit 1; }
# The image's cargo takes every crate from the vendored copy.
cat > .docker/cargo-config.toml <<'TOML'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "/vendor"
TOML
echo "--- building $tag (the release binary: minutes on a fresh machine)"
DOCKER_BUILDKIT=0 docker build -t "$tag" . > .docker/build.log 2>&1 \
  || { tail -n 40 .docker/build.log >&2; exit 1; }
echo "built $tag"
