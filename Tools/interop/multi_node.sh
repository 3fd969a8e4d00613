#!/usr/bin/env bash
# Two tradecore-server processes on one PostgreSQL database: 32 clients send conflicting commands
# to both; no lost update, one log in one order on both nodes; node A is killed with SIGKILL and
# node B takes over its projections and sagas (see multi_node.py, which runs the servers itself).
# Uses TRADECORE_TEST_POSTGRES_URL when set, else starts a throwaway PostgreSQL cluster.
#
# Usage: Tools/interop/multi_node.sh [path to tradecore-server binary] [multi_node.py options]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/postgres.sh"

[ -n "${TRADECORE_TEST_POSTGRES_URL:-}" ] || start_test_postgres
binary="${1:-}"
shift || true
run_server_script multi_node.py "$binary" --postgres-url "$TRADECORE_TEST_POSTGRES_URL" "$@"
log "two servers on one database passed"
