#!/usr/bin/env bash
# Makes sure PostgreSQL's server programs (initdb, pg_ctl) are on this machine: installs
# Debian's `postgresql` when they are missing (root only). Prints the directory that holds
# them. Idempotent; starts nothing (scripts/test-postgres.sh starts a cluster of its own).
set -euo pipefail

find_bin() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      echo "$dir"
      return 0
    fi
  done
  return 1
}

if ! find_bin >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "ensure-postgres: PostgreSQL is not installed and this is not root; install Debian's postgresql" >&2
    exit 1
  fi
  echo "ensure-postgres: installing postgresql" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian's package starts a cluster of its own on 5432; the tests never use it.
  apt-get install -y -qq postgresql >/dev/null
fi
find_bin
