"""Black-box tests of nines' single-child (tini-style) mode: /work/shared/cases/pid1.md.

One test (or one parametrised test) per case id: B1-B7 basics, S1-S4 signals, T1-T9 process
trees. Run with:  NINES_BUILD=/work/main/build /usr/bin/python3 -m pytest -q tests/pytest/test_pid1.py

Time bounds are generous; speed is measured in bench/. Every wait is a bounded poll.
"""

import os
import pty
import re
import select
import signal
import time

import pytest

from conftest import (PYTHON, SANITIZER_RE, alive, cmdline, fd_targets, find_procs,
                      live_tagged, ns, proc_stat, proc_state, run_many, tree_text, wait_for)

# The cases' counts run on the normal build. Under ASan+UBSan every start costs ~40 ms more
# (the sanitizer runtime), so the sanitizer pass runs a tenth: it is there for memory errors,
# which the first runs already exercise; the race the counts hunt is timing, seen on the
# normal build.
SANITIZED = os.path.basename(os.path.normpath(os.environ.get("NINES_BUILD", ""))).endswith("-san")
RUNS_B3 = 500 if SANITIZED else 5000
RUNS_B5 = 100 if SANITIZED else 500

pytestmark = pytest.mark.usefixtures("require_root")

SIG = signal.Signals

# --------------------------------------------------------------------------- helper programs
# Small Python programs the tests run as children. Files they create appear atomically
# (write to .tmp, then rename) so a poll never sees half a file.

# A process that needs time to finish after TERM: counts TERM and CONT, writes READY once its
# handlers are installed, and after the first TERM sleeps DELAY seconds (further signals do not
# shorten it) and writes MARKER. With --daemon it double-forks into a new session first and
# detaches from the caller's stdio, like a classic daemon.
GRACEFUL = r'''
import os, signal, sys, time
args = sys.argv[1:]
if args[0] == "--daemon":
    args = args[1:]
    if os.fork():
        os._exit(0)
    os.setsid()
    if os.fork():
        os._exit(0)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
ready, marker, delay = args[0], args[1], float(args[2])
got = {signal.SIGTERM: 0, signal.SIGCONT: 0}
def handler(signum, frame):
    got[signum] += 1
signal.signal(signal.SIGTERM, handler)
signal.signal(signal.SIGCONT, handler)
def publish(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)
publish(ready, str(os.getpid()))
while not got[signal.SIGTERM]:
    time.sleep(0.02)
time.sleep(delay)
publish(marker, "TERM=%d CONT=%d\n" % (got[signal.SIGTERM], got[signal.SIGCONT]))
'''

# Installs a handler for each signal in argv[2] (comma-separated numbers) that prints
# "got N" and exits 100+N; touches READY when the handlers are in place.
CATCHER = r'''
import os, signal, sys
def handler(signum, frame):
    os.write(1, b"got %d\n" % signum)
    os._exit(100 + signum)
for s in sys.argv[2].split(","):
    signal.signal(int(s), handler)
open(sys.argv[1] + ".tmp", "w").close()
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    signal.pause()
'''

# Forks once; main process and its child (same process group) each touch DIR/<role>.got on
# USR1 and DIR/<role>.ready when ready. TERM keeps its default action (dies).
GROUP = r'''
import os, signal, sys, time
d = sys.argv[1]
role = "main" if os.fork() else "sub"
def touch(name):
    open(os.path.join(d, name + ".tmp"), "w").close()
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
signal.signal(signal.SIGUSR1, lambda s, f: touch(role + ".got"))
touch(role + ".ready")
while True:
    time.sleep(1)
'''

# Launcher with an exact signal state: blocks the signals in argv[1], ignores those in
# argv[2] (comma-separated numbers), resets every other disposition to SIG_DFL (Python itself
# ignores PIPE and XFSZ), then execs argv[3:]. Python handlers never survive exec anyway.
LAUNCH = r'''
import os, signal, sys
block = {int(x) for x in sys.argv[1].split(",") if x}
ignore = {int(x) for x in sys.argv[2].split(",") if x}
for s in range(1, signal.NSIG):
    if s in (signal.SIGKILL, signal.SIGSTOP):
        continue
    try:
        signal.signal(s, signal.SIG_IGN if s in ignore else signal.SIG_DFL)
    except (OSError, ValueError):
        pass  # 32 and 33 belong to glibc
signal.pthread_sigmask(signal.SIG_SETMASK, block)
os.execv(sys.argv[3], sys.argv[3:])
'''

