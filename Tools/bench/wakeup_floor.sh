#!/usr/bin/env bash
# The floor under commit → subscriber latency on this machine: the chain of three thread wake-ups
# an event takes from the store's writer to a subscriber (an eventfd, a loopback TCP connection,
# another eventfd), with no work in it, from C, at 10,000 messages/s; idle, then beside two
# threads spinning 150 µs of every millisecond (30 % of two cores) and 750 µs (75 %: what
# tradecore-stream-bench's process uses at 10,000 commands/s, its commands, projections, sagas and
# writer together), with the kernel's time slice and with the 100 µs slice the server's event
# loops ask for.
# Compare with tradecore-stream-bench's latency figures: what lies above this floor is ours.
# Usage: Tools/bench/wakeup_floor.sh [seconds=5]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
ensure_debian_packages gcc
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
gcc -O2 -Wall -o "$work/wakeup_floor" "$root/Tools/bench/wakeup_floor.c" -lpthread
seconds="${1:-5}"
for load in "0 0" "2 150" "2 750"; do
    for slice in 0 100; do
        # shellcheck disable=SC2086
        "$work/wakeup_floor" 10000 "$seconds" $load "$slice"
    done
done
