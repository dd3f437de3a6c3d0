"""Supervisor-mode cases of ../shared/cases/supervise.md in the scope of the supervisor core
(P1-P9, P13; P12 with the control socket), plus scale and robustness checks."""

import os
import pathlib
import re
import shutil
import signal
import tempfile
import time

import pytest

from conftest import alive, tagged_pids, wait_for
from supervisor_util import Sup, lines_of


def spawn_times(path):
    return [float(x) for x in lines_of(path)]


def stamp(path):
    """Shell snippet appending the current time (s, float) to path."""
    return f"date +%s.%N >> {path}"


def test_sup_p1_restart_storm_follows_backoff(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    sup.service("crash", f"sh -c '{stamp(starts)}; exit 1'",
                restart={"delay": "200ms", "backoff": "exponential", "max_delay": "1600ms",
                         "jitter": "0%"})
    sup.start()
    assert wait_for(lambda: len(spawn_times(starts)) >= 7, 15)
    t = spawn_times(starts)
    gaps = [b - a for a, b in zip(t, t[1:])][:6]
    expect = [0.2, 0.4, 0.8, 1.6, 1.6, 1.6]
    for gap, want in zip(gaps, expect):
        # Never back-to-back, never faster than the backoff, bounded slack for a loaded CI.
        assert want * 0.9 <= gap <= want * 1.5 + 1.0, (gaps, expect)
    rc, _ = sup.stop()
    assert rc == 0


def test_sup_p2_never_gives_up_by_accident(h):
    sup = Sup(h)
    ok = h.tmp / "ok"
    sup.service("waiter", f"sh -c 'test -f {ok} || exit 1; exec sleep 1000'",
                restart={"delay": "100ms", "max_delay": "1s", "jitter": "0%"})
    sup.start()
    assert wait_for(lambda: len([t for t in sup.transitions("waiter") if t[2] == "BACKOFF"]) >= 5, 10)
    ok.write_text("")
    t0 = time.monotonic()
    sup.wait_state("waiter", "RUNNING", timeout=5)
    assert time.monotonic() - t0 <= 1.0 + 1.5  # within one max_delay (plus slack)
    assert sup.stop()[0] == 0


def test_sup_p3_limit_counts_every_failure(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    sup.service("limited", f"sh -c '{stamp(starts)}; sleep 0.3; exit 1'",
                restart={"delay": "50ms", "max_delay": "100ms", "limit": "5/1h"})
    sup.start()
    sup.wait_state("limited", "FATAL", timeout=20)
    assert len(spawn_times(starts)) == 5
    reason = sup.transitions("limited")[-1][3]
    assert "limit 5/3600s" in reason and "exit 1" in reason
    # P4: terminal stays terminal; nothing restarts and nothing overwrites FATAL.
    assert not wait_for(lambda: len(spawn_times(starts)) > 5, 1.5)
    assert sup.state("limited") == "FATAL"
    assert sup.stop()[0] == 0


def test_sup_p3_limit_survives_restart_of_nines(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    sup.service("limited", f"sh -c '{stamp(starts)}; exit 1'",
                restart={"delay": "50ms", "max_delay": "50ms", "limit": "4/1h"})
    sup.start()
    assert wait_for(lambda: len(spawn_times(starts)) >= 2, 10)
    sup.stop()
    first_log = sup.log()
    sup.start()
    sup.wait_state("limited", "FATAL", timeout=10)
    # Failure exits over both runs of nines: exactly the limit. Each one led to BACKOFF or, the
    # last, to FATAL; an exit that raced with the shutdown of the first run is no failure.
    both = first_log + sup.log()
    failures = both.count("-> BACKOFF: exit 1") + both.count("-> FATAL: exit 1")
    assert failures == 4, (first_log, sup.log())
    assert "restart limit 4/3600s reached" in sup.transitions("limited")[-1][3]
    assert sup.stop()[0] == 0


def test_sup_p4_terminal_states_stay_terminal(h):
    sup = Sup(h)
    sup.service("cfgerr", "sh -c 'exit 78'")
    sup.service("auth", "sh -c 'exit 77'")
    sup.start()
    sup.wait_state("cfgerr", "FATAL")
    sup.wait_state("auth", "AUTHFAIL")
    assert "configuration error" in sup.transitions("cfgerr")[-1][3]
    n = len(sup.transitions())
    assert not wait_for(lambda: len(sup.transitions()) > n, 1.0)
    assert sup.state("cfgerr") == "FATAL" and sup.state("auth") == "AUTHFAIL"
    assert sup.stop()[0] == 0


def test_sup_p5_exits_by_design_are_not_failures(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    sup.service("periodic", f"sh -c '{stamp(starts)}; sleep 0.2; exit 0'",
                restart={"delay": "300ms", "jitter": "0%"})
    sup.start()
    assert wait_for(lambda: len(spawn_times(starts)) >= 7, 15)
    t = spawn_times(starts)
    gaps = [b - a for a, b in zip(t, t[1:])]
    assert all(0.45 <= g <= 1.2 for g in gaps), gaps  # 0.2 run + 0.3 delay, no growth
    assert sup.stop()[0] == 0


def test_sup_p6_grandchildren_die_with_their_service(h):
    sup = Sup(h)
    sup.service("tree", "sh -c 'sleep 4242 & setsid sleep 4343 & wait'")
    sup.start()
    sup.wait_state("tree", "RUNNING")
    assert wait_for(lambda: len(_sleeps(h.tag, ("4242", "4343"))) == 2, 5)
    rc, _ = sup.stop()
    assert rc == 0
    assert _sleeps(h.tag, ("4242", "4343")) == []


@pytest.mark.parametrize("how", ["clone3", "fork"])
def test_sup_service_starts_in_its_own_cgroup(h, deny_syscalls, how):
    """Where nines may create cgroups, each service runs in its own (cgroup v2), born there by
    clone3(CLONE_INTO_CGROUP), or, where clone3 is missing (Linux < 5.3; "fork" here, clone3
    failing with ENOSYS through a seccomp filter), moved in by the child before exec: what it
    starts, a setsid'd grandchild too, is in it from the start."""
    sup = Sup(h)
    sup.service("cg", "sh -c 'setsid sleep 4545 & exec sleep 4646'")
    sup.start(prefix=[str(deny_syscalls), "clone3"] if how == "fork" else [])
    sup.wait_state("cg", "RUNNING")
    if "a cgroup per service" not in sup.log():
        pytest.skip("nines may not create cgroups here: " + sup.log().splitlines()[0])
    assert wait_for(lambda: len(_sleeps(h.tag, ("4545", "4646"))) == 2, 5)

    def cgroup(pid):
        for line in open(f"/proc/{pid}/cgroup").read().splitlines():
            if line.startswith("0::"):
                return line[3:]
        return None
    paths = {cgroup(pid) for pid in _sleeps(h.tag, ("4545", "4646"))}
    assert len(paths) == 1 and re.search(r"/nines\.[0-9a-f]{8}\.cg$", paths.pop()), paths
    assert sup.stop()[0] == 0
    assert _sleeps(h.tag, ("4545", "4646")) == []


def test_sup_restart_after_a_kill_escalation_stays_up(h):
    """A service that ignores TERM is KILLed at its stop timeout (cgroup.kill where the kernel
    has it). Its next instance must live: on some kernels a process cloned into a cgroup that
    was ever killed is SIGKILLed at birth (nines then makes the cgroup again)."""
    sup = Sup(h)
    sup.service("stubborn", "sh -c \"trap '' TERM; exec sleep 1000\"",
                service={"stop_timeout": "1s"}, restart={"delay": "100ms"})
    sup.start()
    sup.wait_state("stubborn", "RUNNING")
    # `exec sleep` done: the TERM trap is in place (a TERM before it would simply end sh).
    seen = wait_for(lambda: _sleeps(h.tag, ("1000",)), 5)
    assert seen, sup.log()
    for _ in range(2):  # the second time the cgroup was killed under this same nines too
        rc, out, err = sup.ctl("restart", "stubborn")
        assert rc == 0, (out, err)
        assert "stop timeout" in sup.log(), sup.log()
        sup.wait_state("stubborn", "RUNNING")
        seen = wait_for(lambda: [p for p in _sleeps(h.tag, ("1000",)) if p not in seen], 5)
        assert seen, sup.log()
        assert not wait_for(lambda: sup.state("stubborn") != "RUNNING", 1.5), sup.log()
    assert sup.stop()[0] == 0


def _sleeps(tag, args):
    out = []
    for pid in tagged_pids(tag):
        try:
            cl = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if cl and cl[0] == b"sleep" and cl[1].decode() in args and alive(pid):
            out.append(pid)
    return out


def test_sup_a9_p9_no_two_generations(h):
    """The main process is SIGKILLed while a setsid'd 'shard' that ignores TERM for a while is
    alive: the next generation starts only after the old shard is gone."""
    sup = Sup(h)
    gone = h.tmp / "shard-gone"
    starts = h.tmp / "starts"
    shard = h.tmp / "shard.sh"
    up = h.tmp / "shard-up"
    shard.write_text(f"trap 'sleep 0.7; {stamp(gone)}; exit 0' TERM\n{stamp(up)}\n"
                     "while :; do sleep 0.05; done\n")
    bot = h.tmp / "bot.sh"
    bot.write_text(f"{stamp(starts)}\nsetsid sh {shard} &\nexec sleep 1000\n")
    sup.service("bot", f"sh {bot}", restart={"delay": "0"}, service={"stop_timeout": "5s"})
    sup.start()
    sup.wait_state("bot", "RUNNING")
    main = [t for t in sup.transitions("bot") if t[2] == "RUNNING"][-1][3]
    pid = int(main.split()[1])
    assert wait_for(lambda: spawn_times(up) and cmdline_of(pid)[:1] == ["sleep"], 5)
    os.kill(pid, signal.SIGKILL)
    assert wait_for(lambda: len(spawn_times(starts)) >= 2, 10)
    assert wait_for(lambda: spawn_times(gone), 5)
    # The old shard finished its TERM handler before the new generation began.
    assert spawn_times(gone)[0] <= spawn_times(starts)[1]
    assert sup.stop()[0] == 0


def cmdline_of(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode().split("\0")
    except OSError:
        return []


def test_sup_p7_stop_escalates_to_kill(h):
    sup = Sup(h)
    sup.service("stubborn", "sh -c \"trap '' TERM; while :; do sleep 0.1; done\"",
                service={"stop_timeout": "1s"})
    sup.start()
    sup.wait_state("stubborn", "RUNNING")
    # A loop's `sleep` runs: the TERM trap is in place (a TERM before it would simply end sh).
    assert wait_for(lambda: _sleeps(h.tag, ("0.1",)), 5), sup.log()
    rc, took = sup.stop()
    assert rc == 0
    assert 0.9 <= took <= 4.0, took
    assert "stop timeout" in sup.log()


def test_sup_p8_shutdown_returns_when_everything_exited(h):
    sup = Sup(h, main_extra="shutdown_timeout = 30s\n")
    sup.service("a", "sleep 1000")
    sup.service("b", "sh -c 'trap \"exit 0\" TERM; while :; do sleep 0.05; done'")
    sup.start()
    sup.wait_state("a", "RUNNING")
    sup.wait_state("b", "RUNNING")
    rc, took = sup.stop()
    assert rc == 0
    assert took < 1.0, took


def test_sup_after_orders_start_and_reverse_shutdown(h):
    sup = Sup(h)
    order = h.tmp / "order"
    for name in ("lavalink", "bot"):
        (h.tmp / f"{name}.sh").write_text(
            f"trap 'echo stop-{name} >> {order}; exit 0' TERM\n"
            f"echo start-{name} >> {order}\n"
            "while :; do sleep 0.05; done\n")
    sup.service("lavalink", f"sh {h.tmp}/lavalink.sh")
    sup.service("bot", f"sh {h.tmp}/bot.sh", service={"after": "lavalink"})
    sup.start()
    sup.wait_state("bot", "RUNNING")
    # RUNNING means exec'd; the script's trap is set once its start line is written.
    assert wait_for(lambda: "start-bot" in lines_of(order), 5)
    assert sup.stop()[0] == 0
    assert lines_of(order) == ["start-lavalink", "start-bot", "stop-bot", "stop-lavalink"]


def test_sup_p13_bad_reload_keeps_good_config(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    sup.wait_state("a", "RUNNING")
    n = len(sup.transitions("a"))
    path = sup.services / "a.conf"
    path.write_text("[service]\ncommand = sleep 2000\nbogus_key = 1\n")
    sup.signal(signal.SIGHUP)
    assert wait_for(lambda: f"{path}:3:" in sup.log(), 5), sup.log()
    assert "keeping the running configuration" in sup.log()
    assert not wait_for(lambda: len(sup.transitions("a")) > n, 0.5)
    assert sup.stop()[0] == 0


def test_sup_reload_restarts_only_changed(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.service("b", "sleep 1001")
    sup.start()
    sup.wait_state("a", "RUNNING")
    sup.wait_state("b", "RUNNING")
    nb = len(sup.transitions("b"))
    sup.service("a", "sleep 1002")
    sup.service("c", "sleep 1003")
    sup.signal(signal.SIGHUP)
    assert wait_for(lambda: any(t[2] == "RUNNING" and t[0] == "c" for t in sup.transitions()), 5)
    assert wait_for(lambda: len([t for t in sup.transitions("a") if t[2] == "RUNNING"]) == 2, 5)
    assert len(sup.transitions("b")) == nb
    assert sup.stop()[0] == 0


def test_sup_cannot_execute_is_clear_and_nines_keeps_running(h):
    sup = Sup(h)
    sup.service("missing", "/nonexistent/bot --flag", restart={"delay": "100ms", "max_delay": "200ms"})
    sup.service("ok", "sleep 1000")
    sup.start()
    sup.wait_state("ok", "RUNNING")
    assert wait_for(lambda: any(t[2] == "BACKOFF" and "cannot execute /nonexistent/bot: No such file" in (t[3] or "")
                                for t in sup.transitions("missing")), 5), sup.log()
    assert sup.p.poll() is None
    assert sup.stop()[0] == 0


def test_sup_100_services_start_and_stop(h):
    sup = Sup(h)
    for i in range(100):
        sup.service(f"s{i:03d}", f"sleep {5000 + i}")
    sup.start()
    assert wait_for(lambda: sum(1 for t in sup.transitions() if t[2] == "RUNNING") >= 100, 20)
    rc, took = sup.stop()
    assert rc == 0
    assert took < 5, took
    assert not [p for p in tagged_pids(h.tag) if alive(p)]


def test_sup_pid1_survives_and_reaps(h):
    sup = Sup(h)
    sup.service("orphaner", "sh -c 'for i in 1 2 3 4 5; do sh -c \"sleep 0.1 &\"; done; sleep 0.3; exit 1'",
                restart={"delay": "100ms", "max_delay": "200ms"})
    sup.start(ns=True)
    assert wait_for(lambda: len([t for t in sup.transitions("orphaner") if t[2] == "BACKOFF"]) >= 3, 15)
    init = h.init_pid(sup.p)
    zombies = [c for c in os.listdir("/proc") if c.isdigit() and _is_zombie_child(int(c), init)]
    assert len(zombies) <= 5  # at most one generation in flight, none accumulating
    os.kill(init, signal.SIGTERM)
    assert h.wait_exit(sup.p, 15) == 0


def _is_zombie_child(pid, parent):
    try:
        st = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return st[0] == "Z" and int(st[1]) == parent


def test_sup_check_reports_file_line(h):
    sup = Sup(h)
    sup.service("a", "sh -c 'unterminated")
    rc, out, err, _ = h.run([h.nines, "--check", "-c", sup.conf])
    assert rc == 1
    assert f"{sup.services / 'a.conf'}:2:" in err, err
    sup.service("a", "sleep 1")
    rc, out, err, _ = h.run([h.nines, "--check", "-c", sup.conf])
    assert rc == 0, err


def test_sup_spawn_user_env_umask_rlimit_fds(h):
    sup = Sup(h)
    pub = pathlib.Path(tempfile.mkdtemp(prefix="nines-test-"))  # readable by nobody
    os.chmod(pub, 0o755)
    out = pub / "out"
    envf = h.tmp / "bot.env"  # read by nines (root), not by the service
    envf.write_text("# comment\nexport FROM_FILE='file value'\nOVERRIDE=file\n")
    out.touch()
    os.chmod(out, 0o666)
    script = pub / "probe.sh"
    script.write_text(
        f"{{ id -u; echo \"$FROM_FILE\"; echo \"$OVERRIDE\"; umask; ulimit -n; pwd;"
        f" echo; echo; }} > {out}\nexec sleep 1000\n")
    sup.service("probe", f"sh {script}",
                service={"user": "nobody", "env_file": envf, "env": "OVERRIDE=config",
                         "umask": "027", "rlimit_nofile": "123", "directory": "/tmp"})
    sup.start()
    sup.wait_state("probe", "RUNNING")
    assert wait_for(lambda: len(out.read_text().splitlines()) >= 7, 5), out.read_text()
    uid, from_file, override, umask, nofile, cwd, fds = out.read_text().splitlines()[:7]
    assert uid == str(65534)
    assert from_file == "file value"
    assert override == "config"
    assert umask == "0027"
    assert nofile == "123"
    assert cwd == "/tmp"
    # Only 0-2 from nines (the shell's own fd for the script may add one, ls its own).
    # The program (exec'd sleep) holds exactly fds 0-2: nothing of nines leaks into it.
    main = int([t for t in sup.transitions("probe") if t[2] == "RUNNING"][-1][3].split()[1])
    assert wait_for(lambda: cmdline_of(main)[:1] == ["sleep"], 5)
    assert sorted(int(x) for x in os.listdir(f"/proc/{main}/fd")) == [0, 1, 2]
    assert sup.stop()[0] == 0
    shutil.rmtree(pub)


def test_sup_unknown_user_is_a_config_error(h):
    sup = Sup(h)
    sup.service("bad", "sleep 1", service={"user": "no-such-user-xyz"})
    rc, out, err, _ = h.run([h.nines, "--check", "-c", sup.conf])
    assert rc == 1
    assert "no-such-user-xyz" in err and "bad.conf:3:" in err, err