# Makes a child that exits 9 at once, waits until it is a zombie, publishes
# "ZOMBIE_PID MONOTONIC_TIME" in argv[1] and execs argv[2:] (the zombie is then inherited).
ZOMBIE = r'''
import os, sys, time
pid = os.fork()
if pid == 0:
    os._exit(9)
while True:
    with open("/proc/%d/stat" % pid) as f:
        if f.read().rsplit(")", 1)[1].split()[0] == "Z":
            break
    time.sleep(0.001)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d %f" % (pid, time.monotonic()))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
os.execv(sys.argv[2], sys.argv[2:])
'''

# Sets LISTEN_PID (argv[1], or "self" for our own pid, which the exec'd nines keeps) and
# LISTEN_FDS=1, then execs argv[2:].
LISTEN = r'''
import os, sys
env = dict(os.environ)
env["LISTEN_PID"] = str(os.getpid()) if sys.argv[1] == "self" else sys.argv[1]
env["LISTEN_FDS"] = "1"
os.execve(sys.argv[2], sys.argv[2:], env)
'''


def script(h, name, text):
    path = h.tmp / name
    path.write_text(text)
    return str(path)


def mask(sigs):
    """Bit mask as printed in /proc/PID/status (SigBlk, SigIgn): bit N-1 for signal N."""
    return sum(1 << (int(s) - 1) for s in sigs)


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return None


def file_appears(path, timeout):
    return wait_for(lambda: os.path.exists(path), timeout)


# =========================================================================== B: basics

def test_pid1_b1_exit_codes(h):
    """B1: `nines -- sh -c "exit N"` exits N for every N in 0..255."""
    argvs = [[h.nines, "--", "sh", "-c", f"exit {n}"] for n in range(256)]
    results = run_many(argvs, workers=4, timeout=20)
    bad = [(argv[-1], rc, err[-300:]) for argv, rc, out, err in results
           if rc != int(argv[-1].split()[1])
           or SANITIZER_RE.search(err.decode(errors="replace"))]
    assert not bad, (f"wrong exit status or sanitizer report (command, got rc, stderr); "
                     f"None = hung: {bad[:10]}")


@pytest.mark.parametrize("sig", [SIG.SIGHUP, SIG.SIGQUIT, SIG.SIGKILL, SIG.SIGSEGV,
                                 SIG.SIGTERM], ids=lambda s: s.name)
def test_pid1_b2_killed_child(h, sig):
    """B2: a child killed by signal N (killed by itself, not via a shell) makes nines exit
    128+N, as an exit code (nines itself must not die of the signal)."""
    code = ("import os, resource, signal\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
            f"if {int(sig)} != signal.SIGKILL: signal.signal({int(sig)}, signal.SIG_DFL)\n"
            f"os.kill(os.getpid(), {int(sig)})\n"
            "os._exit(99)\n")
    rc, out, err, _ = h.run([h.nines, "--", PYTHON, "-c", code], timeout=20)
    assert rc == 128 + sig, (f"child killed by {sig.name}: expected exit {128 + sig}, got {rc}"
                             f" (negative = nines died of that signal); stderr: {err!r}")


def _check_exec_message(err, prog, reasons):
    lines = [ln for ln in err.decode(errors="replace").splitlines() if ln.strip()]
    if len(lines) != 1:
        return f"expected one line on stderr, got {lines!r}"
    line = lines[0]
    if not line.startswith("nines"):
        return f"message does not name nines: {line!r}"
    if prog not in line:
        return f"message does not name {prog!r}: {line!r}"
    if not any(r.lower() in line.lower() for r in reasons):
        return f"message gives no reason among {reasons!r}: {line!r}"
    return None


