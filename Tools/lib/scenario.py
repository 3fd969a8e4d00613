"""What the Python scripts that drive tradecore-server share: their checks and failure report, a
run that always stops the servers it started, and the virtual broker's cash account for a user."""

import signal
import sys
import threading
import time
import traceback

failures = []
_failure_lock = threading.Lock()
# Whether each check is printed as it is made (scripts that check every command turn it off).
verbose = True


def check(name, condition, detail=""):
    """Records a failure unless `condition` holds; returns `condition`."""
    if verbose:
        print("  %s  %s %s" % ("ok  " if condition else "FAIL", name, detail if not condition else ""))
    if not condition:
        fail("%s %s" % (name, detail))
    return condition


def fail(message):
    with _failure_lock:
        failures.append(message)


def run_scenario(body, servers, shown=60):
    """Runs `body`; an exception in it is a failure, not only a traceback. Stops `servers` however it
    ends (also on SIGTERM), prints the failures and exits 1 if there are any."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    try:
        body()
    except Exception as error:
        traceback.print_exc()
        fail("the run stopped: %s" % error)
    finally:
        for server in servers:
            server.cleanup()
    print("took %.1f s" % (time.time() - started))
    if failures:
        print("%d failure(s):" % len(failures))
        for failure in failures[:shown]:
            print("  FAIL  %s" % failure)
        if len(failures) > shown:
            print("  ... and %d more" % (len(failures) - shown))
        sys.exit(1)
    print("all checks passed")


def link_virtual_broker(commands, queries, user, code="scenario"):
    """Connects the virtual broker for `user` through OAuth and returns the cash account (the one
    whose number ends in "-C"), read with the connection's position as min_position; `queries` may
    be another server's."""
    import broker_account_pb2 as account
    import broker_connection_pb2 as connection

    initiated = commands.InitiateBrokerConnection(
        connection.InitiateBrokerConnection(user_id=user.bytes, broker_id="virtual"), timeout=10)
    completed = commands.CompleteOAuth(connection.CompleteOAuth(
        broker_connection_id=initiated.broker_connection_id, user_id=user.bytes, authorization_code=code,
        state=initiated.oauth_state), timeout=10)
    accounts = []
    deadline = time.time() + 20
    while time.time() < deadline:
        accounts = list(queries.GetAccountsByUser(
            account.GetAccountsByUser(user_id=user.bytes, min_position=completed.position), timeout=10).accounts)
        if len(accounts) == 2:
            return next(x for x in accounts if x.broker_account_number.endswith("-C"))
        time.sleep(0.05)
    raise RuntimeError("the virtual broker's two accounts were not linked within 20 s: %s" % accounts)
