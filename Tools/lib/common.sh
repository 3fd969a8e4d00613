# Shared helpers for the scripts under Tools/. Source it; it sets `root` to the repository.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

# Installs Debian packages that are missing (as root, or through sudo).
ensure_debian_packages() {
    local missing=()
    for package in "$@"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The packages every build and test needs: headers of the C libraries we link, and the
# HTTP/2 tools the tests use as independent peers.
ensure_build_dependencies() {
    ensure_debian_packages pkg-config libnghttp2-dev libssl-dev libsqlite3-dev zlib1g-dev libjemalloc-dev openssl
}

# A Python virtual environment under Tools/.venv with the given PyPI packages.
ensure_python_packages() {
    local venv="$root/Tools/.venv"
    if [ ! -x "$venv/bin/python" ]; then
        log "creating $venv"
        python3 -m venv "$venv"
    fi
    if ! "$venv/bin/python" -c "import importlib.metadata as m, sys; [m.version(p) for p in sys.argv[1:]]" "${@%%[=<>]*}" 2>/dev/null; then
        log "installing PyPI packages: $*"
        "$venv/bin/pip" install -q --disable-pip-version-check "$@"
    fi
    PYTHON="$venv/bin/python"
}

# Python classes and gRPC stubs generated from Schemas/*.proto by grpcio-tools, in
# Tools/generated/python; sets GENERATED to that folder (add it to PYTHONPATH). Needs
# ensure_python_packages with grpcio-tools first.
generate_python_stubs() {
    GENERATED="$root/Tools/generated/python"
    rm -rf "$GENERATED"
    mkdir -p "$GENERATED"
    "$PYTHON" -m grpc_tools.protoc -I "$root/Schemas" \
        --python_out="$GENERATED" --grpc_python_out="$GENERATED" "$root"/Schemas/*.proto
}

# The PyPI packages of a client we did not write: grpcio, its code generator, protobuf, the
# standard status helpers (grpc_status, google.rpc) and its reflection client.
PYTHON_GRPC_PACKAGES=("grpcio==1.85.3" "grpcio-tools==1.85.1" "grpcio-status==1.85.3" "grpcio-reflection==1.85.1"
    "protobuf>=6.31,<8")

# A free TCP port on loopback.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# The machine's CPU clock ticks from the first line of /proc/stat, as "total steal": every kind
# up to steal (user, nice, system, idle, iowait, irq, softirq, steal), and the ticks the hypervisor
# stole. Benchmarks print the steal over each measurement: on a virtual machine a busy host halves
# the rates, and a figure means little without it.
host_cpu_ticks() {
    awk '/^cpu / { total = 0; for (i = 2; i <= 9; i++) total += $i; print total, $9; exit }' /proc/stat
}

# "host steal N%": the share of CPU time stolen since a host_cpu_ticks reading $1.
host_steal_since() {
    awk -v before="$1" -v now="$(host_cpu_ticks)" 'BEGIN {
        split(before, b, " "); split(now, n, " ")
        if (n[1] > b[1] && n[2] >= b[2]) printf "host steal %.1f%%\n", (n[2] - b[2]) * 100 / (n[1] - b[1])
        else print "host steal unknown"
    }'
}

# Waits until something accepts connections on 127.0.0.1:$1.
wait_for_port() {
    for _ in $(seq 1 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    log "nothing is listening on port $1"
    return 1
}

# A throwaway self-signed certificate for localhost and 127.0.0.1 in directory $1.
make_test_certificate() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$1/key.pem" -out "$1/cert.pem" 2>/dev/null
}

# The tradecore-server binary to test: $1 when given, else the one in $TRADECORE_BIN_PATH when
# that is set (Tools/test.sh sets it to its build's products), else a debug build made now.
server_binary() {
    if [ -n "${1:-}" ]; then
        echo "$1"
        return
    fi
    if [ -n "${TRADECORE_BIN_PATH:-}" ]; then
        echo "$TRADECORE_BIN_PATH/tradecore-server"
        return
    fi
    (cd "$root" && swift build --product tradecore-server >&2)
    echo "$(cd "$root" && swift build --show-bin-path)/tradecore-server"
}

# The path of a product of this package (wire-roundtrip, say): from $TRADECORE_BIN_PATH when that
# is set, else built now (debug), honouring $SCRATCH_PATH.
built_product() {
    if [ -n "${TRADECORE_BIN_PATH:-}" ]; then
        echo "$TRADECORE_BIN_PATH/$1"
        return
    fi
    local scratch="${SCRATCH_PATH:-.build}"
    (cd "$root" && swift build --scratch-path "$scratch" --product "$1" >&2)
    echo "$(cd "$root" && swift build --scratch-path "$scratch" --show-bin-path)/$1"
}

# Runs a Python script that starts and stops tradecore-server itself: `$1` is the script under
# Tools/interop, `$2` the server binary (built when empty), the rest the script's options. It gets
# --server, --generated and --work (a temporary directory); when it fails, the server logs it left
# there (server-*.log) are printed.
run_server_script() {
    local script="$1" binary="${2:-}"
    shift 2 || shift $#
    # Building the server needs the C libraries' headers; a given binary does not.
    [ -n "$binary" ] || ensure_build_dependencies
    ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
    generate_python_stubs
    local server work status=0
    server="$(server_binary "$binary")"
    work="$(mktemp -d)"
    "$PYTHON" "$root/Tools/interop/$script" --server "$server" --generated "$GENERATED" --work "$work" "$@" ||
        status=$?
    if [ "$status" -ne 0 ]; then
        for server_log in "$work"/*.log; do
            [ -e "$server_log" ] || continue
            log "server log $(basename "$server_log"):"
            cat "$server_log" >&2
        done
    fi
    rm -rf "$work"
    return "$status"
}

# Starts `$1` (a server binary) on a free loopback port with the further arguments, logging to
# `$2`; sets SERVER_PORT and SERVER_PID and waits until it accepts connections.
start_server() {
    local binary="$1" log="$2"
    shift 2
    SERVER_PORT="$(free_port)"
    # A fresh store per start: servers started one after another never share (and lock) one. No
    # metrics endpoint (its fixed port would clash between servers) unless the caller asks.
    "$binary" --port "$SERVER_PORT" --log-level warning --data-directory "$(mktemp -d)" --admin-port 0 "$@" \
        >"$log" 2>&1 &
    SERVER_PID=$!
    wait_for_port "$SERVER_PORT"
}

# Stops the server with SIGTERM (a graceful drain); fails unless it was still running and exits
# cleanly: a server that died before its stop fails the run, with its exit status.
stop_server() {
    [ -n "${SERVER_PID:-}" ] || return 0
    local pid="$SERVER_PID" status=0
    SERVER_PID=""
    if ! kill -TERM "$pid" 2>/dev/null; then
        wait "$pid" || status=$?
        log "the server (pid $pid) had already exited, with status $status, before it was stopped"
        return 1
    fi
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || { log "the server did not exit cleanly on SIGTERM (status $status)"; return 1; }
}
