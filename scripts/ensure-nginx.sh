#!/usr/bin/env bash
# Makes sure an nginx binary is on this machine: installs Debian's `nginx` when it is missing
# (root only), and prints the binary's path. Idempotent; never starts the system's nginx (the
# balancer tests run their own, from deploy/nginx.conf, on a port of their own).
set -euo pipefail

find_bin() {
  local bin
  for bin in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
    if [ -n "$bin" ] && [ -x "$bin" ]; then
      echo "$bin"
      return 0
    fi
  done
  return 1
}

if ! find_bin >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-nginx: nginx is not installed and this is not root; install Debian's nginx" >&2
    exit 1
  fi
  echo "ensure-nginx: installing nginx" >&2
  # Debian's package starts the system's nginx (on port 80) unless policy-rc.d forbids it;
  # forbid it for this install when nothing forbids it already.
  policy=/usr/sbin/policy-rc.d
  made_policy=""
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod +x "$policy"
    made_policy=yes
  fi
  trap '[ -z "$made_policy" ] || rm -f "$policy"' EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq nginx >/dev/null
fi
find_bin
