#!/usr/bin/env bash
# Cross-checks the Swift codecs against Python's protobuf (see wire_crosscheck.py).
# Usage: Tools/interop/wire_crosscheck.sh [samples per message]   (default 40)
# Environment: SCRATCH_PATH (SwiftPM scratch path, default .build), PYTHON (default python3).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
samples="${1:-40}"
scratch="${SCRATCH_PATH:-.build}"
venv="$root/Tools/.venv"
generated="$root/Tools/generated/python"

if [ ! -x "$venv/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "grpcio-tools==1.85.1" "protobuf>=6.31,<8"

rm -rf "$generated"
mkdir -p "$generated"
"$venv/bin/python" -m grpc_tools.protoc -I Schemas \
    --python_out="$generated" --grpc_python_out="$generated" Schemas/*.proto

swift build --scratch-path "$scratch" --product wire-roundtrip
tool="$(swift build --scratch-path "$scratch" --show-bin-path)/wire-roundtrip"

"$venv/bin/python" Tools/interop/wire_crosscheck.py --tool "$tool" --generated "$generated" --samples "$samples"
