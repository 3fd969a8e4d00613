#!/usr/bin/env bash
# Durable commands over the wire: h2load sends gRPC-framed CreateOrder requests (each a new order,
# fsync'd before its answer; no tradecore-command-id, which would answer every call from the
# first) to a release tradecore-server, and, with the same parameters in the same run, POSTs a
# body of the same size to nghttpd serving a small file: the ceiling of a unary call here. Also
# the server's CPU time per request (utime + stime from /proc/PID/stat across the run).
#
# Each round also measures the floor under the server's rate: SQLite alone, from C
# (Tools/bench/command_floor.c), writing the rows a CreateOrder writes through the one connection
# SQLite lets write at a time: the store's rows, then those and the orders read model's, 512 orders
# per transaction (h2load keeps 16 x 32 = 512 calls in flight: no group commit can hold more), and
# the same with a leaner read model (a table of its own, one row per order), also with a leaner
# store schema (no hole-check trigger, no foreign keys). The ratio of that floor to nghttpd is the
# most any server could reach here with this store.
#
# A server does not write those rows alone on the machine: at the target's rate it also serves that
# many HTTP/2 calls to h2load, on the same two cores. So each round measures the floors once more
# while h2load drives nghttpd at 0.25 x its own rate (--rps per client), the HTTP/2 traffic the target
# asks for with the least server-side work there is. If SQLite then writes fewer orders than that
# rate, no server could sustain the target here, since it has at least that HTTP/2 work and at least
# those rows to write, and less traffic could not come with more orders.
#
# nghttpd is the cheapest HTTP/2 server there is, not ours. So each round also measures the floors
# while h2load sends the same rate of Diagnostics/Ping calls to the tradecore-server under test: the
# HTTP/2 and gRPC work of our own transport (nghttp2 over SwiftNIO, as the project requires it) with
# no command behind it. A CreateOrder costs the server at least that, and at least those rows.
#
# Usage: Tools/bench/command_benchmark.sh [requests=100000] [rounds=3]
# A benchmark, not a test: it prints figures and never fails on them.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

requests="${1:-100000}"
rounds="${2:-3}"
h2load_options=(-c 16 -m 32 -t 1)

ensure_build_dependencies
ensure_debian_packages nghttp2-client nghttp2-server bc gcc libsqlite3-dev
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs
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

gcc -O2 -Wall -o "$work/command_floor" "$root/Tools/bench/command_floor.c" -lsqlite3
mkdir -p "$work/htdocs"
head -c 64 /dev/urandom >"$work/htdocs/file64"
nghttpd_port="$(free_port)"
nghttpd --no-tls -d "$work/htdocs" "$nghttpd_port" >/dev/null 2>&1 &
nghttpd_pid=$!
pids+=($nghttpd_pid)
server_port="$(free_port)"
"$server" --port "$server_port" --log-level warning --data-directory "$work/data" --admin-port 0 \
    >"$work/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
wait_for_port "$nghttpd_port"
wait_for_port "$server_port"

size="$("$PYTHON" "$root/Tools/bench/create_order_body.py" --target "127.0.0.1:$server_port" \
    --generated "$GENERATED" --out "$work/create_order.bin")"
head -c "$size" /dev/zero >"$work/same_size.bin"
python3 "$root/Tools/lib/ping_body.py" "$work/ping.bin" "$size"

# Process CPU seconds (user + system) from /proc/PID/stat.
cpu_seconds() {
    awk -v ticks="$(getconf CLK_TCK)" '{ print ($14 + $15) / ticks }' "/proc/$1/stat"
}

# Orders per second SQLite alone writes the rows of, for command_floor's workload $1 (events,
# read-models, table-views) and schema $2 (store, lean), in a directory on the disk the server's
# data directory is on.
floor_rate() {
    mkdir -p "$work/floor"
    (cd "$work/floor" && "$work/command_floor" "$1" "$2" 3 512) | awk '{ print $3 }'
}

