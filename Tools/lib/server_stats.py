"""Prints the server's counters (Diagnostics/GetServerStats) as `name=value` lines.

Usage: server_stats.py HOST:PORT
"""
import os
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from protobytes import parse  # noqa: E402

FIELDS = {1: "active_calls", 2: "open_connections", 3: "total_calls", 4: "failed_calls"}

with grpc.insecure_channel(sys.argv[1]) as channel:
    data = channel.unary_unary("/tradecore.diagnostics.v1.Diagnostics/GetServerStats")(b"", timeout=10)
fields = parse(data)
for number, name in FIELDS.items():
    print("%s=%d" % (name, fields.get(number, [0])[0]))
