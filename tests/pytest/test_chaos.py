"""Chaos: nines as PID 1 keeps a bot-like service online while faults are injected at random.

Short in CI (NINES_CHAOS_SECONDS, default 45 s of faults per build, always at least one of each
kind); the long run is

    NINES_CHAOS_SECONDS=600 /usr/bin/python3 -m pytest tests/pytest/test_chaos.py

The seed is printed at the start (NINES_CHAOS_SEED=N replays the same sequence of faults and
parameters; timing still varies) together with a summary at the end: faults injected, recovery
time per kind (median / max / bound) and the measured availability of the bot's /health.

The bot is tests/pytest/bot_like.py (health on 127.0.0.1, READY=1 and WATCHDOG=1 over
NOTIFY_SOCKET, a token from [auth], a heartbeat on stdout, misbehaviour on demand). Its
configuration, from which the bounds below follow:

    ready = notify, stop_timeout = 2s      [notify] watchdog = 10s (longer than the health
    [restart] delay 100ms, max_delay 1s,   path, so a hang is the health check's to catch)
              jitter 20% (default)
    [health] interval 300ms, timeout 500ms, retries 2, start_period 5s

START_S (8 s) bounds one start of the bot: fork/exec, Python's start-up (about 1 s on the CI
VM, several under load), READY=1, and the first answer to our own GET. Each fault, how it is
injected, what nines must do, and its documented recovery bound, measured from the injection
(or from lifting the fault) to "a NEW bot pid is RUNNING in `ninesctl status` and answers 200":

- kill: SIGKILL of the bot. Restart after the backoff delay.
  Bound: max_delay*1.2 + START_S.
- stop: SIGSTOP of the bot (a hang). The health check times out `retries` times, nines stops
  it (TERM+CONT) and restarts it. Bound: retries*(interval+timeout) + stop_timeout +
  max_delay*1.2 + START_S. The stop must have reason "health".
- health500 / hang: /health answers 500 / never answers, for that instance only. As stop.
- auth401: the bot's token is revoked, /health says 401: AUTHFAIL (parked, the process
  stopped, no restart) within interval+timeout+2 s; then a new token file is renamed into place
  (as editors and kubelet do): healthy again within 2 s + START_S of the rotation.
- flood: the bot writes 20k-60k lines at once: `ninesctl status` keeps answering within
  STATUS_BOUND_S; nines has read everything within 30 s.
- disk_full: log_dir (a 8 MiB tmpfs mounted for the run) is filled to ENOSPC while the bot
  writes (3000 lines at once, and its heartbeats): status keeps answering, nines keeps reading
  (the burst's last line is in its ring within 10 s), lines are dropped and counted, and
  capture resumes within 3 s of freeing the space. Heartbeats may still fit into the log
  file's last tmpfs page; the summary says whether they were blocked too.
- fd_exhaust: `prlimit --pid` sets nines' RLIMIT_NOFILE to its lowest free fd, a client
  connects, and the limit holds for longer than retries*(interval+timeout) with the bot left
  alone: a health check that gets no socket is not run (logged, tried again), never a failure
  of the bot, so the same bot pid still answers and no "unhealthy" is logged. Then the bot is
  SIGKILLed and the limit is set again once its pipes are closed: accept(), the token read and
  spawn fail with EMFILE (the summary says where it was seen); nines logs, stays up, and once
  the limit is lifted answers the queued request within 3 s and has the bot healthy within
  max_delay*1.2 + START_S.
- fork_fail: nines is moved into a pids cgroup with pids.max = its task count and the bot is
  SIGKILLed: fork() fails (EAGAIN), logged, backoff, status answered; once lifted the bot is
  healthy within max_delay*1.2 + START_S.
- orphans: a service double-forks 10,000 short-lived children, adopted by PID 1: every one is
  reaped within 30 s of the trigger, status keeps answering.
- reload_good: a harmless change ([log] max_files) + `ninesctl reload` or SIGHUP: done within
  3 s, the bot not restarted.
- reload_bad: a broken service file (the bot's own or a new one) + reload: a `file:line:`
  error within 3 s, the old configuration kept, the bot not restarted.

RLIMIT_NPROC is not the tool for fork failure here: the kernel never enforces it for uid 0
(copy_process() skips the check for INIT_USER and CAP_SYS_RESOURCE/CAP_SYS_ADMIN), and nines
runs as root; a cgroup v1 pids controller makes fork() fail with EAGAIN for root too. Without
a writable /sys/fs/cgroup/pids the fault is skipped (and the summary says so).

SIGKILL of nines cannot happen to PID 1 of a namespace (the namespace dies with it), so that
fault is its own test below, with nines as a plain subreaper: nines is SIGKILLed at random
moments (steady, restart in flight, bot SIGSTOPped, bot flooding) and started again on the same
run_dir; the old bot must be gone before the new one starts. Bound (sigkill_nines), from the
restart of nines to a new healthy bot: the sweep (TERM+CONT, KILL at the longest stop_timeout,
2 s more at most) + START_S.

A fault nines does not recover from by itself within its bound is recorded, the run goes on
after an operator's `ninesctl recover all` (so one bug does not hide the others), and the test
fails at the end with every such fault listed. Assertions over the whole run: nines never
exits; `ninesctl status` always answers within STATUS_BOUND_S (except while RLIMIT_NOFILE holds
accept() back, where it must answer once lifted); no zombie child of PID 1 survives; nines' fd
count is the same before and after; the bot never runs twice (a flock held by every bot
instance, plus a /proc scan of PID 1's children); the token is in no log or status output.
"""

import hashlib
import http.client
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import (alive, children, cmdline, compile_c, lowest_free_fd, nofile_limits,
                      proc_stat, status_field, wait_for)
from supervisor_util import Sup, ninesctl_path
from tokens import fake_token

HERE = Path(__file__).resolve().parent
BOT_LIKE = HERE / "bot_like.py"
PY = "/usr/bin/python3"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an env proxy

CHAOS_SECONDS = float(os.environ.get("NINES_CHAOS_SECONDS", "45"))
SEED = int(os.environ.get("NINES_CHAOS_SEED") or random.SystemRandom().randrange(1 << 32))