# floor_rate "$1" "$2" while h2load sends $3 requests per second in all (16 clients, each its
# share, from a second before the floor starts to a second after it ends) to nghttpd ($4 = nghttpd)
# or to the server's Diagnostics/Ping ($4 = ping). Prints the floor's orders/s and the rate h2load
# held.
floor_rate_beside_http2() {
    local per_client total target
    per_client="$(echo "($3 + 15) / 16" | bc)"
    total="$((per_client * 16 * 5))"
    if [ "$4" = ping ]; then
        target=(-d "$work/ping.bin" "${grpc_headers[@]}"
            "http://127.0.0.1:$server_port/tradecore.diagnostics.v1.Diagnostics/Ping")
    else
        target=(-d "$work/same_size.bin" "http://127.0.0.1:$nghttpd_port/file64")
    fi
    h2load -n "$total" "${h2load_options[@]}" --rps "$per_client" "${target[@]}" >"$work/paced.out" &
    local paced=$!
    sleep 1
    local floor
    floor="$(floor_rate "$1" "$2")"
    wait "$paced"
    grep -q "0 failed, 0 errored, 0 timeout" "$work/paced.out" || { cat "$work/paced.out" >&2; log "h2load saw failures"; return 1; }
    echo "$floor $(sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' "$work/paced.out")"
}

# Requests per second from an h2load run; fails if any request failed at the HTTP/2 level.
rate() {
    local body="$1"
    shift
    local output
    output="$(h2load -n "$requests" "${h2load_options[@]}" -d "$body" "$@")"
    grep -q "0 failed, 0 errored, 0 timeout" <<<"$output" || { echo "$output" >&2; log "h2load saw failures"; return 1; }
    sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$output"
}

create_url="http://127.0.0.1:$server_port/tradecore.api.v1.CommandService/CreateOrder"
grpc_headers=(-H "content-type: application/grpc" -H "te: trailers")
log "warming up"
rate "$work/same_size.bin" "http://127.0.0.1:$nghttpd_port/file64" >/dev/null
requests=2000 rate "$work/create_order.bin" "${grpc_headers[@]}" "$create_url" >/dev/null

