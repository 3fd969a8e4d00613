#!/usr/bin/env bash
# Runs the CLI tour of README.md as written: the ```sh tour block is extracted and run with bash
# (set -euo pipefail) against a freshly started tradecore-server, so the tour cannot rot.
#
# Usage: Tools/tour/run_readme_tour.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

server="$(server_binary "${1:-}")"
work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT

awk '/^```sh tour$/ { inside = 1; next } /^```/ { inside = 0 } inside' "$root/README.md" >"$work/tour.sh"
[ -s "$work/tour.sh" ] || { log "README.md has no \`\`\`sh tour block"; exit 1; }

start_server "$server" "$work/server.log" --fill-poll-milliseconds 20
export TRADECORE_SERVER="127.0.0.1:$SERVER_PORT"
log "running the README's tour against $TRADECORE_SERVER"
if ! (cd "$root" && bash -euo pipefail "$work/tour.sh" >"$work/tour.out" 2>&1); then
    cat "$work/tour.out" >&2
    log "the tour failed; server log:"
    cat "$work/server.log" >&2
    exit 1
fi
cat "$work/tour.out"
grep -q "OrderFilled" "$work/tour.out" || { log "events tail did not show the order filled"; exit 1; }
stop_server
log "the README's tour ran as written"
