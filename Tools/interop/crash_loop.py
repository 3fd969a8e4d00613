"""Crash loop: clients send commands at full speed while the server is killed with SIGKILL and
restarted on the same data directory, round after round. Afterwards every command that was
acknowledged is in the log with its result, none is half applied, and every aggregate still loads.

The script runs the server itself (subprocess), through a Python grpcio client with the classes
and stubs grpcio-tools generates from Schemas/*.proto; no byte is built by hand.

Setup: the virtual broker is connected for a fresh user through OAuth and its cash account (the
one whose number ends in "-C") is picked. Then, each round, a few threads send CreateOrder (LIMIT,
not submitted, so nothing fills) and, on the orders they created, UpdateOrder and CancelOrder
(with the expected version they know), each with a fresh tradecore-command-id, while the server
is killed with SIGKILL after a random 0.2-1.0 s and started again. Every call answered OK is
recorded as acknowledged; a call that failed leaves its order alone from then on (its outcome is
unknown), so each order has at most one command of unknown outcome, its last.

Checks, against the server running after the last round:
  (a) every acknowledged order is found by GetOrder with min_position = the highest acknowledged
      position (the read model has caught up with everything acknowledged);
  (b) every acknowledged command sent again with its tradecore-command-id returns the same result
      (order id, status, version, position): it is in the log with its result;
  (d) each order's stream ("order-<uuid>", ReadStream) has versions 0..n-1 with strictly
      increasing positions, and each acknowledged command's event sits at its version and position
      with the command id as causation id; every event was caused by a command we sent, and by one
      event only (nothing half applied, nothing applied twice);
  (c) each order's final state agrees with its log and with the acknowledged commands (an
      acknowledged cancel -> CANCELLED, the last limit price, the version);
  (f) every Order aggregate still loads: a command with a far-off expected_version is ABORTED with
      current_version = the stream's last version; RefreshAllAccounts loads and refreshes both
      accounts of the setup;
  (g) the commands whose outcome was unknown, sent again with their ids, all succeed; those the
      log already held return the log's result, and afterwards the user's orders are exactly the
      ones we know of (a create applied without its command record would show up twice);
  (e) every killed server was still running when it was killed and died of SIGKILL; the final
      SIGTERM exits 0.

Usage: crash_loop.py --server BINARY --generated DIR --work DIR [--rounds 20] [--threads 8] [--seed N]
"""

import argparse
import collections
import os
import random
import signal
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import scenario  # noqa: E402
from scenario import check, link_virtual_broker, run_scenario  # noqa: E402
from server_process import Server  # noqa: E402




class Command:
    """One command sent: its request, its id, and what came of it."""

    __slots__ = ("kind", "request", "cid", "order_id", "result", "code", "details", "round", "ended")

    def __init__(self, kind, request, order_id, round_number):
        self.kind = kind
        self.request = request
        self.cid = uuid.uuid4()
        self.order_id = order_id  # bytes; None for a create until it is acknowledged
        self.result = None
        self.code = None
        self.details = None
        self.round = round_number
        self.ended = None


EVENT_OF = {"CreateOrder": "OrderCreated", "UpdateOrder": "OrderUpdated", "CancelOrder": "OrderCancelled"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=None)
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.generated)
    seed = arguments.seed if arguments.seed is not None else random.randrange(1 << 30)
    print("crash loop: %d rounds, %d client threads, seed %d" % (arguments.rounds, arguments.threads, seed))

    data_directory = os.path.join(arguments.work, "data")
    os.makedirs(data_directory, exist_ok=True)
    server = Server(arguments.server, data_directory, arguments.work)
    # Every command is checked: report the failures only, at the end.
    scenario.verbose = False
    run_scenario(lambda: run(arguments, server, random.Random(seed)), [server])


