#!/usr/bin/python3
"""sd_notify helper for bot.js: Node.js has no unix datagram sockets, so bot.js starts this once
and writes one message per line to its stdin (e.g. `READY=1`, `WATCHDOG=1`, `STATUS=text`); each
line is sent as one datagram to $NOTIFY_SOCKET (a path, or `@name` for the abstract namespace),
as sd_notify(3) does. Exits 0 at end of input (bot.js exited or closed the pipe), 0 at once when
NOTIFY_SOCKET is unset. Send errors are reported once on stderr and otherwise ignored: the
supervisor's watchdog is what notices a bot that cannot notify."""

import os
import socket
import sys


def main():
    path = os.environ.get("NOTIFY_SOCKET", "")
    if path.startswith("@"):
        addr = "\0" + path[1:]
    elif path.startswith("/"):
        addr = path
    else:
        return 0
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    warned = False
    for line in sys.stdin.buffer:
        msg = line.rstrip(b"\r\n")
        if not msg:
            continue
        try:
            sock.sendto(msg, addr)
        except OSError as exc:
            if not warned:
                print(f"notify.py: sending to {path} failed: {exc}", file=sys.stderr, flush=True)
                warned = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