def test_pid1_b3_exec_failure(h):
    """B3: not found -> 127, not executable -> 126, each with one line naming nines, the
    program and the reason; 5000 runs in a row never hang (signals blocked before fork)."""
    noexec = h.tmp / "not-executable"
    noexec.write_text("#!/bin/sh\nexit 0\n")
    noexec.chmod(0o644)
    notfound = ["No such file or directory", "not found"]
    denied = ["Permission denied"]
    kinds = [
        ("/nonexistent", 127, notfound),
        ("nines-test-no-such-command", 127, notfound),  # through the PATH search
        ("/etc", 126, denied),
        (str(noexec), 126, denied),
    ]
    # Each kind once on its own first, for a clear message.
    for prog, want, reasons in kinds:
        rc, out, err, _ = h.run([h.nines, "--", prog], timeout=20)
        assert rc == want, f"nines -- {prog}: expected exit {want}, got {rc}; stderr {err!r}"
        problem = _check_exec_message(err.encode(), prog, reasons)
        assert problem is None, f"nines -- {prog}: {problem}"
    # Then 5000 runs (alternating /nonexistent and /etc) through a small pool. The runs above
    # checked this path for leaks; here LeakSanitizer's exit scan (a quarter of an ASan run's
    # cost) is skipped. ASAN_OPTIONS means nothing to the normal build.
    runs = [kinds[0] if i % 2 == 0 else kinds[2] for i in range(RUNS_B3)]
    asan = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    results = run_many([[h.nines, "--", prog] for prog, _, _ in runs], workers=4, timeout=10,
                       env=dict(os.environ, ASAN_OPTIONS=asan))
    hung, wrong = 0, []
    for (prog, want, reasons), (_, rc, out, err) in zip(runs, results):
        if rc is None:
            hung += 1
        elif rc != want:
            wrong.append((prog, rc, err[-200:]))
        else:
            problem = _check_exec_message(err, prog, reasons)
            if problem:
                wrong.append((prog, rc, problem))
    assert hung == 0, f"{hung} of {RUNS_B3} exec-failure runs hung (> 10 s)"
    assert not wrong, f"{len(wrong)} of {RUNS_B3} runs wrong, first: {wrong[:5]}"


def test_pid1_b4_stdin_reaches_child(h):
    """B4: `echo 'echo ok' | nines -- sh` prints ok."""
    rc, out, err, _ = h.run([h.nines, "--", "sh"], input=b"echo ok\n", timeout=20)
    assert (rc, out) == (0, "ok\n"), f"rc={rc} stdout={out!r} stderr={err!r}"


def test_pid1_b5_coalesced_sigchld(h):
    """B5 (catatonit#4): 500 runs where an orphan dies by KILL just before the main child
    exits; all exit 0 and none hangs."""
    cmd = "sh -c 'sleep 0.01 & kill -9 $$'; sleep 0.0087"
    results = run_many([[h.nines, "--", "sh", "-c", cmd]] * RUNS_B5, workers=4, timeout=10)
    hung = sum(1 for _, rc, _, _ in results if rc is None)
    wrong = [(rc, err[-300:]) for _, rc, _, err in results
             if rc not in (0, None) or SANITIZER_RE.search(err.decode(errors="replace"))]
    assert hung == 0, f"{hung} of {RUNS_B5} runs hung (> 10 s)"
    assert not wrong, f"{len(wrong)} of {RUNS_B5} runs did not exit 0: {wrong[:5]}"


def test_pid1_b6_many_zombies(h):
    """B6 (dumb-init#44): as PID 1, 300 orphans exiting together leave no zombie."""
    cmd = ('for i in $(seq 300); do sh -c "sleep 0.3 &"; done; sleep 1.5; '
           'ps -eo stat= | grep -c ^Z')
    rc, out, err, _ = h.run(ns(h.nines, "--", "sh", "-c", cmd), timeout=60)
    assert out.strip() == "0", f"zombies left as PID 1: {out!r} (rc={rc}, stderr={err!r})"


def test_pid1_b7_leftovers_do_not_keep_init(h):
    """B7 (moby#27514): `nines -- sh -c 'sleep 30 & exit 3'` exits 3 within a second."""
    rc, out, err, elapsed = h.run([h.nines, "--", "sh", "-c", "sleep 30 & exit 3"], timeout=40)
    assert rc == 3, f"expected exit 3, got {rc}; stderr {err!r}"
    assert elapsed < 1.0, f"took {elapsed:.2f}s: the leftover sleep kept nines alive"


# =========================================================================== S: signals

FORWARDED = [SIG.SIGTERM, SIG.SIGINT, SIG.SIGHUP, SIG.SIGQUIT, SIG.SIGUSR1, SIG.SIGUSR2,
             SIG.SIGWINCH]


