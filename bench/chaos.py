#!/usr/bin/python3
"""The chaos run of tests/pytest/test_chaos.py, side by side: the same seeded faults against
nines, supervisord and s6, each keeping the same bot-like service online as PID 1 of a fresh PID
namespace. Reports the availability of the bot's /health, the recovery time of every fault,
the logins made with a revoked token, and what happens when the supervisor itself is SIGKILLed.

Usage: /usr/bin/python3 bench/chaos.py [--seed N] [--repeat 2] [--cap 20] [--only nines,s6]
           [--no-write]                                   (as root; ~15 min with the defaults)

Needs: `make` (build/nines, build/ninesctl), `apt-get install -y s6 supervisor` (only the
binaries are used), a C compiler (the orphan burst helper), util-linux (unshare, prlimit) and
the cgroup v1 pids controller at /sys/fs/cgroup/pids (else fork_fail is skipped for everyone).

Replaces the "## Chaos: nines, supervisord and s6 under the same faults" section of
bench/RESULTS.md; other sections are kept as they are. METHOD below is written there too.
"""

import argparse
import datetime
import os
import platform
import random
import re
import signal
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "pytest"))
import test_chaos as tc  # noqa: E402  the bot, the orphan helper and the /proc helpers
from conftest import (alive, children, cmdline, lowest_free_fd, nofile_limits, proc_stat,  # noqa: E402
                      status_field, wait_for)
from supervisor_util import wrap  # noqa: E402
from tokens import fake_token  # noqa: E402

OUT = HERE / "out" / "chaos"
RESULTS = HERE / "RESULTS.md"
HEADING = "## Chaos: nines, supervisord and s6 under the same faults"
NINES, NINESCTL = ROOT / "build" / "nines", ROOT / "build" / "ninesctl"
PY = "/usr/bin/python3"
NAMES = ["nines", "supervisord", "s6"]
KINDS = tc.KINDS
STOP_TIMEOUT_S = 2
AUTH_HOLD_S = (8.0, 12.0)  # how long a revoked token stays in place before the rotation
FLOOD_CAP_S = 60.0
ORPHAN_CAP_S = 60.0
LOG_CAP_S = 90.0  # s6-log pauses before it tries a full disk again
LOG_TMPFS = "8m"

METHOD = """Method (`bench/chaos.py`, run as root): the fault injector of `tests/pytest/test_chaos.py`
pointed at each supervisor in turn. Each runs as PID 1 of a fresh PID namespace (`unshare --pid
--fork --mount-proc`) and keeps two services: the bot (`tests/pytest/bot_like.py`: /health on
127.0.0.1, a heartbeat line every 250 ms, a token from a file read at every start) and a service
that double-forks 10,000 orphans on demand. The bot runs with `BOT_AUTH_EXIT=1`: a revoked token
makes it print discord.py's `LoginFailure` lines and exit 1, at start (a login) and while running
(the gateway's close 4004), as a discord.py bot does. The logs go to an 8 MiB tmpfs.

Configuration, each the usual way for its users, with the same numbers where the supervisor has
the knob: nines `ready = notify`, `[health]` every 300 ms (timeout 500 ms, retries 2, start
period 5 s), `[auth] token_file`, restart delay 100 ms doubling to 1 s, stop timeout 2 s, logs
512 KiB x 2. supervisord (Debian's 4.2.5): `[program:bot]` with `command = /bin/sh bot-run.sh` (a
wrapper that reads the token file into `DISCORD_TOKEN` and execs the bot), `autorestart = true`,
defaults otherwise (`startsecs = 1`, `startretries = 3`), `stopwaitsecs = 2`,
`stopasgroup`/`killasgroup`, stdout+stderr to a 512 KB x 2 log. s6 (Debian's 2.11.3.2):
`s6-svscan` on a scan directory, `bot/run` the same wrapper, `timeout-kill` 2000,
`bot/log/run` = `s6-log -b n3 s524288 T`. supervisord and s6 have no health check and no idea
of a token, so the faults that only a health check or a token watch can see are not detected by
them: the run then waits `--cap` seconds and acts as the operator would (`supervisorctl restart
bot`, `s6-svc -r`), and the table says so.

The faults, in the same seeded order with the same parameters for every supervisor (each kind
`--repeat` times), and what "recovered" means (measured from the injection, or from lifting it):
kill = SIGKILL of the bot; stop = SIGSTOP of the bot (a hang); health500 / hang = the bot's
/health answers 500 / never answers (that instance only): a NEW bot pid answers 200 on /health.
auth401 = the token is revoked (the bot exits as discord.py does), held revoked 8-12 s, then a
new token file is renamed into place: recovery from the rotation; the logins counted are the
bot's starts while its token was revoked (Discord resets a token after 1,000 logins a day).
flood = the bot writes 20k-60k lines at once: until its last line is in the log file, with the
worst status latency meanwhile. disk_full = the log tmpfs is filled while the bot writes 3,000
lines, held 0.6-1.5 s, freed: until a line written after the freeing is in the log file.
fd_exhaust = RLIMIT_NOFILE of the process that forks the bot (nines, supervisord,
s6-supervise) set to its lowest free fd, the bot SIGKILLed, held 0.3-1 s, lifted: a new bot
answers. fork_fail = the same process put in a pids cgroup with pids.max = its task count
(fork fails with EAGAIN, for root too), the bot SIGKILLed, held 0.2-1 s, lifted. orphans =
10,000 double-forked children adopted by PID 1: until all are reaped. reload_good = a harmless
log setting changed and applied (`ninesctl reload`, `supervisorctl update`, a restart of the
s6-log service): whether the bot kept running. reload_bad = a broken file (the bot's own, or a
new one) and a reload: whether it is refused with `file:line`, the running configuration kept
(s6 has no configuration to parse: a broken `run` file shows only at the next start).
sigkill = not PID 1: the supervisor itself (nines; supervisord; s6-svscan with every
s6-supervise) is SIGKILLed at a random moment (steady, the bot just killed, the bot stopped)
and started again: a new bot answers, and whether two bots ran at once (each bot instance
holds a flock; a second one records that it found it held).

What the numbers mean for nines' own settings: its restart backoff doubles from 100 ms up to
1 s and only resets after 10 min up (`reset_after`), and the faults here come seconds apart, so
nines waits about 1 s (+-20% jitter) before most restarts, where supervisord restarts at once
and s6 after its 1 s minimum. On a full log disk nines drops the lines it cannot write (and
counts them, `ninesctl status`) and never blocks the bot; s6-log (`-b`) keeps every line by not
reading the pipe, so the bot's own writes block until the disk has room (a bot that logs from its
event loop stops with them).

Availability = the share of the run's time in which GET /health (polled every 100 ms, 500 ms
timeout; each poll stands for the time until the next) returned 200. Status = the supervisor's
status command for the bot (`ninesctl status`, `supervisorctl status`, `s6-svstat`), run every
250 ms."""


