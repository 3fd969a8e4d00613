"""Prints the server's counters (Diagnostics/GetServerStats) as `name=value` lines.

Usage: server_stats.py HOST:PORT
"""
import sys

import grpc

FIELDS = {1: "active_calls", 2: "open_connections", 3: "total_calls", 4: "failed_calls"}

with grpc.insecure_channel(sys.argv[1]) as channel:
    data = channel.unary_unary("/tradecore.diagnostics.v1.Diagnostics/GetServerStats")(b"", timeout=10)
values, index = {name: 0 for name in FIELDS.values()}, 0
while index < len(data):
    key, shift, value = data[index], 0, 0
    index += 1
    while True:
        byte = data[index]
        index += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    values[FIELDS.get(key >> 3, "field_%d" % (key >> 3))] = value
for name, value in values.items():
    print("%s=%d" % (name, value))
