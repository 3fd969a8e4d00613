#!/usr/bin/env bash
# The floor under commit → subscriber latency on this machine: the chain of three thread wake-ups
# an event takes from the store's writer to a subscriber (an eventfd, a loopback TCP connection,
# another eventfd), with no work in it, from C, at 10,000 messages/s; idle, then beside two
# threads each spinning 150 µs of every millisecond (15 % of two cores) and 750 µs (75 %: about
# what tradecore-stream-bench's process uses at 10,000 commands/s, its commands, projections,
# sagas and writer together). The loops ask for the 100 µs slice the server's event loops do;
# the subscriber for the same, then for the kernel's (--subscriber-slice 100 and 0 there).
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
    for subscriber_slice in 100 0; do
        # shellcheck disable=SC2086
        "$work/wakeup_floor" 10000 "$seconds" $load 100 "$subscriber_slice"
    done
done
