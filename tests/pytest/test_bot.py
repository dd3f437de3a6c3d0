"""End to end with real Discord bot libraries: R1 (discord.py) and R2 (discord.js 14, including
the silent case A7) of ../shared/cases/discord.md, with A5 (a new token leaves AUTHFAIL).

nines runs as PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`) and supervises
two services: tests/fake_discord.py (REST + gateway on 127.0.0.1, ready once its port accepts
connections) and a sample bot, services/bot/bot.py or services/bot-js/bot.js, with
  [health] url = the bot's /health,  ready = notify,  [notify] watchdog,  [auth] token_file.
The control socket is a file in run_dir, so ninesctl works from outside the namespace; the
fake's /_control API (revoke, tokens, stats) drives the scenario and counts IDENTIFYs.

R1 and R2: RUNNING and `health ok`; kill -9 of the bot -> a new pid, RUNNING and healthy
again; the token is revoked (Discord closes the session with 4004) -> AUTHFAIL, and then nothing
for a while: no restart, no IDENTIFY, no REST call. The cases ask for zero restarts over 10
minutes; CI waits 15 s (QUIET_S), room for at least 7 starts at the configured 1-2 s backoff,
so a restart loop could not hide in it. A new token written to the file (registered with the fake
first) -> running and healthy again within seconds, and `ninesctl status` shows its fingerprint.
A7 with nothing but the watchdog has its own, shorter scenario (see its docstring).

discord.js is installed by npm into a cache directory (tests/pytest/npm_cache.py) the first time;
that test is skipped only when the npm registry cannot be reached (or node is missing). The
discord.py test is skipped when Debian's python3-discord is not installed. Both need root (PID
namespace). Tokens are built at run time from random parts (tokens.py), never literals.
"""

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import alive, children, cmdline, tree_text, wait_for
from supervisor_util import Sup, wrap
from tokens import fake_token

PY = "/usr/bin/python3"
ROOT = Path(__file__).resolve().parents[2]
FAKE = ROOT / "tests" / "fake_discord.py"
BOT_PY = ROOT / "services" / "bot" / "bot.py"
BOT_JS = ROOT / "services" / "bot-js" / "bot.js"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an env proxy
QUIET_S = 15.0   # "zero restarts for a while" (the cases say 10 minutes; see the docstring)


