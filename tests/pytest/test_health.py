"""Health checks: cases P14-P18 of supervise.md and A3, A8 of discord.md, against local HTTP
servers started here (tests/pytest/probe_server.py); and nines' own fd exhaustion (RLIMIT_NOFILE
of nines lowered with prlimit), which is no failure of the service it checks."""

import json
import os
import signal
import subprocess
import time

from conftest import lowest_free_fd, nofile_limits, wait_for
from probe_server import ProbeServer, Route
from supervisor_util import Sup, lines_of


def starts_of(path):
    return [float(x) for x in lines_of(path)]


def stamp(path):
    return f"date +%s.%N >> {path}"


def test_sup_p14_unhealthy_means_restart_after_retries(h):
    with ProbeServer(routes={"/health": Route(status=200)}) as srv:
        sup = Sup(h)
        starts = h.tmp / "starts"
        sup.service("bot", f"sh -c '{stamp(starts)}; exec sleep 1000'",
                    health={"url": srv.url("/health"), "interval": "300ms", "timeout": "1s",
                            "retries": "3"},
                    restart={"delay": "100ms", "jitter": "0%"})
        sup.start()
        sup.wait_state("bot", "RUNNING")
        assert wait_for(lambda: "health ok" in sup.ctl("status", "bot")[1], 5)
        srv.set_route("/health", Route(status=500))
        t_bad = time.monotonic()
        assert wait_for(lambda: len(starts_of(starts)) >= 2, 10), sup.log()
        took = time.monotonic() - t_bad
        # Three failed checks 300 ms apart: not before ~0.6 s, one restart only.
        assert 0.5 <= took <= 4.0, took
        assert "unhealthy after 3 failed checks" in sup.log()
        stops = [t for t in sup.transitions("bot") if t[2] == "STOPPING"]
        assert stops[0][3] == "health"
        # P15: the new instance starts over: "starting", zero failures.
        srv.set_route("/health", Route(status=200))
        rc, out, _ = sup.ctl("status", "--json", "bot")
        assert '"health_failures":0' in out, out
        assert sup.stop()[0] == 0


def test_sup_p15_health_belongs_to_the_instance(h):
    with ProbeServer(routes={"/health": Route(status=500)}) as srv:
        sup = Sup(h)
        starts = h.tmp / "starts"
        sup.service("bot", f"sh -c '{stamp(starts)}; exec sleep 1000'",
                    health={"url": srv.url("/health"), "interval": "200ms", "retries": "2",
                            "start_period": "1500ms"},
                    restart={"delay": "100ms", "jitter": "0%"})
        sup.start()
        assert wait_for(lambda: len(starts_of(starts)) >= 2, 10), sup.log()
        t = starts_of(starts)
        # Each instance gets its own start period: restarts are >= start_period apart.
        assert t[1] - t[0] >= 1.4, t
        assert sup.stop()[0] == 0


def test_sup_p16_slow_starter_within_start_period(h):
    with ProbeServer(routes={"/health": Route(status=503)}) as srv:
        sup = Sup(h)
        sup.service("slow", "sleep 1000",
                    health={"url": srv.url("/health"), "interval": "200ms", "retries": "2",
                            "start_period": "3s"})
        sup.start()
        sup.wait_state("slow", "RUNNING")
        # Several failed checks inside start_period (more than `retries`) restart nothing.
        assert wait_for(lambda: len(srv.requests) >= 4, 5)
        srv.set_route("/health", Route(status=200))  # "binds its port" inside the start period
        assert wait_for(lambda: "health ok" in sup.ctl("status", "slow")[1], 5)
        assert [t[2] for t in sup.transitions("slow")] == ["STARTING", "RUNNING"]
        assert sup.stop()[0] == 0


def test_sup_p17_checks_never_block_the_supervisor(h):
    with ProbeServer(routes={"/hang": Route(hang=True)}) as srv:
        sup = Sup(h)
        starts = h.tmp / "starts"
        sup.service("a", "sleep 1000",
                    health={"url": srv.url("/hang"), "interval": "200ms", "timeout": "1s",
                            "retries": "100"})
        sup.service("b", f"sh -c '{stamp(starts)}; sleep 0.3; exit 1'",
                    restart={"delay": "200ms", "backoff": "fixed", "jitter": "0%"})
        sup.start()
        assert wait_for(lambda: len(starts_of(starts)) >= 6, 15)
        t = starts_of(starts)
        gaps = [y - x for x, y in zip(t, t[1:])]
        assert all(0.45 <= g <= 1.5 for g in gaps), gaps  # 0.3 run + 0.2 delay, on schedule
        assert wait_for(lambda: "timeout after 1000 ms" in sup.ctl("status", "a")[1], 5)
        # At most one check in flight: the hanging server saw no pile-up.
        hangs = [r for r in srv.requests if r[1] == "/hang"]
        elapsed = t[-1] - t[0]
        assert len(hangs) <= elapsed / 1.0 + 3, (len(hangs), elapsed)
        assert sup.stop()[0] == 0


