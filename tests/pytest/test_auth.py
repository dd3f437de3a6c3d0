"""Tokens and the 401-aware policy: K1, K2, K4, K6, K7 (nines' side), A4, A5 of
../shared/cases/discord.md."""

import json
import os
import re

import pytest

import sys

from conftest import wait_for
from supervisor_util import Sup, lines_of
from tokens import fake_token


def bot_svc(h, sup, token_file, name="bot", **extra):
    """A service that records the DISCORD_TOKEN it got (hex, so the file never holds a token
    line a scanner would flag) and keeps running."""
    seen = h.tmp / f"{name}.seen"
    sup.service(name, f"sh -c 'printf %s \"$DISCORD_TOKEN\" | od -An -tx1 | tr -d \" \\n\" >> {seen};"
                      f" echo >> {seen}; exec sleep 1000'",
                auth={"token_file": token_file, **extra.pop("auth", {})},
                restart={"delay": "100ms", **extra.pop("restart", {})}, **extra)
    return seen


def tokens_seen(path):
    return [bytes.fromhex(x).decode() for x in lines_of(path)]


def test_discord_k1_trailing_newline_is_cleaned_and_logged_by_name(h):
    tok, bot_id = fake_token(seed=1)
    tf = h.tmp / "token"
    tf.write_text(tok + "\n")
    os.chmod(tf, 0o600)
    sup = Sup(h)
    seen = bot_svc(h, sup, tf)
    sup.start()
    sup.wait_state("bot", "RUNNING")
    assert wait_for(lambda: tokens_seen(seen), 5)
    assert tokens_seen(seen)[0] == tok
    assert "token cleaned: newline" in sup.log()
    assert tok not in sup.log() and tok.split(".")[2] not in sup.log()
    assert str(bot_id) in sup.log()  # the fingerprint: bot ID + short hash
    assert sup.stop()[0] == 0


def test_discord_k2_k3_quotes_env_lines_prefixes(h):
    tok, _ = fake_token(seed=2)
    variants = [f'DISCORD_TOKEN="{tok}"\r\n', f"export DISCORD_TOKEN='{tok}'\n",
                f"\ufeffBot {tok}\u200b\n", f"\u00a0Bearer {tok}\n"]
    for i, text in enumerate(variants):
        tf = h.tmp / f"token{i}"
        tf.write_text(text, encoding="utf-8")
        os.chmod(tf, 0o600)
    sup = Sup(h)
    seens = [bot_svc(h, sup, h.tmp / f"token{i}", name=f"bot{i}",
                     auth={"format": "opaque" if i else "discord"}) for i in range(len(variants))]
    sup.start()
    for i, seen in enumerate(seens):
        assert wait_for(lambda: tokens_seen(seen), 10), sup.log()
        assert tokens_seen(seen)[0] == tok, (i, variants[i])
    assert tok not in sup.log()
    assert sup.stop()[0] == 0


def test_discord_k4_wrong_credentials_rejected_before_start(h):
    kinds = {
        "secret": ("A" * 16 + "b" * 16, "client secret"),
        "pubkey": ("ab" * 32, "public key"),
        "appid": ("123456789012345678", "application or user ID"),
        "webhook": ("https://discord.com/api/webhooks/123456789012345678/" + "x" * 60, "webhook"),
    }
    sup = Sup(h)
    for name, (text, _) in kinds.items():
        tf = h.tmp / f"{name}.tok"
        tf.write_text(text + "\n")
        os.chmod(tf, 0o600)
        bot_svc(h, sup, tf, name=name)
    sup.start()
    for name, (_, what) in kinds.items():
        sup.wait_state(name, "AUTHFAIL")
        reason = sup.transitions(name)[-1][3]
        assert "token rejected" in reason and what.lower() in reason.lower(), reason
        assert not (h.tmp / f"{name}.seen").exists()  # never started
    assert sup.stop()[0] == 0


def test_discord_k6_file_wins_over_stale_environment(h):
    old, _ = fake_token(seed=3)
    new, _ = fake_token(seed=4)
    tf = h.tmp / "token"
    tf.write_text(new)
    os.chmod(tf, 0o600)
    sup = Sup(h)
    seen = bot_svc(h, sup, tf)
    sup.p = h.spawn([h.nines, "-c", sup.conf], env=dict(os.environ, DISCORD_TOKEN=old))
    assert wait_for(lambda: tokens_seen(seen), 10)
    assert tokens_seen(seen)[0] == new
    assert sup.stop()[0] == 0


