#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: Debian's postgresql package,
# a fresh data directory in a temporary folder, reachable only through a Unix
# socket in that folder (no TCP port, so it never collides with another server).
#
#   eval "$(bash scripts/ci_postgres.sh start)"   # exports EMOBENCH_TEST_PG_URL, EMOBENCH_TEST_PG_DIR
#   bash scripts/ci_postgres.sh stop "$EMOBENCH_TEST_PG_DIR"
#
# Everything but the export lines goes to stderr.
set -euo pipefail

pg_bin() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$bin" ] && command -v apt-get >/dev/null 2>&1; then
        echo "ci_postgres: installing Debian's postgresql package" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    [ -n "$bin" ] || { echo "ci_postgres: no PostgreSQL server binaries and no apt-get" >&2; exit 1; }
    echo "$bin"
}

# PostgreSQL refuses to run as root: the server runs as the package's user.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
    local bin dir
    bin=$(pg_bin)
    dir=$(mktemp -d /tmp/emobench-pg.XXXXXX)
    mkdir "$dir/data" "$dir/socket"
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$dir"
    as_pg "$bin/initdb" --pgdata="$dir/data" --username=postgres --auth=trust \
        --encoding=UTF8 --no-instructions >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$bin/pg_ctl" --pgdata="$dir/data" --log="$dir/server.log" --wait --timeout=60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir/socket' -c fsync=off" start >&2 \
        || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$bin/createdb" --host="$dir/socket" --username=postgres emobench_test >&2
    echo "ci_postgres: server up, socket in $dir/socket" >&2
    echo "export EMOBENCH_TEST_PG_DIR='$dir'"
    echo "export EMOBENCH_TEST_PG_URL='postgresql+psycopg://postgres@/emobench_test?host=$dir/socket'"
}

stop() {
    local dir=${1:?usage: ci_postgres.sh stop DIR}
    [ -d "$dir/data" ] || return 0
    as_pg "$(pg_bin)/pg_ctl" --pgdata="$dir/data" --mode=fast --wait stop >&2 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *) echo "usage: $0 start | stop DIR" >&2; exit 2 ;;
esac
