#!/usr/bin/env bash
# h2load (nghttp2's load generator, a client we did not write) sends 100,000 unary Pings with
# a real gRPC-framed body; every one must succeed at the HTTP/2 level, and the server must
# count 100,000 calls and no failed one (grpc-status lives in trailers h2load does not read).
#
# Usage: Tools/load/h2load_smoke.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
ensure_debian_packages nghttp2-client
ensure_python_packages "grpcio==1.85.3"
server="$(server_binary "${1:-}")"

work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT
start_server "$server" "$work/server.log"

python3 "$root/Tools/lib/ping_body.py" "$work/ping.bin" 120
requests=100000
h2load -n "$requests" -c 4 -m 32 -t 1 -d "$work/ping.bin" \
    -H "content-type: application/grpc" -H "te: trailers" \
    "http://127.0.0.1:$SERVER_PORT/tradecore.diagnostics.v1.Diagnostics/Ping" | tee "$work/h2load.txt"

grep -q "requests: $requests total, $requests started, $requests done, $requests succeeded, 0 failed, 0 errored, 0 timeout" "$work/h2load.txt" \
    || { log "h2load reported failures"; exit 1; }
grep -q "status codes: $requests 2xx" "$work/h2load.txt" || { log "not every response was HTTP 200"; exit 1; }

"$PYTHON" "$root/Tools/lib/server_stats.py" "127.0.0.1:$SERVER_PORT" | tee "$work/stats.txt"
# The stats call itself is one more call, still active while it is answered.
grep -qx "total_calls=$((requests + 1))" "$work/stats.txt" || { log "the server did not count $requests calls"; exit 1; }
grep -qx "failed_calls=0" "$work/stats.txt" || { log "some calls failed at the gRPC level"; exit 1; }
stop_server
log "h2load: $requests unary Pings, 0 failures"
