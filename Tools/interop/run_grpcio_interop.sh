#!/usr/bin/env bash
# Interop with the reference gRPC implementation: Python grpcio calls a freshly started
# tradecore-server, over plain h2c and then over TLS with a throwaway certificate, through the
# classes and stubs grpcio-tools generates from Schemas/*.proto.
#
# Usage: Tools/interop/run_grpcio_interop.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs
server="$(server_binary "${1:-}")"

work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT

# Runs the checks against a server started with the given extra arguments.
run_against() {
    local label="$1"
    shift
    start_server "$server" "$work/server-$label.log" "$@"
    local target="127.0.0.1:$SERVER_PORT" extra=()
    if [ "$label" = tls ]; then
        target="localhost:$SERVER_PORT"
        extra=(--ca "$work/cert.pem")
    fi
    if ! "$PYTHON" "$root/Tools/interop/grpcio_interop.py" --target "$target" --generated "$GENERATED" "${extra[@]}"; then
        log "server log ($label):"
        cat "$work/server-$label.log" >&2
        return 1
    fi
    stop_server
}

run_against plain
make_test_certificate "$work"
run_against tls --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
log "grpcio interop passed (plain and TLS)"