SIGKILL_NOTE = """nines finds the survivors of its SIGKILLed predecessor (their environment marker, its
cgroup, run_dir/procs) and stops them before it starts anything. supervisord and s6 start a
second bot next to the survivor; the survivor keeps the port, so the new one never answers
until the operator kills the old one. A SIGSTOPped bot of supervisord dies with supervisord
instead: supervisord puts each program in a process group of its own in supervisord's session,
so its exit orphans that group, and the kernel sends a stopped member of a newly orphaned group
SIGHUP and SIGCONT (_exit(2)); nines and s6 start services in a session of their own, where
nothing is sent."""


def log(msg):
    print(msg, flush=True)


def sh(argv, timeout=30, **kw):
    """(rc, output, seconds) of a command; rc None when it timed out."""
    t0 = time.monotonic()
    try:
        p = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL, **kw)
        return p.returncode, p.stdout + p.stderr, time.monotonic() - t0
    except subprocess.TimeoutExpired:
        return None, "timed out", time.monotonic() - t0


def pdeathsig_kill():
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: die with us


# ---------------------------------------------------------------------------- the bot

class Bot:
    """What the bot and the injector share: port, token file, revocation list, control file,
    lock and logins files; the same for every supervisor."""

    def __init__(self, d, rng):
        self.d, self.rng = d, rng
        self.port = tc.free_port()
        self.marker = f"chaosbench-{os.getpid()}-{d.name}"
        self.control, self.revoked = d / "bot.control", d / "bot.revoked"
        self.lock, self.logins = d / "bot.lock", d / "bot.logins"
        secrets = d / "secrets"
        secrets.mkdir(mode=0o700)
        self.token_file = secrets / "token"
        for f in (self.control, self.revoked, self.logins):
            f.write_text("")
        self.tokens = []
        self.rotate()

    def env(self):
        return {"BOT_PORT": self.port, "BOT_CONTROL": self.control, "BOT_REVOKED": self.revoked,
                "BOT_LOCK": self.lock, "BOT_LOGINS": self.logins, "BOT_AUTH_EXIT": "1"}

    def command(self):
        return f"{PY} -S {tc.BOT_LIKE} {self.marker}"

    def wrapper(self):
        """The start script a supervisord or s6 user writes: the token file read at every
        start, stderr with stdout."""
        exports = "".join(f"export {k}={v}\n" for k, v in self.env().items())
        return ("#!/bin/sh\nexec 2>&1\n"
                f"DISCORD_TOKEN=$(cat {self.token_file}) || exit 1\nexport DISCORD_TOKEN\n"
                f"{exports}exec {self.command()}\n")

    def rotate(self):
        tok, _ = fake_token(seed=self.rng.randrange(1 << 62))
        self.tokens.append(tok)
        tc.write_atomic(self.token_file, tok + "\n")
        os.chmod(self.token_file, 0o600)

    def revoke(self):
        with open(self.revoked, "a") as f:
            f.write(tc.sha(self.tokens[-1]) + "\n")

    def logins_with(self, digest, t0, t1):
        n = 0
        for line in self.logins.read_text().splitlines():
            t, _, dig = line.split()
            n += dig == digest and t0 <= float(t) <= t1
        return n

    def set_control(self, text):
        tc.write_atomic(self.control, text + "\n")

    def health(self, timeout=0.5):
        return tc.get_health(self.port, timeout=timeout)

    def processes(self):
        """Host pids of live bot processes."""
        out = []
        for p in os.listdir("/proc"):
            if p.isdigit() and self.marker in cmdline(int(p)) and alive(int(p)):
                out.append(int(p))
        return out

    def host(self, nspid):
        """Host pid of the bot whose pid in its namespace is nspid (None when gone)."""
        for p in self.processes():
            ns = (status_field(p, "NSpid") or "").split()
            if ns and int(ns[-1]) == nspid:
                return p
        return None

    def twice(self):
        f = Path(str(self.lock) + ".twice")
        return len(f.read_text().splitlines()) if f.exists() else 0


# ---------------------------------------------------------------------------- supervisors

