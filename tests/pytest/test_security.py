"""Security properties of nines, black-box: who may use the control socket, where the token may
appear, which fds and capabilities a child gets, and what pid reuse can (not) make nines do.

Already covered elsewhere and not repeated here: status/stop/version refused to a stranger and
the status_group/control_group split for stop/start (test_ctl.py::test_ctl_authorisation_groups),
the token in nines' log, status and argv at one moment (test_auth.py::test_discord_k7_*), fds
0-2 of a plain `user = nobody` service
(test_supervise.py::test_sup_spawn_user_env_umask_rlimit_fds).

Pid reuse, as nines actually does it:
- A service is signalled through kill(-pid) of its main process only while nines has not reaped
  it (svc->pid is cleared at the reap; src/service.c service_signal()). A pid, and the process
  group named after it, cannot be recycled while its process is alive or an unreaped zombie of
  nines, so `ninesctl signal`, `stop` and the stop timeout's KILL cannot reach a stranger; after
  the reap they answer "not running". No pidfd is needed for children; tested below by putting
  a stranger on the freed pid (ns_last_pid) first.
- Survivors of a SIGKILLed nines are found at start-up by their NINES_INSTANCE marker, their
  cgroup, and run_dir/procs records whose start time must still match: a recycled pid is not
  taken for a survivor. Tested below.
- They are not nines' children, so while the sweep waits for them (up to the longest
  stop_timeout) their pids could be recycled: the sweep holds each one by a pidfd
  (src/supervisor.c hold_survivors(), since commit 9438b52; before it, it polled /proc by pid
  and KILLed a stranger that got the pid of a survivor that had exited on TERM, which the last
  test below reproduces). What remains is the instant between the /proc scan and pidfd_open().
  Without pidfds (Linux < 5.3; a seccomp profile older than pidfd_open, as Docker < 20.10's,
  answers EPERM) a survivor is held by pid and start time, checked again before every signal;
  the same tests run with pidfd_open failing (tests/pytest/deny_syscalls.c, a seccomp filter).

Run as root (setpriv, capabilities, ns_last_pid); each test takes a few seconds.
"""

import os
import pathlib
import re
import shutil
import signal
import tempfile

import pytest

from conftest import alive, children, cmdline, fd_targets, status_field, wait_for
from supervisor_util import Sup
from tokens import fake_token

PY = "/usr/bin/python3"
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup"]
CAP_NET_BIND_SERVICE = 10


@pytest.fixture(params=["pidfd", "ENOSYS", "EPERM"])
def pidfds(request, deny_syscalls):
    """A launcher prefix for nines: pidfd_open() working, or failing as on an old kernel
    (ENOSYS) or under an old seccomp profile (EPERM)."""
    return {"pidfd": [], "ENOSYS": [str(deny_syscalls), "pidfd_open"],
            "EPERM": [str(deny_syscalls), "-e", "pidfd_open"]}[request.param]