@pytest.mark.parametrize("sig", FORWARDED, ids=lambda s: s.name)
def test_pid1_s1_forwarding(h, sig):
    """S1: a signal sent to nines reaches the child; nines then exits with the child's status.
    nines is started from a launcher that reset every disposition (INT included) to default."""
    launch = script(h, "launch.py", LAUNCH)
    catcher = script(h, "catcher.py", CATCHER)
    ready = str(h.tmp / "ready")
    p = h.spawn([PYTHON, launch, "", "", h.nines, "--", PYTHON, catcher, ready, int(sig)])
    assert file_appears(ready, 20), f"child never got ready; stderr {h.err(p)!r}"
    os.kill(p.pid, sig)
    rc = h.wait_exit(p, 20, what=f"nines after {sig.name}")
    assert rc == 100 + sig, (f"{sig.name} to nines: expected the child's status {100 + sig}, "
                             f"got {rc}; stdout {h.out(p)!r} stderr {h.err(p)!r}")
    assert f"got {int(sig)}" in h.out(p)


@pytest.mark.parametrize("flag", [None, "-g", "-p"])
def test_pid1_s1_forward_target(h, flag):
    """S1 (targets): by default and with -g a forwarded signal reaches the child's whole
    process group; with -p only the child itself."""
    group = script(h, "group.py", GROUP)
    d = h.tmp
    argv = [h.nines] + ([flag] if flag else []) + ["--", PYTHON, group, d]
    p = h.spawn(argv)
    for role in ("main", "sub"):
        assert file_appears(d / f"{role}.ready", 20), f"{role} not ready; {h.err(p)!r}"
    os.kill(p.pid, signal.SIGUSR1)
    assert file_appears(d / "main.got", 10), "USR1 to nines did not reach the main child"
    if flag == "-p":
        assert not file_appears(d / "sub.got", 0.5), "-p: USR1 reached the child's group"
    else:
        assert file_appears(d / "sub.got", 10), "USR1 to nines did not reach the child's group"
    os.kill(p.pid, signal.SIGTERM)
    rc = h.wait_exit(p, 20, what="nines after TERM")
    assert rc == 128 + signal.SIGTERM, f"expected 143 (main child killed by TERM), got {rc}"


S2_CASES = {
    # name: (blocked, ignored)
    "clean": ((), ()),
    "mixed": ((SIG.SIGHUP, SIG.SIGUSR2, SIG.SIGWINCH, SIG.SIGTSTP, SIG.SIGTTIN, 36),
              (SIG.SIGINT, SIG.SIGQUIT, SIG.SIGUSR1, SIG.SIGPIPE, SIG.SIGTTOU, SIG.SIGALRM)),
    "terminate": ((SIG.SIGTERM, SIG.SIGINT), (SIG.SIGHUP,)),
    "chld_ignored": ((), (SIG.SIGCHLD,)),
}


def _sig_fields(text):
    fields = dict(re.findall(r"^(SigBlk|SigIgn):\s*([0-9a-f]+)$", text, re.M))
    return {k: int(v, 16) for k, v in fields.items()}


@pytest.mark.parametrize("case", list(S2_CASES))
def test_pid1_s2_child_signal_state(h, case):
    """S2: the child's blocked mask and SIG_IGN set are exactly nines' own at start: inherited
    ignores survive, nothing nines blocks for itself (TSTP/TTIN/TTOU, CHLD...) leaks."""
    blocked, ignored = S2_CASES[case]
    launch = script(h, "launch.py", LAUNCH)
    b = ",".join(str(int(s)) for s in blocked)
    i = ",".join(str(int(s)) for s in ignored)
    want = {"SigBlk": mask(blocked), "SigIgn": mask(ignored)}
    # Control run without nines: proves the launcher sets exactly that state.
    rc, out, err, _ = h.run([PYTHON, launch, b, i, "/bin/cat", "/proc/self/status"])
    assert rc == 0 and _sig_fields(out) == want, f"launcher broken: {out!r} {err!r}"
    rc, out, err, _ = h.run([PYTHON, launch, b, i, h.nines, "--", "/bin/cat",
                             "/proc/self/status"], timeout=20)
    assert rc == 0, f"nines -- cat exited {rc}; stderr {err!r}"
    got = _sig_fields(out)
    assert got == want, (f"child signal state differs: got "
                         f"{ {k: hex(v) for k, v in got.items()} }, want "
                         f"{ {k: hex(v) for k, v in want.items()} } (blocked {blocked}, "
                         f"ignored {ignored})")


