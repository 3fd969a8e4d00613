#!/usr/bin/env bash
# PostgreSQL beside SQLite and beside pgbench, in one run:
#  1. tradecore-store-bench: single-event appends per second at 1, 16 and 256 appenders on the
#     PostgreSQL store and on SQLite (fsync on for both);
#  2. pgbench on the same cluster, a one-row INSERT transaction with the same client counts: what
#     PostgreSQL itself does per durable transaction here, the yardstick of (1);
#  3. durable CreateOrder calls per second through two tradecore-server processes sharing the
#     database (h2load on both at once), and through one.
# Uses TRADECORE_TEST_POSTGRES_URL when set, else starts a throwaway cluster.
#
# Usage: Tools/bench/postgres_benchmark.sh [seconds=5] [requests per server=20000]
# A benchmark, not a test: it prints figures and never fails on them.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
source "$(dirname "$0")/../lib/postgres.sh"

seconds="${1:-5}"
requests="${2:-20000}"
ensure_build_dependencies
ensure_debian_packages nghttp2-client bc
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs
[ -n "${TRADECORE_TEST_POSTGRES_URL:-}" ] || start_test_postgres
url="$TRADECORE_TEST_POSTGRES_URL"
log "building (release)"
(cd "$root" && swift build -c release --product tradecore-store-bench >&2 && swift build -c release --product tradecore-server >&2)
bin="$(cd "$root" && swift build -c release --show-bin-path)"
work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap 'cleanup; stop_test_postgres' EXIT

echo "== 1. appends: PostgreSQL beside SQLite"
"$bin/tradecore-store-bench" --directory "$work/store" --postgres-url "$url" --seconds "$seconds" \
    --appenders 1 16 256 --workloads new-streams
psql "$url" -qAt -c "SELECT format('DROP SCHEMA %I CASCADE;', nspname) FROM pg_namespace WHERE nspname LIKE 'bench\_%'" |
    psql "$url" -q >/dev/null

echo
echo "== 2. pgbench: a one-row INSERT per transaction, same clients"
psql "$url" -q -c "DROP TABLE IF EXISTS public.tradecore_bench_rows" \
    -c "CREATE TABLE public.tradecore_bench_rows (id bigserial PRIMARY KEY, payload bytea NOT NULL)"
echo "INSERT INTO public.tradecore_bench_rows (payload) VALUES (decode(repeat('42', 100), 'hex'));" >"$work/insert.sql"
for clients in 1 16 256; do
    tps="$(pgbench -n -c "$clients" -j 2 -T "$seconds" -f "$work/insert.sql" "$url" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\).*/\1/p')"
    printf '  %4d clients: pgbench %8.0f transactions/s\n' "$clients" "$tps"
done
psql "$url" -q -c "DROP TABLE public.tradecore_bench_rows"

echo
echo "== 3. durable CreateOrder through two servers sharing the database"
head -c 32 /dev/urandom | base64 >"$work/master.key"
schema="bench_nodes_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
ports=()
for node in a b; do
    port="$(free_port)"
    ports+=("$port")
    mkdir -p "$work/$node"
    "$bin/tradecore-server" --port "$port" --admin-port 0 --log-level warning --data-directory "$work/$node" \
        --master-key-file "$work/master.key" --postgres-url "$url" --postgres-schema "$schema" \
        >"$work/$node.log" 2>&1 &
    pids+=($!)
    wait_for_port "$port"
done
size="$("$PYTHON" "$root/Tools/bench/create_order_body.py" --target "127.0.0.1:${ports[0]}" \
    --generated "$GENERATED" --out "$work/create_order.bin")"
rate() {
    h2load -n "$requests" -c 16 -m 32 -t 1 -d "$work/create_order.bin" -H "content-type: application/grpc" \
        -H "te: trailers" "http://127.0.0.1:$1/tradecore.api.v1.CommandService/CreateOrder" |
        sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p'
}
one="$(rate "${ports[0]}")"
rate "${ports[0]}" >"$work/rate-a" &
a=$!
rate "${ports[1]}" >"$work/rate-b" &
b=$!
wait "$a" "$b"
both="$(echo "$(cat "$work/rate-a") + $(cat "$work/rate-b")" | bc -l)"
printf '  one server:  %8.0f CreateOrder/s\n' "$one"
printf '  two servers: %8.0f CreateOrder/s in all (%s + %s), a %s-byte request, h2load -c16 -m32 on each\n' \
    "$both" "$(printf '%.0f' "$(cat "$work/rate-a")")" "$(printf '%.0f' "$(cat "$work/rate-b")")" "$size"
psql "$url" -q -c "DROP SCHEMA $schema CASCADE" 2>/dev/null || true