def test_discord_k7_token_never_leaks_from_nines(h):
    tok, _ = fake_token(seed=5)
    tf = h.tmp / "token"
    tf.write_text(tok)
    os.chmod(tf, 0o600)
    sup = Sup(h)
    bot_svc(h, sup, tf)
    other_env = h.tmp / "other.env"
    sup.service("other", f"sh -c 'env > {other_env}; exec sleep 1000'")
    sup.start()
    sup.wait_state("bot", "RUNNING")
    assert wait_for(lambda: other_env.exists() and other_env.read_text(), 5)
    for text in [sup.log(), sup.out(), other_env.read_text(), sup.ctl("status")[1],
                 sup.ctl("status", "bot")[1], sup.ctl("status", "--json")[1]]:
        assert tok not in text and tok.split(".")[1] + "." + tok.split(".")[2] not in text
    assert re.search(r"token \d+:[0-9a-f]{6}", sup.ctl("status", "bot")[1])
    # No argv of any process carries it.
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            assert tok.encode() not in open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            pass
    assert sup.stop()[0] == 0


def test_discord_a4_exit_77_authfail_78_fatal(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    sup.service("auth", f"sh -c 'echo x >> {starts}; exit 77'", restart={"delay": "100ms"})
    sup.service("cfg", "sh -c 'exit 78'", restart={"delay": "100ms"})
    sup.start()
    sup.wait_state("auth", "AUTHFAIL")
    sup.wait_state("cfg", "FATAL")
    assert not wait_for(lambda: len(lines_of(starts)) > 1, 1.5)
    rc, out, _ = sup.ctl("status")
    assert re.search(r"auth\s+AUTHFAIL\s+exit 77; waiting for a new token", out), out
    assert sup.stop()[0] == 0


def test_discord_a5_new_token_leaves_authfail_at_once(h):
    bad, _ = fake_token(seed=6)
    good, good_id = fake_token(seed=7)
    secrets = h.tmp / "secrets"
    secrets.mkdir()
    tf = secrets / "token"
    tf.write_text(bad)
    sup = Sup(h)
    seen = h.tmp / "seen"
    # The "bot" accepts only the good token: exit 77 otherwise, like a bot after a 401.
    sup.service("bot", f"sh -c 'test \"$DISCORD_TOKEN\" = \"$WANT\" || exit 77;"
                       f" echo ok >> {seen}; exec sleep 1000'",
                service={"env": f"WANT={good}"}, auth={"token_file": tf},
                restart={"delay": "100ms"})
    sup.start()
    sup.wait_state("bot", "AUTHFAIL")
    # Touching the file (same content) changes nothing.
    os.utime(tf)
    assert not wait_for(lambda: sup.state("bot") != "AUTHFAIL", 0.7)
    # Write the new token the way an editor does: a temporary file renamed over the old one.
    tmp = secrets / ".token.swp"
    tmp.write_text(good + "\n")
    os.rename(tmp, tf)
    assert wait_for(lambda: sup.state("bot") == "RUNNING", 3), sup.log()
    assert wait_for(lambda: lines_of(seen) == ["ok"], 3), lines_of(seen)  # written after exec
    assert str(good_id) in sup.ctl("status", "bot")[1]
    assert sup.stop()[0] == 0


def test_discord_a5_kubernetes_symlink_swap(h):
    bad, _ = fake_token(seed=8)
    good, _ = fake_token(seed=9)
    vol = h.tmp / "vol"
    vol.mkdir()
    (vol / "v1").mkdir()
    (vol / "v1" / "token").write_text(bad)
    os.symlink("v1", vol / "..data")
    os.symlink("..data/token", vol / "token")
    sup = Sup(h)
    sup.service("bot", "sh -c 'test \"$DISCORD_TOKEN\" = \"$WANT\" || exit 77; exec sleep 1000'",
                service={"env": f"WANT={good}"}, auth={"token_file": vol / "token"})
    sup.start()
    sup.wait_state("bot", "AUTHFAIL")
    # kubelet: write a new version dir, point a new symlink at it, rename it over ..data.
    (vol / "v2").mkdir()
    (vol / "v2" / "token").write_text(good)
    os.symlink("v2", vol / "..data_tmp")
    os.rename(vol / "..data_tmp", vol / "..data")
    assert wait_for(lambda: sup.state("bot") == "RUNNING", 3), sup.log()
    assert sup.stop()[0] == 0


def test_ctl_token_check_offline_never_prints_the_token(h):
    from supervisor_util import ninesctl_path
    tok, bot_id = fake_token(seed=10)
    tf = h.tmp / "t"
    tf.write_text(f"export DISCORD_TOKEN=\"{tok}\"\n")
    rc, out, err, _ = h.run([ninesctl_path(h), "token", "check", tf])
    assert rc == 0, out + err
    assert "verdict: ok" in out and f"fingerprint: {bot_id}:" in out
    assert "cleaning: " in out and "export" in out and "quotes" in out
    assert tok not in out + err and tok.split(".")[2][:8] not in out + err
    rc, out, err, _ = h.run([ninesctl_path(h), "token", "check", "-"], input=b"ab" * 32 + b"\n")
    assert rc == 3 and "public key" in out.lower(), out
    rc, _, err, _ = h.run([ninesctl_path(h), "token", "frobnicate"])
    assert rc == 2


def _printer(h, name, lines, code):
    script = h.tmp / f"{name}.sh"
    script.write_text("".join(f"echo '{l}' >&2\n" for l in lines) + f"exit {code}\n")
    return f"sh {script}"


def test_discord_a1_login_failure_line_parks_after_one_attempt(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    tok, _ = fake_token(seed=11)
    tf = h.tmp / "token"
    tf.write_text(tok)
    os.chmod(tf, 0o600)
    script = h.tmp / "bot.sh"
    script.write_text(f"echo x >> {starts}\nsleep 0.2\n"
                      "echo 'discord.errors.LoginFailure: Improper token has been passed.' >&2\n"
                      "sleep 5\nexit 1\n")
    sup.service("bot", f"sh {script}", auth={"token_file": tf}, restart={"delay": "100ms"})
    sup.start()
    sup.wait_state("bot", "AUTHFAIL", timeout=10)
    assert not wait_for(lambda: len(lines_of(starts)) > 1, 2.0)
    rc, out, _ = sup.ctl("status", "bot")
    assert "log: " in out and "AUTHFAIL" in out, out
    assert sup.stop()[0] == 0


def test_discord_a2_gateway_4004_kills_a_retrying_bot(h):
    sup = Sup(h)
    starts = h.tmp / "starts"
    script = h.tmp / "bot.sh"
    # A bot that logs the 4004 close and would keep retrying forever.
    script.write_text(f"echo x >> {starts}\nsleep 0.2\n"
                      "echo 'discord.gateway: Shard ID None WebSocket closed with 4004' >&2\n"
                      "while :; do sleep 0.1; done\n")
    tf = h.tmp / "token"
    tf.write_text(fake_token(seed=12)[0])
    sup.service("bot", f"sh {script}", auth={"token_file": tf}, restart={"delay": "100ms"})
    sup.start()
    sup.wait_state("bot", "AUTHFAIL", timeout=10)
    stops = [t for t in sup.transitions("bot") if t[2] == "STOPPING"]
    assert stops and stops[0][3] == "auth"
    assert not wait_for(lambda: len(lines_of(starts)) > 1, 1.5)
    assert sup.stop()[0] == 0


def test_discord_config_close_4014_is_fatal(h):
    sup = Sup(h)
    script = h.tmp / "bot.sh"
    script.write_text("echo 'discord.errors.PrivilegedIntentsRequired: Shard ID None is requesting "
                      "privileged intents that have not been explicitly enabled' >&2\n"
                      "while :; do sleep 0.1; done\n")
    tf = h.tmp / "token"
    tf.write_text(fake_token(seed=13)[0])
    sup.service("bot", f"sh {script}", auth={"token_file": tf})
    sup.start()
    sup.wait_state("bot", "FATAL", timeout=10)
    assert "configuration error" in sup.transitions("bot")[-1][3]
    assert sup.stop()[0] == 0


def test_discord_k7_captured_log_is_redacted(h):
    tok, _ = fake_token(seed=14)
    other, _ = fake_token(seed=15)
    tf = h.tmp / "token"
    tf.write_text(tok)
    os.chmod(tf, 0o600)
    sup = Sup(h)
    script = h.tmp / "leaky.sh"
    script.write_text('echo "connecting with $DISCORD_TOKEN"\n'
                      f'echo "header Authorization: Bot {other}"\n'
                      'echo "done"\nexec sleep 1000\n')
    sup.service("bot", f"sh {script}", auth={"token_file": tf})
    sup.start()
    logf = sup.log_dir / "bot.log"
    assert wait_for(lambda: logf.exists() and "done" in logf.read_text(), 5)
    for text in [logf.read_text(), sup.out(), sup.ctl("log", "bot", "-n", "10")[1],
                 sup.ctl("status", "bot")[1]]:
        assert tok not in text and other not in text, text
        assert tok.split(".")[2] not in text
    assert "[REDACTED]" in logf.read_text()
    assert sup.stop()[0] == 0


def test_discord_two_services_same_bot_is_a_config_error(h):
    tok_a, bot_id = fake_token(seed=20)
    tok_b, _ = fake_token(bot_id=bot_id, seed=21)  # another token of the same bot (rotated copy)
    sup = Sup(h)
    for name, tok in (("a", tok_a), ("b", tok_b)):
        tf = h.tmp / f"{name}.token"
        tf.write_text(tok)
        os.chmod(tf, 0o600)
        sup.service(name, "sleep 1000", auth={"token_file": tf})
    rc, out, err, _ = h.run([h.nines, "--check", "-c", sup.conf])
    assert rc == 1
    assert f"b.conf:" in err and f"bot {bot_id}" in err, err
    assert tok_a not in err and tok_b not in err


LIBRARY_AUTH_LINES = [
    "discord.errors.LoginFailure: Improper token has been passed.",
    "Error [TokenInvalid]: An invalid token was provided.",
    "discord.gateway: Shard ID None WebSocket closed with 4004",
]


@pytest.mark.parametrize("line", LIBRARY_AUTH_LINES, ids=["discordpy", "discordjs", "gw4004"])
def test_discord_bad_token_loop_spawns_exactly_once(h, line):
    """A scripted fake bot prints its library's auth-failure line and exits 1, as real bots do.
    With backoff shrunk 6000x (50 ms, cap 100 ms), 3 s stand for the default policy's 10 minutes
    (~30 restarts if nothing parked it): exactly one spawn."""
    sup = Sup(h)
    starts = h.tmp / "starts"
    script = h.tmp / "bot.sh"
    script.write_text(f"echo x >> {starts}\necho '{line}' >&2\nexit 1\n")
    tf = h.tmp / "token"
    tf.write_text(fake_token(seed=30)[0])
    sup.service("bot", f"sh {script}", auth={"token_file": tf},
                restart={"delay": "50ms", "max_delay": "100ms"})
    sup.start()
    sup.wait_state("bot", "AUTHFAIL", timeout=10)
    assert not wait_for(lambda: len(lines_of(starts)) > 1, 3.0)
    assert lines_of(starts) == ["x"]
    assert sup.stop()[0] == 0


def test_discord_a6_discord_services_get_a_login_budget(h):
    """A6: format = discord gets limit 900/24h by default (Discord resets a token after 1,000
    logins a day); it is persisted (test_sup_p3_limit_survives_restart_of_nines) and a crash
    after connecting grows the backoff like any failure."""
    sup = Sup(h)
    tf = h.tmp / "token"
    tf.write_text(fake_token(seed=31)[0])
    starts = h.tmp / "starts"
    sup.service("bot", f"sh -c 'echo x >> {starts}; sleep 0.2; exit 1'", auth={"token_file": tf},
                restart={"delay": "100ms", "jitter": "0%", "max_delay": "5s"})
    sup.start()
    assert wait_for(lambda: len(lines_of(starts)) >= 4, 15)
    doc = json.loads(sup.ctl("status", "--json", "bot")[1])["services"][0]
    assert doc["restart_limit"]["limit"] == 900 and doc["restart_limit"]["window_s"] == 86400
    assert doc["restart_limit"]["used"] >= 3
    assert sup.stop()[0] == 0


def test_discord_probe_checks_a_new_token_once_before_leaving_authfail(h):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
    from fake_discord import FakeDiscordThread
    old, _ = fake_token(seed=32)
    new, new_id = fake_token(seed=33)
    newer, _ = fake_token(seed=34)
    with FakeDiscordThread(tokens=[new], quiet=True) as fd:
        sup = Sup(h)
        tf = h.tmp / "token"
        tf.write_text(old)
        os.chmod(tf, 0o600)
        sup.service("bot", "sh -c 'test \"$DISCORD_TOKEN\" = \"$WANT\" || exit 77; exec sleep 1000'",
                    service={"env": f"WANT={new}"},
                    auth={"token_file": tf, "probe": "on", "api": fd.api_base})
        sup.start()
        sup.wait_state("bot", "AUTHFAIL")
        # A token the fake does not know: one probe, 401, still parked.
        tf.write_text(newer)
        assert wait_for(lambda: "refused too" in sup.log(), 5), sup.log()
        assert sup.state("bot") == "AUTHFAIL"
        assert fd.stats()["rest_401"] == 1
        # The accepted one: one probe, 200, started.
        tf.write_text(new)
        sup.wait_state("bot", "RUNNING", timeout=5)
        assert str(new_id) in sup.ctl("status", "bot")[1]
        assert fd.stats()["rest_401"] == 1
        assert sup.stop()[0] == 0
