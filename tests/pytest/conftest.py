"""Shared fixtures and helpers for the black-box tests of nines.

The binary under test is $NINES_BUILD/nines (NINES_BUILD defaults to /work/main/build), so the
same suite runs against the normal build and the ASan+UBSan build (build-san).

Every process a test starts inherits NINES_TEST_TAG=<unique id> in its environment (the tag is
put into os.environ for the duration of the test). After the test every live process carrying the
tag is SIGKILLed, so a failing test never leaves a tree behind for the next one. Processes inside
PID namespaces are visible (and killable) from here, since we run in the parent namespace.

Synchronisation is always a bounded poll (wait_for) on an observable condition: a file written by
the child, a process state in /proc, an exit. Never a bare sleep.
"""

import concurrent.futures
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

# nines hands its services the signal dispositions it was started with (as tini does), and a
# shell cannot trap a signal that was ignored when it started (POSIX, "trap"). Under nohup (or a
# CI runner that ignores SIGHUP) every service would then ignore HUP: start from the default.
if signal.getsignal(signal.SIGHUP) == signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

PYTHON = sys.executable or "/usr/bin/python3"
TAG_VAR = "NINES_TEST_TAG"
NS_PREFIX = ["unshare", "--pid", "--fork", "--mount-proc"]
# Sanitizer reports in a captured stderr make the test fail even if the behaviour was right.
SANITIZER_RE = re.compile(r"(ERROR: \w+Sanitizer|runtime error:|LeakSanitizer)")


# --------------------------------------------------------------------------- polling

def wait_for(predicate, timeout, interval=0.005):
    """Poll predicate() until it returns a truthy value or timeout (s) passes.

    Returns the last value predicate() returned (truthy on success, falsy on timeout), so it can
    be used both as `assert wait_for(...)` and as a bounded check that something does NOT happen
    (`assert not wait_for(..., 0.5)`).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------------------- /proc inspection

def _read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def proc_stat(pid):
    """Parsed /proc/PID/stat: dict(state, ppid, pgrp, session, tpgid) or None if gone."""
    raw = _read(f"/proc/{pid}/stat")
    if raw is None:
        return None
    rest = raw.rsplit(")", 1)[1].split()
    return {"state": rest[0], "ppid": int(rest[1]), "pgrp": int(rest[2]),
            "session": int(rest[3]), "tpgid": int(rest[5])}


def proc_state(pid):
    """One-letter state (R, S, T, Z...) or None when the pid no longer exists."""
    st = proc_stat(pid)
    return st["state"] if st else None


def alive(pid):
    """True while pid exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def status_field(pid, name):
    raw = _read(f"/proc/{pid}/status")
    if raw is None:
        return None
    for line in raw.splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    return None


def cmdline(pid):
    raw = _read(f"/proc/{pid}/cmdline", "rb")
    if not raw:
        return []
    return [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]


def children(pid):
    """Direct children of pid (all threads), via /proc/PID/task/*/children."""
    out = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return out
    for tid in tids:
        raw = _read(f"/proc/{pid}/task/{tid}/children")
        if raw:
            out.extend(int(x) for x in raw.split())
    return out


def descendants(pid):
    out, todo = [], [pid]
    while todo:
        for c in children(todo.pop()):
            out.append(c)
            todo.append(c)
    return out


