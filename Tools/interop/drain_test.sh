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

# Building the server needs the C libraries' headers; a given binary does not.
[ -n "${1:-}" ] || ensure_build_dependencies
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs
server="$(server_binary "${1:-}")"
shift || true

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

if ! "$PYTHON" "$root/Tools/interop/drain_test.py" --server "$server" --generated "$GENERATED" --work "$work" "$@"; then
    for server_log in "$work"/server-*.log; do
        [ -e "$server_log" ] || continue
        log "server log $(basename "$server_log"):"
        cat "$server_log" >&2
    done
    exit 1
fi
log "drain under load passed"
