#!/usr/bin/python3
"""probe_server: a small HTTP(S) endpoint for health-check tests (Python stdlib only).

Every route answers a status after an optional delay; a route may instead hang until the server
stops, answer HEAD differently from GET (an endpoint that says 405 to HEAD and 200 to GET must be
healthy, Horust#277), or send Retry-After (delta seconds or an HTTP date). Each connection runs in
its own thread, so a hanging route never holds up the others.

Built-in routes (more with --route or ProbeServer(routes=...)):
    /ok                 200
    /status/NNN         NNN (any code 100-599)
    /delay/MS           200 after MS milliseconds
    /hang               never answers (until the server stops)
    /head405            405 to HEAD, 200 to GET
    /401 /403 /500      that status
    /429                429 with "Retry-After: 7"
    /429date            429 with Retry-After as an HTTP date 20 s ahead
    /redirect           302 to /ok
    anything else       404

Command line (for tests that run it as a child):
    probe_server.py [--host 127.0.0.1] [--port 0] [--tls] [--cert-dir DIR]
                    [--route PATH=SPEC]...
    SPEC is comma separated key=value: status=500, delay=0.2 (seconds), hang=1, head=405,
    retry_after=7 (sent verbatim), retry_after_in=20 (HTTP date that many seconds ahead),
    header=Name:Value, body=TEXT.
    Prints "PORT <n>" (and "CERT <path>" with --tls) on stdout once listening, then serves
    until SIGTERM/SIGINT (exit 0). With --tls a self-signed certificate for 127.0.0.1/localhost
    is made with the openssl command into --cert-dir (default: a temporary directory); without
    openssl it exits 77 (skip).

As a module (pytest):
    with ProbeServer(routes={"/health": Route(status=500)}, tls=False) as srv:
        url = srv.url("/health")
        srv.set_route("/health", Route(status=200))   # change the answer while running
        srv.requests                                   # [(method, path, headers), ...]
"""

import argparse
import email.utils
import http.server
import os
import shutil
import signal
import socketserver
import ssl
import subprocess
import sys
import tempfile
import threading
import time


class Route:
    """How one path answers."""

    def __init__(self, status=200, delay=0.0, hang=False, head_status=None, retry_after=None,
                 retry_after_in=None, headers=None, body=None):
        self.status = status
        self.delay = delay
        self.hang = hang
        self.head_status = head_status
        self.retry_after = retry_after          # sent verbatim ("7" or a date string)
        self.retry_after_in = retry_after_in    # seconds ahead, sent as an HTTP date
        self.headers = dict(headers or {})
        self.body = body

    @classmethod
    def parse(cls, spec):
        """Route from "status=500,delay=0.2,hang=1,head=405,retry_after=7,header=N:V,body=T"."""
        r = cls()
        for item in filter(None, spec.split(",")):
            key, _, val = item.partition("=")
            if key == "status":
                r.status = int(val)
            elif key == "delay":
                r.delay = float(val)
            elif key == "hang":
                r.hang = val not in ("0", "no", "false")
            elif key == "head":
                r.head_status = int(val)
            elif key == "retry_after":
                r.retry_after = val
            elif key == "retry_after_in":
                r.retry_after_in = float(val)
            elif key == "header":
                name, _, hval = val.partition(":")
                r.headers[name.strip()] = hval.strip()
            elif key == "body":
                r.body = val
            else:
                raise ValueError("unknown route key %r" % key)
        return r


def default_routes():
    return {
        "/ok": Route(200),
        "/hang": Route(hang=True),
        "/head405": Route(200, head_status=405),
        "/401": Route(401),
        "/403": Route(403),
        "/500": Route(500),
        "/429": Route(429, retry_after="7"),
        "/429date": Route(429, retry_after_in=20),
        "/redirect": Route(302, headers={"Location": "/ok"}),
    }