class Supervisor:
    """One supervisor on a private directory, keeping the bot and the orphans service."""
    name = "?"

    def __init__(self, d, bot, orphans_argv, logs):
        self.d, self.bot, self.orphans_argv, self.logs = d, bot, orphans_argv, logs
        self.p = None
        self.init = None
        self.write_config()

    def launch(self, pid1=True):
        argv = [str(a) for a in self.argv()]
        if pid1:
            argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *argv]
        self.out = open(self.d / "supervisor.out", "ab")
        self.p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                  stderr=subprocess.STDOUT, cwd=self.d, start_new_session=True,
                                  preexec_fn=pdeathsig_kill)
        if pid1:
            self.init = wait_for(lambda: (children(self.p.pid) or [None])[0], 10)
            assert self.init, f"{self.name}: unshare started no PID 1"
        else:
            self.init = self.p.pid

    def alive(self):
        return self.p is not None and self.p.poll() is None and alive(self.init)

    def stop(self):
        if self.p is None:
            return
        try:
            os.kill(self.init, signal.SIGTERM)
            self.p.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.p.kill()
            self.p.wait()
        self.out.close()
        self.p = None

    def supervision(self):
        """Host pids of the supervisor's own processes (what `sigkill` kills)."""
        return [self.init]

    def spawner(self):
        """Host pid of the process that forks the bot."""
        return self.init

    def log_text(self, rotated=False):
        """What the bot wrote, as its log files hold it: the current file, and the rotated ones
        too when asked. (Lines written by two threads blocked on a full pipe reach the file in
        any order, so a marker is looked for in the whole file, not in its tail.)"""
        files = self.bot_logs() + (self.rotated_logs() if rotated else [])
        text = []
        for f in files:
            try:
                text.append(Path(f).read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(text)

    def reload_bad(self, how):
        """(refused, named file:line, output, seconds), or None where nothing can be refused."""
        return None


class Nines(Supervisor):
    name = "nines"

    def write_config(self):
        d = self.d
        self.conf, self.sock = d / "nines.conf", d / "run" / "control.sock"
        self.services = d / "services"
        self.services.mkdir()
        self.conf.write_text(f"[nines]\nservices_dir = {self.services}\nrun_dir = {d}/run\n"
                             f"state_dir = {d}/state\nlog_dir = {self.logs}\n"
                             "shutdown_timeout = 10s\n")
        envf = d / "bot.env"
        envf.write_text("".join(f"{k}={v}\n" for k, v in self.bot.env().items()))
        self.bot_text = (
            f"[service]\ncommand = {wrap(self.bot.command())}\nenv_file = {envf}\nready = notify\n"
            f"stop_timeout = {STOP_TIMEOUT_S}s\n[restart]\ndelay = 100ms\nmax_delay = 1s\n"
            f"[health]\nurl = http://127.0.0.1:{self.bot.port}/health\ninterval = 300ms\n"
            "timeout = 500ms\nretries = 2\nstart_period = 5s\n"
            f"[auth]\ntoken_file = {self.bot.token_file}\n[notify]\nwatchdog = 10s\n"
            "[log]\nmax_size = 512K\nmax_files = {files}\n")
        self.files = 2
        self.bot_conf = self.services / "bot.conf"
        self.bot_conf.write_text(self.bot_text.format(files=self.files))
        (self.services / "orphans.conf").write_text(
            f"[service]\ncommand = {wrap(' '.join(map(str, self.orphans_argv)))}\n"
            "[restart]\ndelay = 100ms\nmax_delay = 1s\n[log]\nmax_size = 64K\nmax_files = 1\n")

    def argv(self):
        return [NINES, "-c", self.conf]

    def ctl(self, *args, timeout=30):
        return sh([NINESCTL, "-s", self.sock, "-t", "20", *args], timeout=timeout)

    def status_argv(self):
        return [NINESCTL, "-s", self.sock, "status", "bot"]

    def bot_logs(self):
        return [self.logs / "bot.log"]

    def rotated_logs(self):
        return sorted(self.logs.glob("bot.log.*"))

    def restart_bot(self):
        self.ctl("recover", "bot")
        self.ctl("restart", "bot")

    def reload_good(self):
        self.files = 5 - self.files
        self.bot_conf.write_text(self.bot_text.format(files=self.files))
        rc, out, secs = self.ctl("reload")
        return rc == 0, out, secs

    def reload_bad(self, how):
        good = self.bot_conf.read_text()
        bad = self.bot_conf if how == "own" else self.services / "zz-bad.conf"
        bad.write_text(good + "frobnicate = yes\n" if how == "own"
                       else "[service]\ncommand = sh -c 'unterminated\n")
        try:
            rc, out, secs = self.ctl("reload")
        finally:
            if how == "own":
                bad.write_text(good)
            else:
                bad.unlink()
        self.ctl("reload")
        return rc not in (0, None), bool(re.search(re.escape(str(bad)) + r":\d+", out)), out, secs


class Supervisord(Supervisor):
    name = "supervisord"

    def write_config(self):
        d = self.d
        self.conf = d / "supervisord.conf"
        confd = d / "conf.d"
        confd.mkdir()
        (d / "childlog").mkdir()
        self.conf.write_text(
            f"[unix_http_server]\nfile = {d}/supervisor.sock\n\n"
            f"[supervisord]\nlogfile = {d}/supervisord.log\npidfile = {d}/supervisord.pid\n"
            f"childlogdir = {d}/childlog\nnodaemon = true\nuser = root\n\n"
            "[rpcinterface:supervisor]\n"
            "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
            f"[supervisorctl]\nserverurl = unix://{d}/supervisor.sock\n\n"
            f"[include]\nfiles = {confd}/*.conf\n")
        wrapper = d / "bot-run.sh"
        wrapper.write_text(self.bot.wrapper())
        self.bot_text = (
            f"[program:bot]\ncommand = /bin/sh {wrapper}\nautorestart = true\n"
            f"stopwaitsecs = {STOP_TIMEOUT_S}\nstopasgroup = true\nkillasgroup = true\n"
            f"redirect_stderr = true\nstdout_logfile = {self.logs}/bot.log\n"
            "stdout_logfile_maxbytes = 512KB\nstdout_logfile_backups = {files}\n")
        self.files = 2
        self.bot_conf = confd / "bot.conf"
        self.bot_conf.write_text(self.bot_text.format(files=self.files))
        (confd / "orphans.conf").write_text(
            f"[program:orphans]\ncommand = {' '.join(map(str, self.orphans_argv))}\n"
            f"autorestart = true\nredirect_stderr = true\n"
            f"stdout_logfile = {self.logs}/orphans.log\nstdout_logfile_maxbytes = 64KB\n"
            "stdout_logfile_backups = 1\n")

    def argv(self):
        return [PY, "/usr/bin/supervisord", "-n", "-c", self.conf]

    def ctl(self, *args, timeout=30):
        return sh([PY, "/usr/bin/supervisorctl", "-c", self.conf, *args], timeout=timeout)

    def status_argv(self):
        return [PY, "/usr/bin/supervisorctl", "-c", self.conf, "status", "bot"]

    def bot_logs(self):
        return [self.logs / "bot.log"]

    def rotated_logs(self):
        return sorted(self.logs.glob("bot.log.*"))

    def restart_bot(self):
        self.ctl("restart", "bot")

    def reload_good(self):
        self.files = 5 - self.files
        self.bot_conf.write_text(self.bot_text.format(files=self.files))
        rc, out, secs = self.ctl("update")
        return rc == 0 and "ERROR" not in out, out, secs

    def reload_bad(self, how):
        good = self.bot_conf.read_text()
        bad = self.bot_conf if how == "own" else self.bot_conf.parent / "zz-bad.conf"
        bad.write_text(good + "frobnicate = yes\n" if how == "own"
                       else "[program:bad]\ncommand = sh -c 'unterminated\n")
        try:
            rc, out, secs = self.ctl("update")
        finally:
            if how == "own":
                bad.write_text(good)
            else:
                bad.unlink()
        self.ctl("update")
        refused = rc not in (0, None) or "ERROR" in out
        return refused, bool(re.search(re.escape(str(bad)) + r":\d+", out)), out, secs


class S6(Supervisor):
    name = "s6"

    def write_config(self):
        self.scan = self.d / "scan"
        bot, orph = self.scan / "bot", self.scan / "orphans"
        for sd in (bot / "log", orph / "log"):
            sd.mkdir(parents=True)
        (self.logs / "bot").mkdir()
        (self.logs / "orphans").mkdir()
        self._script(bot / "run", self.bot.wrapper())
        (bot / "timeout-kill").write_text(f"{STOP_TIMEOUT_S * 1000}\n")
        self.files = 2
        self._log_run()
        self._script(orph / "run", "#!/bin/sh\nexec 2>&1\nexec "
                     + " ".join(map(str, self.orphans_argv)) + "\n")
        self._script(orph / "log" / "run", f"#!/bin/sh\nexec s6-log -b n2 s65536 "
                                           f"{self.logs}/orphans\n")

    @staticmethod
    def _script(path, text):
        path.write_text(text)
        os.chmod(path, 0o755)

    def _log_run(self):
        self._script(self.scan / "bot" / "log" / "run",
                     f"#!/bin/sh\nexec s6-log -b n{self.files + 1} s524288 T {self.logs}/bot\n")

    def argv(self):
        return ["/usr/bin/s6-svscan", self.scan]

    def supervisors(self):
        return [c for c in children(self.init) if cmdline(c)[:1] == ["s6-supervise"]]

    def supervision(self):
        return [self.init, *self.supervisors()]

    def spawner(self):
        for c in self.supervisors():
            if cmdline(c) == ["s6-supervise", "bot"]:
                return c
        raise AssertionError("no s6-supervise for the bot")

    def status_argv(self):
        return ["/usr/bin/s6-svstat", self.scan / "bot"]

    def bot_logs(self):
        return [self.logs / "bot" / "current"]

    def rotated_logs(self):
        return sorted((self.logs / "bot").glob("@*"))

    def restart_bot(self):
        sh(["/usr/bin/s6-svc", "-r", self.scan / "bot"])

    def reload_good(self):
        self.files = 5 - self.files
        self._log_run()
        rc, out, secs = sh(["/usr/bin/s6-svc", "-r", self.scan / "bot" / "log"])
        return rc == 0, out, secs


CLASSES = {"nines": Nines, "supervisord": Supervisord, "s6": S6}


# ---------------------------------------------------------------------------- watchers

class Watchers:
    """/health every 100 ms, the status command every 250 ms, in the background."""

    def __init__(self, sup):
        self.sup = sup
        self.stop_ev = threading.Event()
        self.health, self.status = [], []  # (t, ok), (t0, seconds, ok)
        self.threads = [threading.Thread(target=f, daemon=True)
                        for f in (self._health, self._status)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(40)

    def _health(self):
        while not self.stop_ev.is_set():
            t = time.monotonic()
            code, _ = self.sup.bot.health()
            self.health.append((t, code == 200))
            # Never catch up: a burst of polls after a hang would all land after the recovery.
            self.stop_ev.wait(max(0.0, t + 0.1 - time.monotonic()))

    def _status(self):
        while not self.stop_ev.is_set():
            t0 = time.monotonic()
            rc, _, took = sh(self.sup.status_argv(), timeout=30)
            self.status.append((t0, took, rc is not None and self.sup.alive()))
            self.stop_ev.wait(0.25)

    def availability(self, a=None, b=None):
        """Time-weighted: each poll stands for the time until the next one."""
        return tc.availability(self.health, a, b)


# ---------------------------------------------------------------------------- the faults

class Run:
    """The plan of faults against one supervisor as PID 1."""

    def __init__(self, sup, cap, helper):
        self.s, self.bot, self.cap, self.helper = sup, sup.bot, cap, helper
        self.records = []  # dicts: kind, secs (None: not by itself), operator, detail
        self.seq = 0

    # ---- helpers

    def steady(self, timeout=60):
        def ok():
            code, pid = self.bot.health()
            return pid if code == 200 else None
        pid = wait_for(ok, timeout, interval=0.05)
        assert pid, f"{self.s.name}: the bot is not answering after {timeout}s"
        return pid

    def recovered(self, old, cap):
        """Seconds until a bot other than `old` answers 200, or None after cap seconds."""
        t0 = time.monotonic()

        def ok():
            code, pid = self.bot.health(timeout=0.3)
            return code == 200 and pid != old
        return time.monotonic() - t0 if wait_for(ok, cap, interval=0.02) else None

    def record(self, kind, secs, detail="", operator=False, **extra):
        self.records.append(dict(kind=kind, secs=secs, detail=detail, operator=operator, **extra))

    def operator(self, old_host=None):
        """The operator's repair after the cap: the supervisor's restart command."""
        self.s.restart_bot()
        if old_host and alive(old_host):
            wait_for(lambda: not alive(old_host), 10)
        if old_host and alive(old_host):  # a SIGSTOPped bot under a TERM-only restart
            for sig in (signal.SIGCONT, signal.SIGKILL):
                try:
                    os.kill(old_host, sig)
                except OSError:
                    pass
        self.steady()

    def until_recovered(self, kind, old, old_host, detail=""):
        secs = self.recovered(old, self.cap)
        if secs is None:
            self.operator(old_host)
            self.record(kind, None, detail, operator=True)
        else:
            self.record(kind, secs, detail)

    def status_worst_while(self, busy, limit):
        worst, deadline = 0.0, time.monotonic() + limit
        while busy() and time.monotonic() < deadline:
            rc, _, took = sh(self.s.status_argv(), timeout=30)
            worst = max(worst, took if rc is not None else 30.0)
            time.sleep(0.05)
        return worst

    # ---- faults (each gets its parameters from the plan, the same for every supervisor)

    def kill(self, p):
        old = self.steady()
        os.kill(self.bot.host(old), signal.SIGKILL)
        self.until_recovered("kill", old, None)

    def _undetectable(self, kind, inject):
        old = self.steady()
        host = self.bot.host(old)
        inject(old, host)
        try:
            self.until_recovered(kind, old, host)
        finally:
            self.bot.set_control("ok")

    def stop(self, p):
        self._undetectable("stop", lambda pid, host: os.kill(host, signal.SIGSTOP))

    def health500(self, p):
        self._undetectable("health500", lambda pid, host: self.bot.set_control(f"500 {pid}"))

    def hang(self, p):
        self._undetectable("hang", lambda pid, host: self.bot.set_control(f"hang {pid}"))

    def auth401(self, p):
        old = self.steady()
        digest = tc.sha(self.bot.tokens[-1])
        t0 = time.monotonic()
        w0 = time.time()
        self.bot.revoke()
        time.sleep(p["hold"])  # the token stays revoked: what the supervisor does meanwhile
        held = time.monotonic() - t0
        self.bot.rotate()
        secs = self.recovered(old, self.cap)
        operator = secs is None
        if operator:
            self.operator()
        # Counted once a new bot answers: an instance started just before the rotation may log
        # its login (with the old token) after it.
        logins = self.bot.logins_with(digest, w0, time.time())
        self.record("auth401", secs, f"{logins} logins with the revoked token in {held:.0f} s",
                    operator=operator, logins=logins)

    def flood(self, p):
        pid = self.steady()
        self.seq += 1
        seq = f"s{self.seq}"
        t0 = time.monotonic()
        self.bot.set_control(f"flood {pid} {p['n']} {seq}")

        def busy():
            return f"flood {seq} done" not in self.s.log_text(rotated=True)
        worst = self.status_worst_while(busy, FLOOD_CAP_S)
        done = not busy()
        self.bot.set_control("ok")
        self.record("flood", time.monotonic() - t0 if done else None,
                    f"{p['n']} lines, worst status {worst:.2f} s", worst_status=worst)

    def disk_full(self, p):
        pid = self.steady()
        filler = self.s.logs / "filler"

        def top_up():
            with open(filler, "ab", buffering=0) as f:
                for size in (65536, 512, 16):
                    try:
                        while True:
                            f.write(b"F" * size)
                    except OSError:
                        pass
        top_up()
        self.seq += 1
        try:
            self.bot.set_control(f"flood {pid} 3000 d{self.seq}")
            end = time.monotonic() + p["hold"]
            while time.monotonic() < end:
                top_up()  # a rotation deletes an old file: fill that space too
                time.sleep(0.05)
        finally:
            filler.unlink(missing_ok=True)
        t0 = time.monotonic()
        self.bot.set_control(f"flood {pid} 1 e{self.seq}")
        ok = wait_for(lambda: f"flood e{self.seq} done" in self.s.log_text(rotated=True),
                      LOG_CAP_S, interval=0.05)
        took = time.monotonic() - t0
        self.bot.set_control("ok")
        text = self.s.log_text(rotated=True)
        kept = len(re.findall(rf"flood d{self.seq} x", text))
        self.record("disk_full", took if ok else None, f"{kept}", kept=kept)

    def _limit_and_lift(self, kind, apply, lift, hold):
        old = self.steady()
        sp = self.s.spawner()
        apply(sp)
        try:
            os.kill(self.bot.host(old), signal.SIGKILL)
            time.sleep(hold)
        finally:
            lift(sp)
        self.until_recovered(kind, old, None)

    def fd_exhaust(self, p):
        holder = {}

        def apply(sp):
            soft, hard = nofile_limits(sp)
            holder.update(soft=soft, hard=hard)
            low = lowest_free_fd(sp)
            subprocess.run(["prlimit", "--pid", str(sp), f"--nofile={low}:{hard}"], check=True)

        def lift(sp):
            subprocess.run(["prlimit", "--pid", str(sp),
                            f"--nofile={holder['soft']}:{holder['hard']}"])
        self._limit_and_lift("fd_exhaust", apply, lift, p["hold"])

    def fork_fail(self, p):
        root = Path("/sys/fs/cgroup/pids")
        if not (root / "cgroup.procs").exists():
            self.record("fork_fail", None, "skipped: no cgroup v1 pids controller", skipped=True)
            return
        cg = root / f"nines-chaosbench-{os.getpid()}"
        holder = {}

        def apply(sp):
            home = next(line.split(":", 2)[2] for line in
                        Path(f"/proc/{sp}/cgroup").read_text().splitlines()
                        if line.split(":")[1] == "pids")
            holder["home"] = root / home.lstrip("/")
            cg.mkdir(exist_ok=True)
            (cg / "cgroup.procs").write_text(str(sp))
            (cg / "pids.max").write_text((cg / "pids.current").read_text().strip())

        def lift(sp):
            if alive(sp):
                (holder["home"] / "cgroup.procs").write_text(str(sp))
            try:
                cg.rmdir()
            except OSError:
                pass
        self._limit_and_lift("fork_fail", apply, lift, p["hold"])

    def orphans(self, p):
        self.steady()
        self.seq += 1
        gen = f"g{self.seq}"
        t0 = time.monotonic()
        tc.write_atomic(self.trigger, f"{gen} {tc.ORPHANS} 100\n")

        def reaped():
            try:
                if self.done.read_text().split()[0] != gen:
                    return False
            except (OSError, IndexError):
                return False
            for pid in children(self.s.init):
                st = proc_stat(pid)
                if st and (st["state"] == "Z" or cmdline(pid)[:1] == [str(self.helper)]):
                    return False
            return True
        worst = self.status_worst_while(lambda: not reaped(), ORPHAN_CAP_S)
        ok = reaped()
        self.record("orphans", time.monotonic() - t0 if ok else None,
                    f"worst status {worst:.2f} s", worst_status=worst)

    def reload_good(self, p):
        pid = self.steady()
        ok, out, secs = self.s.reload_good()

        def replaced():
            code, now = self.bot.health(timeout=0.3)
            return code != 200 or now != pid
        kept = not wait_for(replaced, 1.0, interval=0.05)  # a restart shows within 1 s
        if not kept:
            self.steady()
        self.record("reload_good", secs if ok else None,
                    "bot kept" if kept else "bot restarted", kept=kept)

    def reload_bad(self, p):
        pid = self.steady()
        r = self.s.reload_bad(p["how"])
        if r is None:
            self.record("reload_bad", None, "n/a", na=True)
            return
        refused, file_line, out, secs = r
        log(f"    reload output: {' | '.join(out.strip().splitlines())[:300]}")
        code, now = self.bot.health()
        kept = code == 200 and now == pid
        self.record("reload_bad", secs if refused else None,
                    f"{p['how']}: {'refused' if refused else 'ACCEPTED'}"
                    f"{', file:line named' if file_line else ', no file:line'}"
                    f"{'' if kept else ', bot restarted'}",
                    refused=refused, file_line=file_line, first_line=out.strip()[:160])

    # ---- the whole run

    def go(self, plan):
        for kind, params in plan:
            t0 = time.monotonic()
            n = len(self.records)
            try:
                getattr(self, kind)(params)
            except (AssertionError, OSError, subprocess.SubprocessError) as e:
                log(f"  {self.s.name}: {kind}: {type(e).__name__}: {e}")
                self.record(kind, None, f"error: {e}", operator=True)
                self.bot.set_control("ok")
                self.operator()
            r = self.records[n] if len(self.records) > n else {}
            r["window"] = (t0, time.monotonic())
            log(f"  {self.s.name:<12}{kind:<12}"
                + (f"{r['secs']:7.2f} s" if r.get("secs") is not None else "      – ")
                + ("  (operator)" if r.get("operator") else "") + f"  {r.get('detail', '')}")
            if not self.s.alive():
                raise RuntimeError(f"{self.s.name} died during {kind}")
            time.sleep(params["gap"])


def make_plan(rng, repeat, gap, kinds=KINDS):
    """[(kind, params)]: each kind `repeat` times, shuffled; parameters drawn here so every
    supervisor gets the same ones."""
    plan = []
    for kind in kinds * repeat:
        p = {"gap": rng.uniform(*gap)}
        if kind == "auth401":
            p["hold"] = rng.uniform(*AUTH_HOLD_S)
        elif kind == "flood":
            p["n"] = rng.randint(20_000, 60_000)
        elif kind == "disk_full":
            p["hold"] = rng.uniform(0.6, 1.5)
        elif kind == "fd_exhaust":
            p["hold"] = rng.uniform(0.3, 1.0)
        elif kind == "fork_fail":
            p["hold"] = rng.uniform(0.2, 1.0)
        elif kind == "reload_bad":
            p["how"] = rng.choice(["own", "new"])
        plan.append((kind, p))
    rng.shuffle(plan)
    return plan


def mount_tmpfs(path):
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={LOG_TMPFS}", "tmpfs", str(path)],
                   check=True)


def umount(path):
    if subprocess.run(["umount", str(path)], capture_output=True).returncode:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def kill_all(sup):
    """SIGKILL of whatever of this supervisor's run is left: bots, and any process whose
    command line names its directory (orphan watchers, loggers of a SIGKILLed supervisor)."""
    d = str(sup.d)
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            cl = " ".join(cmdline(int(p)))
            if sup.bot.marker in cl or d in cl:
                try:
                    os.kill(int(p), signal.SIGKILL)
                except OSError:
                    pass


def setup(name, seed, helper, label=""):
    d = OUT / (name + label)
    if d.exists():
        for sub in ("logs",):
            if (d / sub).is_mount():
                umount(d / sub)
        shutil.rmtree(d)
    d.mkdir(parents=True)
    logs = d / "logs"
    mount_tmpfs(logs)
    bot = Bot(d, random.Random(seed))
    watcher = d / "orphans_watcher.py"
    watcher.write_text(tc.ORPHANS_WATCHER)
    trigger, done = d / "orphans.trigger", d / "orphans.done"
    sup = CLASSES[name](d, bot, [PY, "-S", watcher, trigger, done, helper], logs)
    return sup, trigger, done


def chaos_pid1(name, seed, plan, cap, helper):
    sup, trigger, done = setup(name, seed, helper)
    run = Run(sup, cap, helper)
    run.trigger, run.done = trigger, done
    watchers = None
    res = {"name": name, "load0": os.getloadavg()[0]}
    try:
        sup.launch(pid1=True)
        run.steady(60)
        time.sleep(plan[0][1]["gap"])  # past the first start's start period
        watchers = Watchers(sup)
        t0 = time.monotonic()
        run.go(plan)
        run.steady()
        watchers.finish()
        res["seconds"] = time.monotonic() - t0
        zombies = [c for c in children(sup.init) if (proc_stat(c) or {}).get("state") == "Z"]
        res.update(records=run.records, availability=watchers.availability(),
                   polls=len(watchers.health),
                   down=res_down(watchers), twice=sup.bot.twice(), zombies=len(zombies),
                   status=[t for _, t, ok in watchers.status if ok],
                   status_failed=sum(not ok for _, _, ok in watchers.status))
        per = {}
        for r in run.records:
            pct = watchers.availability(*r["window"])
            if pct is not None:
                per.setdefault(r["kind"], []).append((pct, r["window"][1] - r["window"][0]))
        res["per_kind"] = {k: sum(p * d for p, d in v) / sum(d for _, d in v)
                           for k, v in per.items() if sum(d for _, d in v) > 0}
        res["alive"] = sup.alive()
        res["load1"] = os.getloadavg()[0]
    finally:
        if watchers:
            watchers.finish()
        sup.stop()
        kill_all(sup)
        umount(sup.logs)
    return res


def res_down(watchers):
    """Seconds /health did not answer 200 over the run (time-weighted like availability)."""
    h = watchers.health
    if len(h) < 2:
        return 0.0
    return (h[-1][0] - h[0][0]) * (100.0 - watchers.availability(h[0][0], h[-1][0])) / 100.0


def chaos_sigkill(name, seed, rounds, cap, helper):
    """Not PID 1: the supervisor SIGKILLed at a random moment and started again."""
    rng = random.Random(seed ^ 0x51C4)
    sup, trigger, done = setup(name, seed, helper, "-sigkill")
    run = Run(sup, cap, helper)
    out = []
    try:
        sup.launch(pid1=False)
        run.steady(60)
        moments = (["steady", "stopped", "restarting"] * rounds)[:rounds]
        rng.shuffle(moments)
        for moment in moments:
            old = run.steady()
            host = sup.bot.host(old)  # not PID 1: the pid the bot reports is its host pid
            twice0 = sup.bot.twice()
            if moment == "restarting":
                os.kill(host, signal.SIGKILL)
                time.sleep(rng.uniform(0.0, 0.4))
            elif moment == "stopped":
                os.kill(host, signal.SIGSTOP)
                time.sleep(rng.uniform(0.0, 0.4))
            for pid in sup.supervision():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            sup.p.wait(10)
            sup.out.close()
            # The old generation: the bot, or the one the old supervisor had just restarted.
            before = set(sup.bot.processes())
            sup.launch(pid1=False)
            t0 = time.monotonic()

            def ok():
                code, pid = sup.bot.health(timeout=0.3)
                return code == 200 and pid not in before
            recovered = wait_for(ok, cap, interval=0.02)
            secs = time.monotonic() - t0 if recovered else None
            survivors = [p for p in before if alive(p)]
            twice = sup.bot.twice() - twice0
            out.append(dict(moment=moment, secs=secs, twice=twice > 0, old_left=bool(survivors)))
            log(f"  {name:<12}sigkill {moment:<11}"
                + (f"{secs:6.2f} s" if secs is not None else "     – ")
                + f"  old bot {'still running' if survivors else 'gone'}"
                + f"{', TWO BOTS' if out[-1]['twice'] else ''}")
            if secs is None or survivors:  # the operator cleans up: one bot again
                for p in survivors:
                    for sig in (signal.SIGCONT, signal.SIGKILL):
                        try:
                            os.kill(p, sig)
                        except OSError:
                            pass
                run.steady(60)
    finally:
        sup.stop()
        kill_all(sup)
        umount(sup.logs)
    return out


# ---------------------------------------------------------------------------- report

def cell(recs, cap):
    if not recs:
        return "–"
    if all(r.get("na") for r in recs):
        return "n/a"
    if all(r.get("skipped") for r in recs):
        return "skipped"
    by_self = [r["secs"] for r in recs if r["secs"] is not None and not r["operator"]]
    n = len(recs)
    if not by_self:
        return f"**not recovered**: operator after {cap:g} s (0/{n})"
    text = secs_text(statistics.median(by_self))
    if len(by_self) > 1:
        text += f" (max {secs_text(max(by_self))})"
    if len(by_self) < n:
        text += f", {n - len(by_self)}/{n} **not recovered**"
    return text


def reload_good_cell(recs, cap):
    kept = all(r.get("kept") for r in recs)
    took = [r["secs"] for r in recs if r["secs"] is not None]
    return (f"{secs_text(max(took))}" if took else "failed") + \
        (", bot kept" if kept else ", **bot restarted**")


def reload_bad_cell(recs, cap):
    if not recs or all(r.get("na") for r in recs):
        return "n/a: no configuration to parse (a broken `run` fails at the next start)"
    out = []
    for how in ("own", "new"):
        rs = [r for r in recs if r["detail"].startswith(how)]
        if rs:
            what = "unknown key in the bot's file" if how == "own" else "broken new file"
            ok = all(r.get("refused") and r.get("file_line") for r in rs)
            out.append(f"{what}: " + ("refused, `file:line` named" if ok else
                                      "refused" if all(r.get("refused") for r in rs) else
                                      "**accepted**"))
    return "; ".join(out)


def disk_full_cell(recs, cap):
    kept = sorted(r.get("kept", 0) for r in recs)
    text = cell(recs, LOG_CAP_S)
    return text + f"; of the 3,000 lines written while full, {kept[0]}" + \
        (f"-{kept[-1]}" if kept[-1] != kept[0] else "") + " reached the file"


def secs_text(s):
    return f"{s * 1000:.0f} ms" if s < 0.1 else f"{s:.2f} s"


CELLS = {"reload_good": reload_good_cell, "reload_bad": reload_bad_cell,
         "disk_full": disk_full_cell}


LABELS = {
    "kill": "kill: SIGKILL of the bot → new bot answers",
    "stop": "stop: SIGSTOP of the bot (hang) → new bot answers",
    "health500": "health500: /health answers 500 → new bot answers",
    "hang": "hang: /health never answers → new bot answers",
    "auth401": "auth401: token revoked (the bot exits), new token 8-12 s later → new bot answers (from the rotation)",
    "flood": "flood: 20k-60k lines → all in the log file",
    "disk_full": "disk_full: log disk full 0.6-1.5 s → logging again (from the freeing)",
    "fd_exhaust": "fd_exhaust: RLIMIT_NOFILE of the spawner, bot killed → new bot answers (from the lift)",
    "fork_fail": "fork_fail: pids.max on the spawner, bot killed → new bot answers (from the lift)",
    "orphans": "orphans: 10,000 adopted by PID 1 → all reaped",
    "reload_good": "reload_good: harmless change applied → command time, bot kept?",
    "reload_bad": "reload_bad: broken file + reload → refused, old configuration kept?",
}


def report(results, sigkills, seed, args, started):
    names = [r["name"] for r in results]
    lines = [HEADING, ""]
    uname = platform.uname()
    load = os.getloadavg()
    lines.append(
        f"Run {started:%Y-%m-%d %H:%M} UTC, seed {seed} (`--seed {seed}` replays the plan), "
        f"{args.repeat} of each fault per supervisor, cap {args.cap:g} s. Machine: "
        f"{os.cpu_count()} CPUs, Linux {uname.release}, load average {load[0]:.1f} at the end. "
        f"nines `build/nines` from {git_rev()}; supervisor "
        f"{pkg_version('supervisor')}, s6 {pkg_version('s6')} (Debian).")
    lines += ["", METHOD, ""]
    lines.append("Recovery: median (max) seconds over the injections, measured as described; "
                 "**not recovered** = not within the cap by the supervisor itself.")
    lines.append("")
    lines.append("| fault → recovered when | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for kind in KINDS:
        row = []
        for r in results:
            recs = [x for x in r["records"] if x["kind"] == kind]
            row.append(CELLS.get(kind, cell)(recs, args.cap))
        lines.append(f"| {LABELS[kind]} | " + " | ".join(row) + " |")
    lines.append("| **availability of /health over the run** | " + " | ".join(
        f"**{r['availability']:.1f}%** ({r['polls']} polls)" for r in results) + " |")
    lines.append("| /health not answering 200, in all | " + " | ".join(
        f"{r['down']:.0f} s" for r in results) + " |")
    lines.append("| logins with a revoked token, per revocation (median) | " + " | ".join(
        logins_cell(r) for r in results) + " |")
    lines.append("| status command latency median / max | " + " | ".join(
        f"{ms(statistics.median(r['status']))} / {ms(max(r['status']))}"
        + (f", {r['status_failed']} failed" if r["status_failed"] else "")
        if r["status"] else "–" for r in results) + " |")
    lines.append("| two bots at once (flock) / zombies left / supervisor died | " + " | ".join(
        f"{r['twice']} / {r['zombies']} / {'no' if r['alive'] else '**yes**'}"
        for r in results) + " |")
    lines.append("| run length; load average (1 min) at its start and end | " + " | ".join(
        f"{r['seconds']:.0f} s; {r['load0']:.1f}, {r['load1']:.1f}" for r in results) + " |")
    if sigkills:
        lines += ["", "SIGKILL of the supervisor itself (not PID 1), then started again; per "
                  "round: seconds until a new bot answers, and whether two bots ran at once:", ""]
        lines.append("| round (moment) | " + " | ".join(sigkills) + " |")
        lines.append("|---|" + "---|" * len(sigkills))
        rounds = max(len(v) for v in sigkills.values())
        for i in range(rounds):
            row = []
            for name, v in sigkills.items():
                if i >= len(v):
                    row.append("–")
                    continue
                x = v[i]
                c = secs_text(x["secs"]) if x["secs"] is not None else \
                    f"**not recovered** in {args.cap:g} s"
                if x["old_left"]:
                    c += ", old bot still running"
                if x["twice"]:
                    c += ", **two bots**"
                row.append(c)
            # The moments come from the same seeded sequence for every supervisor.
            moment = next(v[i]["moment"] for v in sigkills.values() if i < len(v))
            lines.append(f"| {i + 1} ({moment}) | " + " | ".join(row) + " |")
        lines += ["", SIGKILL_NOTE]
    lines.append("")
    return lines


def logins_cell(r):
    v = [x["logins"] for x in r["records"] if x["kind"] == "auth401" and "logins" in x]
    return f"{statistics.median(v):g} (max {max(v)})" if v else "–"


def ms(s):
    return f"{s * 1000:.0f} ms"


def git_rev():
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], text=True,
                         capture_output=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "src"],
                           text=True, capture_output=True).stdout.strip()
    return rev + (" + uncommitted src/ changes" if dirty else "")


