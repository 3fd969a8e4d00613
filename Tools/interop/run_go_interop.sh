#!/usr/bin/env bash
# Interop with grpc-go, from Debian's packages (golang-google-grpc-dev 1.33, Go 1.19): a fourth
# HTTP/2 and gRPC stack beside grpcio's C-core, grpc-java's Netty and nghttp2. Messages and stubs
# that protoc-gen-go and protoc-gen-go-grpc generate from Schemas/*.proto run the seed's flow end to
# end, the error details, grpc-go's transport behaviours (BDP pings, keepalive, deadlines,
# cancellation, 1000 calls in flight, gzip, size limits, metadata, health, reflection), TLS, and a
# SIGTERM drain under load (go/*.go), against freshly started tradecore-servers.
#
# Usage: Tools/interop/run_go_interop.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

binary="${1:-}"
# Building the server needs the C libraries' headers; a given binary does not.
[ -n "$binary" ] || ensure_build_dependencies
# golang-github-golang-protobuf-1-5-dev is named because apt satisfies golang-google-grpc-dev's
# "1-3-dev | 1-5-dev" with the first: grpc-go's codec then goes through golang/protobuf 1.3, which
# cannot read the messages protoc-gen-go 1.28 generates (it panics, "protobuf tag not enough
# fields in SubscribeResponse.state", on the first oneof). 1.5 replaces 1.3.
ensure_debian_packages golang-go golang-google-grpc-dev golang-github-golang-protobuf-1-5-dev golang-google-protobuf-dev \
    golang-google-genproto-dev protobuf-compiler protoc-gen-go protoc-gen-go-grpc openssl
server="$(server_binary "$binary")"

work="$(mktemp -d)"
tls_pid=""
cleanup() {
    stop_server || true
    if [ -n "$tls_pid" ]; then
        SERVER_PID="$tls_pid"
        tls_pid=""
        stop_server || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Debian installs the Go libraries' sources under /usr/share/gocode: GOPATH mode, no module proxy.
export GO111MODULE=off GOFLAGS="" GOPATH="$work/gopath:/usr/share/gocode"
[ -n "${HOME:-}" ] || export GOCACHE="${GOCACHE:-/tmp/tradecore-go-build-cache}"

log "generating and building the grpc-go client"
# The schemas carry no go_package: each file is mapped to a Go import path with protoc-gen-go's M
# options. health.proto and reflection.proto are left out: their packages (grpc.health.v1,
# grpc.reflection.v1) are grpc-go's own, and linking a second copy of grpc.health.v1 beside
# google.golang.org/grpc/health/grpc_health_v1 panics at start-up (protobuf's registry refuses a
# name registered twice). The client uses grpc-go's health and reflection packages instead.
generated="$work/gopath/src"
mkdir -p "$generated"
protos=()
mappings=()
for proto in "$root"/Schemas/*.proto; do
    name="$(basename "$proto" .proto)"
    case "$name" in health | reflection) continue ;; esac
    protos+=("$proto")
    mappings+=("--go_opt=M$name.proto=tradecore/gen/$name" "--go-grpc_opt=M$name.proto=tradecore/gen/$name")
done
protoc -I "$root/Schemas" "${mappings[@]}" --go_out="$generated" --go-grpc_out="$generated" "${protos[@]}"
(cd "$root/Tools/interop/go" && go build -o "$work/go-interop" .)

# A TLS server with a throwaway certificate, open (no tokens: loopback only) ...
make_test_certificate "$work"
start_server "$server" "$work/tls-server.log" --tls-cert "$work/cert.pem" --tls-key "$work/key.pem"
tls_pid="$SERVER_PID"
tls_port="$SERVER_PORT"
SERVER_PID=""
# ... and the server under test, with a service token and two users' tokens.
service_token="service-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
alice="$(cat /proc/sys/kernel/random/uuid)"
bob="$(cat /proc/sys/kernel/random/uuid)"
alice_token="alice-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
bob_token="bob-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
start_server "$server" "$work/server.log" \
    --api-tokens "service:interop=$service_token,user:$alice=$alice_token,user:$bob=$bob_token"

log "running the grpc-go checks (about 30 s: the keepalive check holds its connections 25 s)"
status=0
"$work/go-interop" -target "127.0.0.1:$SERVER_PORT" -service-token "$service_token" \
    -user "$alice:$alice_token" -user "$bob:$bob_token" -tls-target "127.0.0.1:$tls_port" -tls-ca "$work/cert.pem" \
    -server-pid "$SERVER_PID" || status=$?

# The last check sent the server SIGTERM: it must have drained and exited cleanly.
server_status=0
if [ -n "${SERVER_PID:-}" ]; then
    pid="$SERVER_PID"
    SERVER_PID=""
    # Give the drain its grace (10 s) and a little more; a server still running then never got
    # the signal (the checks stopped early) and is stopped here.
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
        log "the server was still running after the checks: stopping it"
        kill -TERM "$pid" 2>/dev/null || true
        [ "$status" -ne 0 ] || status=1
    fi
    wait "$pid" || server_status=$?
    [ "$server_status" -eq 0 ] || log "the server did not exit cleanly after SIGTERM (status $server_status)"
fi
if [ "$status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
    log "server log:"
    cat "$work/server.log" >&2
    log "TLS server log:"
    cat "$work/tls-server.log" >&2
    exit 1
fi
SERVER_PID="$tls_pid"
tls_pid=""
stop_server
log "grpc-go interop passed"
