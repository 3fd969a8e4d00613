#!/usr/bin/env bash
# Interop with the reference gRPC implementation: Python grpcio calls a freshly started
# tradecore-server, over plain h2c and then over TLS with a throwaway certificate.
#
# Usage: Tools/interop/run_grpcio_interop.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
ensure_python_packages "grpcio==1.85.3"

server="${1:-}"
if [ -z "$server" ]; then
    (cd "$root" && swift build --product tradecore-server >&2)
    server="$(cd "$root" && swift build --show-bin-path)/tradecore-server"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

run_against() {
    local label="$1"; shift
    local port
    port="$(free_port)"
    "$server" --port "$port" --log-level warning "$@" >"$work/server-$label.log" 2>&1 &
    server_pid=$!
    wait_for_port "$port"
    local target="127.0.0.1:$port"
    local extra=()
    if [ "$label" = tls ]; then
        target="localhost:$port"
        extra=(--ca "$work/cert.pem")
    fi
    if ! "$PYTHON" "$root/Tools/interop/grpcio_interop.py" --target "$target" "${extra[@]}"; then
        log "server log ($label):"
        cat "$work/server-$label.log" >&2
        return 1
    fi
    kill -TERM "$server_pid"
    wait "$server_pid" || { log "the server did not exit cleanly on SIGTERM"; return 1; }
    server_pid=""
}

run_against plain
make_test_certificate "$work"
run_against tls --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
log "grpcio interop passed (plain and TLS)"