# The bot's configuration (see the module docstring) and the bounds derived from it.
INTERVAL_S, TIMEOUT_S, RETRIES = 0.3, 0.5, 2
MAX_DELAY_S, STOP_TIMEOUT_S = 1.0, 2.0
START_S = 8.0
STATUS_BOUND_S = 3.0
KILL_BOUND_S = MAX_DELAY_S * 1.2 + START_S
HEALTH_BOUND_S = RETRIES * (INTERVAL_S + TIMEOUT_S) + STOP_TIMEOUT_S + MAX_DELAY_S * 1.2 + START_S
AUTH_DETECT_BOUND_S = INTERVAL_S + TIMEOUT_S + 2.0
ROTATE_BOUND_S = 2.0 + START_S
FLOOD_BOUND_S = 30.0
DISK_BOUND_S = 3.0
ACCEPT_BOUND_S = 3.0     # ctl.c pauses accept() for 1 s on EMFILE
ORPHAN_BOUND_S = 30.0
RELOAD_BOUND_S = 3.0
ORPHANS = 10_000
LOG_TMPFS = "8m"

KINDS = ["kill", "stop", "health500", "hang", "auth401", "flood", "disk_full", "fd_exhaust",
         "fork_fail", "orphans", "reload_good", "reload_bad"]
BOUNDS = {"kill": KILL_BOUND_S, "stop": HEALTH_BOUND_S, "health500": HEALTH_BOUND_S,
          "hang": HEALTH_BOUND_S, "auth401": ROTATE_BOUND_S, "flood": FLOOD_BOUND_S,
          "disk_full": DISK_BOUND_S, "fd_exhaust": KILL_BOUND_S + ACCEPT_BOUND_S,
          "fork_fail": KILL_BOUND_S, "orphans": ORPHAN_BOUND_S, "reload_good": RELOAD_BOUND_S,
          "reload_bad": RELOAD_BOUND_S, "sigkill_nines": STOP_TIMEOUT_S + 2.0 + START_S}

# Double-forks N children that each live up to MAX_MS and exit: the middle process exits at once
# after forking, so every child is an orphan adopted by the nearest subreaper (PID 1 here). C,
# because fork() of a Python process costs ~10 ms on the CI VM (copy-on-write faults).
ORPHANS_C = r"""
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000, max_ms = argc > 2 ? atoi(argv[2]) : 100;
    pid_t mid = fork();
    if (mid < 0)
        return 1;
    if (mid == 0) {
        int made = 0, fails = 0;
        while (made < n && fails < 5000) {
            pid_t p = fork();
            if (p == 0) {
                unsigned h = (unsigned)made * 2654435761u;
                struct timespec ts = {0, (long)((h >> 8) % (unsigned)max_ms) * 1000000L};
                nanosleep(&ts, NULL);
                _exit(0);
            }
            if (p < 0) {
                fails++;
                usleep(1000);
                continue;
            }
            made++;
        }
        _exit(made == n ? 0 : 2);
    }
    int st = 0;
    waitpid(mid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
}
"""

# The "orphans" service: waits for a new generation in the trigger file, runs the helper, and
# writes "GEN RC SECONDS" to the done file. A (re)started watcher ignores the generation that is
# already there.
ORPHANS_WATCHER = r"""
import os, subprocess, sys, time
trigger, done, helper = sys.argv[1:4]
def gen():
    try:
        return open(trigger).read().split()
    except OSError:
        return []
seen = (gen() or [None])[0]
print("orphans watcher ready", flush=True)
while True:
    g = gen()
    if g and g[0] != seen:
        seen = g[0]
        t0 = time.monotonic()
        rc = subprocess.run([helper, g[1], g[2]]).returncode
        with open(done + ".tmp", "w") as f:
            f.write("%s %d %.3f\n" % (seen, rc, time.monotonic() - t0))
        os.rename(done + ".tmp", done)
        print("orphans generation %s rc %d" % (seen, rc), flush=True)
    time.sleep(0.05)
"""


# --------------------------------------------------------------------------- small helpers

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get_health(port, timeout=0.5):
    """(status, pid) of one GET /health; (None, None) when it did not answer in time."""
    try:
        with OPENER.open(f"http://127.0.0.1:{port}/health", timeout=timeout) as r:
            words = r.read().decode().split()
            return r.status, int(words[-1])
    except urllib.error.HTTPError as e:
        try:
            return e.code, int(e.read().decode().split()[-1])
        except (ValueError, IndexError, OSError, http.client.HTTPException):
            return e.code, None
    except (OSError, ValueError, IndexError, http.client.HTTPException):
        return None, None


def write_atomic(path, text):
    tmp = Path(str(path) + ".tmp")
    tmp.write_text(text)
    os.rename(tmp, path)


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def fd_kinds(pid):
    """Sorted 'kind' of every fd (pipe, socket, anon_inode:[eventpoll], a path) for messages."""
    out = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        out.append(fd + ":" + re.sub(r":\[\d+\]$", "", target))
    return out


