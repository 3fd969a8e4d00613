#!/usr/bin/env bash
# Runs every test of TradeCore on a fresh machine of this kind: installs the Debian and PyPI
# packages the tests need, builds, runs the Swift test suites, then the checks against
# implementations we did not write (grpcio, h2load, Python protobuf) and a fuzzing smoke run.
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"
source "$(dirname "$0")/lib/postgres.sh"
cd "$root"

ensure_build_dependencies
ensure_debian_packages nghttp2-client
python3 -c "import venv, ensurepip" 2>/dev/null || ensure_debian_packages python3-venv

log "formatting: swift format lint --strict with .swift-format"
swift format lint --strict --recursive --configuration .swift-format Package.swift Sources Tests Tools

# One release build, with testing enabled so that the suites' @testable imports compile, serves
# every step below: the suites, the scripts (through TRADECORE_BIN_PATH) and the README's tour. It
# is the configuration the benchmarks and a deployment build in, which has refused code that a
# debug build took.
log "building (release, testing enabled)"
swift build -c release --build-tests -Xswiftc -enable-testing
bin="$(swift build -c release --show-bin-path)"
export TRADECORE_BIN_PATH="$bin"

# A throwaway PostgreSQL cluster (installed from Debian's packages if missing), stopped on exit;
# the PostgreSQL suites fail rather than skip without it.
start_test_postgres
export TRADECORE_REQUIRE_POSTGRES=1

log "Swift test suites"
swift test -c release --skip-build

log "interop with grpcio (plain and TLS)"
bash Tools/interop/run_grpcio_interop.sh "$bin/tradecore-server"

log "the seed's flows end to end over grpcio and generated stubs"
bash Tools/interop/run_e2e.sh "$bin/tradecore-server"

log "interop with grpc-java over Netty"
bash Tools/interop/run_java_interop.sh "$bin/tradecore-server"

log "interop with grpc-go"
bash Tools/interop/run_go_interop.sh "$bin/tradecore-server"

log "SIGKILL and restart, 20 times, under a full-speed client"
bash Tools/interop/crash_loop.sh "$bin/tradecore-server"

log "SIGTERM under load"
bash Tools/interop/drain_test.sh "$bin/tradecore-server"

log "two servers on one PostgreSQL database, one killed under load"
bash Tools/interop/multi_node.sh "$bin/tradecore-server"

log "PostgreSQL stopped for two seconds under load"
bash Tools/interop/postgres_restart.sh "$bin/tradecore-server"

log "h2load: 100,000 unary Pings"
bash Tools/load/h2load_smoke.sh "$bin/tradecore-server"

log "codecs against Python protobuf"
bash Tools/interop/wire_crosscheck.sh

log "the schema descriptors served by reflection match Schemas/"
bash Tools/schemas/descriptor_set.sh --check

log "fuzzing the decoders for 60 seconds"
bash Tools/fuzz/run_fuzz.sh 60

log "the README's CLI tour, as written"
bash Tools/tour/run_readme_tour.sh "$bin/tradecore-server"

log "every test passed"
