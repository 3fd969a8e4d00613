"""SIGTERM under load: every call is answered or refused with UNAVAILABLE, nothing acknowledged is
lost, subscribers get a position to resume from, and the store closes cleanly.

The script runs the server itself (subprocess), through a Python grpcio client with the classes
and stubs grpcio-tools generates from Schemas/*.proto; no byte is built by hand.

Setup: the virtual broker is connected for a fresh user through OAuth and its cash account (the
one whose number ends in "-C") is picked. Then two subscribers follow the event stream from the
beginning (checkpoint_interval_ms 200) while eight threads send CreateOrder as fast as they can,
each with a fresh tradecore-command-id; after about 2 s the server gets SIGTERM, and the threads
keep sending until shortly after it has exited.

Checks:
  - every call ended OK or UNAVAILABLE (in flight, refused while draining, or refused once the
    server was gone); any other status (INTERNAL, UNKNOWN, CANCELLED, ...) fails;
  - each subscriber's stream ends with a checkpoint as its last message, then UNAVAILABLE whose
    details name the position to resume after, with a google.rpc.ErrorInfo (read through
    grpc_status.rpc_status.from_call) of reason SHUTTING_DOWN and resume_after_position = that
    checkpoint's position; the events it saw are 1..k in order, k <= that position;
  - the server exits with status 0 and its log says "event store closed";
  - restarted on the same data directory: every acknowledged CreateOrder is found by GetOrder with
    min_position = the highest acknowledged position, and sent again with its command id returns
    the same result; a subscriber resuming after each resume position gets the next events with no
    gap up to the last acknowledged one; the restarted server stops with exit status 0 too.

Usage: drain_test.py --server BINARY --generated DIR --work DIR [--load-seconds 2] [--threads 8]
"""

import argparse
import collections
import os
import signal
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




