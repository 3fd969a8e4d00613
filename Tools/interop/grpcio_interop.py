"""Calls a running TradeCore server with Python's grpcio, the reference gRPC implementation.

Messages go through the classes and stubs that grpcio-tools generates from Schemas/health.proto
and Schemas/diagnostics.proto, so both the transport and the message encoding are a client we
did not write. Two checks send raw bytes on purpose, because no stub can: a method the schemas
do not have, and a malformed request. Server reflection is read with grpcio-reflection's own
client, and one call is made from the descriptors it returns.

Usage: grpcio_interop.py --target HOST:PORT --generated DIR [--ca CERT.pem]
(DIR holds health_pb2, health_pb2_grpc, diagnostics_pb2 and diagnostics_pb2_grpc.)
Exits non-zero, naming the failed check, if anything differs from what gRPC promises.
"""

import argparse
import sys
import time

import grpc
from google.protobuf import descriptor_pool, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

# Imported in main(), once --generated is on sys.path.
health_pb2 = health_pb2_grpc = diagnostics_pb2 = diagnostics_pb2_grpc = None


def load_generated(folder):
    global health_pb2, health_pb2_grpc, diagnostics_pb2, diagnostics_pb2_grpc
    sys.path.insert(0, folder)
    import diagnostics_pb2  # noqa: F401, E402
    import diagnostics_pb2_grpc  # noqa: F401, E402
    import health_pb2  # noqa: F401, E402
    import health_pb2_grpc  # noqa: F401, E402


def method_path(module, service, method):
    """The HTTP/2 path of a method, from the generated descriptor: /package.Service/Method."""
    descriptor = module.DESCRIPTOR.services_by_name[service]
    return "/%s/%s" % (descriptor.full_name, descriptor.methods_by_name[method].name)


# --- checks --------------------------------------------------------------------------------

failures = []


def check(name, condition, detail=""):
    if condition:
        print("  ok    %s" % name)
    else:
        print("  FAIL  %s %s" % (name, detail))
        failures.append(name)


