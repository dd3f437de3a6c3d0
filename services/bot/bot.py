#!/usr/bin/python3
"""Sample Discord bot for nines (discord.py 2.x from Debian's python3-discord).

What it shows a supervisor (see README.md next to this file):
  * GET/HEAD /health on HEALTH_HOST:HEALTH_PORT: 200 once the gateway session is READY (or
    RESUMED), 503 while logging in or reconnecting, 401 after an authentication failure
    (REST 401 -> LoginFailure, or gateway close 4004). A JSON body says why.
  * sd_notify over NOTIFY_SOCKET (plain datagram socket, no systemd library): READY=1 once ready,
    WATCHDOG=1 every WATCHDOG_USEC/2 while the asyncio loop runs and the bot is ready (or still
    within BOT_CONNECT_GRACE of losing/awaiting its session), STATUS=..., STOPPING=1.
  * exit codes (design.md "Exit-code contract"): 77 (EX_NOPERM) authentication failed,
    78 (EX_CONFIG) configuration error (no token, bad variable, privileged intents / sharding /
    API version refused: 4010-4014), 0 after SIGTERM/SIGINT, 1 for anything else.

The token comes from DISCORD_TOKEN and nowhere else; it is never logged (only the bot ID and a
6-hex-digit SHA-256 prefix, the fingerprint nines shows).

Pointing the bot at another Discord (a local fake) without editing the library: discord.py has
no option or environment variable for its URLs (reference/discord.md 4.1); the two class
attributes it reads, `discord.http.Route.BASE` and `discord.gateway.DiscordWebSocket.
DEFAULT_GATEWAY`, are set here at startup from DISCORD_API_BASE and DISCORD_GATEWAY.
"""

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import os
import signal
import socket
import sys
import time
import urllib.parse
import urllib.request

try:
    import discord
    import discord.gateway
    import discord.http
    import yarl
except ImportError as exc:  # pragma: no cover - depends on the machine
    print(f"bot: cannot import discord.py ({exc}); install python3-discord", file=sys.stderr)
    sys.exit(78)

EX_OK, EX_FAIL, EX_NOPERM, EX_CONFIG = 0, 1, 77, 78
CONFIG_CLOSE_CODES = {4010, 4011, 4012, 4013, 4014}   # never fixed by a restart (reference 2.2)

log = logging.getLogger("bot")


class ConfigError(Exception):
    pass


# --------------------------------------------------------------------------- configuration

