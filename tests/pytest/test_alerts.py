"""Alerts: P19 (events are never lost: the hook sees the latest state of every service, a merged
counter shows in status), and AUTHFAIL/recovered reaching an exec hook and a Discord-shaped
webhook."""

import json

from conftest import wait_for
from supervisor_util import Sup
from webhook_server import WebhookServer


def test_sup_p19_events_are_never_lost(h):
    hooklog = h.tmp / "hook.log"
    hook = h.tmp / "hook.sh"
    hook.write_text(f'echo "$NINES_SERVICE $NINES_STATE" >> {hooklog}\nsleep 1\n')
    sup = Sup(h, main_extra=f"[alert]\nexec = /bin/sh {hook}\n")
    for i in range(20):
        sup.service(f"s{i:02d}", "sh -c 'exit 78'")  # all FATAL at once
    sup.start()
    assert wait_for(lambda: all(sup.state(f"s{i:02d}") == "FATAL" for i in range(20)), 15)

    def latest():
        last = {}
        for line in hooklog.read_text().split("\n") if hooklog.exists() else []:
            if line:
                name, state = line.split()
                last[name] = state
        return last

    # 1 s per hook run: merging must cover 20 services within a few runs, not 20 seconds.
    assert wait_for(lambda: len(latest()) == 20, 30), latest()
    assert set(latest().values()) == {"FATAL"}
    rc, out, _ = sup.ctl("status", "--json")
    merged = json.loads(out)["alerts"]["merged"]
    rc, text, _ = sup.ctl("status")
    if merged:
        assert f"alerts: {merged} older events merged" in text
    assert sup.stop()[0] == 0


def test_alerts_authfail_and_recovered_reach_webhook(h):
    with WebhookServer() as srv:
        sup = Sup(h, main_extra=f"[alert]\nwebhook = {srv.url('/hook')}\n")
        flag = h.tmp / "ok"
        sup.service("bot", f"sh -c 'test -f {flag} || exit 77; exec sleep 1000'",
                    restart={"delay": "100ms"})
        sup.start()
        sup.wait_state("bot", "AUTHFAIL")
        assert wait_for(lambda: any("AUTHFAIL" in c for c in srv.contents()), 10), srv.contents()
        flag.write_text("")
        assert sup.ctl("start", "bot")[0] == 0
        assert wait_for(lambda: any("RECOVERED" in c for c in srv.contents()), 10), srv.contents()
        body = srv.requests[0]["json"]
        assert "content" in body and "`bot`" in body["content"]
        assert sup.stop()[0] == 0