def make_cert(cert_dir):
    """Self-signed certificate + key for 127.0.0.1 and localhost; returns (cert, key) paths.
    Raises RuntimeError when the openssl command is missing or fails."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise RuntimeError("openssl command not found")
    cert = os.path.join(cert_dir, "cert.pem")
    key = os.path.join(cert_dir, "key.pem")
    cmd = [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
           "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
           "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    res = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)
    if res.returncode != 0:
        raise RuntimeError("openssl failed: " + res.stderr.decode(errors="replace").strip())
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "probe_server/1"
    protocol_version = "HTTP/1.0"  # one request per connection, closed after the answer

    def log_message(self, fmt, *args):  # quiet unless asked
        if self.server.owner.verbose:
            sys.stderr.write("probe_server: " + (fmt % args) + "\n")

    def _route(self):
        path = self.path.split("?", 1)[0]
        owner = self.server.owner
        with owner.lock:
            r = owner.routes.get(path)
        if r is not None:
            return r
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "status" and parts[1].isdigit():
            return Route(int(parts[1]))
        if len(parts) == 2 and parts[0] == "delay" and parts[1].isdigit():
            return Route(200, delay=int(parts[1]) / 1000.0)
        return Route(404)

    def _answer(self, head):
        owner = self.server.owner
        with owner.lock:
            owner.requests.append((self.command, self.path, dict(self.headers.items())))
        r = self._route()
        if r.hang:
            owner.stopping.wait()  # "forever": until the server stops
            return
        if r.delay and owner.stopping.wait(r.delay):
            return
        status = r.head_status if head and r.head_status is not None else r.status
        body = (r.body if r.body is not None else "status %d\n" % status).encode()
        self.send_response(status)
        if r.retry_after is not None:
            self.send_header("Retry-After", r.retry_after)
        if r.retry_after_in is not None:
            self.send_header("Retry-After", email.utils.formatdate(time.time() + r.retry_after_in,
                                                                   usegmt=True))
        for name, val in r.headers.items():
            self.send_header(name, val)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(head=False)

    def do_HEAD(self):
        self._answer(head=True)

    def do_POST(self):
        self._answer(head=False)


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def finish_request(self, request, client_address):
        # TLS is set up per connection in its own thread, so a client that never finishes the
        # handshake holds up nobody.
        if self.owner.ssl_context is not None:
            try:
                request.settimeout(30)
                request = self.owner.ssl_context.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (ssl.SSLError, OSError):
                return  # e.g. the client refused our self-signed certificate
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):
        if self.owner.verbose:
            super().handle_error(request, client_address)


class ProbeServer:
    """An HTTP(S) test endpoint on host:port (port 0: any free one) served from a thread."""

    def __init__(self, routes=None, host="127.0.0.1", port=0, tls=False, cert_dir=None,
                 verbose=False):
        self.routes = default_routes()
        self.routes.update(routes or {})
        self.requests = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.verbose = verbose
        self.ssl_context = None
        self.cert = self.key = None
        self._tmp = None
        if tls:
            if cert_dir is None:
                self._tmp = tempfile.mkdtemp(prefix="probe_server.")
                cert_dir = self._tmp
            self.cert, self.key = make_cert(cert_dir)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.cert, self.key)
            self.ssl_context = ctx
        self.httpd = _Server((host, port), _Handler)
        self.httpd.owner = self
        self.host = host
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        self._thread = None

    def url(self, path="/ok"):
        return "%s://%s:%d%s" % (self.scheme, self.host, self.port, path)

    def set_route(self, path, route):
        with self.lock:
            self.routes[path] = route

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
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)

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
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--cert-dir")
    ap.add_argument("--route", action="append", default=[], metavar="PATH=SPEC")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    routes = {}
    for item in args.route:
        path, _, spec = item.partition("=")
        routes[path] = Route.parse(spec)
    try:
        srv = ProbeServer(routes, args.host, args.port, args.tls, args.cert_dir, args.verbose)
    except RuntimeError as e:
        print("probe_server: %s" % e, file=sys.stderr)
        return 77
    # serve_forever() must be stopped from another thread; a signal just ends the process.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: os._exit(0))
    # A parent such as nines or a unit test may hand down a mask with everything blocked.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    print("PORT %d" % srv.port, flush=True)
    if srv.cert:
        print("CERT %s" % srv.cert, flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
