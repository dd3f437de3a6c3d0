"""Health checks: cases P14-P18 of supervise.md and A3, A8 of discord.md, against local HTTP
servers started here (tests/pytest/probe_server.py)."""

import time

from conftest import wait_for
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
