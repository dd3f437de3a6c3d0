"""Black-box tests of the control side: ninesctl's verbs and exit codes, the control socket's
robustness and authorisation, and the supervise cases that need it (P6, P7, P12, P13 via
ninesctl), plus the single-instance lock, the sweep of a SIGKILLed nines' survivors and stale
pid files. Protocol: docs/protocol.md; cases: ../shared/cases/supervise.md."""

import json
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import alive, find_procs, run_many, wait_for
from supervisor_util import Sup, ninesctl_path

STATES = {"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL", "AUTHFAIL"}
JSON_KEYS = {"name", "state", "want", "description", "reason", "pid", "uptime_ms", "since",
             "restarts", "last_restart", "next_start_in_ms", "last_exit", "restart_limit"}
LAST_EXIT_KEYS = {"exited", "code", "signal", "exec_failed", "stopped_for"}
NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup"]


# --------------------------------------------------------------------------- helpers

def services(sup, *names):
    """{name: json object} from `ninesctl status --json [NAMES]` (the reply must be JSON)."""
    rc, out, err = sup.ctl("status", "--json", *names)
    assert rc in (0, 3), (rc, out, err)
    return {s["name"]: s for s in json.loads(out)["services"]}


def svc(sup, name):
    return services(sup, name)[name]


def state(sup, name):
    """name's state, or None while nines cannot answer (not up yet)."""
    try:
        return svc(sup, name)["state"]
    except (AssertionError, ValueError, KeyError):
        return None


def wait_running(sup, *names, timeout=10.0):
    """Wait until every name is RUNNING (asked over the socket); returns {name: pid}."""
    def ok():
        try:
            got = services(sup, *names)
        except (AssertionError, ValueError, KeyError):
            return None
        if all(got[n]["state"] == "RUNNING" for n in names):
            return {n: got[n]["pid"] for n in names}
        return None
    pids = wait_for(ok, timeout, interval=0.05)
    assert pids, f"{names} not all RUNNING within {timeout}s; log:\n{sup.log()}"
    return pids


def wait_socket(sup, timeout=10.0):
    assert wait_for(lambda: sup.sock.exists(), timeout), f"no control socket; log:\n{sup.log()}"


def sleeps(tag, *args):
    """Live tagged `sleep ARG` processes for any of args."""
    out = []
    for arg in args:
        out.extend(find_procs(tag, ["sleep", str(arg)]))
    return out


def public_dir():
    """A 0755 temp dir (pytest's tmp is 0700): nobody can reach a socket below it."""
    d = pathlib.Path(tempfile.mkdtemp(prefix="nines-ctltest-"))
    os.chmod(d, 0o755)
    return d


def sup_with_run_dir(h, run_dir, main_extra=""):
    """A Sup whose run_dir (socket, lock) is run_dir instead of the test's tmp dir."""
    sup = Sup(h, main_extra=main_extra)
    text = sup.conf.read_text().replace(f"run_dir = {sup.run_dir}\n", f"run_dir = {run_dir}\n")
    sup.conf.write_text(text)
    sup.run_dir = pathlib.Path(run_dir)
    return sup


