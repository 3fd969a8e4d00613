#!/usr/bin/env bash
# The CLI's own cost per call: `tradecore bench` and h2load send the same unary Ping, with the
# same number of connections and calls in flight, to one release tradecore-server in one run.
#
# Usage: Tools/bench/cli_benchmark.sh [requests=200000] [connections=4] [in flight=64] [rounds=3]
# A benchmark, not a test: it prints figures and never fails on them.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

requests="${1:-200000}"
connections="${2:-4}"
inflight="${3:-64}"
rounds="${4:-3}"

ensure_build_dependencies
ensure_debian_packages nghttp2-client bc
log "building tradecore-server and tradecore (release)"
(cd "$root" && swift build -c release --product tradecore-server >&2 && swift build -c release --product tradecore >&2)
bin="$(cd "$root" && swift build -c release --show-bin-path)"

work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT
start_server "$bin/tradecore-server" "$work/server.log"
python3 "$root/Tools/lib/ping_body.py" "$work/ping.bin" 107   # a 100-byte payload, as the CLI sends

h2load_rate() {
    local output
    output="$(h2load -n "$requests" -c "$connections" -m $((inflight / connections)) -t 1 -d "$work/ping.bin" \
        -H "content-type: application/grpc" -H "te: trailers" \
        "http://127.0.0.1:$SERVER_PORT/tradecore.diagnostics.v1.Diagnostics/Ping")"
    grep -q "0 failed, 0 errored, 0 timeout" <<<"$output" || { echo "$output" >&2; return 1; }
    sed -n 's/^finished in [^,]*, \([0-9.]*\) req\/s.*/\1/p' <<<"$output"
}

cli_rate() {
    "$bin/tradecore" bench --server "127.0.0.1:$SERVER_PORT" --method ping -n "$requests" -c "$inflight" \
        -m "$connections" --payload-size 100 --json | sed -n 's/.*"calls_per_second":\([0-9.]*\).*/\1/p'
}

log "warming up"
h2load_rate >/dev/null
cli_rate >/dev/null
ratios=()
for round in $(seq 1 "$rounds"); do
    a="$(h2load_rate)"
    b="$(cli_rate)"
    ratio="$(echo "$b / $a" | bc -l)"
    ratios+=("$ratio")
    printf 'round %d: h2load %.0f calls/s, tradecore bench %.0f calls/s, ratio %.2f\n' "$round" "$a" "$b" "$ratio"
done
median="$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
echo
echo "Ping, $requests calls, $connections connections, $inflight in flight, $rounds rounds:"
printf '  ratio (tradecore bench / h2load), median of rounds: %.2f   (target >= 0.7)\n' "$median"
"$bin/tradecore" bench --server "127.0.0.1:$SERVER_PORT" --method ping -n 20000 -c "$inflight" -m "$connections"
