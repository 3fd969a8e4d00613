#!/usr/bin/env bash
# Builds tradecore-server and the CLI tradecore (release), and starts the server on the embedded
# default: plain HTTP/2 (h2c) on 127.0.0.1:50051. Installs the Debian packages the build needs
# first. Extra arguments go to the server (see `tradecore-server --help`); stop it with Ctrl-C or
# SIGTERM, which drains.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
cd "$root"

ensure_build_dependencies
swift build -c release --product tradecore-server >&2
swift build -c release --product tradecore >&2
exec "$(swift build -c release --show-bin-path)/tradecore-server" "$@"
