"""sd_notify: ready = notify, the per-service watchdog (A7's watchdog half), and nines speaking
sd_notify to its own parent (READY=1, WATCHDOG=1), with a minimal receiver started here."""

import os
import socket
import time

from conftest import wait_for
from supervisor_util import Sup

NOTIFY_PY = r'''
import os, socket, sys, time
def send(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(msg.encode(), os.environ["NOTIFY_SOCKET"])
mode = sys.argv[1]
if mode == "ready":
    while not os.path.exists(sys.argv[2]):
        time.sleep(0.02)
    send("READY=1\nSTATUS=serving 3 guilds")
    time.sleep(1000)
elif mode == "watchdog":
    usec = int(os.environ["WATCHDOG_USEC"])
    send("READY=1")
    for _ in range(int(sys.argv[2])):
        send("WATCHDOG=1")
        time.sleep(usec / 2e6)
    time.sleep(1000)  # hangs: no more WATCHDOG=1
'''


def write_script(h):
    path = h.tmp / "notify_client.py"
    path.write_text(NOTIFY_PY)
    return path


def test_notify_ready_gates_running_and_status_shows(h):
    sup = Sup(h)
    script = write_script(h)
    go = h.tmp / "go"
    sup.service("bot", f"/usr/bin/python3 {script} ready {go}", service={"ready": "notify"})
    sup.service("after", "sleep 1000", service={"after": "bot"})
    sup.start()
    assert wait_for(lambda: "waiting for READY=1" in sup.ctl("status", "bot")[1], 5)
    rc, out, _ = sup.ctl("status")
    assert rc == 3 and "waiting for after= bot" in out, out
    go.write_text("")
    sup.wait_state("bot", "RUNNING", timeout=10)
    sup.wait_state("after", "RUNNING", timeout=5)
    assert wait_for(lambda: 'status "serving 3 guilds"' in sup.ctl("status", "bot")[1], 5)
    rc, out, _ = sup.ctl("status", "--json")
    assert '"notify_status":"serving 3 guilds"' in out
    assert sup.stop()[0] == 0


def test_notify_missed_watchdog_restarts_with_reason(h):
    sup = Sup(h)
    script = write_script(h)
    starts = h.tmp / "starts"
    sup.service("bot", f"sh -c 'echo x >> {starts}; exec /usr/bin/python3 {script} watchdog 4'",
                service={"ready": "notify"}, notify={"watchdog": "400ms"},
                restart={"delay": "100ms", "jitter": "0%"})
    sup.start()
    sup.wait_state("bot", "RUNNING", timeout=10)
    # 4 keep-alives (~0.8 s), then silence: restarted about 400 ms later with reason watchdog.
    assert wait_for(lambda: "watchdog: no WATCHDOG=1" in sup.log(), 10), sup.log()
    assert wait_for(lambda: len(starts.read_text().split()) >= 2, 10)
    t = [x for x in sup.transitions("bot") if x[2] == "STOPPING"]
    assert t and t[0][3] == "watchdog"
    assert sup.stop()[0] == 0


def test_notify_nines_tells_its_parent_ready_and_watchdog(h):
    recv_path = str(h.tmp / "parent.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(recv_path)
    rx.settimeout(0.2)
    sup = Sup(h)
    sup.service("a", "sleep 1000")
    env = dict(os.environ, NOTIFY_SOCKET=recv_path, WATCHDOG_USEC="300000")
    sup.p = h.spawn([h.nines, "-c", sup.conf], env=env)
    got = []

    def read_some():
        try:
            got.append(rx.recv(4096).decode())
        except socket.timeout:
            pass
        text = "\n".join(got)
        return "READY=1" in text and text.count("WATCHDOG=1") >= 3

    assert wait_for(read_some, 10), got
    text = "\n".join(got)
    assert "STATUS=1 of 1 services running" in text
    t0 = time.monotonic()
    sup.stop()
    rx.close()
    assert time.monotonic() - t0 < 5
