#!/usr/bin/python3
"""fake_discord: a local stand-in for Discord's REST API and gateway (Python 3 stdlib only).

Enough of Discord for real bot libraries (discord.py 2.x, discord.js 14) to log in, reach READY,
and then be rejected the way Discord rejects a bad or revoked token (reference/discord.md §2,
§4.3): REST answers 401 with `{"message": "401: Unauthorized", "code": 0}`, the gateway closes
with 4004 "Authentication failed.". A control API changes the set of valid tokens while bots run,
so a token reset (§5) can be simulated: open sessions with the revoked token are closed with 4004,
later REST calls with it get 401.

One TCP port serves everything (HTTP/1.1 keep-alive, one asyncio loop):
    REST      GET /api[/v6..v10]/users/@me                 (auth) bot user
              GET /api[/v6..v10]/oauth2/applications/@me   (auth) application
              GET /api[/v6..v10]/gateway                   (no auth) {"url": ...}
              GET /api[/v6..v10]/gateway/bot               (auth) url, shards, session_start_limit
              anything else under /api: 401 without a valid token, else 404 JSON
    gateway   any other path with `Upgrade: websocket` (RFC 6455, implemented here; the
              permessage-deflate extension is declined, `compress=zlib-stream` in the query is
              honoured with one zlib stream per connection unless --no-zlib)
    control   /_control/... (see below), plain HTTP, no auth: bind to 127.0.0.1 only.

Gateway behaviour: HELLO (op 10) on connect; op 1 -> op 11; op 2 IDENTIFY with a valid token ->
READY dispatch (op 0, s=1) with v, user, guilds [], session_id, resume_gateway_url, application,
shard; with any other token -> close 4004 "Authentication failed."; op 6 RESUME of a known session
with a valid token -> RESUMED, unknown session -> op 9 false, invalid/revoked token -> 4004;
payload over 4096 bytes or bad JSON -> 4002; op other than 1/2/6 before IDENTIFY -> 4003; a second
IDENTIFY -> 4005; more than 120 sends a minute -> 4008; no heartbeat for 2 intervals + 5 s -> 4009.
Each token has a session start budget (--session-limit, default 1000 like Discord): the IDENTIFY
beyond it resets (revokes) the token, as Discord does (reference §2.3).

Control API (JSON in, JSON out; a token is never echoed, only its fingerprint):
    GET  /_control/stats        counters: gateway_connections, open_connections, open_sessions,
                                identify, identify_ok, identify_failed, resume, resume_ok,
                                resume_failed, invalid_session, heartbeats, rest_requests,
                                rest_401, rest_429, invalid_requests, closes {code: n},
                                client_closes {code: n}, routes {"GET /users/@me": n},
                                tokens {fingerprint: {valid, identify, rest_ok, rest_401}}
    GET  /_control/sessions     open gateway connections and resumable sessions
    POST /_control/revoke       body: the token, or a fingerprint ("ID:abcdef" or "abcdef"), or
                                JSON {"token": T} / {"fingerprint": F} / {"all": true}.
                                Removes the token(s) from the valid set and closes their sessions
                                with 4004. Answers {"revoked": [fp...], "closed": n}.
    POST /_control/tokens       JSON {"tokens": [...]} replaces the valid set (tokens dropped from
                                it are revoked as above), {"add": [...]} adds; a text body (one
                                token per line) replaces. Answers {"valid": [fp...]}.
    POST /_control/close        JSON {"code": 4000, "reason": "...", "token"|"fingerprint": ...}:
                                close matching (default: all) connections with that code.
    POST /_control/reconnect    send op 7 RECONNECT to every open connection (clients RESUME).
    POST /_control/invalidate   send op 9 INVALID_SESSION (d: false) to every open connection
                                and forget every session (clients IDENTIFY again).
    POST /_control/drop         cut every connection without a close frame (network failure).
    POST /_control/ratelimit    JSON {"count": N, "retry_after": 5.0, "global": false,
                                "cloudflare": false}: the next N REST answers are 429 (JSON with
                                Retry-After and Via, or Cloudflare's HTML "error code: 1015"
                                without Via).
    POST /_control/reset        zero the counters.

Command line:
    fake_discord.py [--host 127.0.0.1] [--port 0] [--token-file FILE]... [--token-env VAR]
                    [--heartbeat-interval MS] [--session-limit N] [--no-zlib] [--ready-file F]
                    [--print-port] [-q]
    Valid tokens: one per line in each --token-file (blank lines and '#' comments skipped; each
    line is stripped), plus the value of --token-env. Prints `READY <port> <gateway_url>` on stdout
    once listening (--print-port is accepted for scripts that pass it; the line is always printed)
    and also writes it to --ready-file. Requests are logged to stderr with token fingerprints
    (bot ID + 6 hex digits of SHA-256, the same shape `ninesctl status` shows), never tokens.
    SIGTERM/SIGINT: close gateway connections with 1001 and exit 0.

As a module:
    with FakeDiscordThread(tokens=[tok]) as fd:   # runs the server in a background thread
        fd.api_base      # "http://127.0.0.1:PORT/api/v10"
        fd.gateway_url   # "ws://127.0.0.1:PORT/"
        fd.revoke(tok); fd.stats()
"""

