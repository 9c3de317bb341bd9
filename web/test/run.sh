#!/usr/bin/env bash
# Browser tests: installs Debian's Chromium if it is missing (root only; never a downloaded
# browser), installs the locked npm packages, and runs web/test against target/debug/livecode
# (build it first with `cargo build`; LIVECODE_BIN overrides the path). Screenshots land in
# test-artifacts/screenshots/ at the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "--- installing chromium"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    else
        echo "chromium is missing: apt-get install chromium (or set CHROMIUM_PATH)" >&2
        exit 1
    fi
fi
if [ ! -x "${LIVECODE_BIN:-../target/debug/livecode}" ]; then
    echo "target/debug/livecode is missing: run cargo build at the repository root first" >&2
    exit 1
fi

echo "--- npm ci"
npm ci --no-audit --no-fund
echo "--- browser tests"
npm test
