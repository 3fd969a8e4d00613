#!/usr/bin/env bash
# Builds the libFuzzer targets for the wire codecs and the transport's text parsers, and runs them.
# Usage: Tools/fuzz/run_fuzz.sh [seconds]   (default 60; the text parsers and the framing target each
# get a tenth of it, at least 5 s)
# WIRE_FUZZ_SELECT=1: one message type per input, chosen by its first byte (faster; see WireFuzz.swift).
# The corpus is kept in .build-fuzz/corpus between runs; crashes are written to .build-fuzz/.
# Environment: TRADECORE_BIN_PATH (built products, for the seed tool wire-roundtrip) or SCRATCH_PATH
# (SwiftPM scratch path to build it in, default .build).
set -euo pipefail

source "$(dirname "$0")/../lib/common.sh"
cd "$root"
seconds="${1:-60}"
out="$root/.build-fuzz"
mkdir -p "$out/modules" "$out/corpus"

flags=(-sanitize=fuzzer,address -O -g -swift-version 6 -package-name TradeCore -parse-as-library
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility)

# Each module is compiled whole into one object, instrumented for coverage and ASan.
swiftc "${flags[@]}" -wmo -module-name WireFormat -emit-module -emit-module-path "$out/modules/WireFormat.swiftmodule" \
    -c -o "$out/WireFormat.o" Sources/WireFormat/*.swift
mapfile -t tradecore_sources < <(find Sources/TradeCoreMessages -name '*.swift' | sort)
swiftc "${flags[@]}" -wmo -module-name TradeCoreMessages -I "$out/modules" -emit-module \
    -emit-module-path "$out/modules/TradeCoreMessages.swiftmodule" -c -o "$out/TradeCoreMessages.o" "${tradecore_sources[@]}"
# The transport's own messages (health, diagnostics, reflection), from the files that hold only them.
swiftc "${flags[@]}" -wmo -module-name TransportMessages -I "$out/modules" -emit-module \
    -emit-module-path "$out/modules/TransportMessages.swiftmodule" -c -o "$out/TransportMessages.o" \
    Sources/HTTP2RPC/Services/TransportMessages.swift Sources/HTTP2RPC/Services/ReflectionMessages.swift \
    Sources/HTTP2RPC/Services/TransportSchema.swift
swiftc "${flags[@]}" -module-name WireFuzz -I "$out/modules" Tools/fuzz/WireFuzz.swift Tools/fuzz/FuzzSupport.swift \
    "$out/WireFormat.o" "$out/TradeCoreMessages.o" "$out/TransportMessages.o" -o "$out/wire-fuzz"

# The transport's text parsers, whose files import nothing.
swiftc "${flags[@]}" -module-name TextFuzz Tools/fuzz/TextFuzz.swift Tools/fuzz/FuzzSupport.swift Sources/HTTP2RPC/Core/GRPCTimeout.swift \
    Sources/HTTP2RPC/Core/Base64.swift Sources/HTTP2RPC/Core/PercentEncoding.swift -o "$out/text-fuzz"

# The gRPC message deframer and the received-metadata rules, from their files that import nothing.
swiftc "${flags[@]}" -module-name FramingFuzz Tools/fuzz/FramingFuzz.swift Tools/fuzz/FuzzSupport.swift \
    Sources/HTTP2RPC/Core/GRPCMessageDeframer.swift Sources/HTTP2RPC/Core/RPCError.swift \
    Sources/HTTP2RPC/Core/RPCStatus.swift Sources/HTTP2RPC/Core/RPCMetadata.swift Sources/HTTP2RPC/Core/Base64.swift \
    -o "$out/framing-fuzz"

# Seeds: valid samples of every message, from the cross-check tool.
tool="$(built_product wire-roundtrip)"
"$tool" samples 3 7 | python3 -c '
import hashlib, sys
for line in sys.stdin:
    name, _, text = line.strip().partition(" ")
    data = bytes.fromhex(text)
    with open(sys.argv[1] + "/" + hashlib.sha1(data).hexdigest(), "wb") as f:
        f.write(data)
' "$out/corpus"

# -malloc_limit_mb: any single allocation above 64 MiB is a failure: no input of at most
# max_len bytes may make the decoder allocate that much.
# -detect_leaks=0: the codecs' static field tables are built once and kept for the life of the
# process, which LeakSanitizer reports at exit; leaks are not what this target looks for.
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
"$out/wire-fuzz" -max_total_time="$seconds" -max_len=4096 -timeout=10 -malloc_limit_mb=64 -rss_limit_mb=2048 \
    -detect_leaks=0 -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"

# The text parsers are small: a tenth of the time (at least 5 s) covers them.
mkdir -p "$out/text-corpus"
printf '100m' > "$out/text-corpus/timeout"
printf 'AAEC/w' > "$out/text-corpus/base64"
printf 'caf%%C3%%A9 50%%25' > "$out/text-corpus/percent"
"$out/text-fuzz" -max_total_time="$(( seconds / 10 > 5 ? seconds / 10 : 5 ))" -max_len=256 -timeout=10 \
    -malloc_limit_mb=64 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/text-" "$out/text-corpus"

# Seeds for the framing target: a first byte choosing limit and chunking, then a body of two
# messages, a message over a small limit, a compressed flag, and header-field pairs.
mkdir -p "$out/framing-corpus"
printf '\x13\x00\x00\x00\x00\x02hi\x00\x00\x00\x00\x00' > "$out/framing-corpus/two"
printf '\x0a\x00\x00\x00\x01\x00' > "$out/framing-corpus/over"
printf '\x03\x01\x00\x00\x00\x01z' > "$out/framing-corpus/compressed"
printf '\x04x-id\x00abc\x00trace-bin\x00AAEC\x00:path\x00/x\x00' > "$out/framing-corpus/metadata"
"$out/framing-fuzz" -max_total_time="$(( seconds / 10 > 5 ? seconds / 10 : 5 ))" -max_len=1024 -timeout=10 \
    -malloc_limit_mb=64 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/framing-" "$out/framing-corpus"