def rich_status(error):
    """The google.rpc.Status of a failed call and its ErrorInfo, via the stock helper."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    status = rpc_status.from_call(error)
    info = None
    for detail in (status.details if status else []):
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
    return status, info


class Subscriber:
    """Records a subscription in a thread: its messages in order and how the call ended."""

    def __init__(self, name, stub, pb, after=None, stop_at=None):
        self.name = name
        self.messages = []  # (kind, message)
        self.error = None
        self.ended_ok = False
        self.stop_at = stop_at
        request = pb.SubscribeRequest(checkpoint_interval_ms=200)
        if after is not None:
            request.after_position = after
        self.call = stub.Subscribe(request, timeout=120)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        try:
            for response in self.call:
                kind = response.WhichOneof("message")
                self.messages.append((kind, getattr(response, kind)))
                if self.stop_at is not None and kind in ("event", "checkpoint", "caught_up") and \
                        self.position_of(kind, getattr(response, kind)) >= self.stop_at:
                    self.call.cancel()
                    return
            self.ended_ok = True
        except grpc.RpcError as error:
            self.error = error

    @staticmethod
    def position_of(kind, message):
        return message.global_position if kind == "event" else message.position

    @property
    def events(self):
        return [m for kind, m in self.messages if kind == "event"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--generated", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--load-seconds", type=float, default=2.0)
    parser.add_argument("--threads", type=int, default=8)
    arguments = parser.parse_args()
    sys.path.insert(0, arguments.generated)
    data_directory = os.path.join(arguments.work, "data")
    os.makedirs(data_directory, exist_ok=True)
    server = Server(arguments.server, data_directory, arguments.work)
    run_scenario(lambda: run(arguments, server), [server], shown=40)


def run(arguments, server):
    import api_pb2_grpc
    import common_pb2 as common
    import events_pb2 as events
    import order_pb2 as order

    user = uuid.uuid4()

    def open_channel():
        channel = grpc.insecure_channel("127.0.0.1:%d" % server.port)
        grpc.channel_ready_future(channel).result(timeout=20)
        return (channel, api_pb2_grpc.CommandServiceStub(channel), api_pb2_grpc.QueryServiceStub(channel),
                api_pb2_grpc.EventStreamServiceStub(channel))

    server.start()
    channel, commands, queries, stream = open_channel()
    cash = link_virtual_broker(commands, queries, user, code="drain")
    print("setup: user %s, cash account %s" % (user, cash.broker_account_number))

    # ---- load, then SIGTERM ----
    subscribers = [Subscriber("subscriber %d" % (i + 1), stream, events) for i in range(2)]
    calls = []  # (command id, request, code, details, result, started, ended)
    calls_lock = threading.Lock()
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            request = order.CreateOrder(
                user_id=user.bytes, account_id=cash.account_id, symbol="AAPL", side=common.ORDER_SIDE_BUY,
                quantity="1", order_type=common.ORDER_TYPE_LIMIT, limit_price="1", auto_submit=False)
            cid = uuid.uuid4()
            begun = time.time()
            try:
                result = commands.CreateOrder(request, metadata=(("tradecore-command-id", str(cid)),), timeout=15)
                code, details = grpc.StatusCode.OK, None
            except grpc.RpcError as error:
                result, code, details = None, error.code(), error.details()
            with calls_lock:
                calls.append((cid, request, code, details, result, begun, time.time()))
            if code != grpc.StatusCode.OK:
                time.sleep(0.01)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(arguments.threads)]
    for thread in threads:
        thread.start()
    time.sleep(arguments.load_seconds)
    with calls_lock:
        before = sum(1 for c in calls if c[2] == grpc.StatusCode.OK)
    term_at = time.time()
    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        status = "still running 60 s after SIGTERM"
    exited_at = time.time()
    time.sleep(0.5)  # calls made once the server is gone
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    for subscriber in subscribers:
        subscriber.thread.join(timeout=10)
        if subscriber.thread.is_alive():
            subscriber.call.cancel()
            subscriber.thread.join(timeout=5)
    channel.close()

    acked = [c for c in calls if c[2] == grpc.StatusCode.OK]
    codes = collections.Counter(c[2].name for c in calls)
    after_term = [c for c in calls if c[6] >= term_at]
    print("load: %d calls, %d acknowledged (%d before SIGTERM); after SIGTERM %d ended: %s; the server exited "
          "%.2f s after SIGTERM" % (len(calls), len(acked), before, len(after_term),
                                    dict(collections.Counter(c[2].name for c in after_term)), exited_at - term_at))

    print("the drain")
    others = collections.Counter((c[2].name, c[3]) for c in calls
                                 if c[2] not in (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE))
    check("every call ended OK or UNAVAILABLE", not others,
          "(%s)" % "; ".join("%dx %s: %s" % (n, code, details) for (code, details), n in others.most_common(8)))
    unavailable = collections.Counter(c[3] for c in calls if c[2] == grpc.StatusCode.UNAVAILABLE)
    print("  UNAVAILABLE details: %s" % "; ".join("%dx %r" % (n, d) for d, n in unavailable.most_common(6)))
    check("the load had calls in flight at SIGTERM", any(c[5] < term_at <= c[6] for c in calls))
    check("the server exits 0 on SIGTERM", status == 0, "(status %s)" % status)
    log = server.log()
    check("its log says the event store closed", "event store closed" in log)

    resume_positions = []
    for subscriber in subscribers:
        name = subscriber.name
        kinds = [kind for kind, _ in subscriber.messages]
        positions = [e.global_position for e in subscriber.events]
        last = subscriber.messages[-1] if subscriber.messages else None
        error = subscriber.error
        print("  %s: %d messages (%d events, %d checkpoints), last %s, ended %s" % (
            name, len(kinds), len(positions), kinds.count("checkpoint"),
            "%s %s" % (last[0], Subscriber.position_of(*last)) if last else "nothing",
            "OK" if subscriber.ended_ok else "%s %r" % (error.code().name, error.details()) if error else "not"))
        check("%s saw events 1..k in order" % name, positions == list(range(1, len(positions) + 1)) and positions,
              "(%d events, first %s, last %s)" % (len(positions), positions[:1], positions[-1:]))
        final = last[1] if last and last[0] == "checkpoint" else None
        check("%s: the last message is a checkpoint" % name, final is not None,
              "(the last is %s)" % (last[0] if last else "none"))
        check("%s: the call ends UNAVAILABLE" % name, error is not None and error.code() == grpc.StatusCode.UNAVAILABLE,
              "(%s)" % ("ended OK" if subscriber.ended_ok else "%s %r" % (error.code().name, error.details())
                        if error else "did not end"))
        if error is None:
            continue
        _, info = rich_status(error)
        details = error.details() or ""
        resume = None
        if info is not None and info.metadata.get("resume_after_position", "").isdigit():
            resume = int(info.metadata["resume_after_position"])
        check("%s: with ErrorInfo SHUTTING_DOWN and resume_after_position" % name,
              info is not None and info.reason == "SHUTTING_DOWN" and info.domain == "tradecore" and resume is not None,
              "(%s)" % (str(info).replace("\n", " ") if info else "no ErrorInfo"))
        if resume is None:
            continue
        check("%s: the details name the position" % name, str(resume) in details, "(%r)" % details)
        if final is not None:
            check("%s: resume_after_position is the last checkpoint's position" % name, resume == final.position,
                  "(%d, checkpoint %d)" % (resume, final.position))
        check("%s: it saw every event up to the resume position" % name,
              (positions[-1] if positions else 0) <= resume, "(last event %s, resume %d)" % (positions[-1:], resume))
        resume_positions.append((subscriber, resume))

    # ---- restart on the same data directory ----
    print("restart on the same data directory")
    server.start()
    channel, commands, queries, stream = open_channel()
    head = max(c[4].position for c in acked) if acked else 0
    pool = ThreadPoolExecutor(max_workers=8)

    def find(call):
        cid, request, _, _, result, _, _ = call
        try:
            view = queries.GetOrder(order.GetOrder(order_id=result.order_id, user_id=user.bytes, min_position=head),
                                    timeout=20)
            found = view.order_id == result.order_id
        except grpc.RpcError as error:
            found = "%s %s" % (error.code().name, error.details())
        try:
            again = commands.CreateOrder(request, metadata=(("tradecore-command-id", str(cid)),), timeout=20)
        except grpc.RpcError as error:
            again = "%s %s" % (error.code().name, error.details())
        return call, found, again

    lost, changed = [], []
    for call, found, again in pool.map(find, acked):
        if found is not True:
            lost.append("%s: %s" % (uuid.UUID(bytes=call[4].order_id), found))
        if again != call[4]:
            changed.append("%s: first {%s}, again %s" % (call[0], str(call[4]).replace("\n", " "),
                                                         str(again).replace("\n", " ")))
    pool.shutdown()
    check("every acknowledged order is found after the restart (%d)" % len(acked), not lost,
          "(%d lost: %s)" % (len(lost), lost[:5]))
    check("every acknowledged command id sent again returns the same result", not changed,
          "(%d differ: %s)" % (len(changed), changed[:5]))

    # Orders committed whose call was not answered OK: the client was told UNAVAILABLE, so it would retry;
    # with the same command id the retry returns the committed order.
    listed, after = [], b""
    while True:
        page = queries.ListOrders(order.ListOrders(user_id=user.bytes, page_size=1000, after_order_id=after,
                                                   min_position=head), timeout=20)
        listed.extend(o.order_id for o in page.orders)
        if not page.next_after_order_id:
            break
        after = page.next_after_order_id
    acked_orders = {c[4].order_id for c in acked}
    by_cid = {c[0].bytes: c for c in calls}
    committed_unanswered, orphans = [], []
    for order_id in set(listed) - acked_orders:
        read = stream.ReadStream(events.ReadStreamRequest(stream="order-%s" % uuid.UUID(bytes=order_id)), timeout=20)
        call = by_cid.get(bytes(read.events[0].metadata.causation_id)) if read.events else None
        if call is None:
            orphans.append(uuid.UUID(bytes=order_id))
            continue
        again = commands.CreateOrder(call[1], metadata=(("tradecore-command-id", str(call[0])),), timeout=20)
        committed_unanswered.append((call, again.order_id == order_id))
    check("every order listed after the restart comes from a call we made", not orphans, "(%s)" % orphans[:5])
    check("a call refused but committed, retried with its command id, returns its order",
          all(same for _, same in committed_unanswered))
    print("  calls not answered OK that had been committed all the same: %d %s" % (
        len(committed_unanswered), dict(collections.Counter(c[2].name for c, _ in committed_unanswered))))
    for call, _ in committed_unanswered:
        print("    command %s: %s %r, ended %.3f s after SIGTERM" % (call[0], call[2].name, call[3], call[6] - term_at))

    for subscriber, resume in resume_positions:
        goal = max(head, resume)
        resumed = Subscriber(subscriber.name + " resumed", stream, events, after=resume, stop_at=goal)
        resumed.thread.join(timeout=30)
        if resumed.thread.is_alive():
            resumed.call.cancel()
        positions = [e.global_position for e in resumed.events]
        check("%s resumes after %d with no gap up to %d" % (subscriber.name, resume, head),
              positions == list(range(resume + 1, resume + 1 + len(positions))) and
              (resume >= head or (positions and positions[-1] >= head)),
              "(%d events from %s to %s)" % (len(positions), positions[:1], positions[-1:]))
        all_positions = [e.global_position for e in subscriber.events] + positions
        check("%s: before and after the restart, every position once" % subscriber.name,
              all_positions == list(range(1, len(all_positions) + 1)))
    channel.close()

    server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        status = "still running 60 s after SIGTERM"
    check("the restarted server exits 0 on SIGTERM", status == 0, "(status %s)" % status)
    check("and closes its store", "event store closed" in server.log())
    print("summary: %d calls (%s), %d acknowledged, %d found again; drain took %.2f s; resume positions %s" % (
        len(calls), dict(codes), len(acked), len(acked) - len(lost), exited_at - term_at,
        [r for _, r in resume_positions]))


if __name__ == "__main__":
    main()
