"""PostgreSQL restarted under load: while the database is down, calls fail with UNAVAILABLE and a
message saying so; the server reconnects by itself; afterwards nothing acknowledged is missing.

The script runs tradecore-server itself (subprocess) on --postgres-url, and restarts the database
with --restart-command (a shell command) part way through the load. Clients are grpcio stubs
generated from Schemas/*.proto.

Checks:
  - every call ended OK or UNAVAILABLE; each UNAVAILABLE while the database was down says what
    failed (the store, or PostgreSQL) rather than nothing;
  - calls succeed again after the restart, without restarting the server;
  - every acknowledged CreateOrder is found by GetOrder (with min_position) and, sent again with
    its tradecore-command-id, returns the same result; every call of unknown outcome, sent again
    with its id, succeeds once (and the user's orders are then exactly those we know of);
  - a subscriber that follows the stream sees every event once, in order (resuming after its last
    position when the stream breaks);
  - health (grpc.health.v1 Check) says NOT_SERVING while the database is down, SERVING after;
  - the server, still running, exits 0 on SIGTERM.

Usage: postgres_restart.py --server BINARY --generated DIR --work DIR --postgres-url URL
       --restart-command COMMAND [--threads 8] [--seconds 8]
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from scenario import check, link_virtual_broker, run_scenario  # noqa: E402
from server_process import Server  # noqa: E402




def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--postgres-url", required=True)
    parser.add_argument("--restart-command", required=True)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=8)
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.generated)
    schema = "restart_%s" % uuid.uuid4().hex[:12]
    data = os.path.join(arguments.work, "data")
    os.makedirs(data, exist_ok=True)
    server = Server(arguments.server, data, arguments.work, name="server",
                    extra_args=["--postgres-url", arguments.postgres_url, "--postgres-schema", schema])
    run_scenario(lambda: run(arguments, server), [server], shown=40)


def run(arguments, server):
    import api_pb2_grpc as api
    import common_pb2 as common
    import events_pb2 as events
    import order_pb2 as order

    server.start()
    channel = grpc.insecure_channel("127.0.0.1:%d" % server.port)
    grpc.channel_ready_future(channel).result(timeout=20)
    commands = api.CommandServiceStub(channel)
    queries = api.QueryServiceStub(channel)
    stream = api.EventStreamServiceStub(channel)
    user = uuid.uuid4()
    cash = link_virtual_broker(commands, queries, user, code="restart")

    def create_request():
        return order.CreateOrder(user_id=user.bytes, account_id=cash.account_id, symbol="MSFT",
                                 side=common.ORDER_SIDE_SELL, quantity="3", order_type=common.ORDER_TYPE_LIMIT,
                                 limit_price="321.5")

    # A subscriber that resumes after its last position whenever its stream breaks.
    seen = []
    stop_subscriber = threading.Event()

    def subscribe():
        while not stop_subscriber.is_set():
            request = events.SubscribeRequest(checkpoint_interval_ms=200)
            if seen:
                request.after_position = seen[-1]
            try:
                for message in stream.Subscribe(request, timeout=60):
                    if message.WhichOneof("message") == "event":
                        seen.append(message.event.global_position)
                    if stop_subscriber.is_set():
                        return
            except grpc.RpcError:
                time.sleep(0.2)

    subscriber = threading.Thread(target=subscribe, daemon=True)
    subscriber.start()

    # What a load balancer's probe sees: grpc.health.v1 Check, ten times a second.
    import health_pb2
    import health_pb2_grpc
    health = health_pb2_grpc.HealthStub(channel)
    probes = []  # (time, status name)
    stop_probe = threading.Event()

    def probe():
        while not stop_probe.is_set():
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2).status
                probes.append((time.time(), health_pb2.HealthCheckResponse.ServingStatus.Name(status)))
            except grpc.RpcError as error:
                probes.append((time.time(), error.code().name))
            time.sleep(0.1)

    prober = threading.Thread(target=probe, daemon=True)
    prober.start()

    acknowledged = {}  # command id -> result
    unknown = []  # command ids
    statuses = {}
    down_messages = []
    after_restart = [0]
    lock = threading.Lock()
    restarted = threading.Event()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            command_id = str(uuid.uuid4())
            try:
                result = commands.CreateOrder(create_request(), timeout=30,
                                              metadata=[("tradecore-command-id", command_id)])
                with lock:
                    acknowledged[command_id] = result
                    statuses["OK"] = statuses.get("OK", 0) + 1
                    if restarted.is_set():
                        after_restart[0] += 1
            except grpc.RpcError as error:
                with lock:
                    statuses[error.code().name] = statuses.get(error.code().name, 0) + 1
                    if error.code() == grpc.StatusCode.UNAVAILABLE:
                        unknown.append(command_id)
                        down_messages.append(error.details() or "")
                time.sleep(0.05)

    with ThreadPoolExecutor(max_workers=arguments.threads) as pool:
        futures = [pool.submit(worker) for _ in range(arguments.threads)]
        time.sleep(arguments.seconds / 3)
        print("restarting PostgreSQL")
        began = time.time()
        subprocess.run(arguments.restart_command, shell=True, check=True)
        back = time.time()
        print("PostgreSQL back after %.1f s" % (back - began))
        restarted.set()
        time.sleep(arguments.seconds * 2 / 3)
        stop.set()
        for future in futures:
            future.result()
    print("load: %s; %d acknowledged, %d of unknown outcome, %d acknowledged after the restart"
          % (statuses, len(acknowledged), len(unknown), after_restart[0]))
    check("every call ended OK or UNAVAILABLE", set(statuses) <= {"OK", "UNAVAILABLE"}, str(statuses))
    check("calls failed while the database was down", statuses.get("UNAVAILABLE", 0) > 0, str(statuses))
    vague = [m for m in down_messages if "store" not in m.lower() and "postgres" not in m.lower()]
    check("each UNAVAILABLE says what failed", not vague, "e.g. %r" % vague[:2])
    check("calls succeed again after the restart, the server never restarted", after_restart[0] > 0)
    time.sleep(1.5)  # the server probes its store once a second
    stop_probe.set()
    prober.join()
    during = [status for at, status in probes if began <= at <= back]
    check("health said NOT_SERVING while the database was down", "NOT_SERVING" in during, str(sorted(set(during))))
    check("and SERVING again after", probes and probes[-1][1] == "SERVING", str(probes[-3:]))

    highest = max(result.position for result in acknowledged.values())
    for command_id, result in acknowledged.items():
        view = queries.GetOrder(order.GetOrder(order_id=result.order_id, user_id=user.bytes, min_position=highest),
                                timeout=15)
        again = commands.CreateOrder(create_request(), timeout=15, metadata=[("tradecore-command-id", command_id)])
        if not (view.order_id == result.order_id and again == result):
            check("acknowledged command %s is there with its result" % command_id, False)
    print("  ok    %d acknowledged creates found, each answering its first result again" % len(acknowledged))
    resent = {}
    for command_id in unknown:
        resent[command_id] = commands.CreateOrder(create_request(), timeout=15,
                                                  metadata=[("tradecore-command-id", command_id)])
    known = {r.order_id for r in acknowledged.values()} | {r.order_id for r in resent.values()}
    last = max([highest] + [r.position for r in resent.values()])
    listed = set()
    after = b""
    while True:
        page = queries.ListOrders(order.ListOrders(user_id=user.bytes, min_position=last, page_size=500,
                                                   after_order_id=after), timeout=15)
        listed |= {view.order_id for view in page.orders}
        after = page.next_after_order_id
        if not after:
            break
    check("the user's orders are exactly those acknowledged or resent (nothing twice, nothing lost)",
          listed == known, "%d listed, %d known" % (len(listed), len(known)))

    deadline = time.time() + 20
    while time.time() < deadline and (not seen or seen[-1] < last):
        time.sleep(0.1)
    stop_subscriber.set()
    check("the subscriber saw every event once, in order, across the restart",
          seen == list(range(1, len(seen) + 1)) and seen and seen[-1] >= last,
          "%d events, last %s, head at least %d" % (len(seen), seen[-1:] or None, last))
    running, status = server.terminate()
    check("the server, still running, exits 0 on SIGTERM", running and status == 0,
          "running=%s status=%s" % (running, status))


if __name__ == "__main__":
    main()