@pytest.mark.parametrize("sig", [SIG.SIGTSTP, SIG.SIGTTIN, SIG.SIGTTOU], ids=lambda s: s.name)
def test_pid1_s3_job_control_signals(h, sig):
    """S3 (dumb-init#184): TSTP/TTIN/TTOU to nines are forwarded (the child stops) but never stop
    nines; a TERM afterwards still ends the stopped child well within the stop timeout (CONT is
    sent with TERM), so the status is 143, not a KILL at the timeout."""
    p = h.spawn([h.nines, "--", "sleep", "30"])
    child = h.child_running(p.pid, "sleep")
    os.kill(p.pid, sig)
    assert wait_for(lambda: proc_state(child) == "T", 10), \
        f"{sig.name} to nines was not forwarded: child state {proc_state(child)}"
    assert not wait_for(lambda: proc_state(p.pid) == "T", 0.5), \
        f"{sig.name} stopped nines itself"
    t0 = time.monotonic()
    os.kill(p.pid, signal.SIGTERM)
    rc = h.wait_exit(p, 10, what="nines after TERM")
    elapsed = time.monotonic() - t0
    assert rc == 128 + signal.SIGTERM, f"expected 143 after TERM, got {rc} ({elapsed:.2f}s)"
    assert elapsed < 4.0, f"TERM took {elapsed:.2f}s to end a stopped child (no CONT?)"