def _have_discord_py():
    try:
        return subprocess.run([PY, "-c", "import discord"], capture_output=True,
                              timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_discord_py = pytest.mark.skipif(
    not _have_discord_py(), reason="discord.py is not importable by /usr/bin/python3: Debian's "
    "python3-discord is not installed (apt-get install -y python3-discord)")


# --------------------------------------------------------------------------- small helpers

def free_port():
    """A TCP port on 127.0.0.1 that nobody listens on right now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, timeout=5.0):
    """(status, body bytes); never raises for HTTP error statuses."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def fingerprint(token):
    """What nines (and the fake) show instead of a token: BOTID:first 6 hex of SHA-256."""
    bot_id = base64.b64decode(token.split(".")[0] + "==").decode()
    return f"{bot_id}:{hashlib.sha256(token.encode()).hexdigest()[:6]}"


def write_atomically(path, text):
    """An editor's save: a temporary file renamed over the old one."""
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


class Fake:
    """Client of the fake Discord's control API (the fake runs as a nines service)."""

    def __init__(self, port):
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def control(self, what, body=None):
        status, data = http("POST" if body is not None else "GET",
                            f"{self.base}/_control/{what}",
                            json.dumps(body) if isinstance(body, dict) else body)
        assert status == 200, (what, status, data)
        return json.loads(data)

    def stats(self):
        return self.control("stats")


class E2E:
    """nines as PID 1 with fake-discord + bot services; the test's view of it."""

    def __init__(self, h, bot_argv, bot_env, auth_extra, tokens, health=True, watchdog="10s"):
        self.h = h
        self.sup = Sup(h)
        self.fake = Fake(free_port())
        self.health_port = free_port()
        self.secrets = h.tmp / "secrets"
        self.secrets.mkdir()
        self.token_file = self.secrets / "token"
        write_atomically(self.token_file, tokens[0] + "\n")
        valid = h.tmp / "valid-tokens"
        valid.write_text("".join(t + "\n" for t in tokens))
        self.bot_argv = [str(a) for a in bot_argv]
        fake_cmd = wrap(f"{PY} {FAKE} --port {self.fake.port} --token-file {valid}")
        self._write("fake-discord", f"""
[service]
command = {fake_cmd}
ready = healthy
stop_timeout = 5s
[restart]
delay = 200ms
[health]
tcp = 127.0.0.1:{self.fake.port}
interval = 300ms
""")
        env_lines = "".join(f"env = {k}={v}\n" for k, v in {
            "HEALTH_PORT": self.health_port,
            "DISCORD_API_BASE": f"{self.fake.base}/api/v10",
            "DISCORD_GATEWAY": f"ws://127.0.0.1:{self.fake.port}/",
            **bot_env}.items())
        auth_lines = "".join(f"{k} = {str(v).format(api=self.fake.base + '/api/v10')}\n"
                             for k, v in auth_extra.items())
        health_lines = f"""[health]
url = http://127.0.0.1:{self.health_port}/health
interval = 1s
timeout = 2s
start_period = 30s
retries = 3
""" if health else ""
        self._write("bot", f"""
[service]
command = {wrap(' '.join(self.bot_argv))}
{env_lines}after = fake-discord
ready = notify
stop_timeout = 5s
[restart]
delay = 1s
max_delay = 2s
{health_lines}[auth]
token_file = {self.token_file}
{auth_lines}[notify]
watchdog = {watchdog}
""")

    def _write(self, name, text):
        (self.sup.services / f"{name}.conf").write_text(text.lstrip())

    def start(self):
        self.sup.start(ns=True)
        self.init = self.h.init_pid(self.sup.p)
        assert self.sup.p.poll() is None
        return self

    # ----- observing nines
    def status(self, name="bot"):
        """The service's object from `ninesctl status --json` (None when nines did not answer)."""
        rc, out, err = self.sup.ctl("status", "--json")
        try:
            return {s["name"]: s for s in json.loads(out)["services"]}[name]
        except (ValueError, KeyError):
            return None

    def human(self, name="bot"):
        return self.sup.ctl("status", name)[1]

    def why(self):
        return (f"\n--- ninesctl status bot:\n{self.human()}\n--- process tree:\n"
                f"{tree_text(self.init)}\n--- nines stderr:\n{self.sup.log()[-6000:]}\n"
                f"--- bot log:\n{self.bot_log()[-4000:]}")

    def bot_log(self):
        p = self.sup.log_dir / "bot.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def bot_pids(self):
        """Host pids of the bot's main process (children of PID 1 running the bot's argv)."""
        return [c for c in children(self.init)
                if cmdline(c)[:len(self.bot_argv)] == self.bot_argv and alive(c)]

    def wait_healthy(self, timeout, not_pid=None, health="ok"):
        """RUNNING with `health ok` in both the human and the JSON status (health="none": just
        RUNNING); returns the bot's host pid (a different one than not_pid)."""
        def ok():
            st = self.status()
            if not st or st["state"] != "RUNNING" or st["health"] != health:
                return None
            pids = [p for p in self.bot_pids() if p != not_pid]
            return pids[0] if len(pids) == 1 else None
        pid = wait_for(ok, timeout, 0.1)
        assert pid, f"bot never became RUNNING and healthy within {timeout}s" + self.why()
        line = self.human().splitlines()[0]
        assert re.match(r"bot\s+RUNNING\s+pid \d+, uptime ", line), line
        assert (", health ok" in line) == (health == "ok"), line
        return pid

    def wait_state(self, state, timeout):
        st = wait_for(lambda: (s := self.status()) and s["state"] == state and s, timeout, 0.1)
        assert st, f"bot never reached {state} within {timeout}s" + self.why()
        return st

    def starts(self):
        """How many times nines has started the bot (STARTING transitions in its log)."""
        return len([t for t in self.sup.transitions("bot") if t[2] == "STARTING"])

    def stop(self):
        os.kill(self.init, signal.SIGTERM)
        rc = self.h.wait_exit(self.sup.p, 30, what="unshare/nines")
        assert rc == 0, self.why()


def run_scenario(h, bot_argv, bot_env, auth_extra=None, new_token_check=None):
    """The shared R1/R2 scenario; returns (e, facts) for library-specific assertions."""
    tok, bot_id = fake_token()
    e = E2E(h, bot_argv, bot_env, auth_extra or {}, [tok]).start()
    t0 = time.monotonic()

    # 1. A good token: RUNNING (READY=1 over NOTIFY_SOCKET) and `health ok`.
    pid1 = e.wait_healthy(45)
    st = e.status()
    assert st["auth"]["fingerprint"] == fingerprint(tok)
    assert wait_for(lambda: e.fake.stats()["identify_ok"] == 1, 5), e.fake.stats()
    restarts0 = st["restarts"]

    # 2. kill -9 of the bot: a new process (new pid), RUNNING and healthy again.
    os.kill(pid1, signal.SIGKILL)
    pid2 = e.wait_healthy(30, not_pid=pid1)
    assert not alive(pid1)
    st = e.status()
    assert st["restarts"] == restarts0 + 1, st
    assert st["last_exit"]["signal"] == "KILL", st["last_exit"]
    stats = e.fake.stats()
    assert stats["identify_ok"] == 2 and stats["identify_failed"] == 0, stats

    # 3. Discord resets the token while the bot runs: the gateway closes with 4004.
    starts_before = e.starts()
    res = e.fake.control("revoke", {"token": tok})
    assert res["revoked"] == [fingerprint(tok)] and res["closed"] == 1, res
    t_revoke = time.monotonic()
    st = e.wait_state("AUTHFAIL", 20)
    authfail_s = time.monotonic() - t_revoke
    parked = dict(st["auth"], reason=st["reason"])
    assert wait_for(lambda: not alive(pid2) and not e.bot_pids(), 10), e.why()
    base = e.fake.stats()
    # No new session was tried between the revocation and AUTHFAIL.
    assert base["identify"] == stats["identify"], (stats, base)
    assert e.starts() == starts_before, e.why()

    # ... and then nothing at all for QUIET_S: no start, no IDENTIFY, no REST call.
    def something_happened():
        s = e.status()
        f = e.fake.stats()
        return (s is None or s["state"] != "AUTHFAIL" or s["restarts"] != st["restarts"]
                or e.starts() != starts_before or e.bot_pids()
                or f["identify"] != base["identify"] or f["rest_requests"] != base["rest_requests"]
                or f["gateway_connections"] != base["gateway_connections"])
    assert not wait_for(something_happened, QUIET_S, 0.25), \
        f"activity while in AUTHFAIL: {e.fake.stats()}" + e.why()
    assert "waiting for a new token" in e.human()

    # 4. A5: a new token for the same bot (Discord keeps the ID, segment A) is registered with
    # the fake and written to the file: nines leaves AUTHFAIL at once, the bot becomes healthy.
    if new_token_check:
        new_token_check(e)
    new, _ = fake_token(bot_id=bot_id)
    e.fake.control("tokens", {"add": [new]})
    write_atomically(e.token_file, new + "\n")
    t_new = time.monotonic()
    # A5 says within a second; 5 s leaves room for the probe and a busy CI machine.
    assert wait_for(lambda: e.starts() > starts_before, 5, 0.05), \
        "nines did not start the bot within 5 s of the new token" + e.why()
    e.wait_healthy(45)
    healthy_s = time.monotonic() - t_new
    st = e.status()
    assert st["auth"]["fingerprint"] == fingerprint(new), st["auth"]
    detail = e.human()
    auth_line = [l for l in detail.splitlines() if l.strip().startswith("auth:")]
    assert auth_line == [f"  auth:        token {fingerprint(new)} (file {e.token_file})"], detail
    stats = e.fake.stats()
    assert stats["tokens"][fingerprint(new)]["identify"] == 1, stats["tokens"]
    assert stats["tokens"][fingerprint(tok)]["identify"] == 2, stats["tokens"]

    # The watchdog (WATCHDOG=1 from the bot) and the health check never had to step in: nines
    # stopped the bot for the revoked token only (and, after the kill -9, swept what was left
    # of that generation, e.g. bot.js's notify helper).
    stops = [t[3] for t in e.sup.transitions("bot") if t[2] == "STOPPING"]
    assert stops.count("auth") == 1, stops
    assert all(r == "auth" or r.startswith("signal KILL") for r in stops), stops

    # K7 on the way: no token in nines' log, the console, the captured log or the status.
    for text in (e.sup.log(), e.sup.out(), e.bot_log(), detail, json.dumps(st)):
        for t in (tok, new):
            assert t not in text and t.split(".", 1)[1] not in text
    e.stop()
    facts = {"authfail_s": authfail_s, "healthy_s": healthy_s, "parked": parked,
             "total_s": time.monotonic() - t0}
    print(f"{bot_argv[-1]}: {json.dumps(facts)}")   # shown with pytest -s
    return e, facts


# --------------------------------------------------------------------------- R1: discord.py

@needs_discord_py
def test_discord_r1_discordpy_end_to_end(h, require_root):
    """R1 + A5 with services/bot/bot.py (Debian's python3-discord) under nines as PID 1.
    The revocation reaches nines three ways at once (the 4004 traceback in the bot's output,
    /health 401, exit 77); whichever comes first must park it. Waits QUIET_S = 15 s in AUTHFAIL
    instead of the cases' 10 minutes. nines' [auth] probe is pointed at the fake, so leaving
    AUTHFAIL also checks the new token with one GET /users/@me first: a token the fake does not
    know keeps the service parked without a start."""
    def unknown_token_stays_parked(e):
        stranger, _ = fake_token()
        starts = e.starts()
        rest = e.fake.stats()["rest_requests"]
        write_atomically(e.token_file, stranger + "\n")
        assert wait_for(lambda: "refused too" in e.sup.log(), 5), e.why()
        assert wait_for(lambda: e.fake.stats()["rest_requests"] == rest + 1, 2)
        assert not wait_for(lambda: e.starts() != starts or e.status()["state"] != "AUTHFAIL",
                            1.0, 0.1), e.why()
        assert e.fake.stats()["tokens"][fingerprint(stranger)]["rest_401"] == 1

    e, facts = run_scenario(h, [PY, BOT_PY], {"AUTH_FAIL_LINGER": "2"},
                            {"probe": "on", "api": "{api}"}, unknown_token_stays_parked)
    assert "the new token is accepted (probe HTTP 200" in e.sup.log(), e.why()
    source = facts["parked"]["source"]
    assert re.search(r"4004|health HTTP 401|exit 77", source), facts


# --------------------------------------------------------------------------- R2: discord.js

@pytest.fixture(scope="module")
def discord_js():
    """node_modules holding discord.js 14 (installed into the npm cache dir when missing)."""
    import npm_cache
    path, reason = npm_cache.discord_js()
    if path is None:
        pytest.skip(reason)
    return path


def test_discord_r2_discordjs_end_to_end(h, require_root, discord_js):
    """R2 + A7 + A5 with services/bot-js/bot.js (discord.js 14 from npm) under nines as PID 1.

    The silent case A7: after a token reset discord.js itself prints nothing (only a
    `shardDisconnect` event) and the process stays alive. Here nines is given nothing but the
    health endpoint: `patterns = none` (no output is matched) and AUTH_FAIL_LINGER=-1 (bot.js
    keeps running and answering /health 401 instead of exiting 77). nines must park the service
    in AUTHFAIL from the 401 alone, stop the live process itself, and not restart it: zero
    restarts and no IDENTIFY for QUIET_S = 15 s (the cases say 10 minutes)."""
    node = shutil.which("node")
    e, facts = run_scenario(h, [node, BOT_JS],
                            {"NODE_PATH": discord_js, "AUTH_FAIL_LINGER": "-1"},
                            {"patterns": "none"})
    assert facts["parked"]["source"] == "health HTTP 401", facts
    # bot.js saw the 4004 (discord.js's only signal) and said so; nines ignored the output.
    assert "gateway closed with 4004" in e.bot_log()
    assert "log:" not in facts["parked"]["reason"], facts
    stops = [t for t in e.sup.transitions("bot") if t[2] == "STOPPING"]
    assert any(t[3] == "auth" for t in stops), stops


def test_discord_a7_discordjs_silent_watchdog_only(h, require_root, discord_js):
    """A7 when nines has nothing but the watchdog: no [health], `patterns = none`, and bot.js
    (AUTH_FAIL_LINGER=-1) stays alive after the 4004 without exiting, like a plain discord.js
    bot that goes quiet. bot.js stops sending WATCHDOG=1 once its session is gone for good, so
    nines' watchdog (8 s here: long enough for node to start on a busy machine) must stop it: the case's "a restart". What must never follow is
    a RUNNING bot or a new gateway session with the revoked token (every later start is refused
    at its first REST call). The outcome is checked for QUIET_S = 15 s.

    Known gap (reported, not asserted): bot.js answers the watchdog's SIGTERM with exit 77, but
    nines classifies an exit after its own watchdog/health stop as "stopped: watchdog" and
    ignores the code, so with nothing else to go on it restarts at the backoff pace instead of
    parking in AUTHFAIL."""
    node = shutil.which("node")
    tok, _ = fake_token()
    e = E2E(h, [node, BOT_JS], {"NODE_PATH": discord_js, "AUTH_FAIL_LINGER": "-1"},
            {"patterns": "none"}, [tok], health=False, watchdog="8s").start()
    pid = e.wait_healthy(45, health="none")
    assert wait_for(lambda: e.fake.stats()["identify_ok"] == 1, 5)
    e.fake.control("revoke", {"token": tok})
    t0 = time.monotonic()
    # The silent bot keeps running; only the missing WATCHDOG=1 gives it away.
    assert wait_for(lambda: not alive(pid), 10, 0.05), e.why()
    took = time.monotonic() - t0
    # The deadline runs from the last WATCHDOG=1 (sent every 4 s), not from the revocation.
    assert took <= 15.0, f"stopped {took:.1f}s after the revocation (watchdog is 8 s)"
    stops = [t for t in e.sup.transitions("bot") if t[2] == "STOPPING"]
    assert [t[3] for t in stops] == ["watchdog"], stops
    assert "bot: watchdog: no WATCHDOG=1 for 8000 ms" in e.sup.log()

    def bad():
        s = e.status()
        f = e.fake.stats()
        return (s is None or s["state"] == "RUNNING" or f["identify"] != 1
                or f["gateway_connections"] != 1)
    assert not wait_for(bad, QUIET_S, 0.25), f"{e.fake.stats()}" + e.why()
    e.stop()