def test_sup_p18_http_checks_are_real_gets(h):
    with ProbeServer(routes={"/health": Route(status=200, head_status=405, delay=1.0)}) as srv:
        sup = Sup(h)
        sup.service("bot", "sleep 1000",
                    health={"url": srv.url("/health"), "interval": "300ms", "timeout": "2s"},
                    service={"ready": "healthy"})
        sup.start()
        assert wait_for(lambda: sup.state("bot") == "RUNNING", 10), sup.log()
        assert "health ok" in sup.ctl("status", "bot")[1]
        assert all(r[0] == "GET" for r in srv.requests)
        assert sup.stop()[0] == 0


def test_discord_a3_health_401_is_authfail_without_loop(h):
    with ProbeServer(routes={"/health": Route(status=401)}) as srv:
        sup = Sup(h)
        starts = h.tmp / "starts"
        sup.service("bot", f"sh -c '{stamp(starts)}; exec sleep 1000'",
                    health={"url": srv.url("/health"), "interval": "200ms"},
                    restart={"delay": "100ms"})
        sup.start()
        sup.wait_state("bot", "AUTHFAIL", timeout=10)
        assert "health" in sup.log() and "401" in sup.log()
        assert not wait_for(lambda: len(starts_of(starts)) > 1, 2.0)  # parked: no restart loop
        rc, out, _ = sup.ctl("status")
        assert rc == 3 and "AUTHFAIL" in out
        assert sup.stop()[0] == 0


def test_discord_a8_rate_limited_counts_no_failure(h):
    with ProbeServer(routes={"/health": Route(status=429, retry_after="3")}) as srv:
        sup = Sup(h)
        starts = h.tmp / "starts"
        sup.service("bot", f"sh -c '{stamp(starts)}; exec sleep 1000'",
                    health={"url": srv.url("/health"), "interval": "200ms", "retries": "1"})
        sup.start()
        assert wait_for(lambda: "rate limited for" in sup.ctl("status", "bot")[1], 5)
        n = len(srv.requests)
        # Retry-After: 3 is honoured: no new check and no restart for ~3 s.
        assert not wait_for(lambda: len(srv.requests) > n or len(starts_of(starts)) > 1, 2.0)
        rc, out, _ = sup.ctl("status", "--json", "bot")
        assert '"health_failures":0' in out and '"health":"rate limited"' in out
        assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- nines out of fds

def set_nofile(pid, soft, hard):
    subprocess.run(["prlimit", "--pid", str(pid), f"--nofile={soft}:{hard}"], check=True)


def status_json(sup, name):
    rc, out, _ = sup.ctl("status", "--json", name)
    assert rc in (0, 3), out
    return next(s for s in json.loads(out)["services"] if s["name"] == name)


def test_sup_nines_out_of_fds_is_no_health_failure(h):
    """RLIMIT_NOFILE of nines = its lowest free fd: the HTTP check's socket cannot be made. That
    is nines' problem, not the service's: the check is logged as not run and tried again, the
    service keeps its pid; once the limit is lifted the checks pass again."""
    interval, timeout, retries = 0.3, 0.5, 2
    not_run = "bot: cannot run the health check: Too many open files"
    with ProbeServer(routes={"/health": Route(status=200)}) as srv:
        sup = Sup(h)
        pids = h.tmp / "pids"
        sup.service("bot", f"sh -c 'echo $$ >> {pids}; exec sleep 1000'",
                    health={"url": srv.url("/health"), "interval": f"{int(interval * 1000)}ms",
                            "timeout": f"{int(timeout * 1000)}ms", "retries": str(retries)},
                    restart={"delay": "100ms", "jitter": "0%"})
        nines = sup.start().pid
        sup.wait_state("bot", "RUNNING")
        assert wait_for(lambda: status_json(sup, "bot")["health"] == "ok", 10), sup.log()
        pid = int(lines_of(pids)[0])
        soft, hard = nofile_limits(nines)
        lifted = False
        try:
            # A check in flight when the fds are listed leaves a hole below the limit once it
            # ends; limiting again closes it (at most a few rounds).
            for _ in range(5):
                set_nofile(nines, lowest_free_fd(nines), hard)
                if wait_for(lambda: not_run in sup.log() or "check failed" in sup.log(), 3):
                    break
            assert "check failed" not in sup.log(), f"nines' EMFILE failed the check:\n{sup.log()}"
            assert not_run in sup.log(), sup.log()
            seen = sup.log().count(not_run)
            # Limited for far longer than retries checks could take: no failure counted, no
            # restart, and the check keeps being tried (and logged) every interval.
            hold = 3 * retries * (interval + timeout)
            assert not wait_for(lambda: len(lines_of(pids)) > 1 or "unhealthy" in sup.log()
                                or "health check failed" in sup.log(), hold), sup.log()
            assert sup.log().count(not_run) >= seen + 2, sup.log()
            set_nofile(nines, soft, hard)
            lifted = True
            n = len(srv.requests)
            assert wait_for(lambda: len(srv.requests) >= n + 2, 10), sup.log()
            st = status_json(sup, "bot")
            assert (st["pid"], st["health"], st["health_failures"]) == (pid, "ok", 0), st
            assert st["health_last"]["status"] == "healthy", st
            assert lines_of(pids) == [str(pid)] and "health check failed" not in sup.log()
        finally:
            if not lifted:
                set_nofile(nines, soft, hard)
        assert sup.stop()[0] == 0


