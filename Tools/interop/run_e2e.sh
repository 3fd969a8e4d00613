#!/usr/bin/env bash
# The seed's flows end to end over the wire, through Python grpcio and stubs generated from
# Schemas/*.proto (see e2e_grpcio.py), against a freshly started tradecore-server with API tokens.
#
# Usage: Tools/interop/run_e2e.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs
server="$(server_binary "${1:-}")"

work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT

service_token="e2e-service-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
alice="$(python3 -c 'import uuid; print(uuid.uuid4())')"
bob="$(python3 -c 'import uuid; print(uuid.uuid4())')"
alice_token="alice-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
bob_token="bob-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# Alice's token is given as its digest, as a configuration file would keep it.
alice_digest="$(printf '%s' "$alice_token" | sha256sum | cut -d' ' -f1)"
tokens="service:e2e=$service_token,user:$alice=sha256:$alice_digest,user:$bob=$bob_token"

start_server "$server" "$work/server.log" --admin-port 0 --fill-poll-milliseconds 20 --api-tokens "$tokens"
if ! "$PYTHON" "$root/Tools/interop/e2e_grpcio.py" --target "127.0.0.1:$SERVER_PORT" --generated "$GENERATED" \
    --service-token "$service_token" --user "$alice:$alice_token" --user "$bob:$bob_token"; then
    log "server log:"
    cat "$work/server.log" >&2
    exit 1
fi
stop_server
log "end-to-end flows over grpcio passed"
