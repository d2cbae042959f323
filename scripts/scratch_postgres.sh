#!/usr/bin/env bash
# A throwaway PostgreSQL for the test suite, on 127.0.0.1, in a temporary directory.
#
#   eval "$(bash scripts/scratch_postgres.sh start)"   # exports LIBERRY_TEST_POSTGRES_URL, PGSCRATCH
#   bash scripts/scratch_postgres.sh stop "$PGSCRATCH"
#
# Needs PostgreSQL's server binaries (Debian: apt-get install postgresql). As root, the server
# runs as the `postgres` user (initdb refuses root). Nothing outside the directory is touched.
set -euo pipefail

bindir() {
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/initdb" ]; then
    pg_config --bindir
  else
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
  fi
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    bin=$(bindir)
    [ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
    dir=$(mktemp -d /tmp/liberry-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_owner "$bin/initdb" -D "$dir/data" -U liberry --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U liberry liberry_test
    echo "export PGSCRATCH=$dir"
    echo "export LIBERRY_TEST_POSTGRES_URL=postgresql+psycopg://liberry@127.0.0.1:$port/liberry_test"
    ;;
  stop)
    dir=${2:?the directory printed by start}
    as_owner "$(bindir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