@pytest.fixture
def pub():
    """A 0755 directory outside pytest's 0700 tmp: reachable by nobody."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="nines-sec-"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def sup_in(h, run_dir, main_extra=""):
    sup = Sup(h, main_extra=main_extra)
    text = sup.conf.read_text().replace(f"run_dir = {sup.run_dir}\n", f"run_dir = {run_dir}\n")
    sup.conf.write_text(text)
    sup.run_dir = pathlib.Path(run_dir)
    return sup


def running_pid(sup, name, timeout=10.0):
    """Pid of name once RUNNING (from the transition log line)."""
    sup.wait_state(name, "RUNNING", timeout)
    return int([t for t in sup.transitions(name) if t[2] == "RUNNING"][-1][3].split()[1])


def child_with_argv(parent, argv, timeout=10.0):
    """A child of parent whose cmdline is argv (e.g. a health check caught while it runs)."""
    pid = wait_for(lambda: next((c for c in children(parent) if cmdline(c) == argv), None),
                   timeout, interval=0.002)
    assert pid, f"no child {argv} of {parent} within {timeout}s"
    return pid


def read_bytes(path):
    try:
        return pathlib.Path(path).read_bytes()
    except OSError:
        return b""


def spawn_at_pid(h, pid, argv, tries=200):
    """Start argv (a session leader, so its group id is its pid) with exactly this pid, through
    /proc/sys/kernel/ns_last_pid (CAP_SYS_ADMIN). Returns the Popen or None when another process
    kept taking the pid."""
    for _ in range(tries):
        if os.path.exists(f"/proc/{pid}"):
            return None
        try:
            with open("/proc/sys/kernel/ns_last_pid", "w") as f:
                f.write(str(pid - 1))
        except OSError:
            return None
        p = h.spawn(argv, start_new_session=True)
        if p.pid == pid:
            return p
        p.kill()
        p.wait()
    return None


def settled_fds(pid, timeout=0.4):
    """fd_targets(pid), given a moment to become exactly 0-2: the freshly exec'd program opens
    files of its own while it starts (the dynamic loader's libraries, setlocale's locale
    directory). Those are closed again; an fd inherited from nines stays for good."""
    return wait_for(lambda: (lambda fds: fds if sorted(fds) == [0, 1, 2] else None)(
        fd_targets(pid)), timeout, interval=0.001) or fd_targets(pid)


def cap_hex(pid, field):
    return int(status_field(pid, field), 16)


# --------------------------------------------------------------------------- control socket

RAW_CLIENT = r'''
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode(errors="replace"))
'''


def test_sec_unauthorised_uids_are_refused_every_change(h, pub):
    """Strangers (nobody without groups, a uid with no passwd entry, root's real uid with
    nobody's effective uid) may do nothing at all, status_group members only read. Every
    refused request leaves nines and the service untouched."""
    sup = sup_in(h, pub / "run", "status_group = users\n")
    sup.service("a", "sleep 1000", service={"stop_timeout": "1s"})
    sup.start()
    pid = running_pid(sup, "a")
    changes = [["start", "a"], ["stop", "a"], ["restart", "a"], ["signal", "KILL", "a"],
               ["reload"], ["recover", "a"], ["recover"], ["stop", "all"], ["shutdown"]]
    reads = [["status"], ["status", "--json", "a"], ["check"], ["log", "a", "-n", "5"],
             ["version"]]
    strangers = {
        "nobody": NOBODY + ["--clear-groups"],
        "uid 4242": ["setpriv", "--reuid=4242", "--regid=4242", "--clear-groups"],
    }
    reader = NOBODY + ["--groups=users"]
    n_reload = sup.log().count("reloading the configuration")
    for who, prefix in strangers.items():
        for args in changes + reads:
            rc, out, err = sup.ctl(*args, prefix=prefix)
            # `version` prints ninesctl's own line before it asks nines; nothing from nines.
            local = "".join(l for l in out.splitlines(True) if l.startswith("ninesctl "))
            assert rc == 1 and "permission denied" in err and out == local, \
                (who, args, rc, out, err)
    # Real uid root, effective uid nobody: SO_PEERCRED reports the effective uid, so this is a
    # stranger too. A raw client: such a process is not dumpable, and the ASan build of
    # ninesctl cannot even read its own options from /proc/self then.
    for args in changes + reads:
        rc, out, err, _ = h.run(["setpriv", "--euid=65534", "--egid=65534", "--clear-groups",
                                 PY, "-c", RAW_CLIENT, sup.sock, " ".join(args)])
        assert rc == 0 and out.startswith("ERR 1 permission denied"), ("euid", args, out, err)
    for args in changes:
        rc, out, err = sup.ctl(*args, prefix=reader)
        assert rc == 1 and "permission denied" in err, ("reader", args, rc, out, err)
    for args in reads:
        rc, out, err = sup.ctl(*args, prefix=reader)
        assert rc == 0 and "permission denied" not in err, ("reader", args, rc, out, err)
    assert sup.p.poll() is None, "nines exited"
    assert alive(pid) and running_pid(sup, "a") == pid, "a refused request touched the service"
    assert [t[2] for t in sup.transitions("a")] == ["STARTING", "RUNNING"]
    assert sup.log().count("reloading the configuration") == n_reload
    assert "sent SIG" not in sup.log()
    assert re.search(r"permission denied: uid 4242 \(pid \d+\)", sup.log()), sup.log()
    rc, out, _ = sup.ctl("status", "a")  # root still may
    assert rc == 0, out
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- the token

def test_sec_token_only_in_the_bots_environment(h):
    """K7, the parts test_auth does not cover: the token is in the environment of the bot's
    process and of no other process: not another service, not a health check (of the bot or of
    another service), not the alert hook, not nines; in no argv; in no file nines writes."""
    tok, bot_id = fake_token(seed=4711)
    secret = tok.split(".", 1)[1]
    tf = h.tmp / "token"
    tf.write_text(tok + "\n")
    os.chmod(tf, 0o600)
    sup = Sup(h, main_extra="[alert]\nexec = sleep 0.7\n")
    sup.service("bot", "sleep 1000", auth={"token_file": tf},
                health={"exec": "sleep 0.6", "interval": "1s", "timeout": "3s"})
    sup.service("other", "sleep 1001", service={"env": "OTHER=1"},
                health={"exec": "sleep 0.61", "interval": "1s", "timeout": "3s"})
    sup.service("fatal", "sh -c 'sleep 0.5; exit 78'")
    sup.start()
    bot = running_pid(sup, "bot")
    other = running_pid(sup, "other")
    nines = sup.p.pid
    envs = {pid: read_bytes(f"/proc/{pid}/environ") for pid in (bot, other, nines)}
    checks = []
    for argv in (["sleep", "0.6"], ["sleep", "0.61"]):  # caught while they run
        pid = child_with_argv(nines, argv)
        envs[pid] = read_bytes(f"/proc/{pid}/environ")
        checks.append(pid)
    sup.wait_state("fatal", "FATAL")
    hook = child_with_argv(nines, ["sleep", "0.7"])
    envs[hook] = read_bytes(f"/proc/{hook}/environ")
    assert f"DISCORD_TOKEN={tok}".encode() in envs[bot].split(b"\0"), "the bot lacks its token"
    for pid in [other, nines, hook, *checks]:
        assert envs[pid], f"pid {pid} ended before its environment was read"
        assert secret.encode() not in envs[pid], f"token in the environment of pid {pid}"
    # Every process on the machine: the token only in the bot's environment, in nobody's argv.
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        pid = int(name)
        assert secret.encode() not in read_bytes(f"/proc/{pid}/cmdline"), cmdline(pid)
        if pid != bot:
            assert secret.encode() not in read_bytes(f"/proc/{pid}/environ"), \
                f"token in the environment of pid {pid} {cmdline(pid)}"
    # Nothing nines wrote to disk, nothing it says.
    for d in (sup.run_dir, sup.state_dir, sup.log_dir):
        for path in pathlib.Path(d).rglob("*"):
            if path.is_file():
                assert secret.encode() not in read_bytes(path), f"token in {path}"
    outs = [sup.log(), sup.out()] + [sup.ctl(*a)[1] for a in
                                     (["status"], ["status", "bot"], ["status", "--json"],
                                      ["log", "bot", "-n", "100"])]
    for text in outs:
        assert secret not in text
    assert f"{bot_id}:" in sup.ctl("status", "bot")[1]
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- fds

NOTIFY_THEN_SLEEP = r'''
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
s.close()
os.execv("/bin/sleep", ["sleep", sys.argv[1]])
'''


def test_sec_children_hold_only_fds_0_1_2(h):
    """Every process nines starts gets fds 0-2 and nothing else of nines (epoll, signalfd,
    timerfd, inotify, the control socket, the lock, log files, notify sockets, pipes of other
    services): a service using every feature (auth, notify + watchdog, health, pid file), a
    second service, an exec health check and the alert hook. Inspected from outside, in the
    exec'd program (a leak survives exec only without O_CLOEXEC)."""
    tf = h.tmp / "token"
    tf.write_text(fake_token(seed=99)[0])
    os.chmod(tf, 0o600)
    script = h.tmp / "notify_then_sleep.py"
    script.write_text(NOTIFY_THEN_SLEEP)
    sup = Sup(h, main_extra="[alert]\nexec = sleep 0.7\n")
    sup.service("bot", f"{PY} -S {script} 1000",
                service={"ready": "notify", "pidfile": h.tmp / "bot.pid"},
                auth={"token_file": tf}, notify={"watchdog": "60s"},
                health={"exec": "sleep 0.6", "interval": "1s", "timeout": "3s"})
    sup.service("other", "sleep 1001")
    sup.service("fatal", "sh -c 'sleep 0.5; exit 78'")
    sup.start()
    bot = running_pid(sup, "bot")
    other = running_pid(sup, "other")
    assert wait_for(lambda: cmdline(bot) == ["sleep", "1000"], 10)
    held = {"service": settled_fds(bot), "other service": settled_fds(other)}
    check = child_with_argv(sup.p.pid, ["sleep", "0.6"])
    held["health check"] = settled_fds(check)
    sup.wait_state("fatal", "FATAL")
    hook = child_with_argv(sup.p.pid, ["sleep", "0.7"])
    held["alert hook"] = settled_fds(hook)
    for what, fds in held.items():
        assert sorted(fds) == [0, 1, 2], f"{what} holds {fds}"
        assert fds[0] == "/dev/null", (what, fds)
    for pid in (bot, other):
        fds = settled_fds(pid)
        assert fds[1].startswith("pipe:") and fds[2].startswith("pipe:"), fds
        assert fds[1] != fds[2], "stdout and stderr share one pipe: no err labelling"
    # The service's pipes are its own: no other service holds them.
    assert not set(fd_targets(bot).values()) & set(fd_targets(other).values()) - {"/dev/null"}
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- capabilities

BIND_PROBE = r'''
import errno, os, socket, sys
port, out, victim, nap = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
res = []
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", port))
    res.append("bind ok")
except OSError as e:
    res.append("bind " + errno.errorcode.get(e.errno, str(e.errno)))
s.close()
try:
    os.chown(victim, 65534, 65534)
    res.append("chown ok")
except OSError as e:
    res.append("chown " + errno.errorcode.get(e.errno, str(e.errno)))
with open(out, "w") as f:
    f.write("\n".join(res) + "\n")
os.execv("/bin/sleep", ["sleep", nap])
'''


def free_low_ports(below, n):
    import socket
    out = []
    for port in range(below - 1, 500, -1):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            out.append(port)
        except OSError:
            continue
        finally:
            s.close()
        if len(out) == n:
            return out
    pytest.skip("no free ports below the unprivileged range")


def test_sec_capabilities_and_no_new_privs_as_configured(h, pub, require_root):
    """/proc/PID/status of the exec'd program: `user = nobody` + `capabilities =
    CAP_NET_BIND_SERVICE` has exactly that bit in CapInh/CapPrm/CapEff/CapAmb/CapBnd,
    NoNewPrivs 1, and binds a privileged port; nobody without capabilities has none; a root
    service limited to that capability keeps only it (cannot chown); a plain root service is
    left as nines is."""
    start = int(pathlib.Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    privileged = start > 1
    probe = pub / "bind_probe.py"
    probe.write_text(BIND_PROBE)
    os.chmod(probe, 0o644)
    bit = 1 << CAP_NET_BIND_SERVICE
    mine = cap_hex(os.getpid(), "CapEff")
    cases = {  # name: (extra [service] keys, expected; None: not checked)
        "capd": ({"user": "nobody", "capabilities": "CAP_NET_BIND_SERVICE"},
                 dict(uid=65534, inh=bit, prm=bit, eff=bit, amb=bit, bnd=bit, nnp=1,
                      bind="bind ok", chown="chown EPERM")),
        "nocap": ({"user": "nobody"},
                  dict(uid=65534, inh=0, prm=0, eff=0, amb=0, bnd=None, nnp=1,
                       bind="bind EACCES", chown="chown EPERM")),
        "rootcap": ({"capabilities": "CAP_NET_BIND_SERVICE"},
                    dict(uid=0, inh=bit, prm=bit, eff=bit, amb=bit, bnd=bit, nnp=1,
                         bind="bind ok", chown="chown EPERM")),
        "root": ({}, dict(uid=0, inh=None, prm=mine, eff=mine, amb=0, bnd=None, nnp=0,
                          bind="bind ok", chown="chown ok")),
    }
    ports = free_low_ports(start if privileged else 1024, len(cases))
    sup = Sup(h)
    naps = {}
    for i, (name, (keys, _)) in enumerate(cases.items()):
        out = pub / f"{name}.out"
        out.touch()
        os.chmod(out, 0o666)
        victim = pub / f"{name}.victim"
        victim.touch()
        naps[name] = str(1000 + i)
        sup.service(name, f"{PY} -S {probe} {ports[i]} {out} {victim} {naps[name]}",
                    service=keys)
    sup.start()
    for name, (_, want) in cases.items():
        pid = running_pid(sup, name)
        assert wait_for(lambda: cmdline(pid) == ["sleep", naps[name]], 10), (name, cmdline(pid))
        got = dict(uid=int(status_field(pid, "Uid").split()[1]),
                   inh=cap_hex(pid, "CapInh"), prm=cap_hex(pid, "CapPrm"),
                   eff=cap_hex(pid, "CapEff"), amb=cap_hex(pid, "CapAmb"),
                   bnd=cap_hex(pid, "CapBnd"), nnp=int(status_field(pid, "NoNewPrivs")))
        res = (pub / f"{name}.out").read_text().split("\n")
        got["bind"], got["chown"] = res[0], res[1]
        if not privileged:
            got["bind"] = want["bind"]  # every port is unprivileged here: nothing to learn
        for key, value in want.items():
            if value is not None:
                assert got[key] == value, f"{name}: {key} = {got[key]!r}, want {value!r}: {got}"
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- pid reuse

def stranger_on_freed_pid(h, free_one, argv, attempts=5):
    """(pid, Popen): free_one() frees a pid of a service and returns it; a stranger is started
    on it. Retried with a new pid when another process on the machine took it first (after a
    wrap of pid_max): skips only when that keeps happening."""
    for _ in range(attempts):
        pid = free_one()
        stranger = spawn_at_pid(h, pid, argv)
        if stranger is not None:
            return pid, stranger
    pytest.skip(f"could not start a process on a freed pid (ns_last_pid), {attempts} tries")


def test_sec_signal_after_exit_never_reaches_a_pid_reuser(h, require_root):
    """A service whose process is gone (stopped by the operator, or exited and waiting in
    BACKOFF) while its pid now belongs to a stranger that leads its own group: `ninesctl
    signal` says "not running" and neither it nor `stop` reach the stranger."""
    sup = Sup(h)
    sup.service("svc", "sleep 1000", service={"stop_timeout": "1s"})
    sup.service("crash", "sleep 2", restart={"delay": "60s", "jitter": "0%"})
    sup.start()
    sup.wait_state("svc", "RUNNING")

    def stop_svc():
        if sup.state("svc") != "RUNNING":
            assert sup.ctl("start", "svc")[0] == 0
        pid = running_pid(sup, "svc")
        rc, out, err = sup.ctl("stop", "svc")
        assert rc == 0, (out, err)
        return pid

    _, stranger = stranger_on_freed_pid(h, stop_svc, ["sleep", "999"])
    for sig in ("TERM", "KILL"):
        rc, out, err = sup.ctl("signal", sig, "svc")
        assert rc == 1 and "svc: ERROR (not running)" in out, (rc, out, err)
    assert sup.ctl("stop", "svc")[0] == 0
    assert stranger.poll() is None, "a signal meant for a stopped service hit a stranger"

    def crash_exits():
        if sup.state("crash") != "RUNNING":
            assert sup.ctl("start", "crash")[0] == 0
        pid = running_pid(sup, "crash")
        sup.wait_state("crash", "BACKOFF", timeout=10)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 5)
        return pid

    _, stranger2 = stranger_on_freed_pid(h, crash_exits, ["sleep", "998"])
    rc, out, err = sup.ctl("signal", "KILL", "crash")
    assert rc == 1 and "crash: ERROR (not running)" in out, (rc, out, err)
    assert sup.ctl("stop", "crash")[0] == 0
    assert stranger2.poll() is None, "a signal meant for an exited service hit a stranger"
    assert stranger.poll() is None
    assert sup.stop()[0] == 0
    assert stranger.poll() is None and stranger2.poll() is None, "shutdown hit a stranger"


def test_sec_recycled_pid_is_not_taken_for_a_survivor(h, require_root):
    """run_dir/procs remembers the service's main pid for the next nines. After a SIGKILL of
    nines the service dies too and a stranger gets its pid: the next nines must see that the
    start time differs and leave the stranger alone."""
    sup = Sup(h)
    sup.service("svc", "sleep 1000", service={"stop_timeout": "1s"})

    def nines_and_service_die():
        sup.start()
        pid = running_pid(sup, "svc")
        assert wait_for(lambda: f"svc {pid} " in read_bytes(sup.run_dir / "procs").decode(), 5)
        sup.p.kill()
        h.wait_exit(sup.p, 5, "nines")
        os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: not os.path.exists(f"/proc/{pid}"), 10), "not reaped"
        return pid

    pid, stranger = stranger_on_freed_pid(h, nines_and_service_die, ["sleep", "997"], 3)
    sup.start()
    new = running_pid(sup, "svc")
    assert new != pid
    assert stranger.poll() is None, "the next nines took a recycled pid for a survivor"
    assert "previous nines" not in sup.log(), sup.log()
    assert sup.stop()[0] == 0
    assert stranger.poll() is None