import argparse
import asyncio
import base64
import binascii
import collections
import hashlib
import http
import json
import os
import secrets
import signal
import struct
import sys
import threading
import time
import urllib.parse
import zlib

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}
NOT_FOUND = {"message": "404: Not Found", "code": 0}
API_VERSIONS = {None, 6, 7, 8, 9, 10}
MAX_CLIENT_PAYLOAD = 4096        # gateway docs: larger payloads are closed with 4002
SEND_LIMIT = (120, 60.0)         # gateway docs: 120 events per 60 s, else 4008
DISCORD_EPOCH_MS = 1420070400000

# Gateway opcodes (opcodes-and-status-codes.mdx)
OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_VOICE = 0, 1, 2, 3, 4
OP_RESUME, OP_RECONNECT, OP_REQUEST_MEMBERS, OP_INVALID_SESSION = 6, 7, 8, 9
OP_HELLO, OP_HEARTBEAT_ACK = 10, 11
CLIENT_OPS = {OP_HEARTBEAT, OP_IDENTIFY, OP_PRESENCE, OP_VOICE, OP_RESUME, OP_REQUEST_MEMBERS}

# WebSocket opcodes (RFC 6455 section 5.2)
WS_CONT, WS_TEXT, WS_BINARY, WS_CLOSE, WS_PING, WS_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


# --------------------------------------------------------------------------- tokens

def bot_id_of(token):
    """Bot ID encoded in segment A (base64 of the decimal ID), or None when it does not decode."""
    seg = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))
    except (binascii.Error, ValueError):
        return None
    if not raw.isdigit() or raw.startswith(b"0") or len(raw) > 20:
        return None
    return int(raw)


def fingerprint(token):
    """`ID:abcdef` (bot ID, first 3 bytes of SHA-256 in hex) or `abcdef`: safe to print."""
    h = hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()[:6]
    bid = bot_id_of(token)
    return f"{bid}:{h}" if bid is not None else h


def user_id_for(token):
    bid = bot_id_of(token)
    if bid is not None:
        return bid
    # A stable snowflake-looking ID for tokens whose segment A is not an ID.
    return 10 ** 17 + int(hashlib.sha256(token.encode()).hexdigest()[:12], 16)


def read_token_file(path):
    out = []
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out


# --------------------------------------------------------------------------- WebSocket framing

class WSProtocolError(Exception):
    def __init__(self, code, reason):
        super().__init__(reason)
        self.code, self.reason = code, reason


def ws_accept_key(key):
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def ws_frame(opcode, payload=b""):
    """One unmasked, unfragmented server frame."""
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([n])
    elif n < 1 << 16:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


def ws_close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode()[:123]


async def ws_read_frame(reader, max_len):
    """(fin, opcode, payload) of one client frame; raises WSProtocolError on RFC violations."""
    b0, b1 = await reader.readexactly(2)
    fin, opcode, n = bool(b0 & 0x80), b0 & 0x0F, b1 & 0x7F
    if b0 & 0x70:
        raise WSProtocolError(1002, "RSV bits set without a negotiated extension")
    if not b1 & 0x80:
        raise WSProtocolError(1002, "client frames must be masked")
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if opcode >= 0x8 and (n > 125 or not fin):
        raise WSProtocolError(1002, "bad control frame")
    if n > max_len:
        raise WSProtocolError(1009, "frame too big")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(n)
    if n:
        # XOR with the 4-byte mask, done on big integers for speed.
        m = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        data = (int.from_bytes(data, "big") ^ m).to_bytes(n, "big")
    return fin, opcode, data


# --------------------------------------------------------------------------- state

class Resumable:
    """A gateway session that survives its connection (for RESUME)."""

    def __init__(self, session_id, token, shard):
        self.session_id, self.token, self.shard = session_id, token, shard
        self.seq = 0
        self.conn = None