def fd_targets(pid):
    """{fd: readlink target} of an existing process, {} when gone."""
    out = {}
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except (FileNotFoundError, ProcessLookupError):
        return out
    for fd in fds:
        try:
            out[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return out


def tagged_pids(tag):
    """Pids whose initial environment carries NINES_TEST_TAG=tag (zombies have none)."""
    needle = f"{TAG_VAR}={tag}".encode()
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        env = _read(f"/proc/{name}/environ", "rb")
        if env and needle in env.split(b"\0"):
            out.append(int(name))
    return out


def find_procs(tag, argv):
    """Live tagged processes whose cmdline equals argv (a list)."""
    return [p for p in tagged_pids(tag) if cmdline(p) == list(argv) and alive(p)]


def live_tagged(tag):
    """Tagged processes that are alive (not zombies)."""
    return [p for p in tagged_pids(tag) if alive(p)]


def tree_text(pid, depth=0):
    """Human-readable process tree below pid for assertion messages."""
    st = proc_stat(pid)
    if st is None:
        return ""
    line = f"{'  ' * depth}{pid} [{st['state']} pgrp={st['pgrp']}] {' '.join(cmdline(pid))}\n"
    return line + "".join(tree_text(c, depth + 1) for c in children(pid))


# --------------------------------------------------------------------------- running things

def ns(*argv):
    """argv prefixed so that argv[0] becomes PID 1 of a fresh PID namespace (needs root)."""
    return NS_PREFIX + [str(a) for a in argv]


def run_many(argvs, workers=4, timeout=20.0, input=None, env=None):
    """Run every argv (list of lists) through a small thread pool.

    Returns a list of (argv, returncode, stdout, stderr); returncode is None for a run that did
    not finish within timeout (it is killed; its leftovers are killed at teardown).
    """
    def one(argv):
        try:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                               stdin=None if input is not None else subprocess.DEVNULL, env=env)
            return argv, p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            return argv, None, e.stdout or b"", e.stderr or b""
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, argvs))


class Harness:
    """Per-test helper: starts processes (tagged, stderr logged), waits with deadlines."""

    def __init__(self, nines, tmp_path, tag):
        self.nines = nines
        self.tmp = tmp_path
        self.tag = tag
        self.popens = []
        self.logs = []

    def spawn(self, argv, stdin=subprocess.DEVNULL, stdout=None, stderr=None, **kw):
        """Popen argv. stdout and stderr go to files by default (never a pipe whose EOF a
        leftover process could hold back); stderr is checked for sanitizer reports at teardown.
        The paths are p.out_path and p.err_path."""
        n = len(self.popens)
        out_path = err_path = None
        if stdout is None:
            out_path = self.tmp / f"stdout-{n}.log"
            stdout = open(out_path, "wb")
        if stderr is None:
            err_path = self.tmp / f"stderr-{n}.log"
            self.logs.append(err_path)
            stderr = open(err_path, "wb")
        try:
            p = subprocess.Popen([str(a) for a in argv], stdin=stdin, stdout=stdout,
                                 stderr=stderr, **kw)
        finally:
            for path, f in ((out_path, stdout), (err_path, stderr)):
                if path is not None:
                    f.close()
        p.out_path, p.err_path = out_path, err_path
        p.t_start = time.monotonic()
        self.popens.append(p)
        return p

    @staticmethod
    def out(p):
        """What p wrote to its default stdout file so far (str)."""
        return p.out_path.read_text(errors="replace") if p.out_path else ""

    @staticmethod
    def err(p):
        """What p wrote to its default stderr file so far (str)."""
        return p.err_path.read_text(errors="replace") if p.err_path else ""

    def wait_exit(self, p, timeout, what="process"):
        """Wait for p to exit; fail with the process tree when it does not within timeout."""
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            tree = tree_text(p.pid)
            pytest.fail(f"{what} (pid {p.pid}) did not exit within {timeout}s; tree:\n{tree}")
        p.t_end = time.monotonic()
        return rc

    def run(self, argv, timeout=20.0, input=None, **kw):
        """Run to completion; returns (rc, stdout str, stderr str, elapsed s). Fails on timeout.
        Only the exit of argv[0] is waited for, not EOF on its output."""
        t0 = time.monotonic()
        p = self.spawn(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                       **kw)
        if input is not None:
            try:
                p.stdin.write(input)
                p.stdin.close()
            except BrokenPipeError:
                pass
        rc = self.wait_exit(p, timeout, what=repr(argv))
        return rc, self.out(p), self.err(p), time.monotonic() - t0

    def init_pid(self, unshare_popen, timeout=10.0):
        """Host pid of PID 1 of the namespace created by an `unshare --fork` Popen."""
        def first_child():
            if unshare_popen.poll() is not None:
                return -1  # gone: stop polling, report below
            return (children(unshare_popen.pid) or [None])[0]
        pid = wait_for(first_child, timeout)
        if pid == -1:
            pytest.fail(f"PID 1 of the namespace exited before the test could look at it: "
                        f"unshare rc={unshare_popen.returncode}, stderr "
                        f"{self.err(unshare_popen)!r}, stdout {self.out(unshare_popen)!r}")
        assert pid, "unshare did not fork PID 1 of the namespace"
        return pid

    def child_running(self, parent, argv0, timeout=10.0):
        """Wait until parent has a child that exec'd argv0 (basename match); return its pid."""
        def find():
            for c in children(parent):
                cl = cmdline(c)
                if cl and os.path.basename(cl[0]) == argv0:
                    return c
            return None
        pid = wait_for(find, timeout)
        assert pid, f"no child {argv0!r} of {parent}; tree:\n{tree_text(parent)}"
        return pid

    def cleanup(self):
        """SIGKILL every live tagged process, reap our own children; return what was left."""
        strays = []
        for _ in range(20):
            pids = [p for p in tagged_pids(self.tag) if alive(p)]
            if not pids:
                break
            for pid in pids:
                if pid not in strays:
                    strays.append(pid)
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            wait_for(lambda: not any(alive(p) for p in pids), 2.0)
        for p in self.popens:
            if p.poll() is None:
                try:
                    p.kill()
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
            for stream in (p.stdout, p.stdin):
                if stream:
                    stream.close()
        return strays

    def sanitizer_reports(self):
        out = []
        for path in self.logs:
            text = path.read_text(errors="replace") if path.exists() else ""
            if SANITIZER_RE.search(text):
                out.append(f"{path.name}:\n{text}")
        return out


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def nines_path():
    """Absolute path of the binary under test ($NINES_BUILD/nines)."""
    build = os.environ.get("NINES_BUILD", "/work/main/build")
    path = os.path.abspath(os.path.join(build, "nines"))
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"nines binary not found or not executable: {path} (set NINES_BUILD)")
    return path


