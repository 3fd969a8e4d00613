#!/usr/bin/env bash
# The seed's flows end to end over the wire, through Python grpcio and stubs generated from
# Schemas/*.proto (see e2e_grpcio.py), against a freshly started tradecore-server with API tokens.
#
# Usage: Tools/interop/run_e2e.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
ensure_debian_packages nghttp2-client
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

admin_port="$(free_port)"
start_server "$server" "$work/server.log" --fill-poll-milliseconds 20 --api-tokens "$tokens" --admin-port "$admin_port"
if ! "$PYTHON" "$root/Tools/interop/e2e_grpcio.py" --target "127.0.0.1:$SERVER_PORT" --generated "$GENERATED" \
    --service-token "$service_token" --user "$alice:$alice_token" --user "$bob:$bob_token"; then
    log "server log:"
    cat "$work/server.log" >&2
    exit 1
fi
# The metrics endpoint, read with plain curl: the calls just made, by method and status; the
# store's commits; the subscribers.
curl -sf "http://127.0.0.1:$admin_port/metrics" >"$work/metrics.txt"
for expected in 'tradecore_rpc_calls_total{method="CreateOrder",code="OK"}' \
    'tradecore_rpc_calls_total{method="UpdateOrder",code="ABORTED"}' \
    'tradecore_rpc_duration_seconds_bucket{method="GetOrder"' 'tradecore_store_commit_seconds_count' \
    'tradecore_store_appends_total' 'tradecore_commands_committed_total' 'tradecore_subscribers' \
    '# HELP tradecore_transport_calls_total' 'tradecore_transport_failed_calls_total' \
    'tradecore_transport_open_connections' "tradecore_build_info{version=\"$("$server" --version)\"}"; do
    grep -qF "$expected" "$work/metrics.txt" || { log "the metrics endpoint lacks $expected"; cat "$work/metrics.txt" >&2; exit 1; }
done
# The transport counts what the API never sees: a call to a method no service has.
before="$(sed -n 's/^tradecore_transport_failed_calls_total \([0-9]*\).*/\1/p' "$work/metrics.txt")"
nghttp -H ':method: POST' -H 'content-type: application/grpc' -H 'te: trailers' \
    "http://127.0.0.1:$SERVER_PORT/tradecore.api.v1.NoSuchService/Nothing" >/dev/null 2>&1 || true
after="$(curl -sf "http://127.0.0.1:$admin_port/metrics" | sed -n 's/^tradecore_transport_failed_calls_total \([0-9]*\).*/\1/p')"
[ "${after:-0}" -gt "${before:-0}" ] || { log "a call to an unknown method was not counted ($before, then $after)"; exit 1; }
log "metrics endpoint: $(grep -c '^tradecore_' "$work/metrics.txt") tradecore series"
# The admin endpoint's other answers: HEAD as GET without the body, 405 for other methods, the
# liveness probe, and a 404 that names what is there.
admin="http://127.0.0.1:$admin_port"
[ "$(curl -s -o /dev/null -w '%{http_code}' -I "$admin/metrics")" = 200 ] || { log "HEAD /metrics did not answer 200"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$admin/metrics")" = 405 ] || { log "POST /metrics did not answer 405"; exit 1; }
[ "$(curl -s "$admin/healthz")" = ok ] || { log "GET /healthz did not answer ok"; exit 1; }
[ "$(curl -s "$admin/readyz")" = ready ] || { log "GET /readyz did not answer ready while serving"; exit 1; }
curl -s "$admin/nothing" | grep -q "/metrics" || { log "a 404 on the admin port does not name /metrics"; exit 1; }
# curl's first try at the API port speaks HTTP/1.1: it gets an answer it can show, not HTTP/2 bytes.
status="$(curl -s -o "$work/http1.txt" -w '%{http_code}' "http://127.0.0.1:$SERVER_PORT/" || true)"
[ "$status" = 505 ] && grep -q "speaks HTTP/2 only" "$work/http1.txt" ||
    { log "an HTTP/1.1 request got status '$status' and: $(head -c 300 "$work/http1.txt")"; exit 1; }
# Its next try, HTTP/2 without TLS, is a GET: a 405 whose text says what the port wants.
status="$(curl -s --http2-prior-knowledge -o "$work/http2get.txt" -w '%{http_code}' "http://127.0.0.1:$SERVER_PORT/" || true)"
[ "$status" = 405 ] && grep -q "POST requests with content-type application/grpc" "$work/http2get.txt" ||
    { log "an HTTP/2 GET got status '$status' and: $(head -c 300 "$work/http2get.txt")"; exit 1; }

stop_server
log "end-to-end flows over grpcio passed"