class PtySession:
    """A program on a new pseudo-terminal (python pty module) with expect-style reading."""

    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvpe(argv[0], argv, env)
            finally:
                os._exit(127)
        self.buf = b""
        self.pos = 0
        self.eof = False
        self.status = None

    def _read(self, timeout):
        if self.eof:
            return
        r, _, _ = select.select([self.fd], [], [], timeout)
        if r:
            try:
                data = os.read(self.fd, 65536)
            except OSError:  # EIO once the slave side is closed
                data = b""
            if data:
                self.buf += data
            else:
                self.eof = True

    def expect(self, regex, timeout):
        deadline = time.monotonic() + timeout
        while True:
            m = re.compile(regex).search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                pytest.fail(f"pty: {regex!r} not seen within {timeout}s; transcript:\n"
                            f"{self.buf.decode(errors='replace')}")
            self._read(min(left, 0.1))

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout):
        def done():
            self._read(0.05)
            if self.status is None:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    self.status = status
            return self.status is not None
        return wait_for(done, timeout, interval=0)

    def close(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        os.close(self.fd)


def test_pid1_s4_terminal(h):
    """S4 (dumb-init#51): under a pty, `script -qec "nines -- bash --norc -i" /dev/null` gives
    bash job control ($- has m, no "cannot set terminal process group"), Ctrl-C ends a
    foreground loop with 130, and the exit status comes back through nines."""
    prompt = rb"NINESPROMPT> "
    env = dict(os.environ, TERM="dumb", PS1="NINESPROMPT> ", SHELL="/bin/sh",
               HISTFILE="/dev/null")
    s = PtySession(["script", "-qec", f"{h.nines} -- bash --norc -i", "/dev/null"], env)
    try:
        s.expect(prompt, 30)
        s.send(b'echo "flags=$-"\n')
        flags = s.expect(rb"flags=([A-Za-z]+)", 30).group(1)
        assert b"m" in flags, f"no job control in bash under nines: $-={flags!r}"
        s.expect(prompt, 30)
        s.send(b"while :; do sleep 7.25; done\n")
        sleeps = wait_for(lambda: find_procs(h.tag, ["sleep", "7.25"]), 30)
        assert sleeps, f"the loop did not start; transcript:\n{s.buf.decode(errors='replace')}"
        st = proc_stat(sleeps[0])
        assert st and st["tpgid"] == st["pgrp"], f"loop job is not the foreground group: {st}"
        s.send(b"\x03")
        s.expect(prompt, 30)
        s.send(b'echo "rc=$?"\n')
        rc = int(s.expect(rb"rc=(\d+)", 30).group(1))
        assert rc == 130, f"Ctrl-C ended the foreground loop with {rc}, expected 130"
        assert wait_for(lambda: not find_procs(h.tag, ["sleep", "7.25"]), 10), \
            "the loop's sleep survived Ctrl-C"
        s.send(b"exit 7\n")
        assert s.wait(30), f"script did not exit; transcript:\n{s.buf.decode(errors='replace')}"
        assert os.WIFEXITED(s.status) and os.WEXITSTATUS(s.status) == 7, \
            f"exit 7 in bash gave wait status {s.status:#x} from script"
        transcript = s.buf.decode(errors="replace")
        for bad in ("cannot set terminal process group", "no job control"):
            assert bad not in transcript, f"bash said {bad!r}:\n{transcript}"
    finally:
        s.close()


# =========================================================================== T: process trees

def test_pid1_t1_graceful_grandchild(h):
    """T1 (tini#180): as PID 1, the main child dies at once on TERM while a grandchild traps
    TERM, needs 1 s and writes a marker; nines must wait for it before exiting (exiting PID 1
    would SIGKILL it). Status is the main child's (143)."""
    graceful = script(h, "graceful.py", GRACEFUL)
    ready, marker = str(h.tmp / "ready"), str(h.tmp / "marker")
    p = h.spawn(ns(h.nines, "--", "sh", "-c", f"{PYTHON} {graceful} {ready} {marker} 1 & wait"))
    init = h.init_pid(p)
    assert file_appears(ready, 20), f"grandchild not ready; tree:\n{tree_text(p.pid)}"
    os.kill(init, signal.SIGTERM)
    rc = h.wait_exit(p, 20, what="nines (PID 1) after TERM")
    assert read_file(marker), "grandchild's TERM handler did not finish: nines exited first"
    assert rc == 128 + signal.SIGTERM, f"expected the main child's 143, got {rc}"


@pytest.mark.parametrize("pid1", [True, False], ids=["pid1", "subreaper"])
def test_pid1_t2_wrapper_script(h, pid1):
    """T2 (tini#78, dumb-init#220): the main child is a wrapper that dies at once on TERM; the
    server below it needs 2 s. nines exits with the wrapper's status, only after the server."""
    graceful = script(h, "graceful.py", GRACEFUL)
    ready, marker = str(h.tmp / "ready"), str(h.tmp / "marker")
    argv = [h.nines, "--", "sh", "-c", f"{PYTHON} {graceful} {ready} {marker} 2; exit 0"]
    p = h.spawn(ns(*argv) if pid1 else argv)
    init = h.init_pid(p) if pid1 else p.pid
    assert file_appears(ready, 20), f"server not ready; tree:\n{tree_text(p.pid)}"
    t0 = time.monotonic()
    os.kill(init, signal.SIGTERM)
    rc = h.wait_exit(p, 20, what="nines after TERM")
    elapsed = time.monotonic() - t0
    assert read_file(marker), f"nines exited after {elapsed:.2f}s, before the server finished"
    assert rc == 128 + signal.SIGTERM, f"expected the wrapper's status 143, got {rc}"


def test_pid1_t3_adopted_daemon(h):
    """T3 (tini#229): as PID 1, a double-forked setsid daemon that traps TERM gets TERM and CONT
    at shutdown and can finish (1 s) before nines exits."""
    graceful = script(h, "graceful.py", GRACEFUL)
    ready, marker = str(h.tmp / "ready"), str(h.tmp / "marker")
    p = h.spawn(ns(h.nines, "--", "sh", "-c",
                   f"{PYTHON} {graceful} --daemon {ready} {marker} 1; exec sleep 300"))
    init = h.init_pid(p)
    assert file_appears(ready, 20), f"daemon not ready; tree:\n{tree_text(p.pid)}"
    # READY holds the pid inside the namespace; find the host pid by its command line.
    daemons = find_procs(h.tag, [PYTHON, graceful, "--daemon", ready, marker, "1"])
    assert len(daemons) == 1, f"daemon not found; tree:\n{tree_text(p.pid)}"
    daemon = daemons[0]
    assert wait_for(lambda: (proc_stat(daemon) or {}).get("ppid") == init, 10), \
        f"daemon was not adopted by nines; tree:\n{tree_text(p.pid)}"
    h.child_running(init, "sleep")
    os.kill(init, signal.SIGTERM)
    rc = h.wait_exit(p, 20, what="nines (PID 1) after TERM")
    got = read_file(marker)
    assert got, "adopted daemon was not allowed to finish (no TERM, or nines exited first)"
    counts = dict(kv.split("=") for kv in got.split())
    assert int(counts["TERM"]) >= 1 and int(counts["CONT"]) >= 1, \
        f"daemon should get TERM and CONT, got {got!r}"
    assert rc == 128 + signal.SIGTERM, f"expected the main child's 143, got {rc}"


def test_pid1_t4_main_child_gone_others_running(h):
    """T4 (dumb-init#212): not PID 1, `nines -- sh -c 'sleep 30 & exit 0'` exits 0 and leaves
    nothing running."""
    rc, out, err, elapsed = h.run([h.nines, "--", "sh", "-c", "sleep 30 & exit 0"], timeout=40)
    assert rc == 0, f"expected 0, got {rc}; stderr {err!r}"
    left = live_tagged(h.tag)
    assert not left, (f"nines exited after {elapsed:.2f}s leaving "
                      f"{[cmdline(x) for x in left]} running")


def test_pid1_t4_leftover_gets_grace_period(h):
    """T4 (grace): the leftover gets TERM and a grace period: one that needs 1 s after TERM
    finishes before nines exits, and nothing is left."""
    graceful = script(h, "graceful.py", GRACEFUL)
    ready, marker = str(h.tmp / "ready"), str(h.tmp / "marker")
    cmd = (f"{PYTHON} {graceful} {ready} {marker} 1 & "
           f"while ! [ -e {ready} ]; do sleep 0.01; done; exit 0")
    rc, out, err, elapsed = h.run([h.nines, "--", "sh", "-c", cmd], timeout=40)
    assert rc == 0, f"expected 0, got {rc}; stderr {err!r}"
    assert read_file(marker), f"nines exited after {elapsed:.2f}s without waiting for the leftover"
    left = live_tagged(h.tag)
    assert not left, f"left running after nines exited: {[cmdline(x) for x in left]}"


def test_pid1_t4_leftover_ignoring_term_is_killed(h):
    """T4 (KILL): a leftover that ignores TERM is KILLed at the stop timeout (-t 1s: not at
    once, not at the 5 s default, not never); nines exits with the main child's 0."""
    cmd = "trap '' TERM; sleep 30 & exit 0"
    rc, out, err, elapsed = h.run([h.nines, "-t", "1s", "--", "sh", "-c", cmd], timeout=40)
    assert rc == 0, f"expected 0, got {rc}; stderr {err!r}"
    assert 0.8 <= elapsed < 4.5, f"expected KILL after the 1 s stop timeout, took {elapsed:.2f}s"
    left = live_tagged(h.tag)
    assert not left, f"still running after nines exited: {[cmdline(x) for x in left]}"


@pytest.mark.parametrize("flag", [None, "-g", "-p"])
def test_pid1_t5_stop_stops_tree(h, flag):
    """T5 (tini#172): TERM to `nines -- sh -c 'while :; do sleep 30; done'` leaves no sleep,
    whichever signal target is configured."""
    argv = [h.nines] + ([flag] if flag else []) + ["--", "sh", "-c", "while :; do sleep 30; done"]
    p = h.spawn(argv)
    assert wait_for(lambda: find_procs(h.tag, ["sleep", "30"]), 20), "loop did not start"
    os.kill(p.pid, signal.SIGTERM)
    rc = h.wait_exit(p, 20, what="nines after TERM")
    left = live_tagged(h.tag)
    assert not left, f"left running after nines exited: {[cmdline(x) for x in left]}"
    assert rc == 128 + signal.SIGTERM, f"expected 143 (sh killed by TERM), got {rc}"


def test_pid1_t6_subreaper(h):
    """T6 (tini#141): not PID 1 and without any flag, an orphan of the child is re-parented to
    nines and reaped when it exits."""
    p = h.spawn([h.nines, "--", "sh", "-c", "(sleep 2.5 &); exec sleep 30"])
    orphans = wait_for(lambda: find_procs(h.tag, ["sleep", "2.5"]), 20)
    assert orphans, f"orphan did not start; tree:\n{tree_text(p.pid)}"
    orphan = orphans[0]
    assert wait_for(lambda: (proc_stat(orphan) or {}).get("ppid") == p.pid, 5), \
        f"orphan's parent is {(proc_stat(orphan) or {}).get('ppid')}, not nines ({p.pid})"
    assert wait_for(lambda: proc_state(orphan) is None, 10), \
        f"orphan not reaped: state {proc_state(orphan)}, parent {proc_stat(orphan)}"
    assert alive(p.pid), "nines exited while its main child was still running"
    os.kill(p.pid, signal.SIGTERM)
    assert h.wait_exit(p, 20) == 128 + signal.SIGTERM


def test_pid1_t7_inherited_zombie(h):
    """T7 (bubblewrap#146): the process that execs nines already has a zombie child; nines reaps
    it at start (within 0.3 s) and still exits with its own child's status (5, not 9)."""
    zombie = script(h, "zombie.py", ZOMBIE)
    info = str(h.tmp / "zombie")
    p = h.spawn([PYTHON, zombie, info, h.nines, "--", "sh", "-c", "sleep 1; exit 5"])
    assert file_appears(info, 20), f"launcher failed: {h.err(p)!r}"
    zpid, t_exec = read_file(info).split()
    zpid, t_exec = int(zpid), float(t_exec)
    assert wait_for(lambda: proc_state(zpid) is None, 5), \
        f"inherited zombie {zpid} never reaped (state {proc_state(zpid)})"
    reaped_after = time.monotonic() - t_exec
    rc = h.wait_exit(p, 20)
    assert reaped_after <= 0.3, f"inherited zombie reaped only after {reaped_after:.3f}s"
    assert rc == 5, f"expected the main child's status 5, got {rc} (the zombie exited 9)"


def test_pid1_t8_inherited_fds(h):
    """T8 (catatonit#12): fds above 2 that nines inherits are closed in nines but reach the
    child, which gets no other fd of nines."""
    r, w = os.pipe()
    f = os.open(h.tmp / "inherited-file", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        p = h.spawn([h.nines, "--", "sleep", "30"], pass_fds=(w, f))
        ours = {w: os.readlink(f"/proc/self/fd/{w}"), f: os.readlink(f"/proc/self/fd/{f}")}
    finally:
        os.close(w)
        os.close(f)
    try:
        child = h.child_running(p.pid, "sleep")
        # Right after exec the dynamic loader briefly holds libc open on fd 3: wait until the
        # program's own fd table has settled (only what it inherited).
        wait_for(lambda: not any(".so" in t for t in fd_targets(child).values()), 5)
        child_fds = fd_targets(child)
        for fd, target in ours.items():
            assert child_fds.get(fd) == target, f"child lacks inherited fd {fd} ({target})"
        extra = set(child_fds) - {0, 1, 2} - set(ours)
        assert not extra, f"child got nines' own fds: { {k: child_fds[k] for k in extra} }"

        def leaked():
            return {k: v for k, v in fd_targets(p.pid).items() if v in ours.values()}
        assert wait_for(lambda: not leaked(), 5), f"nines keeps inherited fds open: {leaked()}"
    finally:
        os.close(r)
    os.kill(p.pid, signal.SIGTERM)
    assert h.wait_exit(p, 20) == 128 + signal.SIGTERM


@pytest.mark.parametrize("value", ["self", "1"])
def test_pid1_t8_listen_pid(h, value):
    """T8 (socket activation): LISTEN_PID equal to nines' pid is rewritten to the child's pid in
    the child; any other value is passed unchanged."""
    listen = script(h, "listen.py", LISTEN)
    rc, out, err, _ = h.run([PYTHON, listen, value, h.nines, "--", "sh", "-c",
                             'echo "$$ $LISTEN_PID $LISTEN_FDS"'], timeout=20)
    assert rc == 0, f"rc={rc} stderr={err!r}"
    child_pid, listen_pid, listen_fds = out.split()
    want = child_pid if value == "self" else value
    assert listen_pid == want, f"LISTEN_PID in the child is {listen_pid}, expected {want}"
    assert listen_fds == "1"


def test_pid1_t9_working_directory(h):
    """T9 (catatonit#28): nines moves itself to /, the child keeps the caller's cwd."""
    cwd = os.path.realpath(h.tmp)
    p = h.spawn([h.nines, "--", "sleep", "30"], cwd=cwd)
    child = h.child_running(p.pid, "sleep")
    assert os.readlink(f"/proc/{child}/cwd") == cwd, "child did not keep the caller's cwd"
    assert wait_for(lambda: os.readlink(f"/proc/{p.pid}/cwd") == "/", 5), \
        f"nines' cwd is {os.readlink(f'/proc/{p.pid}/cwd')!r}, expected '/'"
    os.kill(p.pid, signal.SIGTERM)
    assert h.wait_exit(p, 20) == 128 + signal.SIGTERM