@pytest.fixture(scope="session")
def require_root():
    if os.geteuid() != 0:
        pytest.skip("PID-namespace tests need root (CI runs as root)")


@pytest.fixture
def tag(monkeypatch):
    """Unique tag put into the environment every spawned process inherits."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(TAG_VAR, value)
    return value


def compile_c(src, exe):
    """Builds the C program src into exe with the system compiler; exe, or None without one."""
    for cc in ("cc", "gcc"):
        try:
            if subprocess.run([cc, "-O2", "-o", str(exe), str(src)], capture_output=True,
                              timeout=120).returncode == 0:
                return exe
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def lowest_free_fd(pid):
    """The lowest fd number pid does not use: as RLIMIT_NOFILE, no new fd at all."""
    used = {int(x) for x in os.listdir(f"/proc/{pid}/fd")}
    n = 0
    while n in used:
        n += 1
    return n


def nofile_limits(pid):
    """(soft, hard) RLIMIT_NOFILE of pid as prlimit spells them ("unlimited" or a number)."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return tuple(line.split()[3:5])
    raise AssertionError("no 'Max open files' in /proc/PID/limits")


@pytest.fixture(scope="session")
def deny_syscalls(tmp_path_factory):
    """tests/pytest/deny_syscalls.c built with the system C compiler (skips without one): a
    launcher that makes some system calls fail as on an older kernel, for nines' fallbacks."""
    exe = compile_c(Path(__file__).resolve().parent / "deny_syscalls.c",
                    tmp_path_factory.mktemp("deny") / "deny_syscalls")
    if exe is None:
        pytest.skip("no C compiler for tests/pytest/deny_syscalls.c")
    return exe


@pytest.fixture
def h(nines_path, tmp_path, tag):
    """Harness for one test; kills stray tagged processes and checks sanitizer logs after it."""
    harness = Harness(nines_path, tmp_path, tag)
    yield harness
    harness.cleanup()
    reports = harness.sanitizer_reports()
    if reports:
        pytest.fail("sanitizer report(s) in nines' stderr:\n" + "\n".join(reports))