def run(arguments, server, rng):
    import api_pb2_grpc
    import broker_account_pb2 as account
    import common_pb2 as common
    import events_pb2 as events
    import order_pb2 as order

    user = uuid.uuid4()

    def open_channel():
        channel = grpc.insecure_channel("127.0.0.1:%d" % server.port)
        grpc.channel_ready_future(channel).result(timeout=20)
        return (channel, api_pb2_grpc.CommandServiceStub(channel), api_pb2_grpc.QueryServiceStub(channel),
                api_pb2_grpc.EventStreamServiceStub(channel))

    # ---- setup: the virtual broker's cash account ----
    server.start()
    channel, commands, queries, stream = open_channel()
    cash = link_virtual_broker(commands, queries, user, code="crash")
    print("setup: user %s, cash account %s (%s)" % (user, uuid.UUID(bytes=cash.account_id), cash.broker_account_number))

    # ---- the rounds ----
    sent = []  # every Command, in the order it was sent
    sent_lock = threading.Lock()
    # Per client thread, across rounds: the orders it may still touch, order id -> (last acknowledged
    # version, limit price). An update always changes the price, so that every command appends an event.
    live = [dict() for _ in range(arguments.threads)]
    in_flight = [0]
    in_flight_lock = threading.Lock()
    kill_points = []
    kills = []  # (round, was it running, exit status, when)

    def worker(index, commands, stop, round_number, worker_rng):
        mine = live[index]
        while not stop.is_set():
            choice = worker_rng.random()
            if len(mine) < 3 or choice < 0.5:
                request = order.CreateOrder(
                    user_id=user.bytes, account_id=cash.account_id, symbol="AAPL", side=common.ORDER_SIDE_BUY,
                    quantity="1", order_type=common.ORDER_TYPE_LIMIT, limit_price="1", auto_submit=False)
                command = Command("CreateOrder", request, None, round_number)
                method = commands.CreateOrder
            else:
                order_id = worker_rng.choice(list(mine))
                version, price = mine[order_id]
                if choice < 0.85:
                    request = order.UpdateOrder(order_id=order_id, user_id=user.bytes,
                                                limit_price=str(int(price) + worker_rng.randint(1, 9)),
                                                expected_version=version)
                    command = Command("UpdateOrder", request, order_id, round_number)
                    method = commands.UpdateOrder
                else:
                    request = order.CancelOrder(order_id=order_id, user_id=user.bytes, reason="crash loop",
                                                expected_version=version)
                    command = Command("CancelOrder", request, order_id, round_number)
                    method = commands.CancelOrder
            with sent_lock:
                sent.append(command)
            with in_flight_lock:
                in_flight[0] += 1
            try:
                result = method(request, metadata=(("tradecore-command-id", str(command.cid)),), timeout=10)
                command.result = result
                command.code = grpc.StatusCode.OK
                if command.kind == "CreateOrder":
                    command.order_id = result.order_id
                    mine[result.order_id] = (result.version, request.limit_price)
                elif command.kind == "UpdateOrder":
                    mine[command.order_id] = (result.version, request.limit_price)
                else:
                    del mine[command.order_id]
            except grpc.RpcError as error:
                command.code = error.code()
                command.details = error.details()
                # Its outcome is unknown: leave the order alone from now on.
                if command.order_id is not None:
                    mine.pop(command.order_id, None)
                # The server died (nothing else may fail a call): wait for the next round.
                return
            finally:
                command.ended = time.time()
                with in_flight_lock:
                    in_flight[0] -= 1

    for round_number in range(1, arguments.rounds + 1):
        stop = threading.Event()
        threads = [threading.Thread(target=worker, args=(i, commands, stop, round_number,
                                                         random.Random(rng.random())), daemon=True)
                   for i in range(arguments.threads)]
        before = sum(1 for c in sent if c.code == grpc.StatusCode.OK)
        for thread in threads:
            thread.start()
        delay = rng.uniform(0.2, 1.0)
        time.sleep(delay)
        with in_flight_lock:
            flying = in_flight[0]
        killed_at = time.time()
        running, status = server.kill()
        acked_now = sum(1 for c in sent if c.code == grpc.StatusCode.OK) - before
        kills.append((round_number, running, status, killed_at))
        kill_points.append("r%d: %.2fs, %d acked, %d in flight" % (round_number, delay, acked_now, flying))
        time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
            if thread.is_alive():
                raise RuntimeError("a client thread did not stop after the kill in round %d" % round_number)
        channel.close()
        server.start()
        channel, commands, queries, stream = open_channel()

    # ---- verification, against the server that runs after the last round ----
    acked = [c for c in sent if c.code == grpc.StatusCode.OK]
    unacked = [c for c in sent if c.code != grpc.StatusCode.OK]
    codes = collections.Counter(c.code.name for c in unacked)
    # A call may fail only because the server died: it must have ended after a kill of its round.
    for command in unacked:
        killed_at = kills[command.round - 1][3]
        check("a call fails only once the server is killed", command.ended >= killed_at - 0.01,
              "(%s %s: %s %s)" % (command.kind, command.cid, command.code.name, command.details))
        check("a call cut by the kill ends UNAVAILABLE",
              command.code == grpc.StatusCode.UNAVAILABLE,
              "(%s %s: %s %s)" % (command.kind, command.cid, command.code.name, command.details))
    print("sent %d commands: %d acknowledged (%s), %d of unknown outcome (%s)" % (
        len(sent), len(acked), dict(collections.Counter(c.kind for c in acked)), len(unacked), dict(codes)))
    if not acked:
        raise RuntimeError("no command was acknowledged")
    head = max(c.result.position for c in acked)
    by_order = collections.defaultdict(list)
    for command in acked:
        by_order[command.order_id].append(command)
    order_ids = [c.order_id for c in acked if c.kind == "CreateOrder"]
    print("verifying %d orders, highest acknowledged position %d" % (len(order_ids), head))
    pool = ThreadPoolExecutor(max_workers=8)

    def name(order_id):
        return "order-%s" % uuid.UUID(bytes=order_id)

    # (a) every acknowledged order is found, once the read model has reached every acknowledged write
    views = {}

    def get(order_id):
        try:
            views[order_id] = queries.GetOrder(order.GetOrder(order_id=order_id, user_id=user.bytes,
                                                              min_position=head), timeout=20)
        except grpc.RpcError as error:
            check("(a) GetOrder finds every acknowledged order", False,
                  "(%s: %s %s)" % (name(order_id), error.code().name, error.details()))

    list(pool.map(get, order_ids))

    # (b) sent again, every acknowledged command returns its first result
    methods = {"CreateOrder": commands.CreateOrder, "UpdateOrder": commands.UpdateOrder,
               "CancelOrder": commands.CancelOrder}

    def resend(command):
        try:
            again = methods[command.kind](command.request, metadata=(("tradecore-command-id", str(command.cid)),),
                                          timeout=20)
        except grpc.RpcError as error:
            return error
        return again

    def replay(command):
        again = resend(command)
        if isinstance(again, grpc.RpcError):
            check("(b) an acknowledged command sent again returns its result", False,
                  "(%s %s: %s %s)" % (command.kind, command.cid, again.code().name, again.details()))
            return
        check("(b) an acknowledged command sent again returns the same result", again == command.result,
              "(%s %s on %s: first %s, again %s)" % (
                  command.kind, command.cid, name(command.order_id), one_line(command.result), one_line(again)))

    list(pool.map(replay, acked))

    # (d) each order's stream: versions 0..n-1, each acknowledged command's event where it said
    logs = {}

    def read(order_id):
        collected, version = [], 0
        while True:
            page = stream.ReadStream(events.ReadStreamRequest(stream=name(order_id), from_version=version,
                                                              max_count=1000), timeout=20)
            collected.extend(page.events)
            version = page.next_version
            if page.end_of_stream or not page.events:
                return collected

    def read_all(order_ids):
        def one(order_id):
            try:
                logs[order_id] = read(order_id)
            except grpc.RpcError as error:
                check("(d) ReadStream reads every order's stream", False,
                      "(%s: %s %s)" % (name(order_id), error.code().name, error.details()))
        list(pool.map(one, order_ids))

    read_all(order_ids)
    sent_ids = {c.cid.bytes: c for c in sent}
    caused = collections.defaultdict(list)  # command id -> [(order id, version, position)]
    for order_id in order_ids:
        log = logs.get(order_id)
        if log is None:
            continue
        versions = [e.version for e in log]
        positions = [e.global_position for e in log]
        check("(d) a stream's versions are 0..n-1", versions == list(range(len(log))),
              "(%s: %s)" % (name(order_id), versions))
        check("(d) a stream's positions increase", all(a < b for a, b in zip(positions, positions[1:])),
              "(%s: %s)" % (name(order_id), positions))
        check("(d) every event is in its stream", all(e.stream == name(order_id) for e in log), name(order_id))
        for event in log:
            caused[bytes(event.metadata.causation_id)].append((order_id, event.version, event.global_position))
            origin = sent_ids.get(bytes(event.metadata.causation_id))
            check("(d) every event was caused by a command we sent", origin is not None,
                  "(%s v%d %s caused by %s)" % (name(order_id), event.version, event.event_type,
                                                 uuid.UUID(bytes=bytes(event.metadata.causation_id))
                                                 if len(event.metadata.causation_id) == 16 else "nothing"))
            if origin is not None:
                check("(d) an event has its command's type", event.event_type == EVENT_OF[origin.kind] and
                      event.metadata.command_type == origin.kind,
                      "(%s v%d: %s from %s)" % (name(order_id), event.version, event.event_type, origin.kind))
        for command in by_order[order_id]:
            at = command.result.version
            event = log[at] if at < len(log) else None
            check("(d) an acknowledged command's event is in the log at its version and position",
                  event is not None and event.global_position == command.result.position and
                  bytes(event.metadata.causation_id) == command.cid.bytes and
                  event.event_type == EVENT_OF[command.kind],
                  "(%s %s: v%d at %d; log has %s)" % (
                      command.kind, command.cid, at, command.result.position,
                      "nothing" if event is None else "%s at %d by %s" % (
                          event.event_type, event.global_position, uuid.UUID(bytes=bytes(event.metadata.causation_id)))))
    for cid, places in caused.items():
        check("(d) a command caused one event only", len(places) == 1,
              "(%s: %s)" % (uuid.UUID(bytes=cid), [(name(o), v, p) for o, v, p in places]))

    # (c) each order's final state agrees with its log and with its acknowledged commands
    for order_id in order_ids:
        log, view = logs.get(order_id), views.get(order_id)
        if log is None or view is None:
            continue
        status, limit_price = order.ORDER_STATUS_UNSPECIFIED, None
        for event in log:
            if event.event_type == "OrderCreated":
                status, limit_price = order.ORDER_STATUS_PENDING, order.OrderCreated.FromString(event.payload).limit_price
            elif event.event_type == "OrderUpdated":
                updated = order.OrderUpdated.FromString(event.payload)
                if updated.limit_price:
                    limit_price = updated.limit_price
            elif event.event_type == "OrderCancelled":
                status = order.ORDER_STATUS_CANCELLED
        check("(c) the order's view matches its log", view.status == status and view.limit_price == limit_price and
              view.version == len(log) - 1,
              "(%s: view %s %s v%d; log %s %s v%d)" % (
                  name(order_id), order.OrderStatus.Name(view.status), view.limit_price, view.version,
                  order.OrderStatus.Name(status), limit_price, len(log) - 1))
        mine = by_order[order_id]
        last = max(mine, key=lambda c: c.result.version)
        if any(c.kind == "CancelOrder" for c in mine):
            check("(c) an acknowledged cancel leaves the order CANCELLED", view.status == order.ORDER_STATUS_CANCELLED,
                  "(%s is %s)" % (name(order_id), order.OrderStatus.Name(view.status)))
        if last.kind == "UpdateOrder" and last.result.version == len(log) - 1:
            check("(c) the last acknowledged update's limit price stays", view.limit_price == last.request.limit_price,
                  "(%s: %s, acknowledged %s)" % (name(order_id), view.limit_price, last.request.limit_price))
        later = [e for e in log if e.version > last.result.version]
        # After the last acknowledged command, only the order's one command of unknown outcome may follow.
        check("(c) after the last acknowledged command only one unacknowledged one follows",
              len(later) <= 1 and all(sent_ids.get(bytes(e.metadata.causation_id)) is not None and
                                      sent_ids[bytes(e.metadata.causation_id)].code != grpc.StatusCode.OK
                                      for e in later),
              "(%s: %s)" % (name(order_id), [(e.version, e.event_type) for e in later]))

    # (f) every Order aggregate still loads: a far-off expected version is refused with the loaded one
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    def load(order_id):
        log = logs.get(order_id)
        if log is None:
            return
        try:
            commands.UpdateOrder(order.UpdateOrder(order_id=order_id, user_id=user.bytes, limit_price="3",
                                                   expected_version=len(log) + 1000), timeout=20)
            check("(f) the aggregate loads", False, "(%s: a stale expected version went through)" % name(order_id))
            return
        except grpc.RpcError as error:
            info = None
            status = rpc_status.from_call(error)
            for detail in (status.details if status else []):
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
            check("(f) every Order aggregate loads at its last version",
                  error.code() == grpc.StatusCode.ABORTED and info is not None and
                  info.metadata.get("current_version") == str(len(log) - 1),
                  "(%s: %s %s %s)" % (name(order_id), error.code().name, error.details(),
                                      dict(info.metadata) if info else None))

    list(pool.map(load, order_ids))
    # The setup's aggregates too: the connection and its two accounts load and refresh.
    try:
        refreshed = commands.RefreshAllAccounts(account.RefreshAllAccounts(
            user_id=user.bytes, broker_connection_id=cash.broker_connection_id, force_refresh=True), timeout=20)
        check("(f) the broker account aggregates load and refresh", refreshed.total == 2 and
              refreshed.refreshed == 2 and refreshed.failed == 0, "(%s)" % one_line(refreshed))
    except grpc.RpcError as error:
        check("(f) the broker account aggregates load and refresh", False,
              "(%s %s)" % (error.code().name, error.details()))

    # (g) the commands of unknown outcome, sent again, resolve: the log's result, or applied now
    def list_orders(min_position):
        listed, after = [], b""
        while True:
            page = queries.ListOrders(order.ListOrders(user_id=user.bytes, page_size=1000, after_order_id=after,
                                                       min_position=min_position), timeout=20)
            listed.extend(o.order_id for o in page.orders)
            if not page.next_after_order_id:
                return listed
            after = page.next_after_order_id

    listed_before = set(list_orders(head))
    created = set(order_ids)
    resolved_lock = threading.Lock()
    resolved_positions = []

    def resolve(command):
        again = resend(command)
        if isinstance(again, grpc.RpcError):
            check("(g) a command of unknown outcome sent again succeeds", False,
                  "(%s %s: %s %s)" % (command.kind, command.cid, again.code().name, again.details()))
            return
        with resolved_lock:
            resolved_positions.append(again.position)
        places = caused.get(command.cid.bytes)
        if places:
            order_id, version, position = places[0]
            check("(g) a command the log holds returns the log's result",
                  again.order_id == order_id and again.version == version and again.position == position,
                  "(%s %s: log v%d at %d, again %s)" % (command.kind, command.cid, version, position, one_line(again)))
        if command.kind == "CreateOrder":
            command.order_id = again.order_id
            command.result = again
            with resolved_lock:
                check("(g) a create of unknown outcome makes its own order", again.order_id not in created,
                      "(%s)" % name(again.order_id))
                created.add(again.order_id)

    list(pool.map(resolve, unacked))
    # Creates of unknown outcome that had been committed before the kill: their logs, as in (d).
    committed_creates = [c for c in unacked if c.kind == "CreateOrder" and c.order_id in listed_before]
    read_all([c.order_id for c in committed_creates])
    for command in committed_creates:
        log = logs.get(command.order_id)
        if log is None:
            continue
        check("(g) a create committed before the kill is in the log with its result",
              len(log) >= 1 and log[0].version == 0 and log[0].event_type == "OrderCreated" and
              bytes(log[0].metadata.causation_id) == command.cid.bytes and
              log[0].global_position == command.result.position and command.result.version == 0,
              "(%s %s: %s)" % (command.kind, command.cid, one_line(command.result)))
        for event in log:
            caused[bytes(event.metadata.causation_id)].append((command.order_id, event.version, event.global_position))
        check("(g) a stream's versions are 0..n-1", [e.version for e in log] == list(range(len(log))),
              name(command.order_id))
    for command in committed_creates:
        places = caused.get(command.cid.bytes, [])
        check("(g) a command caused one event only", len(places) == 1, "(%s: %s)" % (command.cid, places))
    orphans = listed_before - created
    check("(g) before the resends, every order is one we know the command of", not orphans,
          "(%d orphans: %s)" % (len(orphans), [name(o) for o in list(orphans)[:5]]))
    # Read with min_position = the last write, so the read model has every resolving write.
    listed = list_orders(max([head] + resolved_positions))
    unknown = set(listed) - created
    missing = created - set(listed)
    check("(g) the user's orders are exactly the ones we created", not unknown and not missing and
          len(listed) == len(set(listed)),
          "(%d listed, %d created; unknown %s; missing %s)" % (
              len(listed), len(created), [name(o) for o in list(unknown)[:5]], [name(o) for o in list(missing)[:5]]))
    in_log_before = sum(1 for c in unacked if c.kind != "CreateOrder" and c.cid.bytes in caused) + len(committed_creates)
    pool.shutdown()
    channel.close()

    # (e) exit statuses: every kill hit a running server; the final stop drains and exits 0
    for round_number, running, status, _ in kills:
        check("(e) the server was running when it was killed", running,
              "(round %d: it had exited with status %s)" % (round_number, status))
        check("(e) a killed server died of SIGKILL", status == -signal.SIGKILL,
              "(round %d: status %s)" % (round_number, status))
    running, status = server.terminate()
    check("(e) the final server was running at its stop", running, "(exit status %s)" % status)
    check("(e) the final SIGTERM exits 0", status == 0, "(status %s)" % status)
    with open(server.log_path, "rb") as log:
        check("(e) the final server closed its store", b"event store closed" in log.read())

    print("rounds: %d, server runs: %d, acknowledged commands: %d, of unknown outcome: %d (%d of them had been "
          "committed before the kill), orders: %d" % (
              arguments.rounds, server.runs, len(acked), len(unacked),
              in_log_before, len(created)))
    print("kill points: " + "; ".join(kill_points))


def one_line(message):
    from google.protobuf import text_format
    return "{%s}" % text_format.MessageToString(message, as_one_line=True)


if __name__ == "__main__":
    main()
