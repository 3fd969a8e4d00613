"""The seed's flows over the wire, through a client we did not write: Python grpcio with the
classes and stubs grpcio-tools generates from Schemas/*.proto. No byte is built by hand.

While a subscriber (started before anything happens, interrupted once and resumed after the last
position it saw) records the event stream, the script connects the virtual broker through OAuth,
waits for the onboarding saga to link and refresh the accounts, creates and activates an
automation, creates an order the execution saga submits and the virtual broker fills, and then
checks the API's promises: field violations for invalid commands, PERMISSION_DENIED for another
user's order, ABORTED with both versions for a stale expected version (read with
grpc_status.rpc_status.from_call), the first result for a repeated command id (and INVALID_ARGUMENT
for that id with another command), read-your-writes with min_position, and a subscriber that saw
every event exactly once and in order.

Usage: e2e_grpcio.py --target HOST:PORT --generated DIR --service-token T --user USER:T --user USER:T
"""

import argparse
import sys
import threading
import time
import uuid

import grpc

failures = []


def check(name, condition, detail=""):
    if condition:
        print("  ok    %s" % name)
    else:
        print("  FAIL  %s %s" % (name, detail))
        failures.append(name)
    return condition


def expect_error(name, code, call, *args, **kwargs):
    """Calls and expects a failure with `code`; returns the grpc.RpcError (or None)."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as error:
        check(name, error.code() == code, "got %s: %s" % (error.code(), error.details()))
        return error
    check(name, False, "the call succeeded")
    return None


def rich_status(error):
    """The google.rpc.Status of a failed call, its ErrorInfo and BadRequest, via the stock helper."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    info, bad_request = None, None
    for detail in (status.details if status else []):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
    return status, info, bad_request