def env_float(name, default, allow_never=False):
    """Seconds from the environment; -1 means "never" where allow_never."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if value < 0 and not (allow_never and value == -1):
        raise ConfigError(f"{name}={raw!r} must be >= 0" + (" or -1" if allow_never else ""))
    return value


def env_port(name, default):
    raw = os.environ.get(name, "").strip() or str(default)
    if not raw.isdigit() or int(raw) > 65535:
        raise ConfigError(f"{name}={raw!r} is not a TCP port (0-65535)")
    return int(raw)


def token_fingerprint(token):
    """`BOTID:abcdef` (segment A decoded, SHA-256 prefix) or `abcdef`: safe to log."""
    h = hashlib.sha256(token.encode()).hexdigest()[:6]
    seg = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    return f"{raw.decode()}:{h}" if raw.isdigit() else h


def apply_endpoints():
    """Point discord.py at DISCORD_API_BASE / DISCORD_GATEWAY (reference/discord.md 4.1).

    DISCORD_API_BASE is the REST base including the version, e.g. http://127.0.0.1:5000/api/v10
    (a base ending in /api gets /v10 appended). DISCORD_GATEWAY is the WebSocket URL, e.g.
    ws://127.0.0.1:5000/; when only DISCORD_API_BASE is set the gateway URL is taken from
    `GET {api}/gateway` (unauthenticated, so it never counts as an invalid request), so the bot
    can never log in to one Discord and connect to another's gateway."""
    api = os.environ.get("DISCORD_API_BASE", "").strip().rstrip("/")
    gw = os.environ.get("DISCORD_GATEWAY", "").strip()
    if gw and not api:
        raise ConfigError("DISCORD_GATEWAY is set but DISCORD_API_BASE is not")
    if not api:
        return
    if not api.startswith(("http://", "https://")):
        raise ConfigError(f"DISCORD_API_BASE={api!r} must be an http(s) URL")
    if api.endswith("/api"):
        api += f"/v{discord.http.INTERNAL_API_VERSION}"
    if not gw:
        try:
            # No proxy from the environment: discord.py's aiohttp session ignores it too.
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
            with opener.open(api + "/gateway", timeout=10) as r:
                gw = json.load(r)["url"]
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError(f"DISCORD_GATEWAY unset and GET {api}/gateway failed: {exc}") \
                from None
    if urllib.parse.urlsplit(gw).scheme not in ("ws", "wss"):
        raise ConfigError(f"DISCORD_GATEWAY={gw!r} must be a ws:// or wss:// URL")
    # Route.BASE is a ClassVar every Route reads when built; DEFAULT_GATEWAY is what
    # DiscordWebSocket.from_client connects to (and falls back to after an invalid session).
    discord.http.Route.BASE = api
    gateway = yarl.URL(gw if gw.endswith("/") else gw + "/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway
    log.info("using Discord API %s, gateway %s", api, gateway)


def setup_logging():
    level = os.environ.get("LOG_LEVEL", "info").upper()
    if not isinstance(logging.getLevelName(level), int):
        raise ConfigError(f"LOG_LEVEL={level.lower()!r} is not a log level")
    color = os.environ.get("LOG_COLOR", "never").lower()
    if color == "auto":
        # discord.py's own choice: colour on a tty or whenever /.dockerenv exists.
        discord.utils.setup_logging(level=logging.getLevelName(level))
    else:
        fmt = logging.Formatter("[{asctime}] [{levelname:<8}] {name}: {message}",
                                "%Y-%m-%d %H:%M:%S", style="{")
        discord.utils.setup_logging(level=logging.getLevelName(level), formatter=fmt)


# --------------------------------------------------------------------------- sd_notify

class Notifier:
    """sd_notify(3) without libsystemd: one datagram per message to $NOTIFY_SOCKET."""

    def __init__(self):
        path = os.environ.get("NOTIFY_SOCKET", "")
        self.addr = None
        if path.startswith("@"):
            self.addr = "\0" + path[1:]          # abstract namespace
        elif path.startswith("/"):
            self.addr = path
        self.sock = None
        if self.addr:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.watchdog_s = None
        usec = os.environ.get("WATCHDOG_USEC", "").strip()
        wpid = os.environ.get("WATCHDOG_PID", "").strip()
        if usec.isdigit() and int(usec) > 0 and (not wpid or wpid == str(os.getpid())):
            self.watchdog_s = int(usec) / 1e6 / 2     # half the timeout, as sd_watchdog_enabled(3)
        self.warned = False

    def send(self, msg):
        if not self.sock:
            return False
        try:
            self.sock.sendto(msg.encode(), self.addr)
            return True
        except OSError as exc:
            if not self.warned:
                log.warning("sd_notify to %s failed: %s", os.environ.get("NOTIFY_SOCKET"), exc)
                self.warned = True
            return False


# --------------------------------------------------------------------------- bot

class Bot(discord.Client):
    """A Client that tracks its gateway state for /health and sd_notify."""

    def __init__(self, notifier, **kw):
        super().__init__(intents=discord.Intents.default(), **kw)
        self.notifier = notifier
        self.state = "connecting"        # connecting | ready | auth_failed | stopping
        self.reason = "logging in"
        self.since = time.monotonic()
        self.notified_ready = False

    def set_state(self, state, reason):
        if self.state in ("auth_failed", "stopping") and state != "stopping":
            return   # a terminal answer is never overwritten
        if state != self.state:
            self.since = time.monotonic()
        self.state, self.reason = state, reason
        self.notifier.send(f"STATUS={state}: {reason}")

    async def on_connect(self):
        self.set_state("connecting", "gateway connected, waiting for READY")

    async def on_ready(self):
        self.set_state("ready", f"logged in as {self.user} (id {self.user.id})")
        log.info("ready: logged in as %s (id %s), %d guild(s)", self.user, self.user.id,
                 len(self.guilds))
        if not self.notified_ready:
            self.notified_ready = self.notifier.send("READY=1")

    async def on_resumed(self):
        self.set_state("ready", "session resumed")

    async def on_disconnect(self):
        if self.state == "ready":
            log.info("gateway disconnected")
        self.set_state("connecting", "gateway disconnected, reconnecting")

    async def on_message(self, message):
        if message.author.bot:
            return
        if message.content == "!ping":
            await message.channel.send(f"pong ({self.latency * 1000:.0f} ms)")

    def health(self):
        code = {"ready": 200, "auth_failed": 401}.get(self.state, 503)
        latency = self.latency
        body = {"status": self.state, "reason": self.reason,
                "for_s": round(time.monotonic() - self.since, 1),
                "latency_ms": None if latency != latency or latency == float("inf")
                else round(latency * 1000, 1),
                "guilds": len(self.guilds) if self.state == "ready" else None}
        return code, body


async def serve_health(bot, host, port):
    """Minimal HTTP/1.1 server on the bot's own loop: a stuck loop means a failing check."""
    async def handle(reader, writer):
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass
            parts = line.decode("latin-1").split()
            if len(parts) < 2:
                return
            method, path = parts[0], urllib.parse.urlsplit(parts[1]).path
            if path in ("/health", "/healthz"):
                code, body = bot.health()
            else:
                code, body = 404, {"error": "not found"}
            if method not in ("GET", "HEAD"):
                code, body = 405, {"error": "method not allowed"}
            payload = json.dumps(body).encode()
            reason = {200: "OK", 401: "Unauthorized", 404: "Not Found",
                      405: "Method Not Allowed", 503: "Service Unavailable"}[code]
            head = (f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\nCache-Control: no-store\r\n"
                    "Connection: close\r\n\r\n").encode()
            writer.write(head + (b"" if method == "HEAD" else payload))
            await writer.drain()
        except (asyncio.TimeoutError, ConnectionError, UnicodeError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, reuse_address=True)
    log.info("health endpoint on http://%s:%d/health",
             host, server.sockets[0].getsockname()[1])
    return server


async def watchdog_loop(bot, grace):
    """WATCHDOG=1 every WATCHDOG_USEC/2 while this loop runs and the bot is ready or has been
    without a session for less than `grace` seconds (a reconnect storm stops the pings)."""
    n = bot.notifier
    warned_since = None
    while True:
        if bot.state == "ready" or (bot.state == "connecting"
                                    and time.monotonic() - bot.since < grace):
            n.send("WATCHDOG=1")
        elif bot.state == "connecting" and warned_since != bot.since:
            warned_since = bot.since      # once per episode, not every interval
            log.warning("no gateway session for %.0fs: withholding WATCHDOG=1",
                        time.monotonic() - bot.since)
        await asyncio.sleep(n.watchdog_s)


def classify(exc):
    """(exit code, log text) for the exception that ended Client.start()."""
    if isinstance(exc, discord.LoginFailure):
        return EX_NOPERM, "REST login refused (401): the token is invalid or was reset"
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return EX_CONFIG, "privileged intents not enabled in the developer portal (4014)"
    if isinstance(exc, discord.ConnectionClosed):
        if exc.code == 4004:
            return EX_NOPERM, "gateway closed with 4004: the token is invalid or was reset"
        if exc.code in CONFIG_CLOSE_CODES:
            return EX_CONFIG, f"gateway closed with {exc.code}: configuration error"
    return EX_FAIL, f"{type(exc).__name__}: {exc}"


async def run(token):
    notifier = Notifier()
    host = os.environ.get("HEALTH_HOST", "127.0.0.1")
    port = env_port("HEALTH_PORT", 8080)
    linger = env_float("AUTH_FAIL_LINGER", 2.0, allow_never=True)
    grace = env_float("BOT_CONNECT_GRACE", 120.0)
    bot = Bot(notifier)
    health = await serve_health(bot, host, port)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = []
    if notifier.watchdog_s:
        tasks.append(asyncio.ensure_future(watchdog_loop(bot, grace)))
    log.info("logging in with token %s", token_fingerprint(token))
    client_task = asyncio.ensure_future(bot.start(token, reconnect=True))
    stop_task = asyncio.ensure_future(stop.wait())
    await asyncio.wait([client_task, stop_task], return_when=asyncio.FIRST_COMPLETED)
    code = EX_OK
    if stop_task.done():
        log.info("signal received: closing the gateway session")
        bot.set_state("stopping", "shutting down")
        notifier.send("STOPPING=1")
        await bot.close()
        try:
            await asyncio.wait_for(client_task, 10)
        except Exception:       # the close makes start() return or raise: either is fine
            pass
    else:
        exc = client_task.exception()
        if exc is None:
            log.info("client stopped")
        else:
            code, why = classify(exc)
            log.error("%s", why, exc_info=exc)
            if code == EX_NOPERM:
                bot.set_state("auth_failed", why)
                log.error("authentication failed: exiting %d so the supervisor waits for a new "
                          "token instead of restarting", code)
                if linger < 0:
                    await stop.wait()      # keep answering 401 until stopped; still exit 77
                elif linger:
                    await asyncio.wait([stop_task], timeout=linger)
            else:
                bot.set_state("stopping", why)
        notifier.send("STOPPING=1")
        if not bot.is_closed():
            await bot.close()
    for t in tasks + [stop_task]:
        t.cancel()
    health.close()
    return code


def main():
    try:
        setup_logging()
        token = os.environ.get("DISCORD_TOKEN", "").strip()
        if not token:
            raise ConfigError("DISCORD_TOKEN is not set")
        apply_endpoints()
        return asyncio.run(run(token))
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return EX_CONFIG
    except OSError as exc:     # e.g. the health port is taken
        log.error("cannot start: %s", exc)
        return EX_FAIL


if __name__ == "__main__":
    sys.exit(main())