class Conn:
    """One gateway WebSocket connection."""

    def __init__(self, server, reader, writer, compress, query):
        self.server, self.reader, self.writer = server, reader, writer
        self.zlib = zlib.compressobj() if compress else None
        self.query = query
        self.session = None          # Resumable once IDENTIFYed or RESUMEd
        self.closing = False
        self.closed = asyncio.Event()
        self.last_heartbeat = time.monotonic()
        self.sends = collections.deque()
        self.peer = "%s:%s" % writer.get_extra_info("peername")[:2]

    @property
    def token(self):
        return self.session.token if self.session else None

    def send_json(self, obj):
        if self.closing or self.writer.is_closing():
            return
        data = json.dumps(obj, separators=(",", ":")).encode()
        if self.zlib is not None:
            # zlib-stream: one deflate stream per connection, each message ends with a
            # Z_SYNC_FLUSH (00 00 ff ff), sent as binary frames
            # (gateway.mdx "Transport Compression").
            data = self.zlib.compress(data) + self.zlib.flush(zlib.Z_SYNC_FLUSH)
            self.writer.write(ws_frame(WS_BINARY, data))
        else:
            self.writer.write(ws_frame(WS_TEXT, data))

    def dispatch(self, event, d):
        self.session.seq += 1
        self.send_json({"op": OP_DISPATCH, "t": event, "s": self.session.seq, "d": d})

    def close(self, code, reason="", wait=2.0):
        """Send a close frame; the read loop goes on until the client's close frame or EOF,
        and the TCP connection is dropped after `wait` s at the latest (RFC 6455 section 7.1.1)."""
        if self.closing:
            return
        self.closing = True
        self.server.count_close(code)
        self.server.log(f"gateway {self.peer} close {code} {reason!r}"
                        + (f" tok={fingerprint(self.token)}" if self.token else ""))
        try:
            self.writer.write(ws_frame(WS_CLOSE, ws_close_payload(code, reason)))
        except (ConnectionError, RuntimeError):
            pass
        asyncio.get_running_loop().call_later(wait, self.abort)

    def abort(self):
        self.closing = True
        try:
            self.writer.close()
        except RuntimeError:
            pass