def listed_pids(procs):
    """Pids in run_dir/procs ("NAME PID START" lines); [] while it does not exist."""
    try:
        return [int(line.split()[1]) for line in procs.read_text().splitlines()]
    except FileNotFoundError:
        return []


def test_sup_procs_file_rewritten_after_a_failed_write(h):
    """run_dir/procs (for the sweep after a SIGKILL of nines) that could not be written (nines
    out of fds) is written again once it can, not only at the next change of the pids."""
    sup = Sup(h)
    pids = h.tmp / "pids"
    sup.service("bot", f"sh -c 'echo $$ >> {pids}; exec sleep 1000'",
                restart={"delay": "100ms", "jitter": "0%"})
    nines = sup.start().pid
    procs = sup.run_dir / "procs"
    assert wait_for(lambda: lines_of(pids) and listed_pids(procs) == [int(lines_of(pids)[0])],
                    10), sup.log()
    soft, hard = nofile_limits(nines)
    failed = f"cannot write {procs}:"
    lifted = True
    try:
        # The restart needs fds (pipes); the write of procs comes ~1 s after the exit (the save
        # timer): the limit goes on in between. Soft limit 3: no new fd at all, whatever holes
        # nines' fd table has. Missing that window (a loaded machine) just means another round.
        for _ in range(5):
            n, seen = len(lines_of(pids)), sup.log().count(failed)
            os.kill(int(lines_of(pids)[-1]), signal.SIGKILL)
            assert wait_for(lambda: len(lines_of(pids)) > n, 10), sup.log()
            new = int(lines_of(pids)[-1])
            set_nofile(nines, 3, hard)
            lifted = False
            wait_for(lambda: sup.log().count(failed) > seen or new in listed_pids(procs), 5)
            set_nofile(nines, soft, hard)
            lifted = True
            if sup.log().count(failed) > seen and new not in listed_pids(procs):
                break
        else:
            raise AssertionError(f"the write of procs never met the limit:\n{sup.log()}")
        # Limit lifted: the next save timer (at most 5 s later) writes the new pid.
        assert wait_for(lambda: listed_pids(procs) == [new], 10), (listed_pids(procs), new,
                                                                    sup.log())
    finally:
        if not lifted:
            set_nofile(nines, soft, hard)
    assert sup.stop()[0] == 0


def test_sup_libcurl_load_is_retried_after_emfile(h):
    """libcurl is loaded (dlopen) when the first HTTP check runs. If nines is out of fds at that
    moment the load fails like a missing package would; it must be tried again once fds are
    back (curlso.c: every 10 s), not leave HTTP checks off until nines restarts."""
    with ProbeServer(routes={"/health": Route(status=200)}) as srv:
        sup = Sup(h)
        sup.service("bot", "sleep 1000",
                    health={"url": srv.url("/health"), "interval": "2s", "timeout": "1s"})
        nines = sup.start().pid
        sup.wait_state("bot", "RUNNING")
        soft, hard = nofile_limits(nines)
        lifted = False
        try:
            set_nofile(nines, lowest_free_fd(nines), hard)  # before the first check, 2 s in
            assert wait_for(lambda: "cannot load libcurl" in sup.log(), 10), sup.log()
            assert not srv.requests and "health check failed" not in sup.log(), sup.log()
            set_nofile(nines, soft, hard)
            lifted = True
            assert wait_for(lambda: srv.requests, 30), sup.log()
            assert wait_for(lambda: status_json(sup, "bot")["health"] == "ok", 10), sup.log()
            assert "libcurl loaded" in sup.log(), sup.log()
        finally:
            if not lifted:
                set_nofile(nines, soft, hard)
        assert sup.stop()[0] == 0