def start_time(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def sha(text):
    return hashlib.sha256(text.encode()).hexdigest()


def availability(samples, a=None, b=None):
    """Percent of the time in [a, b] (the whole run without them) that /health answered 200,
    from [(t, ok)] polls in time order: each poll stands for the time until the next one, so a
    poll that hung for its whole timeout weighs as much as the time it took. None if no poll."""
    up = total = 0.0
    for i, (t, ok) in enumerate(samples):
        end = samples[i + 1][0] if i + 1 < len(samples) else t + 0.1
        lo, hi = max(t, a if a is not None else t), min(end, b if b is not None else end)
        if hi > lo:
            total += hi - lo
            up += (hi - lo) if ok else 0.0
    return 100.0 * up / total if total else None


def median(values):
    return statistics.median(values) if values else float("nan")


@pytest.fixture(scope="session")
def orphan_helper(tmp_path_factory):
    """The orphan burst helper compiled with the system C compiler, or None without one."""
    d = tmp_path_factory.mktemp("orphans")
    (d / "orphans.c").write_text(ORPHANS_C)
    return compile_c(d / "orphans.c", d / "orphans")


@pytest.fixture
def say(capsys):
    """print() that reaches the terminal even under pytest's capture (seed, summary)."""
    def emit(*lines):
        with capsys.disabled():
            for line in lines:
                print(line, flush=True)
    return emit


# --------------------------------------------------------------------------- the world

class World:
    """nines with the bot (and optionally the orphan service), and every way to poke them."""

    def __init__(self, h, rng, log_dir=None, orphan_helper=None, with_orphans=False):
        self.h, self.rng = h, rng
        self.sup = Sup(h, main_extra="shutdown_timeout = 10s\n")
        if log_dir is not None:
            text = self.sup.conf.read_text()
            self.sup.conf.write_text(text.replace(f"log_dir = {self.sup.log_dir}\n",
                                                  f"log_dir = {log_dir}\n"))
            self.sup.log_dir = Path(log_dir)
        self.port = free_port()
        self.marker = f"chaos-{h.tag[:10]}"
        self.ctl_path = ninesctl_path(h)
        self.control = h.tmp / "bot.control"
        self.control.write_text("ok\n")
        self.revoked = h.tmp / "bot.revoked"
        self.revoked.write_text("")
        self.lock = h.tmp / "bot.lock"
        self.pidfile = h.tmp / "bot.pid"
        secrets = h.tmp / "secrets"
        secrets.mkdir(mode=0o700)
        self.token_file = secrets / "token"
        self.tokens = []
        self.rotate_token()
        envf = h.tmp / "bot.env"
        envf.write_text(f"BOT_PORT={self.port}\nBOT_CONTROL={self.control}\n"
                        f"BOT_REVOKED={self.revoked}\nBOT_LOCK={self.lock}\n"
                        f"BOT_PIDFILE={self.pidfile}\n")
        self.bot_env = envf
        self.max_files = 2
        self.write_bot()
        self.with_orphans = with_orphans and orphan_helper is not None
        if self.with_orphans:
            watcher = h.tmp / "orphans_watcher.py"
            watcher.write_text(ORPHANS_WATCHER)
            self.trigger, self.done = h.tmp / "orphans.trigger", h.tmp / "orphans.done"
            self.helper = str(orphan_helper)
            self.sup.service("orphans", f"{PY} -S {watcher} {self.trigger} {self.done} "
                                        f"{self.helper}",
                             restart={"delay": "100ms", "max_delay": "1s"},
                             log={"max_size": "64K", "max_files": "1"})
        self.init = None

    # ---- configuration

    def write_bot(self):
        """services/bot.conf (rewritten by reload_good with another max_files)."""
        self.bot_conf = self.sup.service("bot", f"{PY} -S {BOT_LIKE} {self.marker}",
                                service={"env_file": self.bot_env, "ready": "notify",
                                         "stop_timeout": f"{STOP_TIMEOUT_S:g}s"},
                                restart={"delay": "100ms", "max_delay": f"{MAX_DELAY_S:g}s"},
                                health={"url": f"http://127.0.0.1:{self.port}/health",
                                        "interval": f"{int(INTERVAL_S * 1000)}ms",
                                        "timeout": f"{int(TIMEOUT_S * 1000)}ms",
                                        "retries": str(RETRIES), "start_period": "5s"},
                                auth={"token_file": self.token_file},
                                log={"max_size": "512K", "max_files": str(self.max_files)},
                                notify={"watchdog": "10s"})

    def rotate_token(self):
        tok, bot_id = fake_token(seed=self.rng.randrange(1 << 62))
        self.tokens.append(tok)
        self.bot_id = bot_id
        tmp = Path(str(self.token_file) + ".tmp")
        tmp.write_text(tok + "\n")
        os.chmod(tmp, 0o600)
        os.rename(tmp, self.token_file)
        return tok

    # ---- nines

    def start(self, ns):
        self.ns = ns
        self.sup.start(ns=ns)
        self.init = self.h.init_pid(self.sup.p) if ns else self.sup.p.pid
        return self.init

    def host(self, pid):
        """The host pid of a child of nines known by its pid in nines' namespace (status and
        the bot report those). Fails when no child of nines has that pid."""
        if not self.ns:
            return pid
        for c in children(self.init):
            nspid = (status_field(c, "NSpid") or "").split()
            if nspid and int(nspid[-1]) == pid:
                return c
        raise AssertionError(f"no child of nines with pid {pid} in its namespace")

    def kill_bot(self, pid, sig):
        """Signal the bot known by its namespace pid; returns its host pid."""
        hp = self.host(pid)
        os.kill(hp, sig)
        return hp

    def nines_alive(self):
        return self.sup.p.poll() is None and alive(self.init)

    def ctl(self, *args, timeout=10):
        """(rc, stdout, stderr, seconds) of ninesctl; rc None when it did not finish."""
        argv = [self.ctl_path, "-s", str(self.sup.sock), "-t", str(int(timeout)), *args]
        t0 = time.monotonic()
        for _ in range(3):
            try:
                p = subprocess.run(argv, capture_output=True, timeout=timeout + 5,
                                   stdin=subprocess.DEVNULL)
                return (p.returncode, p.stdout.decode(errors="replace"),
                        p.stderr.decode(errors="replace"), time.monotonic() - t0)
            except subprocess.TimeoutExpired:
                return None, "", "ninesctl timed out", time.monotonic() - t0
            except OSError as e:  # ETXTBSY/EACCES while the binary is being relinked
                err = str(e)
                time.sleep(0.2)
        return None, "", err, time.monotonic() - t0

    def services(self, timeout=10):
        rc, out, _, _ = self.ctl("status", "--json", timeout=timeout)
        if rc not in (0, 3):
            return None
        try:
            return {s["name"]: s for s in json.loads(out)["services"]}
        except (ValueError, KeyError):
            return None

    def bot(self):
        return (self.services() or {}).get("bot") or {}

    def log(self):
        return self.sup.log()

    def tail(self, n=40):
        return "\n".join(self.log().splitlines()[-n:])

    # ---- the bot

    def bot_pids(self, parent=None):
        """Live bot processes: children of `parent` (PID 1) or, without it, any process."""
        if parent is not None:
            pids = children(parent)
        else:
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
        out = []
        for pid in pids:
            cl = cmdline(pid)
            if self.marker in cl and alive(pid):
                out.append(pid)
        return out

    def steady(self, timeout=None, exclude=()):
        """Waits for: bot RUNNING with health ok (nines' view), its pid answering 200 (ours),
        the orphan service RUNNING. Returns the bot's pid; fails with the log otherwise."""
        def ok():
            svcs = self.services(timeout=5) or {}
            b = svcs.get("bot") or {}
            if b.get("state") != "RUNNING" or b.get("health") != "ok" or b.get("pid") in exclude:
                return None
            if self.with_orphans and (svcs.get("orphans") or {}).get("state") != "RUNNING":
                return None
            code, pid = get_health(self.port)
            return b["pid"] if code == 200 and pid == b["pid"] else None
        pid = wait_for(ok, timeout or START_S * 2, interval=0.05)
        assert pid, f"not steady (seed {SEED}); status {self.bot()}; log:\n{self.tail()}"
        return pid

    def wait_recovered(self, old_pid, bound, what):
        """Seconds until a bot other than old_pid is RUNNING and answers 200; fails at bound."""
        t0 = time.monotonic()

        def ok():
            code, pid = get_health(self.port, timeout=0.3)
            if code != 200 or pid == old_pid:
                return None
            b = self.bot()
            return pid if b.get("state") == "RUNNING" and b.get("pid") == pid else None
        pid = wait_for(ok, bound, interval=0.02)
        took = time.monotonic() - t0
        assert pid, (f"{what}: no healthy new bot within {bound:.1f}s (seed {SEED}); "
                     f"status {self.bot()}; log:\n{self.tail()}")
        return took

    def set_control(self, text):
        write_atomic(self.control, text + "\n")

    def log_count(self, needle):
        return self.log().count(needle)


# --------------------------------------------------------------------------- watchers

class Watchers:
    """Background samplers: /health every 100 ms (availability), `ninesctl status` every 250 ms
    (answers, latency, nines alive), PID 1's children every 100 ms (bot twice, zombies)."""

    def __init__(self, world, parent_of_bots):
        self.w = world
        self.parent = parent_of_bots
        self.stop = threading.Event()
        self.health = []       # (t, ok)
        self.status = []       # (t0, seconds, answered)
        self.twice = []        # descriptions
        self.nines_dead = []
        self.excused = []      # [t0, t1] windows where status may stall (RLIMIT_NOFILE)
        self.max_children = 0
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._health, self._status, self._bots)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _health(self):
        while not self.stop.is_set():
            t = time.monotonic()  # a poll belongs to the moment it was sent
            code, _ = get_health(self.w.port, timeout=0.5)
            self.health.append((t, code == 200))
            # Never catch up: a burst of polls after a hang would all land after the recovery.
            self.stop.wait(max(0.0, t + 0.1 - time.monotonic()))

    def _status(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            rc, out, _, took = self.w.ctl("status", "--json", timeout=30)
            answered = rc in (0, 3) and out.startswith("{")
            self.status.append((t0, took, answered))
            if not self.w.nines_alive():
                self.nines_dead.append(time.monotonic())
            self.stop.wait(0.25)

    def _bots(self):
        while not self.stop.is_set():
            parent = self.parent() if callable(self.parent) else self.parent
            if parent is not None:
                self.max_children = max(self.max_children, len(children(parent)))
            bots = self.w.bot_pids(parent)
            if len(bots) > 1:
                first = [(p, start_time(p)) for p in bots]
                # Confirm: rechecked in the same order, all still alive with the same start
                # time means all of them were alive at the moment the first was rechecked.
                again = [(p, start_time(p)) for p in bots if alive(p)]
                if again == first:
                    self.twice.append(f"{time.strftime('%T')}: bots {first} alive at once")
            self.stop.wait(0.1)

    def excuse(self, t0, t1):
        self.excused.append((t0, t1))

    def is_excused(self, t0, t1):
        return any(a <= t1 and t0 <= b for a, b in self.excused)

    def status_violations(self):
        bad = []
        for t0, took, answered in self.status:
            if self.is_excused(t0, t0 + took):
                continue
            if not answered or took > STATUS_BOUND_S:
                bad.append(f"status at +{t0 - self.status[0][0]:.1f}s: answered={answered} "
                           f"took {took:.2f}s")
        return bad

    def availability(self, a=None, b=None):
        return availability(self.health, a, b)


# --------------------------------------------------------------------------- faults

class Faults:
    def __init__(self, world, watchers, h):
        self.w, self.watch, self.h = world, watchers, h
        self.rng = world.rng
        self.records = []     # (kind, seconds, detail)
        self.skipped = {}
        self.violations = []  # (kind, message): a fault nines did not recover from by itself
        self.windows = []     # (kind, start, end) of every injection, for availability
        self.seq = 0

    def inject(self, kind):
        """Runs one fault. When nines does not recover by itself, the failure is kept (the test
        fails at the end with all of them) and the run goes on after an operator's
        `ninesctl recover`, so that one bug does not hide the behaviour under the other faults.
        Only a nines that is gone or cannot be brought back ends the run at once."""
        t0 = time.monotonic()
        try:
            getattr(self, kind)()
        except AssertionError as e:
            assert self.w.nines_alive(), f"nines exited during {kind} (seed {SEED}): {e}"
            self.violations.append((kind, str(e)))
            self.w.set_control("ok")
            if sha(self.w.tokens[-1]) in self.w.revoked.read_text().split():
                self.w.rotate_token()
            self.w.ctl("recover", "all", timeout=20)
            self.w.steady(timeout=30)
        finally:
            if kind not in self.skipped:
                self.windows.append((kind, t0, time.monotonic()))

    def record(self, kind, seconds, detail=""):
        bound = BOUNDS[kind]
        assert seconds <= bound, (f"{kind}: recovery took {seconds:.2f}s > bound {bound:.1f}s "
                                  f"(seed {SEED}) {detail}; log:\n{self.w.tail()}")
        self.records.append((kind, seconds, detail))

    def status_latency_while(self, busy, limit):
        """Calls `ninesctl status` until busy() is false or limit s passed; returns the worst
        latency (fails if nines did not answer)."""
        worst = 0.0
        deadline = time.monotonic() + limit
        while busy() and time.monotonic() < deadline:
            rc, out, err, took = self.w.ctl("status", timeout=10)
            assert rc in (0, 3), f"status not answered: rc {rc} {err} (seed {SEED})"
            worst = max(worst, took)
            time.sleep(0.05)
        return worst

    # ---- bot faults

    def kill(self):
        old = self.w.steady()
        self.w.kill_bot(old, signal.SIGKILL)
        self.record("kill", self.w.wait_recovered(old, KILL_BOUND_S, "kill"))

    def _health_fault(self, kind, inject):
        old = self.w.steady()
        n_stop = len([t for t in self.w.sup.transitions("bot") if t[2] == "STOPPING"])
        inject(old)
        took = self.w.wait_recovered(old, HEALTH_BOUND_S, kind)
        stops = [t for t in self.w.sup.transitions("bot") if t[2] == "STOPPING"][n_stop:]
        assert stops and stops[0][3] == "health", (kind, stops, SEED)
        self.w.set_control("ok")
        self.record(kind, took)

    def stop(self):
        self._health_fault("stop", lambda pid: self.w.kill_bot(pid, signal.SIGSTOP))

    def health500(self):
        self._health_fault("health500", lambda pid: self.w.set_control(f"500 {pid}"))

    def hang(self):
        self._health_fault("hang", lambda pid: self.w.set_control(f"hang {pid}"))

    def auth401(self):
        old = self.w.steady()
        old_host = self.w.host(old)
        with open(self.w.revoked, "a") as f:
            f.write(sha(self.w.tokens[-1]) + "\n")
        t0 = time.monotonic()
        ok = wait_for(lambda: self.w.bot().get("state") == "AUTHFAIL", AUTH_DETECT_BOUND_S,
                      interval=0.02)
        detect = time.monotonic() - t0
        assert ok, f"no AUTHFAIL after a 401 (seed {SEED}): {self.w.bot()}\n{self.w.tail()}"
        assert wait_for(lambda: not alive(old_host), STOP_TIMEOUT_S + 2), \
            "AUTHFAIL left the bot running"
        # Parked: no restart while the token is unchanged.
        assert not wait_for(lambda: self.w.bot().get("state") != "AUTHFAIL", 0.5, interval=0.05)
        self.w.rotate_token()
        took = self.w.wait_recovered(old, ROTATE_BOUND_S, "token rotation")
        rc, out, _, _ = self.w.ctl("status", "bot")
        assert f"{self.w.bot_id}:" in out, out
        self.record("auth401", took, f"401 -> AUTHFAIL in {detect:.2f}s")

    def flood(self):
        pid = self.w.steady()
        self.seq += 1
        seq = f"s{self.seq}"
        n = self.rng.randint(20_000, 60_000)
        t0 = time.monotonic()
        self.w.set_control(f"flood {pid} {n} {seq}")

        def busy():
            rc, out, _, _ = self.w.ctl("log", "bot", "-n", "50")
            return f"flood {seq} done" not in out
        worst = self.status_latency_while(busy, FLOOD_BOUND_S)
        took = time.monotonic() - t0
        self.w.set_control("ok")
        assert worst <= STATUS_BOUND_S, f"status took {worst:.2f}s during a flood (seed {SEED})"
        assert not busy(), f"flood of {n} lines not drained in {FLOOD_BOUND_S}s (seed {SEED})"
        self.record("flood", took, f"{n} lines, worst status {worst:.2f}s")

    def disk_full(self):
        self.w.steady()
        logf = self.w.sup.log_dir / "bot.log"
        dropped0 = self.w.bot()["log"]["dropped"]
        filler = self.w.sup.log_dir / "filler"

        def top_up():
            """Fills whatever is free (again: a rotation may delete an old file)."""
            with open(filler, "ab", buffering=0) as f:
                for size in (65536, 512, 16):
                    try:
                        while True:
                            f.write(b"F" * size)
                    except OSError as e:
                        assert e.errno == 28, e  # ENOSPC
        top_up()
        try:
            # tmpfs allocates whole pages: heartbeats alone may fit in the log's last page for a
            # while, so the bot also writes a few thousand lines that need new ones.
            self.seq += 1
            self.w.set_control(f"flood {self.w.bot()['pid']} 3000 d{self.seq}")
            hold = self.rng.uniform(0.6, 1.5)
            end = time.monotonic() + hold
            worst = self.status_latency_while(lambda: time.monotonic() < end, hold + 5)
            assert worst <= STATUS_BOUND_S, \
                f"status took {worst:.2f}s on a full disk (seed {SEED})"
            def dropping():
                top_up()  # a rotation deletes the oldest file: fill that space too
                return self.w.bot()["log"]["dropped"] > dropped0
            assert wait_for(dropping, 5, interval=0.05), \
                f"no line counted as dropped on a full log disk: {self.w.bot().get('log')}"
            assert wait_for(lambda: f"flood d{self.seq} done" in
                            self.w.ctl("log", "bot", "-n", "200")[1], 10, interval=0.05), \
                "the bot's flood never reached nines"
            self.w.set_control("ok")

            def file_beats():
                try:
                    with open(logf, "rb") as f:
                        f.seek(max(0, os.fstat(f.fileno()).st_size - 16384))
                        text = f.read().decode(errors="replace")
                except OSError:
                    return []
                return [int(x) for x in re.findall(r"heartbeat (\d{8})", text)]

            def ring_beats():
                _, ring, _, _ = self.w.ctl("log", "bot", "-n", "20")
                return [int(x) for x in re.findall(r"heartbeat (\d{8})", ring)]

            # Usually the newest heartbeats now reach nines (its ring) but not the file. Not
            # always: tmpfs counts whole pages, and after a batch of lines was refused and cut
            # back to a record boundary, small lines may still fit into the log's last page.
            def behind():
                top_up()
                return max(ring_beats() or [0]) > max(file_beats() or [0]) + 1
            blocked = wait_for(behind, 2, interval=0.05)
            mark = max(ring_beats() or [0])
        finally:
            filler.unlink(missing_ok=True)  # also when a check failed
        t0 = time.monotonic()

        def resumed():
            return any(n > mark for n in file_beats())
        ok = wait_for(resumed, DISK_BOUND_S + 5, interval=0.02)
        took = time.monotonic() - t0
        assert ok, f"log capture did not resume after the disk was freed (seed {SEED})"
        self.record("disk_full", took, f"held full {hold:.1f}s, " +
                    ("heartbeats blocked" if blocked else "only large writes refused"))

    def fd_exhaust(self):
        old = self.w.steady()
        init = self.w.init
        soft, hard = nofile_limits(init)
        emfile = {"accept": "control: accept: Too many open files",
                  "token read": "bot: cannot read token file",  # ...: Too many open files
                  "spawn": "bot: cannot start: Too many open files",
                  "health check": "bot: cannot run the health check: Too many open files"}
        before = {k: self.w.log_count(v) for k, v in emfile.items()}
        unhealthy = self.w.log_count("unhealthy")

        def seen(kind):
            return self.w.log_count(emfile[kind]) > before[kind]

        def limit():
            """RLIMIT_NOFILE = the lowest free fd: no new fd at all."""
            low = lowest_free_fd(init)
            subprocess.run(["prlimit", "--pid", str(init), f"--nofile={low}:{hard}"],
                           check=True)
            return low
        t_limit = time.monotonic()
        self.watch.excuse(t_limit, t_limit + 3600)  # closed below
        low = limit()
        lifted = False
        try:
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.settimeout(20)
            client.connect(str(self.w.sup.sock))
            client.sendall(b"status\n")
            assert wait_for(lambda: seen("accept"), 5), \
                f"no EMFILE on accept logged:\n{self.w.tail()}"
            # nines' own EMFILE says nothing about the bot: held for longer than `retries`
            # checks take, it must not have cost the healthy bot a restart.
            hold = RETRIES * (INTERVAL_S + TIMEOUT_S) + 1.0
            assert not wait_for(lambda: self.w.log_count("unhealthy") > unhealthy, hold), \
                f"nines' EMFILE failed the bot's health checks:\n{self.w.tail()}"
            code, pid = get_health(self.w.port, timeout=2)
            assert (code, pid) == (200, old), \
                f"bot {old} not answering after {hold:.1f}s: {code} {pid}\n{self.w.tail()}"
            n_fds = fd_count(init)
            self.w.kill_bot(old, signal.SIGKILL)
            # The dead bot's pipes free a few fds: take them away too, so that the restart
            # (token file, pipes, fork) meets EMFILE and not a lucky hole.
            wait_for(lambda: fd_count(init) < n_fds, 2, interval=0.005)
            low = limit()
            wait_for(lambda: seen("token read") or seen("spawn"), 5, interval=0.02)
            hold_end = time.monotonic() + self.rng.uniform(0.3, 1.0)
            while time.monotonic() < hold_end:
                assert self.w.nines_alive(), "nines died under RLIMIT_NOFILE"
                time.sleep(0.05)
            subprocess.run(["prlimit", "--pid", str(init), f"--nofile={soft}:{hard}"],
                           check=True)
            lifted = True
            t0 = time.monotonic()
            reply = b""
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                reply += chunk
            answered = time.monotonic() - t0
            client.close()
            assert reply.startswith(b"OK"), f"queued request answered {reply[:80]!r}"
            assert answered <= ACCEPT_BOUND_S, f"queued request answered after {answered:.2f}s"
            took = self.w.wait_recovered(old, KILL_BOUND_S, "fd exhaustion (EMFILE seen in: " +
                                         ", ".join(k for k in emfile if seen(k)) + ")")
        finally:
            if not lifted and self.w.nines_alive():
                subprocess.run(["prlimit", "--pid", str(init), f"--nofile={soft}:{hard}"])
            self.watch.excused[-1] = (t_limit, time.monotonic() + ACCEPT_BOUND_S)
        self.record("fd_exhaust", max(took, answered),
                    f"limit {low}, EMFILE in " + ", ".join(k for k in emfile if seen(k)))

    def fork_fail(self):
        root = Path("/sys/fs/cgroup/pids")
        if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
            self.skipped["fork_fail"] = "no writable cgroup v1 pids controller"
            return
        old = self.w.steady()
        init = self.w.init
        home = next((line.split(":", 2)[2] for line in
                     Path(f"/proc/{init}/cgroup").read_text().splitlines()
                     if line.split(":")[1] == "pids"), "/")
        cg = root / f"nines-chaos-{self.h.tag[:10]}"
        cg.mkdir(exist_ok=True)
        n_fail = self.w.log_count("bot: cannot start: Resource temporarily unavailable")
        moved = False
        try:
            (cg / "cgroup.procs").write_text(str(init))
            moved = True
            (cg / "pids.max").write_text((cg / "pids.current").read_text().strip())
            self.w.kill_bot(old, signal.SIGKILL)
            assert wait_for(lambda: self.w.log_count("bot: cannot start: Resource temporarily "
                                                     "unavailable") > n_fail, 5), \
                f"fork failure not logged (seed {SEED}):\n{self.w.tail()}"
            rc, _, err, took = self.w.ctl("status", timeout=10)
            assert rc in (0, 3) and took <= STATUS_BOUND_S, (rc, err, took)
            assert self.w.nines_alive()
            time.sleep(self.rng.uniform(0.2, 1.0))
        finally:
            if moved and alive(init):
                (root / home.lstrip("/") / "cgroup.procs").write_text(str(init))
            try:
                cg.rmdir()
            except OSError:
                pass
        took = self.w.wait_recovered(old, KILL_BOUND_S, "fork failure")
        self.record("fork_fail", took)

    def orphans(self):
        if not self.w.with_orphans:
            self.skipped["orphans"] = "no C compiler for the orphan helper"
            return
        self.w.steady()
        self.seq += 1
        gen = f"g{self.seq}"
        t0 = time.monotonic()
        write_atomic(self.w.trigger, f"{gen} {ORPHANS} 100\n")

        def done():
            try:
                return self.w.done.read_text().split()[0] == gen
            except (OSError, IndexError):
                return False
        worst = self.status_latency_while(lambda: not done(), ORPHAN_BOUND_S)
        assert done(), f"the orphan helper did not finish (seed {SEED})"
        rc = int(self.w.done.read_text().split()[1])
        assert rc == 0, f"orphan helper could not fork all {ORPHANS} (rc {rc})"
        helper = self.w.helper

        def reaped():
            for pid in children(self.w.init):
                st = proc_stat(pid)
                if st and (st["state"] == "Z" or cmdline(pid)[:1] == [helper]):
                    return False
            return True
        ok = wait_for(reaped, ORPHAN_BOUND_S, interval=0.05)
        took = time.monotonic() - t0
        assert ok, f"orphans not reaped within {ORPHAN_BOUND_S}s (seed {SEED})"
        assert worst <= STATUS_BOUND_S, f"status took {worst:.2f}s during the burst"
        self.record("orphans", took, f"worst status {worst:.2f}s")

    def reload_good(self):
        pid = self.w.steady()
        self.w.max_files = 5 - self.w.max_files  # 2 <-> 3: an in-place change
        self.w.write_bot()
        via = self.rng.choice(["ctl", "hup"])
        t0 = time.monotonic()
        if via == "ctl":
            rc, out, err, took = self.w.ctl("reload")
            assert rc == 0, (rc, out, err)
        else:
            n = self.w.log_count("reloading the configuration")
            os.kill(self.w.init, signal.SIGHUP)
            assert wait_for(lambda: self.w.log_count("reloading the configuration") > n, 5)
            rc, _, _, _ = self.w.ctl("status")
            took = time.monotonic() - t0
        assert not wait_for(lambda: self.w.bot().get("pid") != pid, 0.3, interval=0.05), \
            "a harmless reload restarted the bot"
        self.record("reload_good", took, via)

    def reload_bad(self):
        pid = self.w.steady()
        how = self.rng.choice(["own", "new"])
        good = self.w.bot_conf.read_text()
        bad_path = self.w.bot_conf if how == "own" else self.w.sup.services / "zz-bad.conf"
        if how == "own":
            bad_path.write_text(good + "frobnicate = yes\n")
        else:
            bad_path.write_text("[service]\ncommand = sh -c 'unterminated\n")
        try:
            rc, out, err, took = self.w.ctl("reload")
            assert rc not in (0, None), f"a broken file was accepted: {out} {err}"
            assert re.search(re.escape(str(bad_path)) + r":\d+:", out + err), (out, err)
            b = self.w.bot()
            assert b.get("state") == "RUNNING" and b.get("pid") == pid, b
        finally:
            if how == "own":
                self.w.bot_conf.write_text(good)
            else:
                bad_path.unlink()
        rc, out, err, _ = self.w.ctl("reload")
        assert rc == 0, (rc, out, err)
        assert self.w.bot().get("pid") == pid
        self.record("reload_bad", took, how)


# --------------------------------------------------------------------------- summary

def summary(title, faults, watchers, extra=()):
    lines = [f"---- {title}: seed {SEED} (NINES_CHAOS_SEED={SEED} replays) ----",
             f"{'fault':<14}{'injected':>9}{'recovered':>10}{'median s':>10}{'max s':>8}"
             f"{'bound s':>9}"]
    by, injected = {}, {}
    for kind, secs, _ in faults.records:
        by.setdefault(kind, []).append(secs)
    for kind, _, _ in faults.windows:
        injected[kind] = injected.get(kind, 0) + 1
    for kind in KINDS + ["sigkill_nines"]:
        v = by.get(kind, [])
        n = injected.get(kind, len(v))
        if n:
            stats = f"{median(v):>10.2f}{max(v):>8.2f}" if v else f"{'-':>10}{'-':>8}"
            lines.append(f"{kind:<14}{n:>9}{len(v):>10}{stats}{BOUNDS[kind]:>9.1f}")
    for kind in KINDS + ["sigkill_nines"]:
        notes = sorted({d for k, _, d in faults.records if k == kind and d})
        if notes:
            lines.append(f"  {kind}: {'; '.join(notes[:4])}{' ...' if len(notes) > 4 else ''}")
    for kind, why in faults.skipped.items():
        lines.append(f"{kind:<14} skipped: {why}")
    lat = [t for t0, t, ok in watchers.status if ok and not watchers.is_excused(t0, t0 + t)]
    total = len(faults.windows) or len(faults.records)
    lines.append(f"faults injected: {total}, recovered by nines alone: {len(faults.records)}; "
                 f"status calls {len(watchers.status)}, "
                 f"latency median {median(lat):.3f}s max {max(lat or [0]):.3f}s"
                 f"{' (outside RLIMIT_NOFILE phases)' if watchers.excused else ''}")
    lines.append(f"bot /health availability: {watchers.availability() or 0:.1f}% of the time "
                 f"({len(watchers.health)} polls, every 100 ms)")
    per = {}
    for kind, a, b in faults.windows:
        pct = watchers.availability(a, b)
        if pct is not None:
            per.setdefault(kind, []).append((pct, b - a))
    if per:
        lines.append("  while each fault was injected and recovered (time-weighted): " + ", ".join(
            f"{k} {sum(p * d for p, d in v) / max(1e-9, sum(d for _, d in v)):.0f}% of "
            f"{sum(d for _, d in v):.1f}s" for k, v in per.items()))
    for kind, msg in faults.violations:
        lines.append(f"NOT RECOVERED: {kind}: {msg.splitlines()[0][:300]}")
    lines.extend(extra)
    return lines


# --------------------------------------------------------------------------- the tests

def mount_tmpfs(path, size):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                   check=True)


