#!/usr/bin/env bash
# Cross-checks the Swift codecs against Python's protobuf (see wire_crosscheck.py).
# Usage: Tools/interop/wire_crosscheck.sh [samples per message]   (default 40)
# Environment: SCRATCH_PATH (SwiftPM scratch path, default .build).
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
cd "$root"
samples="${1:-40}"
scratch="${SCRATCH_PATH:-.build}"

ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
generate_python_stubs

swift build --scratch-path "$scratch" --product wire-roundtrip
tool="$(swift build --scratch-path "$scratch" --show-bin-path)/wire-roundtrip"

"$PYTHON" Tools/interop/wire_crosscheck.py --tool "$tool" --generated "$GENERATED" --samples "$samples"
