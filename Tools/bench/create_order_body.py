"""Prepares a durable-command benchmark against a running (open, loopback) tradecore-server:
connects the virtual broker for a new user through generated stubs, waits for its cash account,
and writes a gRPC-framed CreateOrder (a limit order, not auto-submitted) for h2load to send.

Usage: create_order_body.py --target HOST:PORT --generated DIR --out FILE
"""
import argparse
import struct
import sys
import time
import uuid

import grpc

parser = argparse.ArgumentParser()
parser.add_argument("--target", required=True)
parser.add_argument("--generated", required=True)
parser.add_argument("--out", required=True)
arguments = parser.parse_args()
sys.path.insert(0, arguments.generated)
import api_pb2_grpc  # noqa: E402
import broker_account_pb2 as account  # noqa: E402
import broker_connection_pb2 as connection  # noqa: E402
import common_pb2 as common  # noqa: E402
import order_pb2 as order  # noqa: E402

user = uuid.uuid4().bytes
with grpc.insecure_channel(arguments.target) as channel:
    commands = api_pb2_grpc.CommandServiceStub(channel)
    queries = api_pb2_grpc.QueryServiceStub(channel)
    started = commands.InitiateBrokerConnection(connection.InitiateBrokerConnection(user_id=user, broker_id="virtual"),
                                                timeout=10)
    commands.CompleteOAuth(connection.CompleteOAuth(broker_connection_id=started.broker_connection_id, user_id=user,
                                                    authorization_code="bench", state=started.oauth_state), timeout=10)
    deadline = time.time() + 20
    cash = None
    while cash is None and time.time() < deadline:
        accounts = queries.GetAccountsByUser(account.GetAccountsByUser(user_id=user), timeout=5).accounts
        cash = next((a for a in accounts if a.broker_account_number.endswith("-C")), None)
        time.sleep(0.05)
    if cash is None:
        sys.exit("the virtual broker's accounts were not linked in time")
    message = order.CreateOrder(user_id=user, account_id=cash.account_id, symbol="AAPL", side=common.ORDER_SIDE_BUY,
                                quantity="10", order_type=common.ORDER_TYPE_LIMIT, limit_price="150.25")
    commands.CreateOrder(message, timeout=10)  # one by hand: the body must be accepted
    payload = message.SerializeToString()
with open(arguments.out, "wb") as handle:
    handle.write(b"\x00" + struct.pack(">I", len(payload)) + payload)
print(len(payload) + 5)
