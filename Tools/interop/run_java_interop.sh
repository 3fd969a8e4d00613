#!/usr/bin/env bash
# Interop with grpc-java over Netty, from Debian's packages: a third HTTP/2 and gRPC stack beside
# grpcio's C-core and nghttp2. Classes and stubs that protoc and grpc-java's plugin generate from
# Schemas/*.proto run the seed's flow end to end (java/Flow.java) and cancel calls the way
# grpc-java does (java/Cancels.java) against a freshly started tradecore-server.
#
# Usage: Tools/interop/run_java_interop.sh [path to tradecore-server binary]
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"

ensure_build_dependencies
# libgrpc-java depends on few of the jars it needs at run time; the others are named here.
ensure_debian_packages openjdk-17-jdk-headless protobuf-compiler libprotobuf-dev protobuf-compiler-grpc-java-plugin \
    libgrpc-java libnetty-java libperfmark-java libgoogle-gson-java libgoogle-common-protos-java libprotobuf-java \
    libguava-java libjsr305-java liberror-prone-java libopencensus-java libgeronimo-annotation-1.3-spec-java
ensure_python_packages "${PYTHON_GRPC_PACKAGES[@]}"
server="$(server_binary "${1:-}")"

work="$(mktemp -d)"
trap 'stop_server || true; rm -rf "$work"' EXIT

jars=(grpc-api grpc-context grpc-core grpc-netty grpc-protobuf grpc-protobuf-lite grpc-stub protobuf protobuf-util
    proto-google-common-protos guava jsr305 error_prone_annotations gson perfmark-api opencensus-api
    geronimo-annotation-1.3-spec netty-buffer netty-codec netty-codec-http netty-codec-http2 netty-codec-socks
    netty-common netty-handler netty-handler-proxy netty-resolver netty-transport netty-transport-native-epoll
    netty-transport-native-unix-common)
classpath="$work/classes"
for jar in "${jars[@]}"; do classpath+=":/usr/share/java/$jar.jar"; done

log "generating and compiling the Java client"
mkdir -p "$work/src" "$work/classes"
protoc -I "$root/Schemas" --java_out="$work/src" --plugin=protoc-gen-grpc-java=/usr/bin/grpc_java_plugin \
    --grpc-java_out="$work/src" "$root"/Schemas/*.proto
# The error details' ErrorInfo is newer than Debian's common protos (1.16): its classes are made from
# googleapis' own file, as grpcio-status installs it, and come first on the class path.
googleapis="$("$PYTHON" -c 'import google.rpc.error_details_pb2 as m, pathlib; print(pathlib.Path(m.__file__).parents[2])')"
protoc -I "$googleapis" --java_out="$work/src" "$googleapis/google/rpc/error_details.proto"
mapfile -t sources < <(find "$work/src" "$root/Tools/interop/java" -name '*.java')
javac -nowarn -encoding UTF-8 -d "$work/classes" -cp "$classpath" "${sources[@]}" 2> >(grep -v '^Note:' >&2)

start_server "$server" "$work/server.log"
for check in "interop.Flow 127.0.0.1:$SERVER_PORT" "interop.Cancels 127.0.0.1:$SERVER_PORT 2000"; do
    # shellcheck disable=SC2086 # the check's words are its class and arguments
    if ! java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$classpath" $check; then
        log "server log:"
        cat "$work/server.log" >&2
        exit 1
    fi
done
stop_server
log "grpc-java interop passed"
