#!/usr/bin/env bash
# SQLite's own append rate for the event store's rows on this machine's disk, measured from C in
# the given directory (default .data/sqlite-floor), 256 single-event appends per transaction: the
# ceiling EventStoreSQLite's 256-appender figure is compared with; and one append per
# transaction beside a plain write+fdatasync, the floor of one appender's latency.
# Usage: Tools/bench/sqlite_floor.sh [directory] [seconds]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
ensure_debian_packages gcc libsqlite3-dev
directory="${1:-$root/.data/sqlite-floor}"
mkdir -p "$directory"
gcc -O2 -o "$directory/sqlite_floor" "$root/Tools/bench/sqlite_floor.c" -lsqlite3
cd "$directory"
for workload in new hot single; do
    for schema in store notrigger minimal; do ./sqlite_floor "$schema" "$workload" "${2:-3}"; done
done
