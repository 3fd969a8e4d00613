"""Calls a running TradeCore server with Python's grpcio, the reference gRPC implementation.

Messages go through raw-bytes serializers: the few fields needed are encoded and decoded by
hand here, so this checks our server against grpcio's transport, not against our own codecs.

Usage: grpcio_interop.py --target HOST:PORT [--ca CERT.pem]
Exits non-zero, naming the failed check, if anything differs from what gRPC promises.
"""

import argparse
import os
import sys
import time

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from protobytes import field_bytes, field_varint, parse  # noqa: E402

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
PING = "/tradecore.diagnostics.v1.Diagnostics/Ping"
PING_STREAM = "/tradecore.diagnostics.v1.Diagnostics/PingStream"
STATS = "/tradecore.diagnostics.v1.Diagnostics/GetServerStats"


def ping_request(payload=b"", delay_millis=0):
    message = field_bytes(1, payload) if payload else b""
    if delay_millis:
        message += field_varint(2, delay_millis)
    return message


def payload_of(response):
    return parse(response).get(1, [b""])[0]


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


def active_calls(channel):
    stats = channel.unary_unary(STATS)(b"", timeout=5)
    return parse(stats).get(1, [0])[0]


def wait_for_active_calls(channel, expected, seconds=5.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if active_calls(channel) == expected:
            return True
        time.sleep(0.05)
    return False


def run(channel):
    unary = lambda path: channel.unary_unary(path)
    streaming = lambda path: channel.unary_stream(path)

    print("health")
    check("Check('') answers 08 01 (SERVING)", unary(HEALTH_CHECK)(b"", timeout=5) == b"\x08\x01")
    expect_status("Check('nope') is NOT_FOUND", grpc.StatusCode.NOT_FOUND,
                  unary(HEALTH_CHECK), field_bytes(1, b"nope"), timeout=5)

    print("unary echo")
    for size in (0, 1024, 3 * 1024 * 1024):
        payload = bytes((i * 31) & 0xFF for i in range(size))
        response = unary(PING)(ping_request(payload), timeout=30)
        check("echo of %d bytes" % size, payload_of(response) == payload)
        check("server time of the %d-byte echo" % size, parse(response)[2][0] > 1_700_000_000 * 10**9)

    print("metadata both ways")
    response, call = unary(PING).with_call(
        ping_request(b"m"), timeout=5,
        metadata=(("x-echo-text", "hello world"), ("x-echo-data-bin", b"\x00\xff\x10"), ("x-ignored", "no")))
    initial = dict(call.initial_metadata())
    trailing = dict(call.trailing_metadata())
    check("text metadata comes back as a header", initial.get("x-echo-text") == "hello world", str(initial))
    check("binary metadata comes back as a header", initial.get("x-echo-data-bin") == b"\x00\xff\x10", str(initial))
    check("metadata comes back as a trailer", trailing.get("x-echo-text") == "hello world", str(trailing))
    check("other metadata is not echoed", "x-ignored" not in initial)

    print("server stream of 10,000 messages, read slowly")
    started = time.time()
    sequences = []
    for index, message in enumerate(streaming(PING_STREAM)(field_varint(1, 10_000) + field_bytes(2, b"x" * 100), timeout=120)):
        fields = parse(message)
        sequences.append(fields.get(3, [0])[0])
        if index % 500 == 0:
            time.sleep(0.05)
    check("all 10,000 messages arrive", len(sequences) == 10_000, "got %d" % len(sequences))
    check("in order", sequences == list(range(10_000)))
    print("        (read in %.2f s)" % (time.time() - started))

    print("deadline")
    error = expect_status("a 5 s call with a 300 ms deadline is DEADLINE_EXCEEDED", grpc.StatusCode.DEADLINE_EXCEEDED,
                          unary(PING), ping_request(b"", delay_millis=5000), timeout=0.3)
    check("the server's handler is gone after the deadline", wait_for_active_calls(channel, 1))

    print("cancellation in the middle of a stream")
    call = streaming(PING_STREAM)(field_varint(1, 1_000_000), timeout=60)
    received = 0
    for _ in call:
        received += 1
        if received == 100:
            call.cancel()
            break
    check("the stream was read up to the cancellation", received == 100)
    check("the call reports CANCELLED", call.code() == grpc.StatusCode.CANCELLED, str(call.code()))
    check("the server's handler is gone after the cancellation", wait_for_active_calls(channel, 1))

    print("errors")
    expect_status("an unknown method is UNIMPLEMENTED", grpc.StatusCode.UNIMPLEMENTED,
                  unary("/tradecore.v1.Nothing/Here"), b"", timeout=5)
    expect_status("a 5 MiB message is RESOURCE_EXHAUSTED", grpc.StatusCode.RESOURCE_EXHAUSTED,
                  unary(PING), ping_request(b"z" * (5 * 1024 * 1024)), timeout=30)
    error = expect_status("a bad argument is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                          unary(PING), ping_request(b"", delay_millis=999_999), timeout=5)
    check("with a message naming the field", error is not None and "delay_millis" in error.details(),
          error.details() if error else "")
    expect_status("a malformed request is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                  unary(PING), b"\x0a\x05\x01", timeout=5)

    print("the connection still serves after all that")
    check("a final ping", payload_of(unary(PING)(ping_request(b"bye"), timeout=5)) == b"bye")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--ca", help="PEM file to trust: connect with TLS")
    arguments = parser.parse_args()

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
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
