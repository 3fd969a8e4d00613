# A throwaway PostgreSQL cluster for the tests: source after common.sh.
#
# start_test_postgres installs PostgreSQL from Debian's packages if it is missing, creates a cluster
# under a temporary directory (owned by the `postgres` user when run as root, since the server
# refuses to run as root), starts it on a free loopback port with password authentication, creates
# a database, and exports TRADECORE_TEST_POSTGRES_URL for the tests. stop_test_postgres stops it
# and deletes the directory; start_test_postgres arranges for it to run on exit.

postgres_bin() {
    local bin
    for bin in /usr/lib/postgresql/*/bin; do
        [ -x "$bin/initdb" ] && { echo "$bin"; return 0; }
    done
    return 1
}

# Runs a command as the cluster's owner.
as_postgres_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start_test_postgres() {
    postgres_bin >/dev/null || ensure_debian_packages postgresql
    local bin password
    bin="$(postgres_bin)"
    TEST_POSTGRES_DIR="$(mktemp -d /tmp/tradecore-postgres.XXXXXX)"
    TEST_POSTGRES_PORT="$(free_port)"
    password="tradecore-test-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$TEST_POSTGRES_DIR"
    printf '%s\n' "$password" >"$TEST_POSTGRES_DIR/pwfile"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$TEST_POSTGRES_DIR/pwfile"
    log "starting a PostgreSQL cluster on 127.0.0.1:$TEST_POSTGRES_PORT ($($bin/postgres --version))"
    as_postgres_owner "$bin/initdb" -D "$TEST_POSTGRES_DIR/data" -U tradecore --pwfile="$TEST_POSTGRES_DIR/pwfile" \
        --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$TEST_POSTGRES_DIR/initdb.log" 2>&1 ||
        { cat "$TEST_POSTGRES_DIR/initdb.log" >&2; return 1; }
    TEST_POSTGRES_OPTIONS="-p $TEST_POSTGRES_PORT -k $TEST_POSTGRES_DIR -c listen_addresses=127.0.0.1 -c max_connections=400"
    as_postgres_owner "$bin/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -l "$TEST_POSTGRES_DIR/server.log" -w -t 60 \
        -o "$TEST_POSTGRES_OPTIONS" start >/dev/null || { cat "$TEST_POSTGRES_DIR/server.log" >&2; return 1; }
    trap stop_test_postgres EXIT
    PGPASSWORD="$password" "$bin/createdb" -h 127.0.0.1 -p "$TEST_POSTGRES_PORT" -U tradecore tradecore_test
    export TRADECORE_TEST_POSTGRES_URL="postgres://tradecore:$password@127.0.0.1:$TEST_POSTGRES_PORT/tradecore_test"
}

stop_test_postgres() {
    [ -n "${TEST_POSTGRES_DIR:-}" ] || return 0
    as_postgres_owner "$(postgres_bin)/pg_ctl" -D "$TEST_POSTGRES_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$TEST_POSTGRES_DIR"
    TEST_POSTGRES_DIR=""
}