def umount(path):
    if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def test_chaos_pid1(h, require_root, orphan_helper, say):
    rng = random.Random(SEED)
    say("", f"chaos: seed {SEED} (replay: NINES_CHAOS_SEED={SEED}), "
            f"{CHAOS_SECONDS:g}s of faults, nines {h.nines}")
    logs = h.tmp / "logs"
    mount_tmpfs(logs, LOG_TMPFS)
    world = World(h, rng, log_dir=logs, orphan_helper=orphan_helper, with_orphans=True)
    watchers = faults = None
    printed = False
    try:
        init = world.start(ns=True)
        world.steady(timeout=30)
        # Baseline fds once steady: no health check or ninesctl connection in flight.
        base = wait_for(lambda: _stable_fds(init), 10)
        assert base, "nines' fd count never settled"
        base_kinds = fd_kinds(init)
        watchers = Watchers(world, init).start()
        faults = Faults(world, watchers, h)
        plan = KINDS[:]
        rng.shuffle(plan)
        t_end = time.monotonic() + CHAOS_SECONDS
        i = 0
        while i < len(plan) or time.monotonic() < t_end:
            kind = plan[i] if i < len(plan) else rng.choice(KINDS)
            i += 1
            faults.inject(kind)
            assert world.nines_alive(), f"nines exited after {kind} (seed {SEED})"
            time.sleep(rng.uniform(0.1, 0.5))
        world.steady()
        watchers.finish()

        # Every invariant is evaluated, so that one failure does not hide the others.
        problems = [f"[{k}] not recovered by nines alone: {m}" for k, m in faults.violations]
        # nines never exited and always answered.
        if watchers.nines_dead:
            problems.append(f"nines was dead at {watchers.nines_dead[:3]}")
        bad = watchers.status_violations()
        if bad:
            problems.append("ninesctl status stalled:\n" + "\n".join(bad[:20]))
        # No zombie child of PID 1 survives.
        if not wait_for(lambda: not [c for c in children(init)
                                     if (proc_stat(c) or {}).get("state") == "Z"], 5):
            problems.append("zombies left under PID 1")
        # No fd leak: the same count once our own connections are closed.
        after = wait_for(lambda: _stable_fds(init) == base, 10)
        n_after = fd_count(init)
        if not after:
            problems.append(f"fd leak in nines: {base} before, {n_after} after\n"
                            f"before: {base_kinds}\nafter:  {fd_kinds(init)}")
        # The bot never ran twice.
        twice = Path(str(world.lock) + ".twice")
        if twice.exists():
            problems.append(f"two bots held the lock:\n{twice.read_text()}")
        problems.extend(watchers.twice)
        # The token is in no log and no status output.
        texts = [world.log(), world.sup.out(), world.ctl("status")[1],
                 world.ctl("status", "bot")[1], world.ctl("status", "--json")[1],
                 world.ctl("log", "bot", "-n", "1000")[1]]
        for f in logs.iterdir():
            texts.append(f.read_text(errors="replace"))
        if any(tok.split(".", 1)[1] in text for tok in world.tokens for text in texts):
            problems.append("a token leaked into a log or status output")
        rc, _ = _shutdown(world)
        if rc != 0:
            problems.append(f"nines exited {rc} at shutdown")
        printed = True
        say(*summary("chaos (nines as PID 1)", faults, watchers,
                     [f"largest number of PID 1 children seen: {watchers.max_children}",
                      f"nines fds: {base} before, {n_after} after",
                      f"invariants: {'all held' if not problems else f'{len(problems)} broken'}"]))
        assert not problems, f"chaos (seed {SEED}):\n" + "\n\n".join(problems)
    finally:
        if watchers is not None:
            watchers.finish()
            if not printed and faults is not None and faults.windows:
                say(*summary("chaos so far", faults, watchers))
        if world.sup.p is not None and world.sup.p.poll() is None:
            _shutdown(world)
        umount(logs)


