#!/usr/bin/env bash
# PostgreSQL stopped for two seconds under load (pg_ctl stop -m fast, then start) while
# tradecore-server serves on it:
# UNAVAILABLE with a clear message while it is down, the server reconnects by itself, nothing
# acknowledged is missing (see postgres_restart.py). Starts a cluster of its own to restart.
#
# Usage: Tools/interop/postgres_restart.sh [path to tradecore-server binary] [postgres_restart.py options]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/postgres.sh"

start_test_postgres
binary="${1:-}"
shift || true
# The command the script runs to take the cluster down for two seconds, as the cluster's owner.
owner=""
[ "$(id -u)" -eq 0 ] && owner="runuser -u postgres --"
pg_ctl="$owner $(postgres_bin)/pg_ctl -D $TEST_POSTGRES_DIR/data -w -t 60"
restart="$pg_ctl -m fast stop >/dev/null && sleep 2 && $pg_ctl -l $TEST_POSTGRES_DIR/server.log -o '$TEST_POSTGRES_OPTIONS' start >/dev/null"
run_server_script postgres_restart.py "$binary" --postgres-url "$TRADECORE_TEST_POSTGRES_URL" \
    --restart-command "$restart" "$@"
log "PostgreSQL restarted under load: passed"
