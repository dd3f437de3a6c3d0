#!/usr/bin/python3
"""webhook_server: a tiny HTTP endpoint that records POSTed bodies, for alert webhook tests
(Python stdlib only).

Every POST is recorded (path, headers, raw body, the body parsed as JSON when it is JSON) and
answered with the current behaviour: a status (default 204, like Discord), optionally after a
delay, or never (hang: the connection stays open until the server stops), or with a failure for
the first N requests. Each connection runs in its own thread, so a hanging answer holds up
nobody. The behaviour can change while the server runs.

Control routes (not recorded):
    GET  /_requests     JSON list of the recorded requests:
                        [{"method", "path", "headers", "body", "json"}, ...]
    POST /_behaviour    JSON object with any of status, delay, hang, fail_first, fail_status
    POST /_reset        forget the recorded requests

Command line (for tests that run it as a child):
    webhook_server.py [--host 127.0.0.1] [--port 0] [--status 204] [--delay SECONDS] [--hang]
                      [--fail-first N] [--fail-status 500] [--record FILE] [-v]
    Prints "PORT <n>" on stdout once listening, then serves until SIGTERM/SIGINT (exit 0).
    --record FILE appends one JSON object per request (the same shape as /_requests) as it
    arrives, flushed, so a test can read it while the server runs.

As a module (pytest):
    with WebhookServer(status=204) as srv:
        url = srv.url("/hook")
        ...
        srv.wait_for(3, timeout=5)      # at least 3 POSTs recorded
        srv.contents()                  # ["**nines**: `bot` is FATAL: exit 78", ...]
        srv.set_behaviour(hang=True)
"""

import argparse
import http.server
import json
import os
import signal
import socketserver
import sys
import threading
import time


class Behaviour:
    """How POSTs are answered."""

    def __init__(self, status=204, delay=0.0, hang=False, fail_first=0, fail_status=500):
        self.status = status
        self.delay = delay
        self.hang = hang
        self.fail_first = fail_first    # the first N requests get fail_status
        self.fail_status = fail_status

    def update(self, **kw):
        for key, val in kw.items():
            if not hasattr(self, key):
                raise ValueError("unknown behaviour %r" % key)
            setattr(self, key, type(getattr(self, key))(val))


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "webhook_server/1"
    protocol_version = "HTTP/1.0"  # one request per connection, closed after the answer

    def log_message(self, fmt, *args):
        if self.server.owner.verbose:
            sys.stderr.write("webhook_server: " + (fmt % args) + "\n")

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body=b"", ctype="application/json"):
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)

    def do_GET(self):
        owner = self.server.owner
        if self.path == "/_requests":
            with owner.lock:
                data = json.dumps(owner.requests).encode()
            self._send(200, data)
        else:
            self._send(404)

    def do_POST(self):
        owner = self.server.owner
        raw = self._body()
        if self.path == "/_behaviour":
            try:
                with owner.lock:
                    owner.behaviour.update(**json.loads(raw.decode() or "{}"))
            except (ValueError, TypeError) as e:
                self._send(400, json.dumps({"error": str(e)}).encode())
                return
            self._send(204)
            return
        if self.path == "/_reset":
            with owner.lock:
                owner.requests.clear()
                owner.seen = 0
            self._send(204)
            return
        owner.record(self.command, self.path, dict(self.headers.items()), raw)
        with owner.lock:
            b = owner.behaviour
            owner.seen += 1
            failing = owner.seen <= b.fail_first
            status, delay, hang = (b.fail_status if failing else b.status), b.delay, b.hang
        if hang:
            owner.stopping.wait()  # "forever": until the server stops
            return
        if delay and owner.stopping.wait(delay):
            return
        self._send(status)

    do_PUT = do_POST


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        if self.owner.verbose:
            super().handle_error(request, client_address)


class WebhookServer:
    """A webhook endpoint on host:port (port 0: any free one) served from a thread."""

    def __init__(self, host="127.0.0.1", port=0, record=None, verbose=False, **behaviour):
        self.behaviour = Behaviour(**behaviour)
        self.requests = []
        self.seen = 0
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.stopping = threading.Event()
        self.verbose = verbose
        self.record_file = open(record, "a", encoding="utf-8") if record else None
        self.httpd = _Server((host, port), _Handler)
        self.httpd.owner = self
        self.host = host
        self.port = self.httpd.server_address[1]
        self._thread = None

    def record(self, method, path, headers, raw):
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        entry = {"method": method, "path": path, "headers": headers, "body": text, "json": parsed,
                 "time": time.time()}
        with self.cond:
            self.requests.append(entry)
            if self.record_file:
                self.record_file.write(json.dumps(entry) + "\n")
                self.record_file.flush()
            self.cond.notify_all()

    def url(self, path="/hook"):
        return "http://%s:%d%s" % (self.host, self.port, path)

    def set_behaviour(self, **kw):
        with self.lock:
            self.behaviour.update(**kw)

    def bodies(self):
        """Parsed JSON bodies of the recorded POSTs (None for a body that is not JSON)."""
        with self.lock:
            return [r["json"] for r in self.requests]

    def contents(self):
        """Every line of every recorded body's "content", in arrival order."""
        lines = []
        for body in self.bodies():
            if isinstance(body, dict) and isinstance(body.get("content"), str):
                lines.extend(body["content"].split("\n"))
        return lines

    def wait_for(self, n, timeout=10.0):
        """Waits until at least n requests are recorded; returns whether they were."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
            return True

    def start(self):
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stopping.set()  # releases hanging and delayed answers
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)
        if self.record_file:
            self.record_file.close()
            self.record_file = None

    def serve_forever(self):
        try:
            self.httpd.serve_forever(poll_interval=0.05)
        finally:
            self.stopping.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--status", type=int, default=204)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--hang", action="store_true")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--fail-status", type=int, default=500)
    ap.add_argument("--record", metavar="FILE")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    srv = WebhookServer(args.host, args.port, record=args.record, verbose=args.verbose,
                        status=args.status, delay=args.delay, hang=args.hang,
                        fail_first=args.fail_first, fail_status=args.fail_status)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    # A parent such as nines or a unit test may hand down a mask with everything blocked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    print("PORT %d" % srv.port, flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
