#!/usr/bin/env bash
# Crash loop: a grpcio client sends commands at full speed while tradecore-server is killed with
# SIGKILL and restarted on the same data directory, 20 times; then every acknowledged command is
# in the log with its result, none is half applied, every aggregate still loads, and the last
# server drains and exits 0 on SIGTERM (see crash_loop.py, which runs the server itself).
#
# Usage: Tools/interop/crash_loop.sh [path to tradecore-server binary] [crash_loop.py options]
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

if ! "$PYTHON" "$root/Tools/interop/crash_loop.py" --server "$server" --generated "$GENERATED" --work "$work" "$@"; then
    for server_log in "$work"/server-*.log; do
        [ -e "$server_log" ] || continue
        log "server log $(basename "$server_log"):"
        cat "$server_log" >&2
    done
    exit 1
fi
log "crash loop passed"
