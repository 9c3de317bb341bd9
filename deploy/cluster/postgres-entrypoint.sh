#!/bin/sh
# Starts PostgreSQL on $PGDATA, listening on every address with password (SCRAM) logins. On the
# first start (an empty $PGDATA) it makes the cluster, and the `livecode` role with the password
# $POSTGRES_PASSWORD and the `livecode` database it owns; the superuser `postgres` may log in
# only through the container's own socket.
set -eu

: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD, the livecode role's password}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --no-locale \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  {
    echo "listen_addresses = '*'"
    echo "password_encryption = 'scram-sha-256'"
  } >> "$PGDATA/postgresql.conf"
  {
    echo "host all all 0.0.0.0/0 scram-sha-256"
    echo "host all all ::/0 scram-sha-256"
  } >> "$PGDATA/pg_hba.conf"
  # The role and database are made on a server reachable only through a private socket.
  sock=$(mktemp -d)
  "$bin/pg_ctl" -D "$PGDATA" -w -o "-c listen_addresses='' -k $sock" start >/dev/null
  # psql quotes the password itself (:'password'), whatever it holds.
  psql -h "$sock" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -v password="$POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE livecode LOGIN PASSWORD :'password';
CREATE DATABASE livecode OWNER livecode;
SQL
  "$bin/pg_ctl" -D "$PGDATA" -w -m fast stop >/dev/null
  rmdir "$sock"
  echo "postgres-entrypoint: made the cluster, the livecode role and its database"
fi
exec "$bin/postgres" -D "$PGDATA"
