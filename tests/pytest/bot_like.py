#!/usr/bin/python3
"""bot_like: a tiny stand-in for a Discord bot, for the chaos tests (Python stdlib only).

It behaves like the bots nines keeps online: it serves /health on 127.0.0.1:$BOT_PORT, takes
its token from the environment, says READY=1 and WATCHDOG=1 over $NOTIFY_SOCKET when nines
gives it one, writes a heartbeat line to stdout, and can be told (through a control file the
test rewrites) to misbehave. It never prints its token.

Environment (all optional except BOT_PORT):
    BOT_PORT           port of the health endpoint (127.0.0.1)
    BOT_CONTROL        control file, read at every request and polled every 50 ms:
                           ok                     healthy (also: empty or missing file)
                           500 TARGET             /health answers 500
                           hang TARGET            /health never answers
                           401 TARGET             /health answers 401
                           flood TARGET N SEQ     write N lines to stdout as fast as possible,
                                                  once per SEQ, then "flood SEQ done"
                       TARGET is a pid (only that instance misbehaves, so the instance nines
                       starts next is healthy again) or "*" (every instance).
    BOT_PIDFILE        the pid is written here (atomically) once /health is served
    BOT_LOCK           a file this instance holds an exclusive flock on while it lives. If the
                       lock is taken, another instance is alive: a line is appended to
                       BOT_LOCK.twice (the "bot never runs twice" detector; the kernel drops
                       the lock when a process dies, so it cannot be fooled by a slow scan)
    BOT_REVOKED        file of sha256 hex digests, one a line: a token whose digest is listed
                       has been "revoked", /health answers 401 (a bot after a gateway 4004)
    BOT_TOKEN_ENV      the variable holding the token (default DISCORD_TOKEN)
    BOT_LOGINS         every instance appends "TIME PID SHA256(token)" here when it starts (its
                       login), so a run can count logins made with a revoked token
    BOT_AUTH_EXIT      "1": behave like a discord.py bot on a revoked token: at start (login,
                       HTTP 401) and while running (the gateway closes with 4004), print
                       discord.py's two lines (LoginFailure) to stderr and exit 1
    BOT_HEARTBEAT      seconds between heartbeat lines on stdout (default 0.25)
    NOTIFY_SOCKET, WATCHDOG_USEC   sd_notify(3), as nines sets them with ready = notify

/health answers "ok PID" (200) or "status N PID", so a client can tell which instance answered.
"""

import fcntl
import hashlib
import http.server
import os
import signal
import socket
import socketserver
import sys
import threading
import time

PID = os.getpid()
STOP = threading.Event()   # never set: hanging handlers wait "forever" (until the process dies)


def env(name, default=None):
    value = os.environ.get(name)
    return value if value else default


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def out(text):
    """One line to stdout; a vanished reader (nines SIGKILLed) is ignored, not fatal."""
    try:
        os.write(1, (text + "\n").encode())
    except OSError:
        pass


def notify(msg):
    path = env("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(msg.encode(), path)
        finally:
            s.close()
    except OSError:
        pass


def control():
    """(mode, args) from the control file: ("ok", []) when absent or empty."""
    words = read(env("BOT_CONTROL", "")).split() if env("BOT_CONTROL") else []
    return (words[0], words[1:]) if words else ("ok", [])


def applies(args):
    return bool(args) and (args[0] == "*" or args[0] == str(PID))


def token_revoked():
    token = os.environ.get(env("BOT_TOKEN_ENV", "DISCORD_TOKEN"), "")
    revoked = env("BOT_REVOKED")
    if not token or not revoked:
        return False
    digest = hashlib.sha256(token.encode()).hexdigest()
    return digest in read(revoked).split()


def login():
    """Records this instance's login; with BOT_AUTH_EXIT a revoked token ends it as discord.py
    ends a bot (exit status 1 after its LoginFailure, ../shared/reference/discord.md)."""
    logins = env("BOT_LOGINS")
    if logins:
        token = os.environ.get(env("BOT_TOKEN_ENV", "DISCORD_TOKEN"), "")
        with open(logins, "a") as f:
            f.write(f"{time.time():.3f} {PID} {hashlib.sha256(token.encode()).hexdigest()}\n")
    auth_check()


def auth_check():
    if env("BOT_AUTH_EXIT") == "1" and token_revoked():
        try:
            os.write(2, b"discord.errors.HTTPException: 401 Unauthorized (error code: 0): "
                        b"401: Unauthorized\n"
                        b"discord.errors.LoginFailure: Improper token has been passed.\n")
        except OSError:
            pass
        os._exit(1)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"   # one request per connection

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        mode, args = control()
        status = 200
        if mode == "hang" and applies(args):
            STOP.wait()
            return
        if mode in ("500", "401") and applies(args):
            status = int(mode)
        elif token_revoked():
            status = 401
        body = (f"ok {PID}\n" if status == 200 else f"status {status} {PID}\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        pass


def bind(port):
    """The server on port; the previous instance may still hold it for a moment."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return Server(("127.0.0.1", port), Handler)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def flood(n, seq):
    line = (f"flood {seq} " + "x" * 72).encode()
    chunk = 500
    for start in range(0, n, chunk):
        buf = b"".join(line + b" %07d\n" % i for i in range(start, min(n, start + chunk)))
        try:
            os.write(1, buf)
        except OSError:
            pass
    out(f"flood {seq} done")


def control_loop():
    """Acts on one-shot commands (flood) once per sequence number."""
    done = set()
    while True:
        auth_check()
        mode, args = control()
        if mode == "flood" and applies(args) and len(args) >= 3 and args[2] not in done:
            done.add(args[2])
            threading.Thread(target=flood, args=(int(args[1]), args[2]), daemon=True).start()
        time.sleep(0.05)


def heartbeat_loop():
    period = float(env("BOT_HEARTBEAT", "0.25"))
    n = 0
    while True:
        n += 1
        out(f"heartbeat {n:08d} pid {PID}")
        time.sleep(period)


def watchdog_loop(usec):
    while True:
        notify("WATCHDOG=1")
        time.sleep(usec / 2e6)


def take_lock():
    """Holds BOT_LOCK for the life of the process; notes a second live instance."""
    path = env("BOT_LOCK")
    if not path:
        return None
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        with open(path + ".twice", "a") as f:
            f.write(f"{time.time():.3f} pid {PID}: another instance holds the lock\n")
        fcntl.flock(fd, fcntl.LOCK_EX)   # keep going as the second instance would
    return fd


def main():
    # nines may hand down a blocked mask (single-child mode keeps the caller's): TERM must work.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    lock = take_lock()  # noqa: F841 - held until exit
    login()
    port = int(env("BOT_PORT", "0"))
    srv = bind(port)
    pidfile = env("BOT_PIDFILE")
    if pidfile:
        tmp = f"{pidfile}.{PID}.tmp"
        with open(tmp, "w") as f:
            f.write(f"{PID}\n")
        os.rename(tmp, pidfile)
    out(f"bot_like pid {PID} serving /health on 127.0.0.1:{srv.server_address[1]}")
    notify("READY=1\nSTATUS=serving")
    usec = int(env("WATCHDOG_USEC", "0"))
    if usec > 0:
        threading.Thread(target=watchdog_loop, args=(usec,), daemon=True).start()
    threading.Thread(target=heartbeat_loop, daemon=True).start()
    threading.Thread(target=control_loop, daemon=True).start()
    srv.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
