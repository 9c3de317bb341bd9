#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: its own data directory and a free port on
# 127.0.0.1, never the machine's own cluster.
#
#   eval "$(bash scripts/test-postgres.sh start)"   # exports LIVECODE_TEST_POSTGRES_URL, _DIR
#   bash scripts/test-postgres.sh stop "$LIVECODE_TEST_POSTGRES_DIR"
#
# The URL names the `postgres` database of a superuser; tests create a database each in it.
set -euo pipefail
cd "$(dirname "$0")/.."

cmd=${1:-}
case "$cmd" in
  start)
    bin=$(bash scripts/ensure-postgres.sh)
    dir=$(mktemp -d /tmp/livecode-pg.XXXXXX)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # initdb refuses to run as root; the package made the `postgres` user.
    as=()
    if [ "$(id -u)" = 0 ]; then
      chown postgres: "$dir"
      as=(runuser -u postgres --)
    fi
    "${as[@]}" "$bin/initdb" -D "$dir/data" -U livecode --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # Tests open a pool per server; dozens of servers run at once.
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=1000 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "export LIVECODE_TEST_POSTGRES_URL=postgres://livecode@127.0.0.1:$port/postgres"
    echo "export LIVECODE_TEST_POSTGRES_DIR=$dir"
    ;;
  stop)
    dir=${2:?usage: test-postgres.sh stop DIR}
    bin=$(bash scripts/ensure-postgres.sh)
    as=()
    [ "$(id -u)" = 0 ] && as=(runuser -u postgres --)
    "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: test-postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