def wait_until(what, predicate, seconds=20.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    check("in time: " + what, False, "(waited %.0f s)" % seconds)
    return None


class Subscriber:
    """Records the event stream in a thread: the events, and what else arrived."""

    def __init__(self, stub, pb, metadata, after=None, interval_ms=200):
        self.events = []
        self.checkpoints = []
        self.caught_up = 0
        self.error = None
        request = pb.SubscribeRequest(checkpoint_interval_ms=interval_ms)
        if after is not None:
            request.after_position = after
        self.call = stub.Subscribe(request, metadata=metadata)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for response in self.call:
                kind = response.WhichOneof("message")
                if kind == "event":
                    self.events.append(response.event)
                elif kind == "checkpoint":
                    self.checkpoints.append(response.checkpoint)
                elif kind == "caught_up":
                    self.caught_up += 1
        except grpc.RpcError as error:
            self.error = error

    def stop(self):
        self.call.cancel()
        self.thread.join(timeout=10)

    @property
    def last_position(self):
        return self.events[-1].global_position if self.events else 0


def uid(value):
    return uuid.UUID(bytes=bytes(value))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--service-token", required=True)
    parser.add_argument("--user", action="append", required=True, help="USER_UUID:TOKEN")
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.generated)
    import api_pb2_grpc
    import automation_pb2 as automation
    import broker_account_pb2 as account
    import broker_connection_pb2 as connection
    import common_pb2 as common
    import events_pb2 as events
    import order_pb2 as order

    users = [(uuid.UUID(entry.split(":", 1)[0]), entry.split(":", 1)[1]) for entry in arguments.user]
    (alice, alice_token), (bob, bob_token) = users[0], users[1]
    service = (("authorization", "Bearer " + arguments.service_token),)
    as_alice = (("authorization", "Bearer " + alice_token),)
    as_bob = (("authorization", "Bearer " + bob_token),)

    channel = grpc.insecure_channel(arguments.target)
    grpc.channel_ready_future(channel).result(timeout=10)
    commands = api_pb2_grpc.CommandServiceStub(channel)
    queries = api_pb2_grpc.QueryServiceStub(channel)
    stream = api_pb2_grpc.EventStreamServiceStub(channel)
    print("grpcio %s against %s" % (grpc.__version__, arguments.target))

    print("authentication")
    expect_error("no token is UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED,
                 queries.GetAccountsByUser, account.GetAccountsByUser(user_id=alice.bytes), timeout=5)
    expect_error("a wrong token is UNAUTHENTICATED", grpc.StatusCode.UNAUTHENTICATED,
                 queries.GetAccountsByUser, account.GetAccountsByUser(user_id=alice.bytes), timeout=5,
                 metadata=(("authorization", "Bearer not-a-token-we-know"),))

    first = Subscriber(stream, events, service)
    alice_view = Subscriber(stream, events, as_alice)

    print("connect the virtual broker through OAuth")
    initiated = commands.InitiateBrokerConnection(
        connection.InitiateBrokerConnection(user_id=alice.bytes, broker_id="virtual"), metadata=as_alice, timeout=10)
    check("the connection waits for OAuth",
          initiated.status == connection.BROKER_CONNECTION_STATUS_AWAITING_OAUTH, str(initiated))
    check("with an authorization URL carrying the state",
          initiated.oauth_state and initiated.oauth_state in initiated.authorization_url)
    expect_error("a wrong OAuth state is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                 commands.CompleteOAuth, connection.CompleteOAuth(
                     broker_connection_id=initiated.broker_connection_id, user_id=alice.bytes,
                     authorization_code="code", state="forged-state"), metadata=as_alice, timeout=10)
    completed = commands.CompleteOAuth(connection.CompleteOAuth(
        broker_connection_id=initiated.broker_connection_id, user_id=alice.bytes, authorization_code="alice-code",
        state=initiated.oauth_state), metadata=as_alice, timeout=10)
    check("CompleteOAuth connects it", completed.status == connection.BROKER_CONNECTION_STATUS_CONNECTED, str(completed))
    error = expect_error("the state is single-use", grpc.StatusCode.FAILED_PRECONDITION,
                         commands.CompleteOAuth, connection.CompleteOAuth(
                             broker_connection_id=initiated.broker_connection_id, user_id=alice.bytes,
                             authorization_code="alice-code", state=initiated.oauth_state),
                         metadata=as_alice, timeout=10)

    print("the onboarding saga links and refreshes the accounts")
    accounts = wait_until("two accounts are linked and refreshed", lambda: (
        lambda listed: listed if len(listed) == 2 and all(a.last_synced_at > 0 for a in listed) else None)(
        list(queries.GetAccountsByUser(account.GetAccountsByUser(user_id=alice.bytes), metadata=as_alice,
                                       timeout=5).accounts)))
    if not accounts:
        return finish(channel, [first, alice_view])
    cash = next(a for a in accounts if a.broker_account_number.endswith("-C"))
    check("the cash account has its balance", cash.cash == "100000", cash.cash)
    found = queries.FindBrokerConnection(connection.FindBrokerConnection(user_id=alice.bytes, broker_id="virtual"),
                                         metadata=as_alice, timeout=5)
    check("FindBrokerConnection finds it", found.broker_connection_id == initiated.broker_connection_id)

    print("automation")
    created_automation = commands.CreateAutomation(automation.CreateAutomation(
        user_id=alice.bytes, name="Breakout", symbol="AAPL",
        position_sizing=automation.PositionSizing(method=automation.POSITION_SIZING_METHOD_FIXED_QUANTITY, value="10"),
        account_ids=[cash.account_id], asset_type=common.ASSET_TYPE_STOCK, auto_submit=True),
        metadata=as_alice, timeout=10)
    check("it starts inactive", created_automation.status == automation.AUTOMATION_STATUS_INACTIVE)
    check("with a webhook URL and token", created_automation.webhook_url.endswith(
        uid(created_automation.automation_id).hex[:8]) or str(uid(created_automation.automation_id)) in
        created_automation.webhook_url and created_automation.webhook_token.startswith("whk_"))
    activated = commands.ActivateAutomation(automation.ActivateAutomation(
        automation_id=created_automation.automation_id, user_id=alice.bytes), metadata=as_alice, timeout=10)
    check("ActivateAutomation activates it", activated.status == automation.AUTOMATION_STATUS_ACTIVE)
    page = queries.ListAutomations(automation.ListAutomations(user_id=alice.bytes, page_size=1,
                                                              min_position=activated.position),
                                   metadata=as_alice, timeout=10)
    check("ListAutomations pages: a full page names where the next starts",
          [a.automation_id for a in page.automations] == [created_automation.automation_id]
          and page.next_after_automation_id == created_automation.automation_id, str(page))
    rest = queries.ListAutomations(automation.ListAutomations(
        user_id=alice.bytes, page_size=1, after_automation_id=page.next_after_automation_id),
        metadata=as_alice, timeout=10)
    check("and the page after the last is empty, without a cursor",
          not rest.automations and not rest.next_after_automation_id, str(rest))

    print("an order, submitted by the saga and filled by the virtual broker")
    created = commands.CreateOrder(order.CreateOrder(
        user_id=alice.bytes, automation_id=created_automation.automation_id, account_id=cash.account_id,
        symbol="AAPL", side=common.ORDER_SIDE_BUY, quantity="150", order_type=common.ORDER_TYPE_MARKET,
        auto_submit=True), metadata=as_alice, timeout=10)
    check("the order is created pending", created.status == order.ORDER_STATUS_PENDING)
    check("its result carries its commit's position", created.position > 0)
    seen = queries.GetOrder(order.GetOrder(order_id=created.order_id, user_id=alice.bytes,
                                           min_position=created.position), metadata=as_alice, timeout=10)
    check("a query with that min_position sees it", seen.order_id == created.order_id)

    # Interrupt the first subscriber in the middle of the flow; it resumes after the last position.
    first.stop()
    resumed = Subscriber(stream, events, service, after=first.last_position)

    filled = wait_until("the order is filled", lambda: (lambda view: view if view.status == order.ORDER_STATUS_FILLED
                                                        else None)(queries.GetOrder(
        order.GetOrder(order_id=created.order_id, user_id=alice.bytes), metadata=as_alice, timeout=5)))
    if filled:
        check("filled in two parts, 100 then 50", [f.quantity for f in filled.fills] == ["100", "50"],
              str([f.quantity for f in filled.fills]))
        check("with its broker's order id", filled.broker_order_id.startswith("VB-"), filled.broker_order_id)
        check("at an exact average price", filled.average_fill_price != "", filled.average_fill_price)

    print("invalid commands")
    error = expect_error("quantity 0 is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT, commands.CreateOrder,
                         order.CreateOrder(user_id=alice.bytes, account_id=cash.account_id, symbol="AAPL",
                                           side=common.ORDER_SIDE_BUY, quantity="0",
                                           order_type=common.ORDER_TYPE_LIMIT), metadata=as_alice, timeout=10)
    if error is not None:
        status, info, bad_request = rich_status(error)
        fields = sorted(v.field for v in bad_request.field_violations) if bad_request else []
        check("with a field violation on quantity", "quantity" in fields, str(fields))
        check("with ErrorInfo in domain tradecore", info is not None and info.domain == "tradecore", str(info))
    error = expect_error("a limit order without a limit price is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                         commands.CreateOrder, order.CreateOrder(
                             user_id=alice.bytes, account_id=cash.account_id, symbol="AAPL",
                             side=common.ORDER_SIDE_BUY, quantity="5", order_type=common.ORDER_TYPE_LIMIT),
                         metadata=as_alice, timeout=10)
    if error is not None:
        _, _, bad_request = rich_status(error)
        check("naming limit_price", bad_request is not None and
              [v.field for v in bad_request.field_violations] == ["limit_price"], str(bad_request))
    error = expect_error("a lowercase symbol is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                         commands.CreateOrder, order.CreateOrder(
                             user_id=alice.bytes, account_id=cash.account_id, symbol="aapl",
                             side=common.ORDER_SIDE_BUY, quantity="5", order_type=common.ORDER_TYPE_MARKET),
                         metadata=as_alice, timeout=10)
    error = expect_error("a non-canonical decimal is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                         commands.CreateOrder, order.CreateOrder(
                             user_id=alice.bytes, account_id=cash.account_id, symbol="AAPL",
                             side=common.ORDER_SIDE_BUY, quantity="1.50", order_type=common.ORDER_TYPE_MARKET),
                         metadata=as_alice, timeout=10)
    if error is not None:
        _, info, bad_request = rich_status(error)
        check("as a malformed request naming the field", info is not None and info.reason == "MALFORMED_REQUEST"
              and [v.field for v in bad_request.field_violations] == ["quantity"], str(info))

    print("other users")
    expect_error("Bob cannot read Alice's order", grpc.StatusCode.PERMISSION_DENIED, queries.GetOrder,
                 order.GetOrder(order_id=created.order_id, user_id=bob.bytes), metadata=as_bob, timeout=10)
    expect_error("Bob cannot act as Alice", grpc.StatusCode.PERMISSION_DENIED, queries.GetOrder,
                 order.GetOrder(order_id=created.order_id, user_id=alice.bytes), metadata=as_bob, timeout=10)
    expect_error("Bob cannot cancel Alice's order", grpc.StatusCode.PERMISSION_DENIED, commands.CancelOrder,
                 order.CancelOrder(order_id=created.order_id, user_id=bob.bytes), metadata=as_bob, timeout=10)
    expect_error("an unknown order is NOT_FOUND", grpc.StatusCode.NOT_FOUND, queries.GetOrder,
                 order.GetOrder(order_id=uuid.uuid4().bytes, user_id=alice.bytes), metadata=as_alice, timeout=10)

    print("expected versions")
    working = commands.CreateOrder(order.CreateOrder(
        user_id=alice.bytes, account_id=cash.account_id, symbol="MSFT", side=common.ORDER_SIDE_BUY, quantity="5",
        order_type=common.ORDER_TYPE_LIMIT, limit_price="100"), metadata=as_alice, timeout=10)
    updated = commands.UpdateOrder(order.UpdateOrder(order_id=working.order_id, user_id=alice.bytes,
                                                     limit_price="101", expected_version=0),
                                   metadata=as_alice, timeout=10)
    check("an update at the version read goes through", updated.version == 1, str(updated))
    error = expect_error("an update at a stale version is ABORTED", grpc.StatusCode.ABORTED, commands.UpdateOrder,
                         order.UpdateOrder(order_id=working.order_id, user_id=alice.bytes, limit_price="102",
                                           expected_version=0), metadata=as_alice, timeout=10)
    if error is not None:
        status, info, _ = rich_status(error)
        check("rpc_status.from_call reads the details", status is not None and status.code == 10)
        check("with both versions", info is not None and info.reason == "VERSION_CONFLICT" and
              info.metadata.get("expected_version") == "0" and info.metadata.get("current_version") == "1",
              str(info))

    print("a repeated command id")
    command_id = (("tradecore-command-id", str(uuid.uuid4())),)
    request = order.CreateOrder(user_id=alice.bytes, account_id=cash.account_id, symbol="TSLA",
                                side=common.ORDER_SIDE_SELL, quantity="3", order_type=common.ORDER_TYPE_STOP,
                                stop_price="200")
    once = commands.CreateOrder(request, metadata=as_alice + command_id, timeout=10)
    twice = commands.CreateOrder(request, metadata=as_alice + command_id, timeout=10)
    check("returns the first result", once.order_id == twice.order_id and once.position == twice.position)
    listed = queries.ListOrders(order.ListOrders(user_id=alice.bytes, min_position=twice.position),
                                metadata=as_alice, timeout=10)
    check("and created one order", [o.symbol for o in listed.orders].count("TSLA") == 1)
    other = order.CreateOrder()
    other.CopyFrom(request)
    other.quantity = "4"
    error = expect_error("the id with another order is INVALID_ARGUMENT", grpc.StatusCode.INVALID_ARGUMENT,
                         commands.CreateOrder, other, metadata=as_alice + command_id, timeout=10)
    if error is not None:
        _, info, _ = rich_status(error)
        check("reason COMMAND_ID_REUSED", info is not None and info.reason == "COMMAND_ID_REUSED", str(info))

    print("the event stream")
    head = twice.position
    wait_until("the resumed subscriber reaches the last write",
               lambda: resumed.last_position >= head or (resumed.checkpoints and
                                                         resumed.checkpoints[-1].position >= head))
    time.sleep(0.5)
    resumed.stop()
    alice_view.stop()
    positions = [e.global_position for e in first.events] + [e.global_position for e in resumed.events]
    check("the subscriber saw every position from 1, exactly once and in order",
          positions == list(range(1, len(positions) + 1)) and len(positions) >= head,
          "first %d then %d events; head %d" % (len(first.events), len(resumed.events), head))
    check("it was told when it caught up", first.caught_up >= 1 and resumed.caught_up >= 1)
    check("an idle subscriber gets checkpoints", len(resumed.checkpoints) >= 1)
    types = [e.event_type for e in first.events + resumed.events]
    for expected in ("BrokerConnectionInitiated", "BrokerOAuthStarted", "BrokerConnectionEstablished",
                     "BrokerAccountLinked", "BrokerAccountDataRefreshed", "AllAccountsRefreshCompleted",
                     "AutomationCreated", "AutomationActivated", "OrderCreated", "OrderPlaced", "FillAdded",
                     "OrderFilled"):
        check("the stream carries %s" % expected, expected in types)
    foreign = [e for e in alice_view.events if uid(e.metadata.user_id) != alice]
    check("a user's subscription sees only its own events", alice_view.events and not foreign,
          "%d events, %d foreign" % (len(alice_view.events), len(foreign)))
    read = stream.ReadStream(events.ReadStreamRequest(stream="order-%s" % uid(created.order_id)), metadata=service,
                             timeout=10)
    check("ReadStream reads the order's stream", [e.event_type for e in read.events][:2] ==
          ["OrderCreated", "OrderPlaced"] and read.end_of_stream, str([e.event_type for e in read.events]))
    if read.events:
        last = read.events[-1]
        after_last = stream.Subscribe(events.SubscribeRequest(after_stream_version=events.StreamVersion(
            stream="order-%s" % uid(created.order_id), version=last.version)), metadata=service, timeout=10)
        first_message = next(iter(after_last))
        after_last.cancel()
        check("a subscription after a stream's last version is caught up at a log position to resume from",
              first_message.WhichOneof("message") == "caught_up"
              and first_message.caught_up.position >= last.global_position, str(first_message))
    return finish(channel, [])


def finish(channel, subscribers):
    for subscriber in subscribers:
        subscriber.stop()
    channel.close()
    if failures:
        print("%d check(s) failed: %s" % (len(failures), ", ".join(failures)))
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
