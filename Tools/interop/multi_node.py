"""Two tradecore-server processes on one PostgreSQL database: one log, no lost update, and a
survivor that takes over when the other is killed.

The script runs both servers itself (subprocess), on the database of --postgres-url in a schema of
its own, with one master key, and talks to them only through a Python grpcio client with the
classes and stubs grpcio-tools generates from Schemas/*.proto; no byte is built by hand.

Setup, through node A: the virtual broker is connected for a fresh user (OAuth) and its cash
account picked, read on node B with min_position (read-your-writes across servers); eight orders
are created (LIMIT, not submitted). Subscribers follow the event stream from the start on both
nodes. Then 32 client threads, each sending to a random node, update random orders' limit price
with the expected version they last saw (ABORTED: read it again and retry) and create orders, each
command with a fresh tradecore-command-id. Part way, node A (which leads every projection and saga,
having started first) is killed with SIGKILL; the clients go on through node B.

Checks:
  - every call ended OK, ABORTED (a stale expected version), or UNAVAILABLE (node A down, or
    being killed); nothing else;
  - no lost update: each order's stream has versions 0..n-1, and every acknowledged update's event
    is in it at the version its result named, caused by its command id; every event was caused by
    a command sent (acknowledged, or of unknown outcome because its node died), and by one event only;
  - one log: node B's subscriber saw positions 1..head, each once, in order; node A's subscriber
    saw a prefix of the same sequence of event ids;
  - the survivor took over: after the kill, node B's read models reach the highest acknowledged
    position (GetOrder with min_position shows each order's last version and price), and a new
    auto-submitted order on node B is placed and filled by node B's sagas and fill poller;
  - node B lists the user's filled orders a page of one at a time (a status few orders have: each
    call looks at a bounded number of orders and names where to go on);
  - a frozen leader: node A is started again and node B, leading every role, is stopped with
    SIGSTOP; node A ends the session of the leader that ran no query for 10 s, takes the roles and
    fills a new auto-submitted order; node B, woken with SIGCONT, stops the roles it lost;
  - node A died of SIGKILL; node B, then node A, exit 0 on SIGTERM.

Usage: multi_node.py --server BINARY --generated DIR --work DIR --postgres-url URL [--threads 32]
       [--seconds 6] [--seed N]
"""

import argparse
import base64
import os
import random
import signal
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from scenario import check, fail, link_virtual_broker, run_scenario  # noqa: E402
from server_process import Server, free_port  # noqa: E402




class Node:
    """A server and stubs on a channel to it."""

    def __init__(self, server, api):
        self.server = server
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % server.port)
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.commands = api.CommandServiceStub(self.channel)
        self.queries = api.QueryServiceStub(self.channel)
        self.stream = api.EventStreamServiceStub(self.channel)


class Subscriber:
    """Follows the event stream of one node from the start, in a thread."""

    def __init__(self, node, events):
        self.ids = []
        self.positions = []
        self.error = None
        self.call = node.stream.Subscribe(events.SubscribeRequest(checkpoint_interval_ms=200), timeout=120)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for message in self.call:
                if message.WhichOneof("message") == "event":
                    self.positions.append(message.event.global_position)
                    self.ids.append(message.event.event_id)
        except grpc.RpcError as error:
            self.error = error


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--seed", type=int, default=None)
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.generated)
    seed = arguments.seed if arguments.seed is not None else random.randrange(1 << 30)
    schema = "multi_node_%s" % uuid.uuid4().hex[:12]
    print("two servers on one database (schema %s), %d client threads, seed %d" % (schema, arguments.threads, seed))
    key_file = os.path.join(arguments.work, "master.key")
    with open(key_file, "w") as handle:
        handle.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    servers = []
    for name in ("node-a", "node-b"):
        data = os.path.join(arguments.work, name)
        os.makedirs(data, exist_ok=True)
        servers.append(Server(arguments.server, data, arguments.work, name=name, admin_port=free_port(), extra_args=[
            "--postgres-url", arguments.postgres_url, "--postgres-schema", schema, "--master-key-file", key_file]))
    run_scenario(lambda: run(arguments, servers, random.Random(seed)), servers)