failed_before="$("$PYTHON" "$root/Tools/lib/server_stats.py" "127.0.0.1:$server_port" | sed -n 's/failed_calls=//p')"
ratios=()
floor_ratios=()
lean_floor_ratios=()
shared_floor_ratios=()
shared_table_views_ratios=()
shared_leanest_ratios=()
ping_floor_ratios=()
ping_leanest_ratios=()
for round in $(seq 1 "$rounds"); do
    # nghttpd before and after the server (its rate is the mean of the two, so a host that speeds
    # up or slows down during the round does not favour either side), then the floors.
    ticks="$(host_cpu_ticks)"
    n0="$(cpu_seconds "$nghttpd_pid")"
    a1="$(rate "$work/same_size.bin" "http://127.0.0.1:$nghttpd_port/file64")"
    n1="$(cpu_seconds "$nghttpd_pid")"
    s0="$(cpu_seconds "$server_pid")"
    b="$(rate "$work/create_order.bin" "${grpc_headers[@]}" "$create_url")"
    s1="$(cpu_seconds "$server_pid")"
    n2="$(cpu_seconds "$nghttpd_pid")"
    a2="$(rate "$work/same_size.bin" "http://127.0.0.1:$nghttpd_port/file64")"
    n3="$(cpu_seconds "$nghttpd_pid")"
    a="$(echo "($a1 + $a2) / 2" | bc -l)"
    events_floor="$(floor_rate events store)"
    read_models_floor="$(floor_rate read-models store)"
    table_views_floor="$(floor_rate table-views store)"
    leanest_floor="$(floor_rate table-views lean)"
    target_rate="$(echo "$a / 4" | bc)"
    read -r shared_floor shared_http2 <<<"$(floor_rate_beside_http2 read-models store "$target_rate" nghttpd)"
    read -r shared_table_views shared_table_views_http2 <<<"$(floor_rate_beside_http2 table-views store "$target_rate" nghttpd)"
    read -r shared_leanest shared_leanest_http2 <<<"$(floor_rate_beside_http2 table-views lean "$target_rate" nghttpd)"
    read -r ping_floor ping_http2 <<<"$(floor_rate_beside_http2 read-models store "$target_rate" ping)"
    read -r ping_leanest ping_leanest_http2 <<<"$(floor_rate_beside_http2 table-views lean "$target_rate" ping)"
    ping_floor_ratios+=("$(echo "$ping_floor / $a" | bc -l)")
    ping_leanest_ratios+=("$(echo "$ping_leanest / $a" | bc -l)")
    shared_floor_ratios+=("$(echo "$shared_floor / $a" | bc -l)")
    shared_table_views_ratios+=("$(echo "$shared_table_views / $a" | bc -l)")
    shared_leanest_ratios+=("$(echo "$shared_leanest / $a" | bc -l)")
    ratio="$(echo "$b / $a" | bc -l)"
    ratios+=("$ratio")
    floor_ratio="$(echo "$read_models_floor / $a" | bc -l)"
    floor_ratios+=("$floor_ratio")
    lean_floor_ratio="$(echo "$table_views_floor / $a" | bc -l)"
    lean_floor_ratios+=("$lean_floor_ratio")
    nghttpd_cpu="$(echo "($n1 - $n0 + $n3 - $n2) * 1000000 / (2 * $requests)" | bc -l)"
    server_cpu="$(echo "($s1 - $s0) * 1000000 / $requests" | bc -l)"
    printf 'round %d: nghttpd %.0f req/s (%.0f before, %.0f after; %.1f µs CPU/request), CreateOrder %.0f req/s (%.1f µs CPU/request), ratio %.3f, %s\n' \
        "$round" "$a" "$a1" "$a2" "$nghttpd_cpu" "$b" "$server_cpu" "$ratio" "$(host_steal_since "$ticks")"
    printf '  SQLite floor, orders/s: store rows %.0f (%.3f x nghttpd); with the read model %.0f (%.3f); with a leaner read model %.0f (%.3f), and a leaner store schema %.0f (%.3f)\n' \
        "$events_floor" "$(echo "$events_floor / $a" | bc -l)" "$read_models_floor" "$floor_ratio" \
        "$table_views_floor" "$lean_floor_ratio" "$leanest_floor" "$(echo "$leanest_floor / $a" | bc -l)"
    printf '  while h2load drives nghttpd at the target rate, %d req/s (it held %.0f, %.0f, %.0f): with the read model %.0f (%.3f); with a leaner read model %.0f (%.3f), and a leaner store schema %.0f (%.3f)\n' \
        "$target_rate" "$shared_http2" "$shared_table_views_http2" "$shared_leanest_http2" \
        "$shared_floor" "${shared_floor_ratios[-1]}" "$shared_table_views" "${shared_table_views_ratios[-1]}" \
        "$shared_leanest" "${shared_leanest_ratios[-1]}"
    printf '  while h2load sends the server Pings at the target rate (it held %.0f, %.0f): with the read model %.0f (%.3f); with a leaner read model and a leaner store schema %.0f (%.3f)\n' \
        "$ping_http2" "$ping_leanest_http2" "$ping_floor" "${ping_floor_ratios[-1]}" "$ping_leanest" \
        "${ping_leanest_ratios[-1]}"
done
failed_after="$("$PYTHON" "$root/Tools/lib/server_stats.py" "127.0.0.1:$server_port" | sed -n 's/failed_calls=//p')"
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
median_ratio="$(median "${ratios[@]}")"

echo
echo "h2load ${h2load_options[*]} -n $requests, a ${size}-byte gRPC-framed CreateOrder (fsync on), $rounds rounds:"
printf '  ratio (durable CreateOrder / nghttpd), median of rounds: %.3f   (target >= 0.25)\n' "$median_ratio"
printf '  SQLite floor with the read model / nghttpd, median of rounds: %.3f (with a leaner read model: %.3f)\n' \
    "$(median "${floor_ratios[@]}")" "$(median "${lean_floor_ratios[@]}")"
printf '  the same beside HTTP/2 traffic at the target rate, median of rounds: %.3f (with a leaner read model: %.3f, and a leaner store schema: %.3f)\n' \
    "$(median "${shared_floor_ratios[@]}")" "$(median "${shared_table_views_ratios[@]}")" "$(median "${shared_leanest_ratios[@]}")"
printf '  the same beside Pings to the server at the target rate, median of rounds: %.3f (with a leaner read model and a leaner store schema: %.3f)\n' \
    "$(median "${ping_floor_ratios[@]}")" "$(median "${ping_leanest_ratios[@]}")"
echo "  calls that failed at the gRPC level during the rounds: $((failed_after - failed_before))"
