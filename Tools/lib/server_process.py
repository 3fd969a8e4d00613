"""A tradecore-server process for the Python test scripts: started on a free port and a data
directory, stopped with SIGKILL or SIGTERM, its exit status and log kept for the checks."""

import os
import signal
import socket
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Server:
    """tradecore-server on one data directory, started and stopped again and again."""

    def __init__(self, binary, data_directory, work, extra_args=(), name="server", admin_port=0):
        self.binary = binary
        self.admin_port = admin_port
        self.data_directory = data_directory
        self.work = work
        self.extra_args = list(extra_args)
        self.name = name
        self.port = free_port()
        self.process = None
        self.runs = 0
        self.log_path = None

    def start(self):
        for attempt in range(3):
            self.runs += 1
            self.log_path = os.path.join(self.work, "%s-%02d.log" % (self.name, self.runs))
            with open(self.log_path, "wb") as log:
                self.process = subprocess.Popen(
                    [self.binary, "--port", str(self.port), "--admin-port", str(self.admin_port), "--log-level", "info",
                     "--data-directory", self.data_directory] + self.extra_args,
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.time() + 30
            while time.time() < deadline:
                if self.process.poll() is not None:
                    break
                if accepts(self.port):
                    return time.time()
                time.sleep(0.02)
            if self.process.poll() is None:
                raise RuntimeError("the server (run %d) did not accept connections within 30 s" % self.runs)
            # It exited: perhaps the port was taken meanwhile; anything else fails the start.
            text = self.log()
            if "address" in text.lower() and "in use" in text.lower() and attempt < 2:
                self.port = free_port()
                continue
            raise RuntimeError("the server (run %d) exited with status %s at its start:\n%s"
                               % (self.runs, self.process.returncode, text))
        raise RuntimeError("the server could not be started")

    def log(self):
        with open(self.log_path, "rb") as log:
            return log.read().decode(errors="replace")

    def kill(self):
        """SIGKILL; returns (was it running before, its exit status)."""
        running = self.process.poll() is None
        if running:
            self.process.send_signal(signal.SIGKILL)
        status = self.process.wait()
        return running, status

    def terminate(self, timeout=60):
        running = self.process.poll() is None
        if running:
            self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            return running, "did not exit within %d s of SIGTERM" % timeout
        return running, status

    def cleanup(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
