#!/usr/bin/env bash
# Transport benchmark: the ceiling of a unary call on this machine (nghttpd serving a 64-byte
# file) against tradecore-server's Diagnostics/Ping, with the same h2load parameters in the
# same run, and the heap allocations per Ping counted with an LD_PRELOAD counter.
#
# Usage: Tools/bench/transport_benchmark.sh [requests=400000] [rounds=3]
# A benchmark, not a test: it prints figures and never fails on them.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

requests="${1:-400000}"
rounds="${2:-3}"
h2load_options=(-c 16 -m 32 -t 1)

ensure_build_dependencies
ensure_debian_packages nghttp2-client nghttp2-server gcc bc
log "building tradecore-server (release)"
(cd "$root" && swift build -c release --product tradecore-server >&2)
server="$(cd "$root" && swift build -c release --show-bin-path)/tradecore-server"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

python3 "$root/Tools/lib/ping_body.py" "$work/ping.bin" 120
mkdir -p "$work/htdocs"
head -c 64 /dev/urandom >"$work/htdocs/file64"

nghttpd_port="$(free_port)"
nghttpd --no-tls -d "$work/htdocs" "$nghttpd_port" >/dev/null 2>&1 &
pids+=($!)
server_port="$(free_port)"
"$server" --port "$server_port" --log-level warning --data-directory "$work/data" --admin-port 0 >"$work/server.log" 2>&1 &
pids+=($!)
wait_for_port "$nghttpd_port"
wait_for_port "$server_port"

# Requests per second from an h2load run; fails if any request failed.
rate() {
    local output
    output="$(h2load -n "$requests" "${h2load_options[@]}" -d "$work/ping.bin" "$@")"
    grep -q "0 failed, 0 errored, 0 timeout" <<<"$output" || { echo "$output" >&2; log "h2load saw failures"; return 1; }
    sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$output"
}

log "warming up"
rate "http://127.0.0.1:$nghttpd_port/file64" >/dev/null
rate -H "content-type: application/grpc" -H "te: trailers" \
    "http://127.0.0.1:$server_port/tradecore.diagnostics.v1.Diagnostics/Ping" >/dev/null

# Rounds alternate the two servers so that both see the same drift of a shared machine; the
# figure to quote is the median of the per-round ratios.
ratios=()
for round in $(seq 1 "$rounds"); do
    ticks="$(host_cpu_ticks)"
    a="$(rate "http://127.0.0.1:$nghttpd_port/file64")"
    b="$(rate -H "content-type: application/grpc" -H "te: trailers" \
        "http://127.0.0.1:$server_port/tradecore.diagnostics.v1.Diagnostics/Ping")"
    ratio="$(echo "$b / $a" | bc -l)"
    ratios+=("$ratio")
    printf 'round %d: nghttpd %.0f req/s, tradecore Ping %.0f req/s, ratio %.2f, %s\n' \
        "$round" "$a" "$b" "$ratio" "$(host_steal_since "$ticks")"
done
median_ratio="$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"

# Allocations per call: a second server with the counting allocator.
gcc -O2 -shared -fPIC -o "$work/libmalloc_count.so" "$root/Tools/bench/malloc_count.c" -ldl
counted_port="$(free_port)"
MALLOC_COUNT_FILE="$work/count" LD_PRELOAD="$work/libmalloc_count.so" \
    "$server" --port "$counted_port" --log-level warning --data-directory "$work/counted-data" --admin-port 0 >"$work/counted.log" 2>&1 &
counted_pid=$!
pids+=($counted_pid)
wait_for_port "$counted_port"
ping_url="http://127.0.0.1:$counted_port/tradecore.diagnostics.v1.Diagnostics/Ping"
allocation_requests=200000
h2load -n 20000 "${h2load_options[@]}" -d "$work/ping.bin" -H "content-type: application/grpc" "$ping_url" >/dev/null
kill -USR1 "$counted_pid"; sleep 0.5; before="$(cat "$work/count")"
h2load -n "$allocation_requests" "${h2load_options[@]}" -d "$work/ping.bin" -H "content-type: application/grpc" "$ping_url" >/dev/null
kill -USR1 "$counted_pid"; sleep 0.5; after="$(cat "$work/count")"

echo
echo "h2load ${h2load_options[*]} -n $requests, 120-byte gRPC-framed POST body, $rounds rounds:"
printf '  ratio (Ping / nghttpd), median of rounds: %.2f   (target >= 0.5)\n' "$median_ratio"
printf '  heap allocations per Ping: %.1f   (whole server process, target < 30)\n' \
    "$(echo "($after - $before) / $allocation_requests" | bc -l)"
