#!/usr/bin/env bash
# Makes gVisor's runsc a runtime of this machine's Docker engine, for `docker.runtime = "runsc"`
# and the tests that use it: installs Debian's `runsc` when missing (root only), adds a `runsc`
# entry to /etc/docker/daemon.json (merged: other keys are kept), reloads dockerd with SIGHUP
# (running containers are untouched) and waits until `docker info` lists the runtime.
# Idempotent. Run after scripts/ensure-docker.sh.
#
# `--network=none` in the runtime's args: a session container has no network anyway
# (`NetworkDisabled`), and without it runsc sets up its own netstack from the (empty) namespace.
set -euo pipefail

DAEMON_JSON=${LIVECODE_DAEMON_JSON:-/etc/docker/daemon.json}

listed() { docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}' | tr ' ' '\n' | grep -qx runsc; }

runsc_bin=$(command -v runsc || true)
if [ -z "$runsc_bin" ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-runsc: runsc is not installed and this is not root; install Debian's 'runsc' package" >&2
    exit 1
  fi
  echo "ensure-runsc: installing runsc"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq runsc >/dev/null
  runsc_bin=$(command -v runsc)
fi

if listed; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-runsc: the engine has no 'runsc' runtime and this is not root to register it in $DAEMON_JSON" >&2
  exit 1
fi

echo "ensure-runsc: registering $runsc_bin in $DAEMON_JSON"
mkdir -p "$(dirname "$DAEMON_JSON")"
python3 - "$DAEMON_JSON" "$runsc_bin" <<'EOF'
import json, os, sys
path, binary = sys.argv[1], sys.argv[2]
config = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        config = json.load(f)
config.setdefault("runtimes", {})["runsc"] = {"path": binary, "runtimeArgs": ["--network=none"]}
tmp = path + ".livecode-tmp"
with open(tmp, "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
EOF

# dockerd re-reads daemon.json on SIGHUP (runtimes are among what it reloads) without touching
# running containers. Its pid file names the engine; else the one dockerd ensure-docker started.
pid=$(cat /var/run/docker.pid 2>/dev/null || pgrep -xo dockerd || true)
if [ -z "$pid" ]; then
  echo "ensure-runsc: no dockerd process to reload; run scripts/ensure-docker.sh first" >&2
  exit 1
fi
kill -HUP "$pid"
for _ in $(seq 1 30); do
  if listed; then
    echo "ensure-runsc: runtime runsc ready ($("$runsc_bin" --version 2>/dev/null | head -n 1))"
    exit 0
  fi
  sleep 1
done
echo "ensure-runsc: dockerd did not list the runsc runtime after a reload; check $DAEMON_JSON" >&2
exit 1