def _stable_fds(pid):
    """The fd count when three readings 100 ms apart agree (no connection in flight)."""
    counts = []
    for _ in range(3):
        counts.append(fd_count(pid))
        time.sleep(0.1)
    return counts[0] if len(set(counts)) == 1 and counts[0] > 0 else None


def _shutdown(world):
    try:
        os.kill(world.init, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return world.sup.p.wait(timeout=30), None
    except subprocess.TimeoutExpired:
        world.sup.p.kill()
        return world.sup.p.wait(timeout=10), "killed"


def test_chaos_sigkill_nines_restart_never_two_bots(h, require_root, say):
    """nines (not PID 1) SIGKILLed at random moments and started again on the same run_dir:
    its bot survives the SIGKILL, and the new nines stops it before starting a new one."""
    rng = random.Random(SEED ^ 0x51C4)
    rounds = max(4, int(CHAOS_SECONDS / 12))
    say("", f"chaos (SIGKILL of nines): seed {SEED}, {rounds} rounds")
    world = World(h, rng)
    world.start(ns=False)
    world.steady(timeout=30)
    watchers = Watchers(world, None).start()
    faults = Faults(world, watchers, h)
    moments = []
    try:
        for r in range(rounds):
            moment = rng.choice(["steady", "restarting", "stopped", "flooding"])
            moments.append(moment)
            old = world.steady()
            if moment == "restarting":
                os.kill(old, signal.SIGKILL)
                time.sleep(rng.uniform(0.0, 0.4))
            elif moment == "stopped":
                os.kill(old, signal.SIGSTOP)
                time.sleep(rng.uniform(0.0, 0.4))
            elif moment == "flooding":
                world.set_control(f"flood {old} 50000 k{r}")
                time.sleep(rng.uniform(0.05, 0.3))
            world.sup.p.kill()
            h.wait_exit(world.sup.p, 10, "SIGKILLed nines")
            survivors = world.bot_pids()
            if moment in ("steady", "stopped", "flooding"):
                assert old in survivors, f"{moment}: the bot did not survive SIGKILL of nines"
            world.start(ns=False)
            took = world.wait_recovered(old, BOUNDS["sigkill_nines"], f"restart ({moment})")
            world.set_control("ok")
            gone = [p for p in survivors if alive(p)]
            assert not gone, f"{moment}: survivors {gone} still alive next to the new bot"
            log = world.log()
            if survivors:
                assert "previous generation gone" in log, log
                assert log.index("previous generation gone") < \
                    log.index("bot: STOPPED -> STARTING"), log
            faults.records.append(("sigkill_nines", took, moment))
        watchers.finish()
        twice = Path(str(world.lock) + ".twice")
        assert not twice.exists(), f"two bots held the lock (seed {SEED}):\n{twice.read_text()}"
        assert not watchers.twice, "\n".join(watchers.twice)
        assert wait_for(lambda: not [c for c in children(world.init)
                                     if (proc_stat(c) or {}).get("state") == "Z"], 5), \
            "zombie children of nines"
        assert world.sup.stop()[0] == 0
        say(*summary("chaos (SIGKILL of nines, not PID 1)", faults, watchers,
                     [f"moments: {', '.join(moments)}"]))
    finally:
        watchers.finish()