def run(arguments, servers, rng):
    import api_pb2_grpc as api
    import common_pb2 as common
    import events_pb2 as events
    import order_pb2 as order

    server_a, server_b = servers
    server_a.start()
    time.sleep(1.0)  # node A takes every role first
    server_b.start()
    a, b = Node(server_a, api), Node(server_b, api)
    user = uuid.uuid4()

    # ---- setup through A, read through B ----
    cash = link_virtual_broker(a.commands, b.queries, user, code="two-nodes")

    def limit_order(auto_submit=False, price="100"):
        return order.CreateOrder(user_id=user.bytes, account_id=cash.account_id, symbol="AAPL",
                                 side=common.ORDER_SIDE_BUY, quantity="10", order_type=common.ORDER_TYPE_LIMIT,
                                 limit_price=price, auto_submit=auto_submit)

    orders = {}  # order id -> last version seen
    for _ in range(8):
        created = a.commands.CreateOrder(limit_order(), timeout=10)
        orders[created.order_id] = created.version
    order_ids = list(orders)
    subscribers = [Subscriber(a, events), Subscriber(b, events)]
    print("setup: user %s, %d orders, subscribers on both nodes" % (user, len(orders)))

    # ---- load on both nodes; node A killed part way ----
    acknowledged = []  # (command id, kind, order id, result)
    unknown = []  # (command id, kind, order id): the node may have applied it before it died
    statuses = {}
    lock = threading.Lock()
    a_down = threading.Event()
    stop = threading.Event()

    per_node = {"A": 0, "B": 0}

    def note(code, node):
        with lock:
            statuses[code] = statuses.get(code, 0) + 1
            if code == "OK":
                per_node["A" if node is a else "B"] += 1

    def worker(index):
        worker_rng = random.Random(rng.random())
        known = dict(orders)
        while not stop.is_set():
            node = b if a_down.is_set() or worker_rng.random() < 0.5 else a
            command_id = str(uuid.uuid4())
            metadata = [("tradecore-command-id", command_id)]
            if worker_rng.random() < 0.1:
                kind, order_id = "create", None
                call = lambda: node.commands.CreateOrder(limit_order(), timeout=10, metadata=metadata)  # noqa: E731
            else:
                kind, order_id = "update", worker_rng.choice(order_ids)
                # Canonical decimals: no trailing zero.
                price = "%d.%d%d" % (worker_rng.randrange(50, 500), worker_rng.randrange(10), worker_rng.randrange(1, 10))
                request = order.UpdateOrder(order_id=order_id, user_id=user.bytes, limit_price=price,
                                            expected_version=known[order_id])
                call = lambda: node.commands.UpdateOrder(request, timeout=10, metadata=metadata)  # noqa: E731
            try:
                result = call()
                note("OK", node)
                with lock:
                    acknowledged.append((command_id, kind, result.order_id, result))
                if kind == "update":
                    known[order_id] = result.version
            except grpc.RpcError as error:
                code = error.code()
                note(code.name, node)
                if code == grpc.StatusCode.ABORTED:
                    current = b.queries.GetOrder(order.GetOrder(order_id=order_id, user_id=user.bytes), timeout=10)
                    known[order_id] = max(known[order_id], current.version)
                elif code == grpc.StatusCode.UNAVAILABLE:
                    with lock:
                        unknown.append((command_id, kind, order_id))
                else:
                    fail("a %s call ended %s: %s" % (kind, code.name, error.details()))

    with ThreadPoolExecutor(max_workers=arguments.threads) as pool:
        futures = [pool.submit(worker, index) for index in range(arguments.threads)]
        time.sleep(arguments.seconds / 2)
        with lock:
            before_kill = len(acknowledged)
        running, status = server_a.kill()
        a_down.set()
        print("node A killed after %d acknowledged commands" % before_kill)
        time.sleep(arguments.seconds / 2)
        stop.set()
        for future in futures:
            future.result()
    print("load: %s; %d acknowledged, %d of unknown outcome" % (statuses, len(acknowledged), len(unknown)))
    check("node A was running when it was killed, and died of SIGKILL", running and status == -signal.SIGKILL,
          "running=%s status=%s" % (running, status))
    check("every call ended OK, ABORTED or UNAVAILABLE", set(statuses) <= {"OK", "ABORTED", "UNAVAILABLE"},
          str(statuses))
    check("both nodes acknowledged commands", per_node["A"] > 0 and per_node["B"] > 0, str(per_node))

    # ---- no lost update: each order's log against what was acknowledged ----
    sent_ids = {cid for cid, _, _, _ in acknowledged} | {cid for cid, _, _ in unknown}
    created_ids = [result.order_id for _, kind, _, result in acknowledged if kind == "create"]
    highest = max(result.position for _, _, _, result in acknowledged)
    by_order = {}
    for cid, kind, order_id, result in acknowledged:
        by_order.setdefault(order_id, []).append((cid, result))
    causes = {}
    for order_id in list(orders) + created_ids:
        stream = "order-%s" % uuid.UUID(bytes=order_id)
        logged = list(b.stream.ReadStream(events.ReadStreamRequest(stream=stream, max_count=1000), timeout=10).events)
        check("%s has versions 0..n-1" % stream, [e.version for e in logged] == list(range(len(logged))))
        at_version = {e.version: e for e in logged}
        for cid, result in by_order.get(order_id, []):
            event = at_version.get(result.version)
            check("acknowledged command %s is in the log at version %d" % (cid, result.version),
                  event is not None and str(uuid.UUID(bytes=event.metadata.causation_id)) == cid)
        for event in logged[1:] if order_id in orders else logged:
            cause = str(uuid.UUID(bytes=event.metadata.causation_id))
            causes[cause] = causes.get(cause, 0) + 1
    for cause, count in causes.items():
        if cause not in sent_ids or count != 1:
            check("every logged event was caused once by a command sent", False, "%s caused %d" % (cause, count))
    print("  ok    %d orders' logs checked against %d acknowledged commands" % (len(orders) + len(created_ids),
                                                                            len(acknowledged)))

    # ---- the survivor took over ----
    for order_id in orders:
        mine = [result for _, kind, oid, result in acknowledged if oid == order_id and kind == "update"]
        last = max(mine, key=lambda r: r.version) if mine else None
        view = b.queries.GetOrder(order.GetOrder(order_id=order_id, user_id=user.bytes, min_position=highest),
                                  timeout=15)
        if last is not None:
            check("node B's read model reached order %s's last acknowledged version" % uuid.UUID(bytes=order_id),
                  view.version >= last.version, "view %d, acknowledged %d" % (view.version, last.version))
    filled = b.commands.CreateOrder(limit_order(auto_submit=True, price="1000"), timeout=10)
    deadline = time.time() + 30
    status = None
    while time.time() < deadline:
        status = b.queries.GetOrder(order.GetOrder(order_id=filled.order_id, user_id=user.bytes,
                                                   min_position=filled.position), timeout=10).status
        if status == order.ORDER_STATUS_FILLED:
            break
        time.sleep(0.1)
    check("node B's sagas placed and filled an order created after the kill", status == order.ORDER_STATUS_FILLED,
          "status %s" % status)

    # ---- a status few of the user's orders have, a page of one at a time, on node B ----
    # A read on PostgreSQL fetches rows in runs of its body (64 at most): a scan of the whole history
    # in one call failed past 64 pages; a call now looks at 4096 orders at most and names where to
    # go on.
    listed, after, calls = [], b"", 0
    while calls < 1000:
        calls += 1
        page = b.queries.ListOrders(order.ListOrders(user_id=user.bytes, statuses=[order.ORDER_STATUS_FILLED],
                                                     page_size=1, after_order_id=after), timeout=10)
        listed += [(view.order_id, view.status) for view in page.orders]
        if not page.next_after_order_id:
            break
        after = page.next_after_order_id
    ids = [order_id for order_id, _ in listed]
    check("node B lists the user's filled orders a page at a time (%d orders, %d calls)"
          % (len(orders) + len(created_ids) + 1, calls),
          filled.order_id in ids and len(set(ids)) == len(ids)
          and all(status == order.ORDER_STATUS_FILLED for _, status in listed),
          "%d listed" % len(ids))

    # ---- one log on both nodes ----
    target = max(highest, filled.position)
    deadline = time.time() + 20
    while time.time() < deadline and not (subscribers[1].positions and subscribers[1].positions[-1] >= target):
        time.sleep(0.1)
    on_b, on_a = subscribers[1], subscribers[0]
    check("node B's subscriber saw positions 1..%d, each once, in order" % len(on_b.positions),
          on_b.positions == list(range(1, len(on_b.positions) + 1)) and len(on_b.positions) >= target,
          "last %s, target %s" % (on_b.positions[-1:] or None, target))
    check("node A's subscriber saw a prefix of the same log", on_a.ids == on_b.ids[:len(on_a.ids)],
          "%d events on A" % len(on_a.ids))
    on_b.call.cancel()

    # ---- a frozen leader: node B, leading every role, stopped with SIGSTOP ----
    # Its sessions stay open, so PostgreSQL keeps its locks; node A, started again, ends the session
    # of a leader that ran no query for 10 s and takes the roles: its sagas place and fill an order.
    server_a.start()
    a = Node(server_a, api)
    server_b.process.send_signal(signal.SIGSTOP)
    frozen_at = time.time()
    try:
        created = a.commands.CreateOrder(limit_order(auto_submit=True, price="1000"), timeout=10)
        deadline = time.time() + 45
        status = None
        while time.time() < deadline:
            try:
                # Node A's read models move only once it leads their projections.
                status = a.queries.GetOrder(order.GetOrder(order_id=created.order_id, user_id=user.bytes,
                                                           min_position=created.position), timeout=5).status
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
            if status == order.ORDER_STATUS_FILLED:
                break
            time.sleep(0.2)
        check("with node B frozen, node A took its roles and its sagas filled an order (%.0f s)"
              % (time.time() - frozen_at), status == order.ORDER_STATUS_FILLED, "status %s" % status)
        check("node A said it ended the frozen leader's session", "ended its session" in server_a.log())
    finally:
        woken_at = len(server_b.log())
        server_b.process.send_signal(signal.SIGCONT)
    # Node B wakes to a connection that was ended: it stops the parts it led.
    deadline = time.time() + 15
    while time.time() < deadline and "lost the lead of a role" not in server_b.log()[woken_at:]:
        time.sleep(0.1)
    check("node B, woken, stopped the roles it had lost", "lost the lead of a role" in server_b.log()[woken_at:])

    # ---- node B stops cleanly ----
    # The store's metrics on PostgreSQL as on SQLite.
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % server_b.admin_port, timeout=10) as response:
        metrics = response.read().decode()
    for name in ("tradecore_store_appends_total", "tradecore_store_commit_seconds_count",
                 "tradecore_store_appends_per_commit"):
        check("node B's /metrics has %s" % name, name in metrics)
    running, status = server_b.terminate()
    check("node B exits 0 on SIGTERM", running and status == 0, "running=%s status=%s" % (running, status))
    running, status = server_a.terminate()
    check("node A exits 0 on SIGTERM", running and status == 0, "running=%s status=%s" % (running, status))


if __name__ == "__main__":
    main()
