#!/usr/bin/env bash
# Crash loop: a grpcio client sends commands at full speed while tradecore-server is killed with
# SIGKILL and restarted on the same data directory, 20 times; then every acknowledged command is
# in the log with its result, none is half applied, every aggregate still loads, and the last
# server drains and exits 0 on SIGTERM (see crash_loop.py, which runs the server itself).
#
# Usage: Tools/interop/crash_loop.sh [path to tradecore-server binary] [crash_loop.py options]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

run_server_script crash_loop.py "$@"
log "crash loop passed"