SUBREAPER = r'''
import ctypes, os, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)   # PR_SET_CHILD_SUBREAPER
if os.fork() == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:   # reap everything at once: the orphans of a SIGKILLed nines land here
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.01)
'''


def test_sec_survivor_sweep_never_kills_a_pid_reuser(h, require_root, pidfds):
    """The next nines TERMs the survivors of a SIGKILLed one, then polls them by pid until the
    longest stop_timeout and KILLs the ones still "alive". One survivor exits at TERM and its
    pid goes to a stranger while another survivor (ignoring TERM) keeps the sweep going: the
    stranger must not get the KILL. (The orphans are reaped at once by a subreaper parent, as
    they would be under a container's init or systemd.)"""
    sup = Sup(h)
    sup.service("quick", "sleep 1000")
    sup.service("stubborn", "sh -c \"trap '' TERM; exec sleep 1001\"",
                service={"stop_timeout": "6s"})
    wrapper = h.spawn([PY, "-c", SUBREAPER, *pidfds, h.nines, "-c", sup.conf])
    sup.p = wrapper
    quick = running_pid(sup, "quick")
    stubborn = running_pid(sup, "stubborn")
    # `exec sleep` done: its TERM trap is in place (a TERM before it would simply end sh).
    assert wait_for(lambda: cmdline(stubborn) == ["sleep", "1001"], 5), cmdline(stubborn)
    first = h.child_running(wrapper.pid, "nines")
    os.kill(first, signal.SIGKILL)
    assert wait_for(lambda: not os.path.exists(f"/proc/{first}"), 5)
    assert alive(quick)
    log_before = sup.log()
    sup.start(prefix=pidfds)
    assert wait_for(lambda: "previous nines" in sup.log(), 10), sup.log()
    assert ("no pidfds" in sup.log()) == bool(pidfds), sup.log()
    assert wait_for(lambda: not os.path.exists(f"/proc/{quick}"), 5), "quick survived TERM"
    stranger = spawn_at_pid(h, quick, ["sleep", "996"])
    if stranger is None:
        pytest.skip(f"could not start a process on the freed pid {quick} (ns_last_pid)")
    assert "previous generation gone" not in sup.log(), "the sweep ended before the test"
    assert wait_for(lambda: "previous generation gone" in sup.log() or
                    "survive KILL" in sup.log(), 15), sup.log()
    assert "survive KILL" not in sup.log(), sup.log()  # the stubborn one was KILLed
    running_pid(sup, "quick")
    killed = stranger.poll() is not None
    assert not killed, (
        f"nines' sweep of a previous generation KILLed a stranger that got the pid {quick} of "
        f"a survivor that had already exited (rc {stranger.returncode}); log:\n{sup.log()}")
    assert log_before  # the first nines did log
    assert sup.stop()[0] == 0