def expect_status(name, code, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        check(name, error.code() == code, "got %s: %s" % (error.code(), error.details()))
        return error
    check(name, False, "the call succeeded")
    return None


def active_calls(diagnostics):
    return diagnostics.GetServerStats(diagnostics_pb2.ServerStatsRequest(), timeout=5).active_calls


def wait_for_active_calls(diagnostics, expected, seconds=5.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if active_calls(diagnostics) == expected:
            return True
        time.sleep(0.05)
    return False


def run(channel):
    health = health_pb2_grpc.HealthStub(channel)
    diagnostics = diagnostics_pb2_grpc.DiagnosticsStub(channel)
    Ping = diagnostics_pb2.PingRequest

    print("health")
    response = health.Check(health_pb2.HealthCheckRequest(), timeout=5)
    check("Check('') is SERVING", response.status == health_pb2.HealthCheckResponse.SERVING, str(response))
    expect_status("Check('nope') is NOT_FOUND", grpc.StatusCode.NOT_FOUND,
                  health.Check, health_pb2.HealthCheckRequest(service="nope"), timeout=5)

    print("unary echo")
    for size in (0, 1024, 3 * 1024 * 1024):
        payload = bytes((i * 31) & 0xFF for i in range(size))
        response = diagnostics.Ping(Ping(payload=payload), timeout=30)
        check("echo of %d bytes" % size, response.payload == payload)
        check("server time of the %d-byte echo" % size, response.server_time_unix_nanos > 1_700_000_000 * 10**9)

    print("metadata both ways")
    response, call = diagnostics.Ping.with_call(
        Ping(payload=b"m"), timeout=5,
        metadata=(("x-echo-text", "hello world"), ("x-echo-data-bin", b"\x00\xff\x10"), ("x-ignored", "no")))
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    check("text metadata comes back as a header", initial.get("x-echo-text") == "hello world", str(initial))
    check("binary metadata comes back as a header", initial.get("x-echo-data-bin") == b"\x00\xff\x10", str(initial))
    check("metadata comes back as a trailer", trailing.get("x-echo-text") == "hello world", str(trailing))
    check("other metadata is not echoed", "x-ignored" not in initial)

    print("compressed requests (the answers come back plain)")
    for name, compression in (("gzip", grpc.Compression.Gzip), ("deflate", grpc.Compression.Deflate)):
        payload = bytes(i % 7 for i in range(200_000))
        response = diagnostics.Ping(Ping(payload=payload), timeout=30, compression=compression)
        check("a %s request of %d bytes is echoed" % (name, len(payload)), response.payload == payload)
        # A few KiB that inflate past the 4 MiB limit.
        expect_status("a %s request inflating past the limit is RESOURCE_EXHAUSTED" % name,
                      grpc.StatusCode.RESOURCE_EXHAUSTED,
                      diagnostics.Ping, Ping(payload=bytes(5 * 1024 * 1024)), timeout=30, compression=compression)

    print("server reflection, read by grpcio-reflection's client")
    database = ProtoReflectionDescriptorDatabase(channel)
    services = database.get_services()
    check("the services are listed", "tradecore.api.v1.CommandService" in services
          and "grpc.health.v1.Health" in services, str(services))
    pool = descriptor_pool.DescriptorPool(database)
    commands = pool.FindServiceByName("tradecore.api.v1.CommandService")
    check("CommandService's methods come with their types",
          commands.FindMethodByName("CreateOrder").input_type.full_name == "tradecore.order.v1.CreateOrder")
    # A call built from the reflected descriptors alone.
    request_class = message_factory.GetMessageClass(pool.FindMessageTypeByName("tradecore.diagnostics.v1.PingRequest"))
    response_class = message_factory.GetMessageClass(
        pool.FindMessageTypeByName("tradecore.diagnostics.v1.PingResponse"))
    reflected_ping = channel.unary_unary(
        "/tradecore.diagnostics.v1.Diagnostics/Ping",
        request_serializer=request_class.SerializeToString, response_deserializer=response_class.FromString)
    check("a call made from reflected descriptors", reflected_ping(request_class(payload=b"r"), timeout=5).payload == b"r")
    check("v1alpha reflection is listed", "grpc.reflection.v1alpha.ServerReflection" in services, str(services))
    alpha = pool.FindServiceByName("grpc.reflection.v1alpha.ServerReflection")
    check("and described in its own package",
          alpha.FindMethodByName("ServerReflectionInfo").input_type.full_name
          == "grpc.reflection.v1alpha.ServerReflectionRequest")
    # A fresh pool asks for the file of a field, a oneof or an enum value directly.
    fresh = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    check("a field is found by its name", fresh.FindFieldByName("tradecore.order.v1.CreateOrder.quantity").number > 0)
    fresh = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(channel))
    check("a oneof is found by its name",
          fresh.FindOneofByName("tradecore.events.v1.SubscribeRequest.start").name == "start")
    try:
        pool.FindMessageTypeByName("tradecore.order.v1.Nothing")
        check("an unknown symbol is not found", False, "it was found")
    except KeyError:
        check("an unknown symbol is not found", True)

    print("server stream of 10,000 messages, read slowly")
    started = time.time()
    sequences = []
    stream = diagnostics.PingStream(diagnostics_pb2.PingStreamRequest(count=10_000, payload=b"x" * 100), timeout=120)
    for index, message in enumerate(stream):
        sequences.append(message.sequence)
        if index % 500 == 0:
            time.sleep(0.05)
    check("all 10,000 messages arrive", len(sequences) == 10_000, "got %d" % len(sequences))
    check("in order", sequences == list(range(10_000)))
    print("        (read in %.2f s)" % (time.time() - started))

    print("deadline")
    expect_status("a 5 s call with a 300 ms deadline is DEADLINE_EXCEEDED", grpc.StatusCode.DEADLINE_EXCEEDED,
                  diagnostics.Ping, Ping(delay_millis=5000), timeout=0.3)
    check("the server's handler is gone after the deadline", wait_for_active_calls(diagnostics, 1))

    print("cancellation in the middle of a stream")
    call = diagnostics.PingStream(diagnostics_pb2.PingStreamRequest(count=1_000_000), timeout=60)
    received = 0
    for _ in call:
        received += 1
        if received == 100:
            call.cancel()
            break
    check("the stream was read up to the cancellation", received == 100)
    check("the call reports CANCELLED", call.code() == grpc.StatusCode.CANCELLED, str(call.code()))
    check("the server's handler is gone after the cancellation", wait_for_active_calls(diagnostics, 1))

    print("errors")
    # No stub exists for a method the schemas lack: a raw call, bytes in and out.
    expect_status("an unknown method is UNIMPLEMENTED", grpc.StatusCode.UNIMPLEMENTED,
                  channel.unary_unary("/tradecore.v1.Nothing/Here"), b"", timeout=5)
    expect_status("a 5 MiB message is RESOURCE_EXHAUSTED", grpc.StatusCode.RESOURCE_EXHAUSTED,
                  diagnostics.Ping, Ping(payload=b"z" * (5 * 1024 * 1024)), timeout=30)
    error = expect_status("a bad argument is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                          diagnostics.Ping, Ping(delay_millis=999_999), timeout=5)
    check("with a message naming the field", error is not None and "delay_millis" in error.details(),
          error.details() if error else "")
    # No stub can produce malformed bytes: field 1 claims 5 bytes and carries 1, sent raw to Ping.
    raw_ping = channel.unary_unary(method_path(diagnostics_pb2, "Diagnostics", "Ping"))
    expect_status("a malformed request is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                  raw_ping, b"\x0a\x05\x01", timeout=5)

    print("the connection still serves after all that")
    check("a final ping", diagnostics.Ping(Ping(payload=b"bye"), timeout=5).payload == b"bye")


def tls_flood_ends_cleanly(target, ca):
    """A TLS connection that floods PINGs is told why (GOAWAY), then its TLS session is ended with
    close_notify (Python's ssl raises SSLEOFError for a FIN alone) while the server still takes
    what the client sends for a moment (the close linger)."""
    import socket
    import ssl
    host, port = target.rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca)
    context.set_alpn_protocols(["h2"])
    raw = socket.create_connection((host, int(port)), timeout=10)
    with context.wrap_socket(raw, server_hostname=host) as connection:
        ping = b"\x00\x00\x08\x06\x00\x00\x00\x00\x00" + bytes(8)
        connection.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
                           + ping * 3000)
        received = b""
        ending = "clean"
        try:
            while True:
                chunk = connection.recv(65536)
                if not chunk:
                    break
                received += chunk
        except ssl.SSLEOFError:
            ending = "TCP FIN without close_notify"
        except OSError as error:
            ending = "reset (%s)" % error
        # A client that has not read the GOAWAY yet goes on sending: the server drops what comes
        # for a while instead of resetting the connection (which would fail these writes).
        written = "ok"
        try:
            for _ in range(5):
                connection.sendall(bytes(65536))
                time.sleep(0.02)
        except OSError as error:
            written = "%s: %s" % (type(error).__name__, error)
    types = []
    index = 0
    while index + 9 <= len(received):
        length = int.from_bytes(received[index:index + 3], "big")
        types.append(received[index + 3])
        index += 9 + length
    check("a PING flood over TLS is told why (GOAWAY)", 7 in types, str(types[-5:]))
    check("and the TLS connection ends with close_notify", ending == "clean", ending)
    check("and what the client still sends is taken, not answered with a reset", written == "ok", written)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--generated", required=True,
                        help="folder with the modules grpcio-tools generated from Schemas/*.proto")
    parser.add_argument("--ca", help="PEM file to trust: connect with TLS")
    arguments = parser.parse_args()
    load_generated(arguments.generated)

    options = [("grpc.max_receive_message_length", 8 * 1024 * 1024)]
    if arguments.ca:
        with open(arguments.ca, "rb") as handle:
            credentials = grpc.ssl_channel_credentials(root_certificates=handle.read())
        channel = grpc.secure_channel(arguments.target, credentials, options=options)
        print("grpcio %s over TLS to %s" % (grpc.__version__, arguments.target))
    else:
        channel = grpc.insecure_channel(arguments.target, options=options)
        print("grpcio %s over h2c to %s" % (grpc.__version__, arguments.target))
    with channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        run(channel)
    if arguments.ca:
        print("a PING flood over TLS")
        tls_flood_ends_cleanly(arguments.target, arguments.ca)
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