def raw_request(path, data, timeout=10.0, shut_wr=False):
    """Send raw bytes to the control socket, return everything the server sends back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(str(path))
        try:
            s.sendall(data)
            if shut_wr:
                s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking everything: read its answer
        return recv_all(s)
    finally:
        s.close()


def recv_all(s):
    chunks = []
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            break
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def dead_pid():
    """A pid that certainly belonged to a process and no longer does."""
    p = subprocess.Popen(["true"])
    p.wait()
    assert not os.path.exists(f"/proc/{p.pid}")
    return p.pid


# --------------------------------------------------------------------------- status

def test_ctl_status_exit_codes_table_detail_and_json(h):
    sup = Sup(h)
    sup.service("alpha", "sleep 1000")
    sup.service("beta", "sleep 1001")
    sup.start()
    pids = wait_running(sup, "alpha", "beta")

    rc, out, err = sup.ctl("status")
    assert rc == 0, (out, err)
    lines = out.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ("alpha", "beta")):
        m = re.match(r"^(\S+)( +)RUNNING( +)pid (\d+), uptime \d+:\d\d:\d\d$", line)
        assert m, line
        assert m.group(1) == name and int(m.group(4)) == pids[name]
        # supervisorctl's shape: padded name, state padded to 10, description.
        assert len(m.group(1) + m.group(2)) == line.index("RUNNING")
        assert len("RUNNING" + m.group(3)) == 11
    assert lines[0].index("RUNNING") == lines[1].index("RUNNING")

    rc, out, err = sup.ctl("status", "alpha")
    assert rc == 0, (out, err)
    first, *detail = out.splitlines()
    assert first.startswith("alpha ") and f"RUNNING    pid {pids['alpha']}, uptime " in first
    text = "\n".join(detail)
    assert "  command:     sleep 1000" in detail, out
    assert re.search(r"^  state:       RUNNING since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} "
                     r"\(wanted up\)$", text, re.M), out
    assert "  restarts:    0" in detail, out
    assert "  budget:      no limit" in detail, out

    rc, out, err = sup.ctl("stop", "beta")
    assert (rc, out) == (0, "beta: stopped\n"), err
    rc, out, err = sup.ctl("status")
    assert rc == 3, out
    assert re.search(r"^beta +STOPPED +\S", out, re.M), out
    rc, out, err = sup.ctl("status", "alpha")
    assert rc == 0
    rc, out, err = sup.ctl("status", "beta")
    assert rc == 3 and "(wanted down)" in out, out

    rc, out, err = sup.ctl("status", "nosuch")
    assert rc == 4 and "nosuch: ERROR (no such service)" in out, (out, err)
    rc, out, err = sup.ctl("status", "alpha", "nosuch")
    assert rc == 4, out
    assert sup.stop()[0] == 0


def test_ctl_status_json_shape(h):
    sup = Sup(h)
    sup.service("up", "sleep 1000")
    sup.service("crash", "sh -c 'exit 3'",
                restart={"delay": "20s", "jitter": "0%", "limit": "50/1h"})
    sup.start()
    wait_running(sup, "up")
    assert wait_for(lambda: state(sup, "crash") == "BACKOFF", 10, 0.05), sup.log()

    rc, out, err = sup.ctl("status", "--json")
    assert rc == 3, (out, err)
    doc = json.loads(out)
    assert list(doc) == ["services", "unknown", "alerts"] and doc["unknown"] == []
    got = {s["name"]: s for s in doc["services"]}
    assert set(got) == {"up", "crash"}
    for s in got.values():
        assert JSON_KEYS <= set(s), sorted(JSON_KEYS - set(s))
        assert s["state"] in STATES and s["want"] in ("up", "down")
        assert isinstance(s["description"], str) and isinstance(s["reason"], str)
        assert isinstance(s["since"], int) and abs(s["since"] - time.time()) < 120
        assert isinstance(s["restarts"], int)

    up = got["up"]
    assert up["state"] == "RUNNING" and up["want"] == "up"
    assert isinstance(up["pid"], int) and alive(up["pid"])
    assert isinstance(up["uptime_ms"], int) and 0 <= up["uptime_ms"] < 60000
    assert up["restarts"] == 0 and up["last_restart"] is None
    assert up["next_start_in_ms"] is None and up["last_exit"] is None
    assert up["restart_limit"] is None
    assert up["description"].startswith(f"pid {up['pid']}, uptime ")

    cr = got["crash"]
    assert cr["state"] == "BACKOFF" and cr["pid"] is None and cr["uptime_ms"] is None
    assert isinstance(cr["next_start_in_ms"], int) and 0 < cr["next_start_in_ms"] <= 20000
    le = cr["last_exit"]
    assert set(le) == LAST_EXIT_KEYS, le
    assert le["exited"] is True and le["code"] == 3 and le["signal"] is None
    assert le["exec_failed"] is False
    assert cr["restart_limit"] == {"limit": 50, "window_s": 3600, "used": 1}

    # One name: still the same object shape, exit code of that service alone.
    rc, out, err = sup.ctl("status", "--json", "up")
    assert rc == 0
    assert [s["name"] for s in json.loads(out)["services"]] == ["up"]
    assert sup.stop()[0] == 0


def test_ctl_status_json_stays_json_with_an_unknown_name(h):
    """`status --json` must print JSON whatever the exit code: a script running
    `ninesctl status --json bot typo | jq` gets exit 4 and a document it can still parse."""
    sup = Sup(h)
    sup.service("up", "sleep 1000")
    sup.start()
    wait_running(sup, "up")
    rc, out, err = sup.ctl("status", "--json", "nosuch", "up")
    assert rc == 4, (out, err)
    try:
        doc = json.loads(out)
    except ValueError:
        pytest.fail(f"status --json with an unknown name is not JSON:\n{out}")
    assert "up" in [s["name"] for s in doc["services"]]
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- start / stop / restart

def test_ctl_start_stop_restart(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.service("bad", "sh -c 'exit 1'", restart={"delay": "10s"})
    sup.start()
    pid = wait_running(sup, "a")["a"]

    rc, out, err = sup.ctl("restart", "a")
    assert (rc, out) == (0, "a: restarted\n"), err
    new = svc(sup, "a")
    assert new["state"] == "RUNNING" and new["pid"] != pid
    assert not alive(pid)

    rc, out, err = sup.ctl("stop", "a")
    assert (rc, out) == (0, "a: stopped\n"), err
    s = svc(sup, "a")
    assert s["state"] == "STOPPED" and s["want"] == "down" and s["pid"] is None
    assert not alive(new["pid"])
    rc, out, err = sup.ctl("stop", "a")  # already stopped: nothing to do, still success
    assert (rc, out) == (0, "a: stopped\n"), err

    rc, out, err = sup.ctl("start", "a")
    assert (rc, out) == (0, "a: started\n"), err
    s = svc(sup, "a")
    assert s["state"] == "RUNNING" and s["want"] == "up" and alive(s["pid"])

    # restart of a stopped service starts it
    sup.ctl("stop", "a")
    rc, out, err = sup.ctl("restart", "a")
    assert (rc, out) == (0, "a: restarted\n"), err
    assert svc(sup, "a")["state"] == "RUNNING"

    # a start that fails answers with the state and the reason, exit 1
    rc, out, err = sup.ctl("start", "bad")
    assert rc == 1, out
    assert re.match(r"^bad: ERROR \(BACKOFF: exit 1", out), out

    rc, out, err = sup.ctl("stop", "nosuch")
    assert rc == 4 and "nosuch: ERROR (no such service)" in out
    rc, out, err = sup.ctl("start", "a", "nosuch")
    assert rc == 4

    rc, out, err = sup.ctl("stop", "all")
    assert rc == 0 and sorted(out.splitlines()) == ["a: stopped", "bad: stopped"], out
    assert sleeps(h.tag, 1000) == []
    rc, out, err = sup.ctl("status")
    assert rc == 3
    rc, out, err = sup.ctl("start", "all")
    assert rc == 1 and "a: started" in out and "bad: ERROR" in out, out
    assert sup.stop()[0] == 0


def test_sup_p7_ctl_stop_escalates_within_stop_timeout(h):
    sup = Sup(h)
    sup.service("stubborn", "sh -c \"trap '' TERM; sleep infinity\"",
                service={"stop_timeout": "3s"})
    sup.start()
    pid = wait_running(sup, "stubborn")["stubborn"]
    assert wait_for(lambda: sleeps(h.tag, "infinity"), 5)
    t0 = time.monotonic()
    rc, out, err = sup.ctl("stop", "stubborn")
    took = time.monotonic() - t0
    assert (rc, out) == (0, "stubborn: stopped\n"), (out, err)
    assert 2.8 <= took <= 5.0, took
    assert not alive(pid)
    assert sleeps(h.tag, "infinity") == []
    assert "stop timeout" in sup.log()
    assert sup.stop()[0] == 0


@pytest.mark.parametrize("command", [
    "sh -c 'sleep 4242 & sleep 4343 & wait'",
    "sh -c 'sleep 4242 & setsid sleep 4343 & wait'",
], ids=["same-session", "setsid-grandchild"])
def test_sup_p6_ctl_stop_leaves_no_grandchildren(h, command):
    sup = Sup(h)
    sup.service("tree", command)
    sup.start()
    wait_running(sup, "tree")
    assert wait_for(lambda: len(sleeps(h.tag, 4242, 4343)) == 2, 5)
    rc, out, err = sup.ctl("stop", "tree")
    assert (rc, out) == (0, "tree: stopped\n"), (out, err)
    # The reply comes when the processes are gone: nothing to wait for.
    assert sleeps(h.tag, 4242, 4343) == []
    assert sup.p.poll() is None
    assert svc(sup, "tree")["state"] == "STOPPED"
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- signal

def test_ctl_signal_reaches_the_process(h):
    sup = Sup(h)
    got = h.tmp / "got"
    script = h.tmp / "trap.sh"
    script.write_text(f"trap 'echo usr1 >> {got}' USR1\ntrap 'echo hup >> {got}' HUP\n"
                      "while :; do sleep 0.05; done\n")
    sup.service("sig", f"sh {script}")
    sup.service("off", "sleep 1000")
    sup.start()
    wait_running(sup, "sig", "off")
    rc, out, err = sup.ctl("signal", "USR1", "sig")
    assert (rc, out) == (0, "sig: sent SIGUSR1\n"), err
    assert wait_for(lambda: got.exists() and "usr1" in got.read_text(), 5)
    rc, out, err = sup.ctl("signal", "SIGHUP", "sig")
    assert (rc, out) == (0, "sig: sent SIGHUP\n"), err
    assert wait_for(lambda: "hup" in got.read_text(), 5)
    rc, out, err = sup.ctl("signal", str(int(signal.SIGUSR1)), "sig")
    assert (rc, out) == (0, "sig: sent SIGUSR1\n"), err
    assert wait_for(lambda: got.read_text().count("usr1") >= 2, 5)
    assert svc(sup, "sig")["state"] == "RUNNING"

    sup.ctl("stop", "off")
    rc, out, err = sup.ctl("signal", "USR1", "off")
    assert rc == 1 and "off: ERROR (not running)" in out, out
    rc, out, err = sup.ctl("signal", "USR1", "nosuch")
    assert rc == 4, out
    rc, out, err = sup.ctl("signal", "NOTASIG", "sig")
    assert rc == 2 and "unknown signal" in err, err
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- reload

def test_sup_p13_ctl_reload_reports_file_line_and_keeps_config(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    pid = wait_running(sup, "a")["a"]

    sup.service("c", "sleep 1003")
    rc, out, err = sup.ctl("reload")
    assert (rc, out) == (0, "reloaded\n"), err
    wait_running(sup, "a", "c")
    assert svc(sup, "a")["pid"] == pid  # unchanged service untouched

    path = sup.services / "a.conf"
    path.write_text("[service]\ncommand = sleep 2000\nbogus_key = 1\n")
    rc, out, err = sup.ctl("reload")
    assert rc == 1, (out, err)
    assert f"{path}:3:" in out, out
    assert "running configuration is unchanged" in out, out
    s = svc(sup, "a")
    assert s["state"] == "RUNNING" and s["pid"] == pid
    rc, out, err = sup.ctl("status", "a")
    assert "  command:     sleep 1000" in out.splitlines(), out
    assert find_procs(h.tag, ["sleep", "2000"]) == []

    path.write_text("[service]\ncommand = sleep 2000\n")
    rc, out, err = sup.ctl("reload")
    assert rc == 0, (out, err)
    new = wait_running(sup, "a")["a"]
    assert new != pid and find_procs(h.tag, ["sleep", "2000"]) == [new]

    # A service whose file is gone is stopped and forgotten.
    (sup.services / "c.conf").unlink()
    rc, out, err = sup.ctl("reload")
    assert rc == 0, (out, err)
    assert wait_for(lambda: find_procs(h.tag, ["sleep", "1003"]) == [], 5)
    assert set(services(sup)) == {"a"}
    rc, out, err = sup.ctl("status", "c")
    assert rc == 4, out
    assert sup.stop()[0] == 0


def test_ctl_reload_with_relative_config_path(h):
    """`nines -c etc/nines.conf` (relative to where nines was started) must reload the same
    file: nines moves to / after starting, so the path has to be resolved first."""
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.p = h.spawn([h.nines, "-c", os.path.relpath(sup.conf, h.tmp)], cwd=h.tmp)
    wait_running(sup, "a")
    sup.service("b", "sleep 1001")
    rc, out, err = sup.ctl("reload")
    assert rc == 0, f"reload failed: {out}{err}"
    wait_running(sup, "b")
    assert sup.stop()[0] == 0


def test_sup_p12_reload_touches_only_what_changed(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.service("b", "sleep 1001")
    sup.start()
    pids = wait_running(sup, "a", "b")
    rc, out, err = sup.ctl("restart", "a")  # give A a counter worth keeping
    assert rc == 0, out
    a1 = svc(sup, "a")
    assert a1["restarts"] >= 1 and a1["pid"] != pids["a"]

    rc, out, err = sup.ctl("stop", "b")
    assert (rc, out) == (0, "b: stopped\n"), err
    sup.service("a", "sleep 1002")
    rc, out, err = sup.ctl("reload")
    assert (rc, out) == (0, "reloaded\n"), err
    a2 = wait_running(sup, "a")["a"]
    assert wait_for(lambda: find_procs(h.tag, ["sleep", "1002"]) == [a2], 5)
    assert a2 != a1["pid"] and not alive(a1["pid"])
    b = svc(sup, "b")
    assert b["state"] == "STOPPED" and b["want"] == "down"
    assert find_procs(h.tag, ["sleep", "1001"]) == []
    before = services(sup)
    assert not wait_for(lambda: find_procs(h.tag, ["sleep", "1001"]), 0.5)

    # Restart nines itself (not PID 1) on the same dirs.
    assert sup.stop()[0] == 0
    sup.start()
    wait_running(sup, "a")
    after = services(sup)
    assert after["b"]["state"] == "STOPPED" and after["b"]["want"] == "down", after["b"]
    assert find_procs(h.tag, ["sleep", "1001"]) == []
    assert not [t for t in sup.transitions("b") if t[2] == "STARTING"], sup.log()
    assert after["a"]["restarts"] == before["a"]["restarts"], \
        (f"A's restart counter changed across a restart of nines: "
         f"{before['a']['restarts']} -> {after['a']['restarts']}")
    assert after["a"]["last_restart"] == before["a"]["last_restart"]
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- check / recover

def test_ctl_check(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.service("b", "sleep 1001")
    sup.start()
    wait_running(sup, "a", "b")
    rc, out, err = sup.ctl("check")
    assert rc == 0, (out, err)
    rc, out, err = sup.ctl("check", "a", "b")
    assert rc == 0, (out, err)
    sup.ctl("stop", "b")
    rc, out, err = sup.ctl("check")
    assert rc != 0 and "b: STOPPED" in out, (rc, out)
    rc, out, err = sup.ctl("check", "a")
    assert rc == 0, (out, err)
    rc, out, err = sup.ctl("check", "b")
    assert rc != 0
    rc, out, err = sup.ctl("check", "nosuch")
    assert rc != 0 and "nosuch" in out
    assert sup.stop()[0] == 0


def test_ctl_check_exit_codes_follow_protocol_doc(h):
    """docs/protocol.md: 3 = `status`/`check`: some listed service is not RUNNING; 4 = unknown
    service name (the same codes as status, so scripts can tell the cases apart)."""
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    wait_running(sup, "a")
    sup.ctl("stop", "a")
    rc, out, err = sup.ctl("check", "a")
    assert rc == 3, (rc, out, err)
    rc, out, err = sup.ctl("check", "nosuch")
    assert rc == 4, (rc, out, err)
    assert sup.stop()[0] == 0


def test_ctl_recover_restarts_a_fatal_service(h):
    sup = Sup(h)
    ok = h.tmp / "ok"
    starts = h.tmp / "starts"
    sup.service("flaky", f"sh -c 'echo x >> {starts}; test -f {ok} || exit 1; exec sleep 1000'",
                restart={"delay": "50ms", "max_delay": "50ms", "limit": "3/1h"})
    sup.start()
    assert wait_for(lambda: state(sup, "flaky") == "FATAL", 10, 0.05), sup.log()
    rc, out, err = sup.ctl("status", "flaky")
    assert rc == 3 and re.match(r"^flaky +FATAL +.*limit 3/3600s", out), out
    assert len(starts.read_text().split()) == 3
    ok.write_text("")
    assert not wait_for(lambda: len(starts.read_text().split()) > 3, 0.3)  # parked

    rc, out, err = sup.ctl("recover", "flaky")
    assert (rc, out) == (0, "flaky: recovering from FATAL\n"), (out, err)
    wait_running(sup, "flaky")
    s = svc(sup, "flaky")
    assert s["restart_limit"]["used"] == 0, s
    rc, out, err = sup.ctl("recover")  # nothing to recover: counters only, still success
    assert rc == 0 and "flaky: counters reset (RUNNING)" in out, out
    rc, out, err = sup.ctl("recover", "nosuch")
    assert rc == 4, out
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- shutdown / version

def test_ctl_shutdown(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.service("b", "sleep 1001")
    sup.start()
    wait_running(sup, "a", "b")
    rc, out, err = sup.ctl("shutdown")
    assert (rc, out) == (0, "shutting down\n"), err
    assert h.wait_exit(sup.p, 10, "nines") == 0
    assert sleeps(h.tag, 1000, 1001) == []
    rc, out, err = sup.ctl("status")
    assert rc == 1 and str(sup.sock) in err, err


def test_ctl_version(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    wait_socket(sup)
    rc, out, _, _ = h.run([h.nines, "--version"])
    version = out.split()[1]
    rc, out, err = sup.ctl("version")
    assert rc == 0, err
    assert out.splitlines() == [f"ninesctl {version} (protocol 1)",
                                f"nines {version} (protocol 1)"], out
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- client errors

@pytest.mark.parametrize("args", [
    [],
    ["bogus"],
    ["stop"],
    ["start"],
    ["restart"],
    ["stop", "all", "a"],
    ["status", "Bot"],
    ["status", "--yaml"],
    ["signal", "FOO", "a"],
    ["signal", "TERM"],
    ["reload", "extra"],
    ["recover", "a", "b"],
    ["shutdown", "now"],
    ["-t", "x", "status"],
    ["-Z", "status"],
], ids=lambda a: " ".join(a) or "no-verb")
def test_ctl_usage_errors_exit_2(h, args):
    # The socket does not exist: usage errors are found before connecting.
    sock = h.tmp / "absent.sock"
    rc, out, err, _ = h.run([ninesctl_path(h), "-s", sock, *args])
    assert rc == 2, (rc, out, err)
    assert "usage" in err, err


def test_ctl_unreachable_socket_exit_1_names_it(h):
    absent = h.tmp / "absent.sock"
    rc, out, err, _ = h.run([ninesctl_path(h), "-s", absent, "status"])
    assert rc == 1 and str(absent) in err and "cannot connect" in err, err
    # A socket file nobody listens on (nines was SIGKILLed): refused, same answer.
    stale = h.tmp / "stale.sock"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(stale))
    s.close()
    rc, out, err, _ = h.run([ninesctl_path(h), "-s", stale, "stop", "all"])
    assert rc == 1 and str(stale) in err, err
    # $NINES_SOCKET is used when -s is absent
    rc, out, err, _ = h.run([ninesctl_path(h), "status"],
                            env={**os.environ, "NINES_SOCKET": str(absent)})
    assert rc == 1 and str(absent) in err, err


# --------------------------------------------------------------------------- authorisation

def _auth_sup(h, pub, main_extra=""):
    sup = sup_with_run_dir(h, pub / "run", main_extra)
    sup.service("a", "sleep 1000")
    sup.start()
    wait_running(sup, "a")
    assert os.stat(sup.sock).st_mode & 0o777 == 0o666
    return sup


def test_ctl_authorisation_groups(h):
    pub = public_dir()
    try:
        as_nobody = NOBODY + ["--clear-groups"]
        # No groups configured: strangers get "permission denied", and nines logs it.
        sup = _auth_sup(h, pub)
        rc, out, err = sup.ctl("status", prefix=as_nobody)
        assert rc == 1 and "permission denied" in err and out == "", (rc, out, err)
        assert wait_for(lambda: re.search(r"permission denied: uid 65534 \(pid \d+\)", sup.log()),
                        5), sup.log()
        rc, out, err = sup.ctl("stop", "a", prefix=as_nobody)
        assert rc == 1 and "permission denied" in err
        rc, out, err = sup.ctl("version", prefix=as_nobody)
        assert rc == 1 and "permission denied" in err
        assert svc(sup, "a")["state"] == "RUNNING"  # root still may
        assert sup.stop()[0] == 0

        # status_group: read-only verbs work, changes are denied.
        sup = _auth_sup(h, pub, "status_group = users\n")
        reader = NOBODY + ["--groups=users"]
        rc, out, err = sup.ctl("status", prefix=reader)
        assert rc == 0 and re.match(r"^a +RUNNING", out), (rc, out, err)
        rc, out, err = sup.ctl("check", prefix=reader)
        assert rc == 0, (out, err)
        rc, out, err = sup.ctl("stop", "a", prefix=reader)
        assert rc == 1 and "permission denied" in err, (rc, out, err)
        rc, out, err = sup.ctl("status", prefix=as_nobody)
        assert rc == 1 and "permission denied" in err
        assert svc(sup, "a")["state"] == "RUNNING"
        assert sup.stop()[0] == 0

        # control_group: every verb.
        sup = _auth_sup(h, pub, "status_group = users\ncontrol_group = staff\n")
        operator = NOBODY + ["--groups=staff"]
        rc, out, err = sup.ctl("stop", "a", prefix=operator)
        assert (rc, out) == (0, "a: stopped\n"), (rc, out, err)
        rc, out, err = sup.ctl("start", "a", prefix=operator)
        assert (rc, out) == (0, "a: started\n"), (rc, out, err)
        rc, out, err = sup.ctl("stop", "a", prefix=NOBODY + ["--groups=users"])
        assert rc == 1 and "permission denied" in err
        assert sup.stop()[0] == 0
    finally:
        shutil.rmtree(pub, ignore_errors=True)


# --------------------------------------------------------------------------- malformed requests

def test_ctl_malformed_requests_leave_nines_serving(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    pid = wait_running(sup, "a")["a"]
    path = sup.sock

    # A client that connects and says nothing: timed out after 5 s, meanwhile others are served.
    idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    idle.settimeout(15)
    idle.connect(str(path))
    t_idle = time.monotonic()

    assert raw_request(path, b"\x00\x01\xff\xfegarbage\n").startswith(b"ERR 2 ")
    assert raw_request(path, b"\xff\xfe\xfd\n").startswith(b"ERR 2 ")
    assert raw_request(path, b"status\r\n").startswith(b"ERR 2 control character 0x0d")
    assert raw_request(path, b"\n") == b"ERR 2 empty request\n"
    assert raw_request(path, b"status  a\n").startswith(b"ERR 2 empty argument")
    assert raw_request(path, b"status\nstatus\n").startswith(b"ERR 2 data after the request")
    assert raw_request(path, b"frobnicate\n").startswith(b"ERR 2 unknown verb 'frobnicate'")
    reply = raw_request(path, b"A" * 100_000 + b"\n")
    assert reply.startswith(b"ERR 2 request too long (limit 4096 bytes)"), reply[:200]
    reply = raw_request(path, b"status" + b" a" * 300 + b"\n")
    assert reply.startswith(b"ERR 2 too many arguments"), reply[:200]
    assert raw_request(path, b"stat", shut_wr=True).startswith(b"ERR 2 incomplete request")

    # Half a request, then gone.
    for _ in range(5):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        s.sendall(b"stop a")
        s.close()
    # A request whose client is gone before the answer goes out.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    s.sendall(b"status --json a\n")
    s.close()

    # 50 concurrent clients.
    results = [None] * 50
    barrier = threading.Barrier(50)

    def client(i):
        try:
            barrier.wait(10)
            results[i] = raw_request(path, b"status\n", timeout=20)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = repr(e).encode()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for r in results:
        assert r is not None and r.startswith(b"OK 0\n"), r
        assert re.search(rb"^a +RUNNING +pid %d," % pid, r[5:], re.M), r

    try:
        reply = recv_all(idle)
    finally:
        idle.close()
    waited = time.monotonic() - t_idle
    assert reply == b"ERR 2 timeout\n", reply
    assert 4.5 <= waited <= 10, waited

    rc, out, err = sup.ctl("status")
    assert rc == 0 and re.match(rf"^a +RUNNING +pid {pid},", out), (out, err)
    assert sup.p.poll() is None
    assert svc(sup, "a")["pid"] == pid
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- one nines per run_dir

def test_ctl_single_instance_per_run_dir(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    first = sup.start()
    pid = wait_running(sup, "a")["a"]
    rc, out, err, took = h.run([h.nines, "-c", sup.conf], timeout=15)
    assert rc != 0, err
    assert f"pid {first.pid}" in err, err
    assert str(sup.run_dir) in err, err
    assert first.poll() is None
    assert find_procs(h.tag, ["sleep", "1000"]) == [pid]  # the second one started nothing
    s = svc(sup, "a")
    assert s["state"] == "RUNNING" and s["pid"] == pid
    assert sup.stop()[0] == 0


def test_ctl_sigkill_then_restart_sweeps_previous_generation(h):
    sup = Sup(h)
    sup.service("bot", "sh -c 'setsid sleep 777 & exec sleep 1000'",
                service={"stop_timeout": "3s"})
    sup.start()
    old_main = wait_running(sup, "bot")["bot"]
    assert wait_for(lambda: len(sleeps(h.tag, 777)) == 1 and cmdline_is(old_main, "sleep 1000"), 5)
    old_bg = sleeps(h.tag, 777)[0]

    sup.p.kill()
    h.wait_exit(sup.p, 5, "nines")
    assert alive(old_main) and alive(old_bg)  # a SIGKILLed nines leaves its services behind

    sup.start()
    most = 0
    new_main = None
    old_gone_before_new = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        bots = sleeps(h.tag, 1000)
        most = max(most, len(bots))
        fresh = [p for p in bots if p != old_main]
        if fresh and old_gone_before_new is None:
            old_gone_before_new = not alive(old_main) and not alive(old_bg)
        if fresh:
            try:
                s = svc(sup, "bot")
            except (AssertionError, ValueError, KeyError):
                s = {}
            if s.get("state") == "RUNNING" and s.get("pid") == fresh[0]:
                new_main = fresh[0]
                break
        time.sleep(0.002)
    assert new_main, f"no new generation; log:\n{sup.log()}"
    assert old_gone_before_new, "the new generation started before the old one was gone"
    assert most <= 1, f"{most} 'sleep 1000' alive at once"
    assert not alive(old_main) and not alive(old_bg)
    log = sup.log()
    assert "previous nines" in log and "previous generation gone" in log, log
    assert log.index("previous generation gone") < log.index("bot: STOPPED -> STARTING"), log
    assert sup.stop()[0] == 0


def cmdline_is(pid, text):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().rstrip(b"\0").split(b"\0") == \
            text.encode().split()
    except OSError:
        return False


# --------------------------------------------------------------------------- stale pid file

def test_ctl_stale_pidfile_removed_before_start(h):
    pub = public_dir()
    try:
        stale = pub / "x.pid"
        dead = dead_pid()
        stale.write_text(f"{dead}\n")
        live = pub / "live.pid"
        live.write_text(f"{os.getpid()}\n")
        sup = Sup(h)
        sup.service("svc", "sleep 1000", service={"pidfile": stale})
        sup.service("held", "sleep 1001", service={"pidfile": live})
        sup.start()
        wait_running(sup, "svc", "held")
        assert not stale.exists()
        rc, out, err = sup.ctl("status", "svc")
        assert rc == 0, out
        want = f"  pidfile:     {stale}; removed stale {stale} (pid {dead} not running)"
        assert want in out.splitlines(), out
        assert f"removed stale {stale}" in sup.log()
        # A pid file whose owner lives is left alone, and status says so.
        assert live.read_text() == f"{os.getpid()}\n"
        rc, out, err = sup.ctl("status", "held")
        assert f"  pidfile:     {live}; {live} in use by pid {os.getpid()}" in out.splitlines(), out
        assert sup.stop()[0] == 0
    finally:
        shutil.rmtree(pub, ignore_errors=True)


# --------------------------------------------------------------------------- waiting clients

def test_ctl_client_gives_up_while_stop_goes_on(h):
    """`ninesctl -t 1 stop` of a service that needs 2 s: the client reports the timeout with the
    socket path (exit 1); nines drops the waiting answer and finishes the stop anyway."""
    sup = Sup(h)
    sup.service("slow", "sh -c \"trap '' TERM; sleep infinity\"", service={"stop_timeout": "2s"})
    sup.service("other", "sleep 1000")
    sup.start()
    wait_running(sup, "slow", "other")
    assert wait_for(lambda: sleeps(h.tag, "infinity"), 5)  # the TERM trap is in place
    rc, out, err = sup.ctl("-t", "1", "stop", "slow")
    assert rc == 1 and "no reply" in err and str(sup.sock) in err, (rc, out, err)
    # Raw clients too: a stop request and gone at once.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(sup.sock))
    s.sendall(b"stop other\n")
    s.close()
    assert wait_for(lambda: state(sup, "slow") == "STOPPED", 6, 0.05), sup.log()
    assert wait_for(lambda: state(sup, "other") == "STOPPED", 6, 0.05), sup.log()
    assert sleeps(h.tag, "infinity", 1000) == []
    assert sup.p.poll() is None
    rc, out, err = sup.ctl("start", "all")
    assert rc == 0 and sorted(out.splitlines()) == ["other: started", "slow: started"], out
    assert sup.stop()[0] == 0


def test_ctl_concurrent_restarts_never_run_two(h):
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    sup.start()
    first = wait_running(sup, "a")["a"]
    argv = [ninesctl_path(h), "-s", str(sup.sock), "restart", "a"]
    most = [0]
    done = threading.Event()

    def watch():
        while not done.is_set():
            most[0] = max(most[0], len(sleeps(h.tag, 1000)))
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        results = run_many([argv] * 10, workers=10, timeout=30)
    finally:
        done.set()
        watcher.join()
    for _, rc, out, err in results:
        assert (rc, out) == (0, b"a: restarted\n"), (rc, out, err)
    now = sleeps(h.tag, 1000)
    assert len(now) == 1 and now[0] != first, now
    assert most[0] <= 1, most[0]
    assert svc(sup, "a")["pid"] == now[0]
    assert sup.stop()[0] == 0


def test_ctl_connection_limit_per_unprivileged_uid(h):
    pub = public_dir()
    try:
        sup = sup_with_run_dir(h, pub / "run", "status_group = users\n")
        sup.service("a", "sleep 1000")
        sup.start()
        wait_running(sup, "a")
        script = (
            "import socket, sys\n"
            "def conn():\n"
            "    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)\n"
            "    s.settimeout(10)\n"
            "    s.connect(sys.argv[1])\n"
            "    return s\n"
            "held = [conn() for _ in range(32)]\n"
            "extra = conn()\n"
            "print(extra.recv(512).decode().strip())\n"
            "for s in held + [extra]:\n"
            "    s.close()\n"
            "import time\n"
            "deadline = time.monotonic() + 5\n"
            "while True:  # nines sees the closes asynchronously: poll, bounded\n"
            "    s = conn()\n"
            "    s.sendall(b'status\\n')\n"
            "    first = s.recv(512).decode().splitlines()[0]\n"
            "    s.close()\n"
            "    if first == 'OK 0' or time.monotonic() > deadline:\n"
            "        break\n"
            "    time.sleep(0.02)\n"
            "print(first)\n")
        rc, out, err, _ = h.run(NOBODY + ["--groups=users", "/usr/bin/python3", "-c", script,
                                          str(sup.sock)], timeout=20)
        assert rc == 0, err
        assert out.splitlines() == ["ERR 1 too many connections", "OK 0"], out
        assert "too many connections, refusing uid 65534" in sup.log()
        # root is not limited per uid
        conns = []
        try:
            for _ in range(40):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(str(sup.sock))
                conns.append(s)
            rc, out, err = sup.ctl("status")
            assert rc == 0, (out, err)
        finally:
            for s in conns:
                s.close()
        assert sup.stop()[0] == 0
    finally:
        shutil.rmtree(pub, ignore_errors=True)
