#!/usr/bin/env bash
# SQLite's own insert rate for the event store's row on this machine's disk, measured from C in
# the given directory (default .data/sqlite-floor): the ceiling EventStoreSQLite is compared with.
# Usage: Tools/bench/sqlite_floor.sh [directory] [seconds]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
ensure_debian_packages gcc libsqlite3-dev
directory="${1:-$root/.data/sqlite-floor}"
mkdir -p "$directory"
gcc -O2 -o "$directory/sqlite_floor" "$root/Tools/bench/sqlite_floor.c" -lsqlite3
cd "$directory"
for variant in full notrig minimal; do ./sqlite_floor "$variant" "${2:-3}"; done