def pkg_version(name):
    return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], text=True,
                          capture_output=True).stdout.strip() or "?"


def write_section(lines):
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    section = "\n".join(lines).rstrip() + "\n"
    start = text.find(HEADING)
    if start < 0:
        text = text.rstrip() + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(HEADING))
        text = text[:start] + section + ("\n" + text[end + 1:] if end >= 0 else "")
    RESULTS.write_text(text)


def build_helper():
    d = OUT / "helper"
    d.mkdir(parents=True, exist_ok=True)
    src, exe = d / "orphans.c", d / "orphans"
    src.write_text(tc.ORPHANS_C)
    subprocess.run(["cc", "-O2", "-o", str(exe), str(src)], check=True)
    return exe


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2, help="injections of each fault")
    ap.add_argument("--cap", type=float, default=20.0,
                    help="seconds before the operator steps in (undetected faults)")
    ap.add_argument("--gap", type=float, default=6.0,
                    help="mean seconds of calm after each fault (+-20%%); more than the "
                         "bot's 5 s start period, so no fault lands inside it")
    ap.add_argument("--rounds", type=int, default=6,
                    help="SIGKILL-of-the-supervisor rounds (moments steady, stopped, restarting "
                         "in turn, shuffled)")
    ap.add_argument("--only", default=",".join(NAMES))
    ap.add_argument("--kinds", default=",".join(KINDS), help="faults to inject (a subset: "
                    "for a quick look; the section is only comparable with all of them)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/chaos.py: run as root (namespaces, mounts, prlimit, cgroups)")
    for f in (NINES, NINESCTL):
        if not f.exists():
            sys.exit(f"bench/chaos.py: {f} missing: run make first")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    started = datetime.datetime.now(datetime.timezone.utc)
    helper = build_helper()
    plan = make_plan(random.Random(seed), args.repeat, (args.gap * 0.8, args.gap * 1.2),
                     args.kinds.split(","))
    log(f"chaos bench: seed {seed}, plan {', '.join(k for k, _ in plan)}")
    results, sigkills = [], {}
    for name in args.only.split(","):
        log(f"{name}: as PID 1")
        results.append(chaos_pid1(name, seed, plan, args.cap, helper))
        r = results[-1]
        log(f"{name}: availability {r['availability']:.1f}% of {r['polls']} polls; while each "
            "fault was on: " + ", ".join(f"{k} {v:.0f}%" for k, v in r["per_kind"].items()))
        log(f"{name}: SIGKILL of the supervisor")
        sigkills[name] = chaos_sigkill(name, seed, args.rounds, args.cap, helper)
    lines = report(results, sigkills, seed, args, started)
    print("\n".join(lines))
    if not args.no_write:
        write_section(lines)
        log(f"wrote the section to {RESULTS}")


if __name__ == "__main__":
    main()
