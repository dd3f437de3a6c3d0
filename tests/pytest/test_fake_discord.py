"""tests/fake_discord.py against raw sockets and against the REAL discord.py (services/bot/bot.py).

The fake must be faithful enough that a real library reaches READY, and must reject tokens the way
Discord does (reference/discord.md 2 and 4.3): REST 401 with `{"message": "401: Unauthorized",
"code": 0}`, gateway close 4004 "Authentication failed.", also mid-session after a revocation.
The sample bot must turn those into /health 401 and exit 77 (EX_NOPERM) without retrying.

Tokens are built here from random parts (cases/discord.md: never a realistic literal).
The discord.py tests skip when Debian's python3-discord is not installed for /usr/bin/python3
(`apt-get install -y python3-discord`); the raw-protocol tests always run.
"""

import base64
import hashlib
import json
import os
import random
import signal
import socket
import string
import struct
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import alive, tagged_pids, wait_for

PY = "/usr/bin/python3"
ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fake_discord.py"
BOT = ROOT / "services" / "bot" / "bot.py"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an env proxy


def _have_discord_py():
    try:
        return subprocess.run([PY, "-c", "import discord"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


HAVE_DISCORD = _have_discord_py()
needs_discord = pytest.mark.skipif(
    not HAVE_DISCORD, reason="discord.py is not importable by /usr/bin/python3: "
    "Debian's python3-discord is not installed (apt-get install -y python3-discord)")


def make_token():
    """Token-shaped test value: base64(digits) . 6 chars . 38 chars, random every run."""
    rnd = random.SystemRandom()
    bot_id = str(rnd.randrange(10 ** 17, 10 ** 18))   # an 18-digit ID
    alnum = string.ascii_letters + string.digits
    a = base64.b64encode(bot_id.encode()).decode().rstrip("=")
    b = "".join(rnd.choice(alnum) for _ in range(6))
    c = "".join(rnd.choice(alnum + "-_") for _ in range(38))
    return a + "." + b + "." + c


def fingerprint(tok):
    bot_id = base64.b64decode(tok.split(".")[0] + "==").decode()
    return f"{bot_id}:{hashlib.sha256(tok.encode()).hexdigest()[:6]}"


def http(method, url, body=None, headers=None, timeout=5.0):
    """(status, headers, body bytes); never raises for HTTP error statuses."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Procs:
    """Processes of one test: stdout/stderr to files, everything killed at the end."""

    def __init__(self, tmp, tag):
        self.tmp, self.tag, self.popens = tmp, tag, []

    def spawn(self, name, argv, env=None):
        out, err = self.tmp / f"{name}.out", self.tmp / f"{name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            p = subprocess.Popen([str(a) for a in argv], stdin=subprocess.DEVNULL, stdout=o,
                                 stderr=e, env=env)
        p.out_path, p.err_path = out, err
        self.popens.append(p)
        return p

    @staticmethod
    def text(path):
        return path.read_text(errors="replace") if path.exists() else ""

    def cleanup(self):
        for p in self.popens:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=10)
        for pid in tagged_pids(self.tag):
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def procs(tmp_path, tag):
    ps = Procs(tmp_path, tag)
    yield ps
    ps.cleanup()


class Fake:
    def __init__(self, procs, tokens, extra=()):
        tmp = procs.tmp
        self.token_file = tmp / "tokens.txt"
        self.token_file.write_text("# valid tokens\n" + "".join(t + "\n" for t in tokens))
        ready = tmp / "fake.ready"
        self.p = procs.spawn("fake", [PY, FAKE, "--port", "0", "--token-file", self.token_file,
                                      "--ready-file", ready, "--print-port", *extra])
        line = wait_for(lambda: ready.exists() and ready.read_text().strip(), 15)
        assert line, f"fake_discord did not start: {procs.text(self.p.err_path)}"
        word, port, self.gateway_url = line.split()
        assert word == "READY"
        self.port = int(port)
        self.base = f"http://127.0.0.1:{self.port}"
        assert procs.text(self.p.out_path).strip() == line

    def control(self, what, body=None):
        status, _, data = http("POST" if body is not None else "GET",
                               f"{self.base}/_control/{what}", body)
        assert status == 200, (what, status, data)
        return json.loads(data)

    def stats(self):
        return self.control("stats")

    def log(self):
        return Procs.text(self.p.err_path)


@pytest.fixture
def fake_factory(procs):
    return lambda tokens, extra=(): Fake(procs, tokens, extra)


def start_bot(procs, fake, token, name="bot", **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")}
    full.update(DISCORD_TOKEN=token, HEALTH_PORT="0", AUTH_FAIL_LINGER="3",
                DISCORD_API_BASE=f"{fake.base}/api/v10", DISCORD_GATEWAY=fake.gateway_url)
    full.update(env)
    p = procs.spawn(name, [PY, BOT], env=full)

    def health_port():
        if p.poll() is not None:
            return -1
        for line in procs.text(p.err_path).splitlines():
            if "health endpoint on http://127.0.0.1:" in line:
                return int(line.rsplit(":", 1)[1].split("/")[0])
        return None
    port = wait_for(health_port, 30, 0.05)
    assert port and port > 0, f"bot did not serve /health: rc={p.poll()}\n" \
        + procs.text(p.err_path)
    p.health_url = f"http://127.0.0.1:{port}/health"
    return p


def health(p):
    try:
        return http("GET", p.health_url, timeout=2)[0]
    except OSError:
        return None


def wait_health(p, want, timeout, procs):
    seen = []

    def check():
        code = health(p)
        if not seen or seen[-1] != code:
            seen.append(code)
        return code == want
    ok = wait_for(check, timeout, 0.05)
    assert ok, f"/health never answered {want} within {timeout}s (saw {seen}); " \
        f"rc={p.poll()}\n{procs.text(p.err_path)}"
    return seen


def wait_exit(p, timeout, procs):
    try:
        return p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"bot still running after {timeout}s\n{procs.text(p.err_path)}")


def assert_no_token(token, *texts):
    for t in texts:
        assert token not in t, "a full token was printed"


# --------------------------------------------------------------------------- raw protocol

def ws_connect(port, query="?v=10&encoding=json"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /{query} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(1)
        assert chunk, "connection closed during the handshake"
        head += chunk
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    accept = base64.b64encode(hashlib.sha1(
        (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
    assert f"Sec-WebSocket-Accept: {accept}" in lines
    return s


def ws_send(s, obj, opcode=0x1):
    data = json.dumps(obj).encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x80 | opcode])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n)
    s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def ws_recv(s):
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            assert chunk, "connection closed mid-frame"
            buf += chunk
        return buf
    b0, b1 = exact(2)
    assert not b1 & 0x80, "server frames must not be masked"
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", exact(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", exact(8))
    return b0 & 0x0F, exact(n)


def test_rest_and_gateway_contract(procs, fake_factory):
    """Without any bot library: the wire format Discord uses for accepted and rejected tokens."""
    good, bad = make_token(), make_token()
    fake = fake_factory([good])
    for ver in ("v10", "v9"):
        st, hdr, body = http("GET", f"{fake.base}/api/{ver}/users/@me",
                             headers={"Authorization": f"Bot {good}"})
        assert st == 200 and hdr["Content-Type"] == "application/json"
        user = json.loads(body)
        assert user["bot"] is True and user["id"] == fingerprint(good).split(":")[0]
    for auth in (f"Bot {bad}", good, f"Bot Bot {good}", f"Bearer {good}"):
        st, hdr, body = http("GET", f"{fake.base}/api/v10/users/@me",
                             headers={"Authorization": auth})
        assert (st, hdr["Content-Type"]) == (401, "application/json")
        assert body == b'{"message": "401: Unauthorized", "code": 0}'
    st, _, body = http("GET", f"{fake.base}/api/v10/gateway/bot",
                       headers={"Authorization": f"Bot {good}"})
    gwb = json.loads(body)
    assert st == 200 and gwb["url"].startswith("ws://127.0.0.1:")
    assert gwb["session_start_limit"]["remaining"] == 1000
    assert json.loads(http("GET", f"{fake.base}/api/v10/gateway")[2])["url"] == gwb["url"]
    assert fake.stats()["rest_401"] == 4

    # Gateway: HELLO, heartbeat ACK, IDENTIFY with a bad token -> close 4004.
    s = ws_connect(fake.port)
    op, data = ws_recv(s)
    hello = json.loads(data)
    assert op == 0x1 and hello["op"] == 10 and hello["d"]["heartbeat_interval"] > 0
    ws_send(s, {"op": 1, "d": None})
    assert json.loads(ws_recv(s)[1])["op"] == 11
    ws_send(s, {"op": 2, "d": {"token": bad, "intents": 1, "properties": {"os": "linux"}}})
    op, data = ws_recv(s)
    assert op == 0x8 and struct.unpack("!H", data[:2])[0] == 4004
    assert data[2:] == b"Authentication failed."
    s.close()

    # A good IDENTIFY gets READY; revoking the token closes the session with 4004.
    s = ws_connect(fake.port)
    ws_recv(s)
    ws_send(s, {"op": 2, "d": {"token": good, "intents": 1, "properties": {"os": "linux"}}})
    ready = json.loads(ws_recv(s)[1])
    assert (ready["op"], ready["t"], ready["s"]) == (0, "READY", 1)
    for k in ("session_id", "resume_gateway_url", "user", "application", "guilds", "shard"):
        assert k in ready["d"], k
    assert fake.control("revoke", fingerprint(good))["closed"] == 1
    op, data = ws_recv(s)
    assert op == 0x8 and struct.unpack("!H", data[:2])[0] == 4004
    s.close()
    st, _, _ = http("GET", f"{fake.base}/api/v10/users/@me",
                    headers={"Authorization": f"Bot {good}"})
    assert st == 401
    # Rotation: a new token becomes valid.
    fake.control("tokens", json.dumps({"tokens": [bad]}))
    assert http("GET", f"{fake.base}/api/v10/users/@me",
                headers={"Authorization": f"Bot {bad}"})[0] == 200
    stats = fake.stats()
    assert stats["identify"] == 2 and stats["identify_ok"] == 1
    assert stats["closes"] == {"4004": 2}
    assert_no_token(good, fake.log())
    assert_no_token(bad, fake.log())


# --------------------------------------------------------------------------- real discord.py

@needs_discord
def test_discordpy_ready_then_token_revoked(procs, fake_factory, tmp_path):
    """A2/R1: READY -> /health 200 and READY=1; revocation mid-session -> 4004 -> /health 401
    and exit 77, with no second IDENTIFY."""
    tok = make_token()
    fake = fake_factory([tok])
    nsock_path = tmp_path / "notify.sock"
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(str(nsock_path))
    nsock.settimeout(0.05)
    bot = start_bot(procs, fake, tok, NOTIFY_SOCKET=str(nsock_path), WATCHDOG_USEC="1000000")
    wait_health(bot, 200, 45, procs)
    msgs = []

    def drain():
        try:
            while True:
                msgs.append(nsock.recv(4096).decode())
        except socket.timeout:
            pass
        return any(m.startswith("READY=1") for m in msgs) and msgs.count("WATCHDOG=1") >= 2
    assert wait_for(drain, 10), f"notify messages: {msgs}"
    st = fake.stats()
    assert (st["identify"], st["identify_ok"], st["rest_401"]) == (1, 1, 0)
    assert st["routes"] == {"GET /users/@me": 1, "GET /oauth2/applications/@me": 1}

    res = fake.control("revoke", json.dumps({"token": tok}))
    assert res == {"revoked": [fingerprint(tok)], "closed": 1}
    wait_health(bot, 401, 15, procs)
    body = json.loads(http("GET", bot.health_url)[2])
    assert body["status"] == "auth_failed" and "4004" in body["reason"]
    assert wait_exit(bot, 20, procs) == 77, procs.text(bot.err_path)
    err = procs.text(bot.err_path)
    assert "WebSocket closed with 4004" in err
    st = fake.stats()
    assert st["identify"] == 1 and st["resume"] == 0, st
    assert st["closes"].get("4004") == 1
    nsock.close()
    assert_no_token(tok, err, fake.log(), procs.text(bot.out_path))


@needs_discord
def test_discordpy_bad_token_exits_77_once(procs, fake_factory):
    """A1: a token the fake does not know -> one REST 401, no IDENTIFY, exit 77, no loop."""
    good, bad = make_token(), make_token()
    fake = fake_factory([good])
    bot = start_bot(procs, fake, bad)
    assert wait_exit(bot, 30, procs) == 77, procs.text(bot.err_path)
    err = procs.text(bot.err_path)
    assert "LoginFailure: Improper token has been passed." in err
    st = fake.stats()
    assert 1 <= st["rest_401"] + st["identify"] <= 2, st
    assert st["rest_401"] >= 1 and st["identify_ok"] == 0, st
    assert_no_token(bad, err, fake.log())


@needs_discord
def test_discordpy_resume_and_clean_stop(procs, fake_factory):
    """op 7 RECONNECT and a dropped TCP connection are RESUMEd (no new IDENTIFY); SIGTERM -> 0."""
    tok = make_token()
    fake = fake_factory([tok], ["--no-zlib"])
    bot = start_bot(procs, fake, tok)
    wait_health(bot, 200, 45, procs)
    fake.control("reconnect", "")
    assert wait_for(lambda: fake.stats()["resume_ok"] == 1, 15), fake.log()
    fake.control("drop", "")
    assert wait_for(lambda: fake.stats()["resume_ok"] == 2, 20), fake.log()
    wait_health(bot, 200, 15, procs)
    assert fake.stats()["identify"] == 1
    bot.send_signal(signal.SIGTERM)
    assert wait_exit(bot, 15, procs) == 0, procs.text(bot.err_path)
    assert "1000" in fake.stats()["client_closes"]
