#!/usr/bin/env bash
# A throwaway PostgreSQL server for the service tests (tests/service/test_db_postgres.py, marker `postgres`).
# Installs Debian's `postgresql` when no server binaries are found, creates a cluster in $PGDIR owned by the
# `postgres` user (when run as root) with a random password, starts it on 127.0.0.1:$PGPORT only, creates the
# database `threatevents_test`, and prints its SQLAlchemy URL on stdout (everything else goes to stderr):
#     export THREATEVENTS_TEST_PG_URL=$(bash .ci/postgres.sh)
# Idempotent: a second run reuses the running server. `bash .ci/postgres.sh stop` stops it.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PGPORT=${THREATEVENTS_PG_PORT:-54329}
PGDIR=${THREATEVENTS_PG_DIR:-/tmp/threatevents-pg}
DATA=$PGDIR/data
DB=threatevents_test

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BIN=$(find_bin)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "postgres.sh: need root or sudo to apt-get install postgresql" >&2; exit 1; }
    SUDO="sudo -n"
  fi
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN=$(find_bin)
fi

# initdb and postgres refuse to run as root: use the `postgres` account the Debian package creates.
if [ "$(id -u)" -eq 0 ]; then
  as_owner() { runuser -u postgres -- "$@"; }
  mkdir -p "$PGDIR" && chown postgres: "$PGDIR" && chmod 700 "$PGDIR"
else
  as_owner() { "$@"; }
  mkdir -p "$PGDIR" && chmod 700 "$PGDIR"
fi

if [ "${1:-}" = "stop" ]; then
  as_owner "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
  exit 0
fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  as_owner bash -c "umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > '$PGDIR/password'"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-host=scram-sha-256 --auth-local=peer \
    --pwfile="$PGDIR/password" -E UTF8 --locale=C.UTF-8 >&2
fi
PASSWORD=$(cat "$PGDIR/password")

if ! as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PGPORT -k $PGDIR -c fsync=off" start >&2
fi

export PGPASSWORD=$PASSWORD
PSQL=("$BIN/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA)
if [ "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]; then
  "${PSQL[@]}" -c "CREATE DATABASE $DB" >&2
fi
URL="postgresql+psycopg://postgres:$PASSWORD@127.0.0.1:$PGPORT/$DB"
(umask 077; echo "$URL" > "$PGDIR/url")
echo "$URL"
