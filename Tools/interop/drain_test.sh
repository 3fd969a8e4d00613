#!/usr/bin/env bash
# SIGTERM under load: while two subscribers follow the event stream and eight grpcio threads send
# CreateOrder as fast as they can, tradecore-server gets SIGTERM. Every call is answered or refused
# with UNAVAILABLE, the subscribers get a last checkpoint and a position to resume after, the
# server exits 0 with its store closed, and after a restart on the same data directory nothing
# acknowledged is lost (see drain_test.py, which runs the server itself).
#
# Usage: Tools/interop/drain_test.sh [path to tradecore-server binary] [drain_test.py options]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

run_server_script drain_test.py "$@"
log "drain under load passed"
