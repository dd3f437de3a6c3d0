"""Helpers for black-box tests of the supervisor mode (`nines -c FILE`).

A Sup writes a main config and service files into the test's tmp dir (every path inside it),
starts nines on it through the Harness (so every process is tagged and cleaned up), and reads
nines' stderr log for state transitions (`nines: info: NAME: OLD -> NEW: reason`).
"""

import os
import re
import signal
import time

from conftest import wait_for

TRANSITION_RE = re.compile(r"nines: \w+: ([a-z0-9_.-]+): ([A-Z]+) -> ([A-Z]+)(?:: (.*))?$")


def wrap(value, width=150):
    """A long value continued on indented lines (joined with one space by nines): pytest's tmp
    paths easily make a command longer than libinih's 199 characters."""
    value = str(value)
    if len(value) <= width:
        return value
    lines, cur = [], ""
    for word in value.split(" "):
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}" if cur else word
    lines.append(cur)
    return "\n    ".join(lines)


class Sup:
    def __init__(self, h, main_extra=""):
        self.h = h
        self.dir = h.tmp / "etc"
        self.services = self.dir / "services"
        self.services.mkdir(parents=True, exist_ok=True)
        self.run_dir = h.tmp / "run"
        self.state_dir = h.tmp / "state"
        self.log_dir = h.tmp / "log"
        self.conf = self.dir / "nines.conf"
        self.conf.write_text(
            "[nines]\n"
            f"services_dir = {self.services}\n"
            f"run_dir = {self.run_dir}\n"
            f"state_dir = {self.state_dir}\n"
            f"log_dir = {self.log_dir}\n"
            "console = yes\n" + main_extra)
        self.p = None

    def service(self, name, command, **sections):
        """Write services/NAME.conf: command plus extra keys per section, e.g.
        restart={'delay': '100ms'}, service={'stop_timeout': '1s'}."""
        svc = {"command": command}
        svc.update(sections.pop("service", {}))
        text = "[service]\n" + "".join(f"{k} = {wrap(v)}\n" for k, v in svc.items())
        for section, keys in sections.items():
            text += f"[{section}]\n" + "".join(f"{k} = {v}\n" for k, v in keys.items())
        path = self.services / f"{name}.conf"
        path.write_text(text)
        return path

    def start(self, *extra, ns=False, prefix=()):
        """Starts nines on this config; prefix: a launcher to run it under (argv words)."""
        argv = [*prefix, self.h.nines, "-c", self.conf, *extra]
        if ns:
            argv = ["unshare", "--pid", "--fork", "--mount-proc", *argv]
        self.p = self.h.spawn(argv)
        return self.p

    def log(self):
        return self.h.err(self.p)

    def out(self):
        return self.h.out(self.p)

    def transitions(self, name=None):
        """[(name, old, new, reason)] in log order."""
        out = []
        for line in self.log().splitlines():
            m = TRANSITION_RE.search(line)
            if m and (name is None or m.group(1) == name):
                out.append(m.groups())
        return out

    def state(self, name):
        t = self.transitions(name)
        return t[-1][2] if t else None

    def wait_state(self, name, state, timeout=10.0):
        ok = wait_for(lambda: self.state(name) == state, timeout)
        assert ok, f"{name} never reached {state}; log:\n{self.log()}"

    def signal(self, sig):
        os.kill(self.p.pid, sig)

    @property
    def sock(self):
        """The control socket nines opens: RUN_DIR/control.sock."""
        return self.run_dir / "control.sock"

    def ctl(self, *args, timeout=30.0, prefix=(), ctl_path=None):
        """Run `ninesctl -s SOCK ARGS...` (prefix: e.g. a setpriv argv run before it); returns
        (rc, stdout, stderr). Fails the test when ninesctl does not finish within timeout."""
        argv = [*prefix, ctl_path or ninesctl_path(self.h), "-s", self.sock, *args]
        rc, out, err, _ = self.h.run(argv, timeout=timeout)
        return rc, out, err

    def stop(self, timeout=30.0):
        """TERM to nines; returns (exit code, seconds it took)."""
        t0 = time.monotonic()
        self.signal(signal.SIGTERM)
        rc = self.h.wait_exit(self.p, timeout, what="nines")
        return rc, time.monotonic() - t0


def ninesctl_path(h):
    """$NINES_BUILD/ninesctl: next to the nines binary under test."""
    return os.path.join(os.path.dirname(str(h.nines)), "ninesctl")


def lines_of(path):
    try:
        return path.read_text().split()
    except FileNotFoundError:
        return []
