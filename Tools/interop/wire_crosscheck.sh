#!/usr/bin/env bash
# Cross-checks the Swift codecs against Python's protobuf (see wire_crosscheck.py).
# Usage: Tools/interop/wire_crosscheck.sh [samples per message]   (default 40)
# Environment: TRADECORE_BIN_PATH (built products to use) or SCRATCH_PATH (SwiftPM scratch path
# to build wire-roundtrip in, default .build).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$root"
samples="${1:-40}"

ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs

tool="$(built_product wire-roundtrip)"

"$PYTHON" Tools/interop/wire_crosscheck.py --tool "$tool" --generated "$GENERATED" --samples "$samples"