class FakeDiscord:
    """The server. All methods run on its asyncio loop."""

    def __init__(self, host="127.0.0.1", port=0, tokens=(), heartbeat_interval=41250,
                 session_limit=1000, zlib_ok=True, quiet=False, log_stream=None):
        self.host, self.port = host, port
        self.valid = set(tokens)
        self.heartbeat_interval = heartbeat_interval
        self.session_limit = session_limit
        self.zlib_ok = zlib_ok
        self.quiet = quiet
        self.log_stream = log_stream or sys.stderr
        self.conns = set()
        self.sessions = {}
        self.identifies_by_token = collections.Counter()
        self.ratelimit = None
        self.server = None
        self.tasks = set()
        self.reset_stats()

    # ----- helpers
    def log(self, msg):
        if not self.quiet:
            now = time.time()
            ts = time.strftime("%H:%M:%S", time.localtime(now)) + ".%03d" % (now % 1 * 1000)
            print(f"[fake_discord {ts}] {msg}", file=self.log_stream, flush=True)

    def reset_stats(self):
        self.stats = collections.Counter()
        self.closes = collections.Counter()
        self.client_closes = collections.Counter()
        self.routes = collections.Counter()
        self.by_token = collections.defaultdict(collections.Counter)

    def count_close(self, code):
        self.closes[str(code)] += 1

    @property
    def gateway_url(self):
        return f"ws://{self.host}:{self.port}/"

    @property
    def api_base(self):
        return f"http://{self.host}:{self.port}/api/v10"

    def spawn(self, coro):
        t = asyncio.ensure_future(coro)
        self.tasks.add(t)
        t.add_done_callback(self.tasks.discard)
        return t

    def snapshot(self):
        tokens = {}
        for tok in set(self.by_token) | self.valid:
            c = self.by_token[tok]
            tokens[fingerprint(tok)] = {"valid": tok in self.valid, "identify": c["identify"],
                                        "rest_ok": c["rest_ok"], "rest_401": c["rest_401"]}
        out = {k: self.stats[k] for k in (
            "gateway_connections", "identify", "identify_ok", "identify_failed", "resume",
            "resume_ok", "resume_failed", "invalid_session", "heartbeats", "rest_requests",
            "rest_401", "rest_429", "invalid_requests")}
        out.update(open_connections=len(self.conns),
                   open_sessions=sum(1 for c in self.conns if c.session and not c.closing),
                   closes=dict(self.closes), client_closes=dict(self.client_closes),
                   routes=dict(self.routes), tokens=tokens)
        return out

    def user_object(self, token):
        uid = user_id_for(token)
        return {"id": str(uid), "username": f"fakebot{uid % 10000}", "discriminator": "0",
                "global_name": None, "avatar": None, "banner": None, "accent_color": None,
                "avatar_decoration": None, "bot": True, "system": False, "mfa_enabled": False,
                "verified": True, "email": None, "locale": "en-US", "premium_type": 0,
                "flags": 0, "public_flags": 0}

    def application_object(self, token):
        uid = user_id_for(token)
        owner = {"id": str(uid + 1), "username": "owner", "discriminator": "0",
                 "global_name": "Owner", "avatar": None, "flags": 0, "public_flags": 0}
        return {"id": str(uid), "name": f"fakebot{uid % 10000}", "icon": None,
                "description": "", "summary": "", "type": None, "hook": True,
                "rpc_origins": [], "bot_public": True, "bot_require_code_grant": False,
                "verify_key": hashlib.sha256(str(uid).encode()).hexdigest(),
                "owner": owner, "team": None, "flags": 0, "tags": []}

    # ----- token changes
    def revoke_tokens(self, toks):
        closed = 0
        for tok in toks:
            self.valid.discard(tok)
            for sid in [s for s, r in self.sessions.items() if r.token == tok]:
                del self.sessions[sid]
            for c in list(self.conns):
                if c.token == tok and not c.closing:
                    closed += 1
                    c.close(4004, "Authentication failed.")
            self.log(f"revoked tok={fingerprint(tok)}")
        return closed

    def match_tokens(self, spec):
        """Known tokens (valid or seen) matching a token, `ID:hash`, `hash`, or bot ID."""
        known = self.valid | set(self.by_token) | {r.token for r in self.sessions.values()}
        if spec in known:
            return [spec]
        return [t for t in known if spec and (fingerprint(t) == spec
                                              or fingerprint(t).split(":")[-1] == spec)]

    # ----- startup / shutdown
    async def start(self):
        self.server = await asyncio.start_server(self.handle_client, self.host, self.port,
                                                 limit=1 << 16)
        self.port = self.server.sockets[0].getsockname()[1]
        self.log(f"listening on {self.host}:{self.port}, {len(self.valid)} valid token(s): "
                 + ", ".join(sorted(fingerprint(t) for t in self.valid)))

    async def stop(self):
        if self.server:
            self.server.close()
        conns = list(self.conns)
        for c in conns:
            c.close(1001, "going away", wait=0.5)
        if conns:
            await asyncio.wait([asyncio.ensure_future(c.closed.wait()) for c in conns], timeout=1.0)
        for t in list(self.tasks):
            t.cancel()
        if self.server:
            await self.server.wait_closed()

    # ----- HTTP
    async def handle_client(self, reader, writer):
        try:
            while True:
                req = await self.read_request(reader)
                if req is None:
                    break
                method, target, version, headers, body = req
                if "websocket" in headers.get("upgrade", "").lower():
                    await self.handle_ws(reader, writer, method, target, headers)
                    return
                status, hdrs, payload = self.route(method, target, headers, body)
                keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                self.write_response(writer, status, hdrs, payload, keep,
                                    head=(method == "HEAD"))
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:
            raise
        finally:
            try:
                writer.close()
            except RuntimeError:
                pass

    async def read_request(self, reader):
        try:
            line = await asyncio.wait_for(reader.readline(), 120)
        except asyncio.TimeoutError:
            return None
        if not line:
            return None
        parts = line.decode("latin-1").strip().split()
        if len(parts) != 3:
            raise ValueError("bad request line")
        method, target, version = parts
        headers = {}
        while True:
            hl = await reader.readline()
            if hl in (b"\r\n", b"\n", b""):
                break
            k, _, v = hl.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        body = b""
        if headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        return method, target, version, headers, body

    @staticmethod
    def write_response(writer, status, hdrs, payload, keep, head=False):
        reason = http.HTTPStatus(status).phrase
        lines = [f"HTTP/1.1 {status} {reason}",
                 "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime()),
                 f"Content-Length: {len(payload)}",
                 "Connection: " + ("keep-alive" if keep else "close")]
        lines += [f"{k}: {v}" for k, v in hdrs]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                     + (b"" if head else payload))

    def json_answer(self, status, obj, extra=(), via=True):
        # Content-Type must be exactly application/json: discord.py 2.2.2 compares the whole
        # header value (reference §4.3). Via marks a genuine API answer (reference §2.1).
        hdrs = [("Content-Type", "application/json")] + list(extra)
        if via:
            hdrs.append(("Via", "1.1 google"))
        return status, hdrs, json.dumps(obj).encode()

    def route(self, method, target, headers, body):
        url = urllib.parse.urlsplit(target)
        path = url.path
        if path.startswith("/_control/"):
            try:
                status, obj = self.control(method, path[len("/_control/"):], body)
            except (ValueError, KeyError, TypeError) as e:
                status, obj = 400, {"error": str(e)}
            self.log(f"{method} {path} -> {status}")
            return self.json_answer(status, obj, via=False)
        if not (path == "/api" or path.startswith("/api/")):
            return self.json_answer(404, NOT_FOUND)
        rest = path[4:]
        version = None
        seg = rest.split("/")
        if len(seg) > 1 and seg[1][:1] == "v" and seg[1][1:].isdigit():
            version = int(seg[1][1:])
            rest = "/" + "/".join(seg[2:])
        rest = rest.rstrip("/") or "/"
        return self.rest(method, rest, version, headers)

    def rest(self, method, rest, version, headers):
        self.stats["rest_requests"] += 1
        key = f"{method} {rest}"
        self.routes[key] += 1
        auth = headers.get("authorization", "")
        token = auth[4:] if auth.startswith("Bot ") else None
        fp = fingerprint(token) if token else ("-" if not auth else "non-Bot-scheme")
        status, hdrs, payload = self.rest_answer(method, rest, version, token)
        if status == 401:
            self.stats["rest_401"] += 1
        if status in (401, 403, 429):
            self.stats["invalid_requests"] += 1
        if token:
            self.by_token[token]["rest_401" if status == 401 else "rest_ok"] += 1
        self.log(f"{method} /api{'/v%d' % version if version else ''}{rest} -> {status} tok={fp}")
        return status, hdrs, payload

    def rest_answer(self, method, rest, version, token):
        if version not in API_VERSIONS:
            return self.json_answer(400, {"message": "Invalid API version", "code": 50041})
        if self.ratelimit and self.ratelimit["count"] > 0:
            return self.rate_limited()
        if method in ("GET", "HEAD") and rest == "/gateway":
            return self.json_answer(200, {"url": self.gateway_url.rstrip("/")})
        if token not in self.valid:
            return self.json_answer(401, UNAUTHORIZED)
        if method in ("GET", "HEAD"):
            if rest == "/users/@me":
                return self.json_answer(200, self.user_object(token))
            if rest == "/oauth2/applications/@me":
                return self.json_answer(200, self.application_object(token))
            if rest == "/gateway/bot":
                used = self.identifies_by_token[token]
                return self.json_answer(200, {
                    "url": self.gateway_url.rstrip("/"), "shards": 1,
                    "session_start_limit": {"total": self.session_limit,
                                            "remaining": max(0, self.session_limit - used),
                                            "reset_after": 86400000, "max_concurrency": 1}})
        return self.json_answer(404, NOT_FOUND)

    def rate_limited(self):
        rl = self.ratelimit
        rl["count"] -= 1
        self.stats["rest_429"] += 1
        ra = float(rl.get("retry_after", 5.0))
        if rl.get("cloudflare"):
            # Cloudflare ban: HTML, no Via, no JSON (reference §2.1).
            return 429, [("Content-Type", "text/html"), ("Retry-After", str(int(ra)))], \
                b"error code: 1015"
        extra = [("Retry-After", str(max(1, round(ra)))), ("X-RateLimit-Limit", "5"),
                 ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset-After", str(ra)),
                 ("X-RateLimit-Scope", "global" if rl.get("global") else "user")]
        if rl.get("global"):
            extra.append(("X-RateLimit-Global", "true"))
        return self.json_answer(429, {"message": "You are being rate limited.",
                                      "retry_after": ra, "global": bool(rl.get("global"))}, extra)

    # ----- control API
    def control(self, method, what, body):
        text = body.decode("utf-8", "surrogateescape")
        data = None
        if text.strip().startswith(("{", "[")):
            data = json.loads(text)
        if method == "GET" and what == "stats":
            return 200, self.snapshot()
        if method == "GET" and what == "sessions":
            return 200, {"connections": [
                {"peer": c.peer, "token": fingerprint(c.token) if c.token else None,
                 "session_id": c.session.session_id if c.session else None,
                 "seq": c.session.seq if c.session else None, "closing": c.closing,
                 "compress": c.zlib is not None} for c in self.conns],
                "resumable": [{"session_id": r.session_id, "token": fingerprint(r.token),
                               "seq": r.seq, "attached": r.conn is not None}
                              for r in self.sessions.values()]}
        if method != "POST":
            return 404, {"error": f"unknown control endpoint {method} /_control/{what}"}
        if what == "revoke":
            if isinstance(data, dict) and data.get("all"):
                toks = list(self.valid)
            else:
                spec = (data.get("token") or data.get("fingerprint")) if isinstance(data, dict) \
                    else text.strip()
                toks = self.match_tokens(spec or "")
            if not toks:
                return 404, {"error": "no such token", "revoked": [], "closed": 0}
            closed = self.revoke_tokens(toks)
            return 200, {"revoked": sorted(fingerprint(t) for t in toks), "closed": closed}
        if what == "tokens":
            if isinstance(data, dict) and "add" in data:
                self.valid |= {t.strip() for t in data["add"] if t.strip()}
            else:
                new = data["tokens"] if isinstance(data, dict) else \
                    [ln.strip() for ln in text.splitlines()]
                new = {t.strip() for t in new if t.strip() and not t.strip().startswith("#")}
                self.revoke_tokens(self.valid - new)
                self.valid = new
            self.log("valid tokens now: " + ", ".join(sorted(fingerprint(t) for t in self.valid)))
            return 200, {"valid": sorted(fingerprint(t) for t in self.valid)}
        if what == "close":
            data = data or {}
            code = int(data.get("code", 4000))
            spec = data.get("token") or data.get("fingerprint")
            toks = set(self.match_tokens(spec)) if spec else None
            n = 0
            for c in list(self.conns):
                if not c.closing and (toks is None or c.token in toks):
                    n += 1
                    c.close(code, str(data.get("reason", "")))
            return 200, {"closed": n}
        if what == "reconnect":
            n = 0
            for c in list(self.conns):
                if not c.closing:
                    c.send_json({"op": OP_RECONNECT, "d": None})
                    n += 1
            return 200, {"sent": n}
        if what == "invalidate":
            # op 9 d:false to every open connection and forget all sessions: clients must
            # IDENTIFY again (a RESUME then also gets op 9).
            n = 0
            for c in list(self.conns):
                if not c.closing:
                    c.send_json({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
                    c.session = None
                    n += 1
            self.sessions.clear()
            return 200, {"sent": n}
        if what == "drop":
            n = len(self.conns)
            for c in list(self.conns):
                c.abort()
            return 200, {"dropped": n}
        if what == "ratelimit":
            data = data or {}
            self.ratelimit = {"count": int(data.get("count", 1)),
                              "retry_after": float(data.get("retry_after", 5.0)),
                              "global": bool(data.get("global", False)),
                              "cloudflare": bool(data.get("cloudflare", False))}
            return 200, dict(self.ratelimit)
        if what == "reset":
            self.reset_stats()
            return 200, {"ok": True}
        return 404, {"error": f"unknown control endpoint POST /_control/{what}"}

    # ----- gateway
    async def handle_ws(self, reader, writer, method, target, headers):
        key = headers.get("sec-websocket-key", "")
        try:
            key_ok = len(base64.b64decode(key, validate=True)) == 16
        except (binascii.Error, ValueError):
            key_ok = False
        if headers.get("sec-websocket-version") != "13":
            self.write_response(writer, 426, [("Sec-WebSocket-Version", "13")], b"", False)
            return
        if method != "GET" or not key_ok or \
                "upgrade" not in headers.get("connection", "").lower():
            self.write_response(writer, 400, [], b"bad websocket handshake", False)
            return
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(target).query))
        compress = query.get("compress") == "zlib-stream" and self.zlib_ok
        # No Sec-WebSocket-Extensions in the answer: permessage-deflate is declined, which
        # RFC 7692 section 5 allows; the client then sends and expects plain frames.
        writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                      f"{ws_accept_key(key)}\r\n\r\n").encode())
        conn = Conn(self, reader, writer, compress, query)
        self.conns.add(conn)
        self.stats["gateway_connections"] += 1
        self.log(f"gateway {conn.peer} connected {target} "
                 f"compress={'zlib-stream' if compress else 'off'}")
        watchdog = self.spawn(self.heartbeat_watchdog(conn))
        try:
            await self.ws_session(conn)
        finally:
            watchdog.cancel()
            conn.closed.set()
            conn.abort()
            self.conns.discard(conn)
            if conn.session and conn.session.conn is conn:
                conn.session.conn = None

    async def ws_session(self, conn):
        """Read loop. After a gateway-level close (4xxx) it keeps reading, ignoring data, until
        the client answers with its close frame or the abort timer drops the connection; after a
        framing error (1002/1007/1009) it stops reading at once."""
        q = conn.query
        try:
            v = int(q["v"]) if "v" in q else None
        except ValueError:
            v = -1
        if v not in API_VERSIONS:
            conn.close(4012, "Invalid API version.")
        elif q.get("encoding", "json") != "json":
            conn.close(4002, "fake_discord supports encoding=json only")
        else:
            conn.send_json({"op": OP_HELLO, "s": None, "t": None,
                            "d": {"heartbeat_interval": self.heartbeat_interval,
                                  "_trace": ['["fake-gateway",{"micros":0}]']}})
        message, msg_op = b"", None
        while True:
            try:
                await conn.writer.drain()
                fin, op, data = await ws_read_frame(conn.reader, 1 << 20)
            except WSProtocolError as e:
                conn.close(e.code, e.reason)
                return
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if op == WS_CLOSE:
                code = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005
                self.client_closes[str(code)] += 1
                if not conn.closing:
                    self.log(f"gateway {conn.peer} client closed {code}")
                    conn.closing = True
                    conn.writer.write(ws_frame(WS_CLOSE, data[:2]))  # echo (RFC 6455 5.5.1)
                return
            if op == WS_PING:
                conn.writer.write(ws_frame(WS_PONG, data))
                continue
            if op == WS_PONG:
                continue
            if op in (WS_TEXT, WS_BINARY) and msg_op is None:
                msg_op, message = op, data
            elif op == WS_CONT and msg_op is not None:
                message += data
            else:
                conn.close(1002, "unexpected frame opcode %d" % op)
                return
            if len(message) > MAX_CLIENT_PAYLOAD:
                conn.close(4002, "Error while decoding payload.")
            if not fin:
                continue
            op_done, payload, msg_op, message = msg_op, message, None, b""
            if conn.closing:
                continue
            if op_done == WS_BINARY:
                conn.close(4002, "Error while decoding payload.")
                continue
            try:
                obj = json.loads(payload.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("payload is not an object")
            except UnicodeDecodeError:
                conn.close(1007, "invalid UTF-8")
                return
            except ValueError:
                conn.close(4002, "Error while decoding payload.")
                continue
            await self.gateway_op(conn, obj)

    async def heartbeat_watchdog(self, conn):
        limit = 2 * self.heartbeat_interval / 1000.0 + 5.0
        while not conn.closing:
            await asyncio.sleep(1.0)
            if time.monotonic() - conn.last_heartbeat > limit:
                conn.close(4009, "Session timed out.")
                return

    async def gateway_op(self, conn, msg):
        """Handle one client payload (gateway.mdx); may start closing the connection."""
        now = time.monotonic()
        conn.sends.append(now)
        while conn.sends and now - conn.sends[0] > SEND_LIMIT[1]:
            conn.sends.popleft()
        if len(conn.sends) > SEND_LIMIT[0]:
            conn.close(4008, "Rate limited.")
            return False
        op, d = msg.get("op"), msg.get("d")
        if op not in CLIENT_OPS:
            conn.close(4001, "Unknown opcode.")
            return False
        if op == OP_HEARTBEAT:
            self.stats["heartbeats"] += 1
            conn.last_heartbeat = now
            conn.send_json({"op": OP_HEARTBEAT_ACK})
            return True
        if op == OP_IDENTIFY:
            return await self.identify(conn, d if isinstance(d, dict) else {})
        if op == OP_RESUME:
            return await self.resume(conn, d if isinstance(d, dict) else {})
        if conn.session is None:
            conn.close(4003, "Not authenticated.")
            return False
        return True   # presence, voice state, member requests: accepted, ignored

    async def identify(self, conn, d):
        self.stats["identify"] += 1
        token = d.get("token")
        token = token if isinstance(token, str) else ""
        fp = fingerprint(token) if token else "-"
        if token:
            self.by_token[token]["identify"] += 1
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return False
        if token not in self.valid:
            self.stats["identify_failed"] += 1
            self.log(f"gateway {conn.peer} IDENTIFY tok={fp} rejected")
            conn.close(4004, "Authentication failed.")
            return False
        self.identifies_by_token[token] += 1
        if self.identifies_by_token[token] > self.session_limit:
            # Discord resets the token of an app that exceeds its session start limit (§2.3).
            self.stats["identify_failed"] += 1
            self.log(f"gateway {conn.peer} IDENTIFY tok={fp}: session start limit "
                     f"{self.session_limit} exceeded, token reset")
            self.revoke_tokens([token])
            conn.close(4004, "Authentication failed.")
            return False
        self.stats["identify_ok"] += 1
        shard = d.get("shard") if isinstance(d.get("shard"), list) else [0, 1]
        sess = Resumable(secrets.token_hex(16), token, shard)
        self.sessions[sess.session_id] = sess
        conn.session, sess.conn = sess, conn
        user = self.user_object(token)
        self.log(f"gateway {conn.peer} IDENTIFY tok={fp} intents={d.get('intents')} "
                 f"-> READY session {sess.session_id[:8]}")
        conn.dispatch("READY", {
            "v": 10, "user": user, "guilds": [], "session_id": sess.session_id,
            "session_type": "normal", "resume_gateway_url": self.gateway_url.rstrip("/"),
            "application": {"id": user["id"], "flags": 0}, "shard": shard,
            "user_settings": {}, "private_channels": [], "relationships": [],
            "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": [],
            "_trace": ['["fake-gateway",{"micros":0}]']})
        return True

    async def resume(self, conn, d):
        self.stats["resume"] += 1
        token = d.get("token") if isinstance(d.get("token"), str) else ""
        sess = self.sessions.get(d.get("session_id"))
        fp = fingerprint(token) if token else "-"
        if token not in self.valid:
            self.stats["resume_failed"] += 1
            self.log(f"gateway {conn.peer} RESUME tok={fp} rejected")
            conn.close(4004, "Authentication failed.")
            return False
        if sess is None or sess.token != token:
            self.stats["resume_failed"] += 1
            self.stats["invalid_session"] += 1
            self.log(f"gateway {conn.peer} RESUME tok={fp}: unknown session -> op 9")
            conn.send_json({"op": OP_INVALID_SESSION, "s": None, "t": None, "d": False})
            return True
        if sess.conn is not None and sess.conn is not conn:
            sess.conn.abort()
        self.stats["resume_ok"] += 1
        conn.session, sess.conn = sess, conn
        self.log(f"gateway {conn.peer} RESUME tok={fp} session {sess.session_id[:8]} -> RESUMED")
        conn.dispatch("RESUMED", {"_trace": ['["fake-gateway",{"micros":0}]']})
        return True


# --------------------------------------------------------------------------- in-process use

class FakeDiscordThread:
    """FakeDiscord on its own loop in a daemon thread; methods are thread-safe wrappers."""

    def __init__(self, **kw):
        self.kw = kw
        self.loop = asyncio.new_event_loop()
        self.fd = None
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def _call(self, fn, *a):
        async def run():
            return fn(*a)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def start(self):
        self.thread.start()
        self.fd = FakeDiscord(**self.kw)
        asyncio.run_coroutine_threadsafe(self.fd.start(), self.loop).result(10)
        return self

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.fd.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    __enter__ = start

    def __exit__(self, *exc):
        self.stop()

    port = property(lambda self: self.fd.port)
    api_base = property(lambda self: self.fd.api_base)
    gateway_url = property(lambda self: self.fd.gateway_url)

    def stats(self):
        return self._call(self.fd.snapshot)

    def revoke(self, token):
        return self._call(lambda: self.fd.revoke_tokens(self.fd.match_tokens(token)))

    def add_token(self, token):
        return self._call(self.fd.valid.add, token)


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description="Local fake Discord (REST + gateway) for tests.")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--token-file", action="append", default=[],
                    help="valid tokens, one per line (repeatable)")
    ap.add_argument("--token-env", help="also accept the token in this environment variable")
    ap.add_argument("--heartbeat-interval", type=int, default=41250, help="ms, sent in HELLO")
    ap.add_argument("--session-limit", type=int, default=1000,
                    help="IDENTIFYs per token before the token is reset (Discord: 1000/24h)")
    ap.add_argument("--no-zlib", action="store_true",
                    help="ignore compress=zlib-stream and send text frames")
    ap.add_argument("--ready-file", help="also write the READY line to this file")
    ap.add_argument("--print-port", action="store_true",
                    help="print the READY line (always done; accepted for scripts)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no request log on stderr")
    args = ap.parse_args(argv)

    tokens = []
    for path in args.token_file:
        tokens += read_token_file(path)
    if args.token_env and os.environ.get(args.token_env, "").strip():
        tokens.append(os.environ[args.token_env].strip())

    async def run():
        fd = FakeDiscord(args.host, args.port, tokens, args.heartbeat_interval,
                         args.session_limit, not args.no_zlib, args.quiet)
        await fd.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        line = f"READY {fd.port} {fd.gateway_url}"
        if args.ready_file:
            tmp = args.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write(line + "\n")
            os.replace(tmp, args.ready_file)
        print(line, flush=True)
        await stop.wait()
        fd.log("stopping")
        await fd.stop()

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
