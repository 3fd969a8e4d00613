"""Writes a gRPC-framed tradecore.diagnostics.v1.PingRequest whose frame is SIZE bytes long.

Usage: ping_body.py OUTPUT [SIZE=120]
"""
import struct
import sys

output = sys.argv[1]
size = int(sys.argv[2]) if len(sys.argv) > 2 else 120
payload_length = size - 5 - 2  # frame prefix, then tag and one-byte length of field 1
if not 0 <= payload_length < 128:
    sys.exit("size must be between 7 and 134")
message = b"\x0a" + bytes([payload_length]) + b"p" * payload_length
with open(output, "wb") as handle:
    handle.write(b"\x00" + struct.pack(">I", len(message)) + message)
