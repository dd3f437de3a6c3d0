#!/usr/bin/python3
"""Health checks at scale: nines with 500 services, each with an HTTP check every second against
one local server; nines' CPU and memory, and the crash-to-exec latency of another service (a
crash loop with restart delay 0) measured while the checks run, against a baseline without them.

Usage: /usr/bin/python3 bench/health.py [--nines build/nines | --from-head] [--services 500]
           [--window 60] [--baseline 20] [--no-profile] [--quick] [--no-write]
                                                          (as root; ~3.5 min, ~2.5 without profile)

Needs: `make` (build/nines, build/ninesctl; or --from-head: builds a clean export of git HEAD),
gcc, and for the profiles perf (`linux-perf`; software events, tracepoints and uprobes only:
no hardware counters needed). Helpers (built into bench/out/):
  - bench/out/sup_stamp (bench/supervisors.c, shared with bench/supervisors.py): the crash-loop
    service; each run appends "START_NS END_NS" (CLOCK_MONOTONIC, first thing in main() / just
    before _exit(1)) to a file, so exit -> next exec is measured outside nines;
  - bench/out/health_httpd (bench/health_httpd.c): a one-thread epoll HTTP server answering 200
    to GET /health, one request per connection, that logs the time of every request.

Phases, one nines at a time, each on a private directory under bench/out/health/:
  A. "checks": N services `sleep 100000`, each with `[health] url = http://127.0.0.1:PORT/health`,
     interval 1s, timeout 2s, retries 3, plus the crash service. Once all N run and the checks
     flow: A0, the crash service stopped (`ninesctl stop crash`): nines' CPU for the checks
     alone; then A1, the crash service started again: crash-to-exec latency, nines' CPU and RSS,
     for --window seconds.
  B. "no checks": the same N services and crash service, no [health]: crash-to-exec baseline.
  C. "alone": the crash service only: the crash-to-exec baseline of an otherwise empty nines.
After the measured windows (so they do not perturb them), profiles of --profile-s seconds each:
perf cpu-clock of nines in A0; a native split of each restart from kernel tracepoints (fork,
exec, sched_switch with kernel stacks, nines' epoll_wait) after A1, in B and in C; uprobes on
nines' loop handlers (`perf probe -x` on the copy of the binary; removed at the end) in A0,
after A1 and in B.

nines gets RLIMIT_NOFILE 65536 (set in the forked child before exec, what `ulimit -n` in a
wrapper does; the hard limit instead when it is lower and this driver may not raise it: raising
it needs CAP_SYS_RESOURCE). The driver is a child subreaper and tags every process it starts
through the environment (as bench/supervisors.py does); after each nines' orderly stop (SIGTERM)
it checks /proc for anything tagged that is left, kills it and reports it.

Replaces the "## Health checks at scale" section of bench/RESULTS.md; other sections are kept.
"""

import argparse
import bisect
import ctypes
import datetime
import hashlib
import json
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import supervisors as sup  # noqa: E402  (its /proc helpers, sup_stamp and its build)

ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
WORK = os.path.join(OUT, "health")
HTTPD_SRC = os.path.join(HERE, "health_httpd.c")
HTTPD = os.path.join(OUT, "health_httpd")
STAMP = sup.STAMP
RESULTS = os.path.join(HERE, "RESULTS.md")
HEADING = "## Health checks at scale"
SLEEP = "/bin/sleep"
TAG_VAR = "BENCH_HEALTH_TAG"
TAG = f"{os.getpid()}.{time.time_ns()}"
NOFILE = 65536
NOFILE_SET = NOFILE  # lowered by nofile_target() when the hard limit cannot be raised
TARGET_P99_MS = 10.0
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
TICK = os.sysconf("SC_CLK_TCK")
read, stat_fields, pct = sup.read, sup.stat_fields, sup.pct


class Terminated(Exception):
    pass


def on_term(signo, frame):
    raise Terminated()


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------- /proc helpers

def cpu_ms(pid):
    """utime + stime of pid (all its threads, exited ones included), ms; /proc/PID/stat fields
    14 and 15, in clock ticks (10 ms at USER_HZ 100)."""
    st = stat_fields(pid)
    if not st:
        return None
    return (int(st[1][11]) + int(st[1][12])) * 1000 / TICK


def oncpu_ms(pid):
    """Time on CPU of the live threads of pid, ms, from schedstat (ns): finer than ticks."""
    return sup.oncpu_ns(pid) / 1e6


def status_kb(pid, key):
    for line in (read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return None


def nofile_limit(pid):
    for line in (read(f"/proc/{pid}/limits") or "").splitlines():
        if line.startswith("Max open files"):
            return line.split()[3]
    return "?"


def nfds(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


def tagged():
    """Pids of live (non-zombie) processes carrying this run's tag, except this driver."""
    me, key = os.getpid(), f"{TAG_VAR}={TAG}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        env = read(f"/proc/{d}/environ", "rb")
        if env and key in env.split(b"\0"):
            st = stat_fields(d)
            if st and st[1][0] != "Z":
                pids.append(int(d))
    return pids


def reap_orphans(keep=()):
    """Reaps zombies re-parented to this driver (a subreaper), leaving alone the processes it
    launched itself (their Popen objects wait for them)."""
    for pid in sup.children(os.getpid()):
        st = stat_fields(pid)
        if pid not in keep and st and st[1][0] == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def busy_ms():
    return sup.busy_ms()


def self_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)  # ninesctl runs (reaped)
    return (r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime) * 1e3


def count_lines(path):
    return sup.count_lines(path)


# ---------------------------------------------------------------------------- processes

def preexec_nines():
    """In the forked nines: SIGTERM when this driver dies (even by SIGKILL), so it stops its
    services; and the fd limit 500 checks and 500 log pipes need."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE_SET, NOFILE_SET))
    if os.getppid() == 1:
        os._exit(1)


def nofile_target():
    """65536, or the hard limit when it is lower and cannot be raised (raising it needs
    CAP_SYS_RESOURCE, which not every container grants)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard >= NOFILE:
        return NOFILE
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, NOFILE))  # this driver's own
        return NOFILE
    except (ValueError, OSError):
        return hard


def preexec_plain():
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


launched = []  # Popen objects of nines and the server not yet stopped (for cleanup)


class Httpd:
    def __init__(self):
        self.times = os.path.join(WORK, "httpd-times")
        env = dict(os.environ, **{TAG_VAR: TAG})
        self.p = subprocess.Popen([HTTPD, self.times], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, env=env, start_new_session=True,
                                  preexec_fn=preexec_plain)
        launched.append(self.p)
        line = self.p.stdout.readline().decode()
        if not line.startswith("port "):
            raise RuntimeError(f"health_httpd did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/health"

    def count(self):
        """/health requests answered so far (also flushes the times file)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as r:
            return int(r.read())

    def stop(self):
        self.p.stdin.close()  # EOF: it exits
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        launched.remove(self.p)


class Nines:
    nines = os.path.join(ROOT, "build", "nines")
    ctl = os.path.join(ROOT, "build", "ninesctl")

    def __init__(self, label, n, url):
        """n `sleep` services (with an HTTP check of url each when url is set) + "crash"."""
        self.dir = d = os.path.join(WORK, label)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(os.path.join(d, "services"))
        self.n = n
        self.conf = os.path.join(d, "nines.conf")
        self.sock = os.path.join(d, "run", "control.sock")
        self.stamps = os.path.join(d, "crash-stamps")
        with open(self.conf, "w") as f:
            f.write(f"[nines]\nservices_dir = {d}/services\nrun_dir = {d}/run\n"
                    f"state_dir = {d}/state\nlog_dir = {d}/log\n")
        for i in range(1, n + 1):
            text = f"[service]\ncommand = {SLEEP} 100000\n"
            if url:
                text += (f"[health]\nurl = {url}\ninterval = 1s\ntimeout = 2s\nretries = 3\n")
            with open(os.path.join(d, "services", f"svc{i:03d}.conf"), "w") as f:
                f.write(text)
        with open(os.path.join(d, "services", "crash.conf"), "w") as f:
            f.write(f"[service]\ncommand = {STAMP} crash {self.stamps}\n"
                    "[restart]\ndelay = 0\nbackoff = fixed\njitter = 0%\n")
        env = dict(os.environ, **{TAG_VAR: TAG})
        self.errf = open(os.path.join(d, "stderr.log"), "wb")
        self.p = subprocess.Popen([self.nines, "-c", self.conf], stdin=subprocess.DEVNULL,
                                  stdout=self.errf, stderr=subprocess.STDOUT, cwd=d, env=env,
                                  start_new_session=True, preexec_fn=preexec_nines)
        launched.append(self.p)

    @property
    def pid(self):
        return self.p.pid

    def alive_or_die(self):
        if self.p.poll() is not None:
            raise RuntimeError(f"nines exited ({self.p.returncode}); see {self.dir}/stderr.log")

    def wait_up(self, timeout=60.0):
        """Waits until all n `sleep` services run and the crash service has run once; returns
        seconds from launch."""
        t0 = time.monotonic()
        while True:
            self.alive_or_die()
            sleeps = len(sup.children(self.pid, "sleep"))
            if sleeps >= self.n and count_lines(self.stamps) >= 1:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError(f"only {sleeps}/{self.n} services up after {timeout:.0f} s; "
                                   f"see {self.dir}/stderr.log")
            time.sleep(0.1)

    def ctl_run(self, *args, check=True):
        r = subprocess.run([self.ctl, "-s", self.sock, *args], capture_output=True, text=True,
                           timeout=60)
        if check and r.returncode not in (0, 3):
            raise RuntimeError(f"ninesctl {' '.join(args)}: exit {r.returncode}: {r.stderr}")
        return r

    def health_summary(self):
        """{health value: count} and {state: count} over the sleep services."""
        js = json.loads(self.ctl_run("status", "--json").stdout)
        health, states = {}, {}
        for s in js["services"]:
            if s["name"] == "crash":
                continue
            health[s["health"]] = health.get(s["health"], 0) + 1
            states[s["state"]] = states.get(s["state"], 0) + 1
        return health, states

    def stop(self):
        """Orderly stop (SIGTERM), then SIGKILL of anything tagged that is left, except the
        server. Returns leftovers (pids and cgroup directories)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                log("  nines: no exit 30 s after SIGTERM; killing it")
                self.p.kill()
                self.p.wait()
        self.errf.close()
        launched.remove(self.p)
        keep = {p.pid for p in launched}
        deadline = time.monotonic() + 10
        while True:
            reap_orphans(keep)
            left = [p for p in tagged() if p not in keep]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for d in sup.cgroup_leftovers(os.path.join(self.dir, "run")):
            log(f"  WARNING: nines left its cgroup {d}; removing it")
            try:
                os.rmdir(d)
            except OSError as e:
                log(f"  cannot remove {d}: {e}")
            left.append(d)
        if left:
            log(f"  WARNING: {len(left)} tagged process(es)/cgroups left after nines' stop")
            time.sleep(0.1)
            reap_orphans(keep)
        return left


# ---------------------------------------------------------------------------- windows

class Window:
    """CPU of nines and of the server, the machine's CPU and the check count over a window."""

    def __init__(self, nines, httpd):
        self.nines, self.httpd = nines, httpd
        self.k0 = count_lines(nines.stamps)
        self.served0 = httpd.count() if httpd else None
        self.cpu0, self.on0 = cpu_ms(nines.pid), oncpu_ms(nines.pid)
        self.hcpu0 = cpu_ms(httpd.p.pid) if httpd else None
        self.busy0, self.self0 = busy_ms(), self_cpu_ms()
        self.t0 = time.monotonic()
        self.t0_ns = time.monotonic_ns()
        self.rss_max = 0

    def run(self, seconds):
        while time.monotonic() - self.t0 < seconds:
            time.sleep(0.5)
            self.nines.alive_or_die()
            self.rss_max = max(self.rss_max, status_kb(self.nines.pid, "VmRSS") or 0)
        return self.end()

    def end(self):
        n, h = self.nines, self.httpd
        wall = time.monotonic() - self.t0
        r = {"wall": wall, "t0_ns": self.t0_ns, "t1_ns": time.monotonic_ns()}
        r["cpu_ms"] = cpu_ms(n.pid) - self.cpu0
        r["oncpu_ms"] = oncpu_ms(n.pid) - self.on0
        r["cpu_pct"] = r["cpu_ms"] / (wall * 10)
        r["k"] = (self.k0, count_lines(n.stamps))
        if h:
            r["served"] = h.count() - self.served0
            r["httpd_ms"] = cpu_ms(h.p.pid) - self.hcpu0
        else:
            r["served"], r["httpd_ms"] = 0, 0.0
        me = self_cpu_ms() - self.self0
        r["other_pct"] = ((busy_ms() - self.busy0) - r["cpu_ms"] - r["httpd_ms"] - me) / (wall * 10)
        r["rss_kb"] = status_kb(n.pid, "VmRSS")
        r["rss_max_kb"] = max(self.rss_max, r["rss_kb"] or 0)
        r["hwm_kb"] = status_kb(n.pid, "VmHWM")
        r["fds"] = nfds(n.pid)
        r["threads"] = len(sup.tasks(n.pid))
        return r


def crash_stats(nines, k):
    """Restarts among stamp lines k[0]..k[1]: exit->next exec and exec->exec, ms, plus the rows
    (start_ns, end_ns) for the correlation with the checks."""
    rows = [tuple(map(int, l.split())) for l in (read(nines.stamps) or "").splitlines()
            if l.strip()]
    rows = rows[k[0]:k[1]]
    xe = [(b[0] - a[1]) / 1e6 for a, b in zip(rows, rows[1:])]
    ee = [(b[0] - a[0]) / 1e6 for a, b in zip(rows, rows[1:])]
    if len(xe) < 10:
        raise RuntimeError(f"only {len(xe)} restarts measured; see {nines.dir}/stderr.log")
    return {"n": len(xe), "med": statistics.median(xe), "p90": pct(xe, 90), "p99": pct(xe, 99),
            "max": max(xe), "ee_med": statistics.median(ee), "ee_p99": pct(ee, 99),
            "over": sum(1 for x in xe if x > TARGET_P99_MS), "rows": rows, "xe": xe}


def check_spread(times_file, t0_ns, t1_ns, rows):
    """How the checks fall in time over [t0, t1]: their rate per 10 ms slot (mean, p99, max),
    and how many arrived during the slow restarts (exit -> next exec > 10 ms) vs the others,
    per ms of restart (the checks' HTTP request reaches the server ~when nines runs the check)."""
    ts = sorted(int(x) for x in (read(times_file) or "").split() if t0_ns <= int(x) < t1_ns)
    if not ts:
        return None
    slot = 10_000_000
    nslots = max(1, (t1_ns - t0_ns) // slot)
    counts = [0] * nslots
    for t in ts:
        i = (t - t0_ns) // slot
        if i < nslots:
            counts[i] += 1
    def inside(a, b):
        return bisect.bisect_left(ts, b) - bisect.bisect_left(ts, a)

    slow_n = slow_ms = fast_n = fast_ms = 0.0
    for a, b in zip(rows, rows[1:]):
        ms = (b[0] - a[1]) / 1e6
        c = inside(a[1], b[0])
        if ms > TARGET_P99_MS:
            slow_n, slow_ms = slow_n + c, slow_ms + ms
        else:
            fast_n, fast_ms = fast_n + c, fast_ms + ms
    mean = len(ts) / (nslots * slot / 1e9)
    return {"per_s": mean, "slot_mean": statistics.mean(counts), "slot_p99": pct(counts, 99),
            "slot_max": max(counts),
            "rate_in_slow": slow_n / slow_ms * 1000 if slow_ms else None,
            "rate_in_fast": fast_n / fast_ms * 1000 if fast_ms else None}


def fmt_ms(x):
    return "–" if x is None else f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


# ---------------------------------------------------------------------------- profile

# What the loop of nines does, from uprobes (`perf probe -x BIN`) on a copy of the binary:
# (label, function[@file], return probe too). Nested calls are attributed to the innermost.
# Each uprobe hit costs a trap, so nothing called hundreds of times per loop turn is probed
# (service_poke, config_find_service); loop turns come from the cheap epoll_wait tracepoints.
PROBES = [
    ("sigfd", "on_signalfd@src/supervisor.c", True),
    ("exit", "service_on_exit", False),       # nines reaps the crashed service
    ("spawn", "spawn_process", True),         # fork (parent side)
    ("settle", "on_settle_timer", True),      # zero-delay timer after any service change
    ("free_removed", "free_removed", True),   # inside settle
    ("save", "on_save_timer", True),          # state + procs files, at most once a second
    ("instance_record", "instance_record", True),
    ("statefile_save", "statefile_save", True),
    ("health", "on_health_timer", True),      # starts one check (curl easy handle, connect)
    ("curl_timer", "on_curl_timer@src/probe.c", True),
    ("curl_sock", "on_curl_sock@src/probe.c", True),
]
GROUP = "ninesbench"


def fresh(path):
    """Removes an old recording (perf would keep it as PATH.old)."""
    for p in (path, path + ".old"):
        if os.path.exists(p):
            os.unlink(p)
    return path


def perf_ok():
    return shutil.which("perf") is not None and subprocess.run(
        ["perf", "stat", "-e", "cpu-clock", "true"], capture_output=True).returncode == 0


def probes_del():
    subprocess.run(["perf", "probe", "-q", "-d", f"{GROUP}:*"], capture_output=True)


def probes_add(binary):
    """Adds the uprobes; returns the labels that could be placed."""
    probes_del()
    ok = []
    for label, fn, ret in PROBES:
        r = subprocess.run(["perf", "probe", "-q", "-x", binary, f"{GROUP}:{label}={fn}"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            log(f"  (no probe on {fn}: {r.stderr.strip()[:100]})")
            continue
        if ret:
            subprocess.run(["perf", "probe", "-q", "-x", binary,
                            f"{GROUP}:{label}_ret={fn.split('@')[0]}%return"],
                           capture_output=True, text=True)
        ok.append(label)
    return ok


def perf_events(data):
    """[(t_ns CLOCK_MONOTONIC, label, is_return)] from `perf script` of a uprobe recording."""
    r = subprocess.run(["perf", "script", "-i", data, "--ns", "-F", "time,event"],
                       capture_output=True, text=True)
    ev = []
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 2 or not f[0].endswith(":"):
            continue
        sec, _, frac = f[0][:-1].partition(".")
        t = int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
        name = f[1].rstrip(":")
        if name.startswith("syscalls:sys_exit_epoll_wait"):
            ev.append((t, "epoll_ret", False))
        elif name.startswith("syscalls:sys_enter_epoll_wait"):
            ev.append((t, "turn", False))
        elif name.startswith(GROUP + ":"):
            lab = name.split(":", 1)[1]
            if lab.endswith("__return"):
                ev.append((t, lab[:-len("__return")].removesuffix("_ret"), True))
            else:
                ev.append((t, lab, False))
    ev.sort()
    return ev


def segments(ev):
    """Splits time into segments [t0, t1) labelled with what nines' loop was doing: the
    innermost probed handler, "loop (other)" inside a turn outside every handler, or "waiting
    in epoll_wait" (asleep, or woken but not yet running: on a loaded machine, waiting for a
    CPU). Also returns every handler call's duration by label."""
    segs, stack, dur, in_turn = [], [], {}, False
    prev = ev[0][0] if ev else 0

    def state():
        if stack:
            return stack[-1][0]
        return "loop (other)" if in_turn else "waiting in epoll_wait"
    for t, lab, ret in ev:
        if t > prev:
            segs.append((prev, t, state()))
        prev = t
        if lab == "epoll_ret":
            in_turn = True
        elif lab == "turn":
            in_turn, stack = False, []
        elif ret:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == lab:
                    dur.setdefault(lab, []).append(t - stack[i][1])
                    del stack[i:]
                    break
        elif any(l == lab for l, _, r in PROBES_RET):
            stack.append((lab, t))
    return segs, dur


PROBES_RET = [p for p in PROBES if p[2]]


def overlap(segs, starts, a, b):
    """{label: ns} of the segments within [a, b) (starts: the segments' start times)."""
    out = {}
    i = max(0, bisect.bisect_right(starts, a) - 1)
    while i < len(segs) and segs[i][0] < b:
        s0, s1, lab = segs[i]
        x = min(s1, b) - max(s0, a)
        if x > 0:
            out[lab] = out.get(lab, 0) + x
        i += 1
    return out


def profile_restarts(ev, rows, seconds):
    """Attribution of each restart (exit -> next exec) seen in the recording: the part before
    nines reaps it, split by what the loop was doing; reap -> spawn; fork in nines; fork ->
    exec in the child."""
    segs, dur = segments(ev)
    starts = [s[0] for s in segs]
    reaps = [t for t, lab, r in ev if lab == "exit"]
    spawns = sorted((t, lab, r) for t, lab, r in ev if lab == "spawn")
    t_lo, t_hi = (ev[0][0], ev[-1][0]) if ev else (0, 0)
    per = []
    for a, b in zip(rows, rows[1:]):
        e, x = a[1], b[0]
        if e < t_lo or x > t_hi:
            continue
        i = bisect.bisect_left(reaps, e)
        if i >= len(reaps) or reaps[i] > x:
            continue
        r = reaps[i]
        s_in = next((t for t, lab, ret in spawns if r <= t <= x and not ret), None)
        s_out = next((t for t, lab, ret in spawns if s_in and t >= s_in and ret), None)
        if s_in is None or s_out is None or s_out > x:
            continue
        parts = {f"exit → reap: {k}": v for k, v in overlap(segs, starts, e, r).items()}
        for k, v in overlap(segs, starts, r, s_in).items():
            parts[f"reap → fork: {k}"] = v
        parts["fork (spawn_process in nines)"] = s_out - s_in
        parts["fork → exec (the child)"] = x - s_out
        per.append(((x - e) / 1e6, parts))
    calls = {}
    for lab, v in dur.items():
        v = [x / 1e6 for x in v]
        calls[lab] = {"per_s": len(v) / seconds, "med": statistics.median(v),
                      "p99": pct(v, 99), "max": max(v), "ms_per_s": sum(v) / seconds}
    return per, calls


def summarize_parts(per, slow_ms):
    """Mean ms per restart of each part, over all restarts and over the slowest 5% ("slow")."""
    def mean_parts(sel):
        tot = {}
        for _, parts in sel:
            for k, v in parts.items():
                tot[k] = tot.get(k, 0) + v
        return {k: v / 1e6 / len(sel) for k, v in tot.items()} if sel else {}
    slow = sorted(per, key=lambda p: -p[0])[:max(1, len(per) // TAIL_FRAC)] if per else []
    return {"n": len(per), "n_slow": len(slow), "all": mean_parts(per), "slow": mean_parts(slow),
            "slow_min": min(p[0] for p in slow) if slow else None,
            "med": statistics.median([p[0] for p in per]) if per else None,
            "p99": pct([p[0] for p in per], 99) if per else None}


def uprobe_window(n, seconds, label):
    """Records the uprobes and nines' epoll_wait returns (CLOCK_MONOTONIC, so they line up with
    the crash service's stamps) for `seconds`; returns the restarts' attribution and the
    handlers' call rates and durations."""
    out = fresh(os.path.join(WORK, f"uprobes-{label}.data"))
    k0 = count_lines(n.stamps)
    r = subprocess.run(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", f"{GROUP}:*",
                        "-e", "syscalls:sys_enter_epoll_wait",
                        "-e", "syscalls:sys_exit_epoll_wait", "-p", str(n.pid), "-o", out,
                        "--", "sleep", str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"  perf record failed: {r.stderr.strip()[:200]}")
        return None
    k1 = count_lines(n.stamps)
    rows = [tuple(map(int, l.split())) for l in (read(n.stamps) or "").splitlines()
            if l.strip()][k0:k1]
    per, calls = profile_restarts(perf_events(out), rows, seconds)
    return {"parts": summarize_parts(per, TARGET_P99_MS), "calls": calls, "seconds": seconds}


def trace_window(n, seconds, label):
    """Native split of each restart from kernel tracepoints only (no uprobes; -a, since the
    child's switch-ins are recorded in other tasks' context): exit (the stamp) → nines' fork
    (sched_process_fork), split at the epoll_wait return that woke nines; the child's fork →
    exec (sched_process_exec) split by sched_switch into waiting for its first run, off CPU
    by reason (from the switch-out's kernel stack), and on CPU; exec → main() of the program."""
    out = fresh(os.path.join(WORK, f"trace-{label}.data"))
    k0 = count_lines(n.stamps)
    pid = n.pid
    r = subprocess.run(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-a", "-g",
                        "-e", "sched:sched_switch",
                        "-e", "sched:sched_process_fork", "--filter", f"parent_pid == {pid}",
                        "-e", "sched:sched_process_exec",
                        "-e", "syscalls:sys_enter_epoll_wait", "--filter", f"common_pid == {pid}",
                        "-e", "syscalls:sys_exit_epoll_wait", "--filter", f"common_pid == {pid}",
                        "-o", out, "--", "sleep", str(seconds)], capture_output=True, text=True)
    if r.returncode != 0:
        log(f"  perf record failed: {r.stderr.strip()[:200]}")
        return None
    k1 = count_lines(n.stamps)
    rows = [tuple(map(int, l.split())) for l in (read(n.stamps) or "").splitlines()
            if l.strip()][k0:k1]
    r = subprocess.run(["perf", "script", "-i", out, "--ns", "-F", "pid,time,event,trace,ip,sym"],
                       capture_output=True, text=True)
    forks, execs, wake, sleep_, switches = {}, {}, [], [], []
    for block in r.stdout.split("\n\n"):
        lines = block.strip("\n").split("\n")
        f = lines[0].split()
        if len(f) < 3 or not f[1].endswith(":") or "." not in f[1]:
            continue
        sec, _, frac = f[1][:-1].partition(".")
        t = int(sec) * 1_000_000_000 + int(frac.ljust(9, "0")[:9])
        ev = f[2].rstrip(":")
        kv = dict(x.split("=", 1) for x in f[3:] if "=" in x)
        if ev == "sched:sched_switch":
            stack = [x.split()[1] for x in lines[1:] if len(x.split()) > 1]
            switches.append((t, int(kv.get("prev_pid", -1)), kv.get("prev_state", "?"),
                             int(kv.get("next_pid", -1)), stack))
        elif ev == "sched:sched_process_fork" and int(kv.get("pid", -1)) == pid:
            forks[int(kv["child_pid"])] = t
        elif ev == "sched:sched_process_exec" and kv.get("filename") == STAMP:
            execs[int(kv["pid"])] = t
        elif ev == "syscalls:sys_exit_epoll_wait":
            wake.append(t)
        elif ev == "syscalls:sys_enter_epoll_wait":
            sleep_.append(t)
    kids = {c for c in execs if c in forks}
    first, off, since = {}, {}, {}
    for t, pp, ps, np_, stack in switches:  # the children's time off CPU, by reason
        if pp in kids and forks[pp] <= t <= execs[pp]:
            if "rcu_sync_enter" in stack or "synchronize_rcu" in stack:
                why = RCU_WAIT
            elif ps.startswith("R"):
                why = "child: preempted, waiting for a CPU"
            else:
                fn = next((x for x in stack if x not in SCHED_FNS), "?")
                why = f"child: blocked ({fn})"
            since[pp] = (t, why)
        if np_ in kids and forks[np_] <= t <= execs[np_]:
            first.setdefault(np_, t)
            if np_ in since:
                t0, why = since.pop(np_)
                off.setdefault(np_, {})
                off[np_][why] = off[np_].get(why, 0) + t - t0
    pairs = sorted((forks[c], execs[c], c) for c in kids)
    fk = [p[0] for p in pairs]
    parts, total, busy = [], [], 0
    for a, b in zip(rows, rows[1:]):
        e, x = a[1], b[0]
        i = bisect.bisect_left(fk, e)
        if i >= len(fk) or pairs[i][1] > x:
            continue
        t_fork, t_exec, c = pairs[i]
        # nines was asleep at e when its last epoll_wait entry before e is after the last return
        i_s, i_w = bisect.bisect_right(sleep_, e), bisect.bisect_right(wake, e)
        asleep = i_s > 0 and (i_w == 0 or sleep_[i_s - 1] > wake[i_w - 1])
        t_run = wake[i_w] if asleep and i_w < len(wake) and wake[i_w] <= t_fork else e
        busy += not asleep
        p = {NINES_WAKE: t_run - e, NINES_LOOP: t_fork - t_run,
             CHILD_FIRST: first.get(c, t_exec) - t_fork}
        o = off.get(c, {})
        p.update(o)
        p[CHILD_CPU] = max(0, (t_exec - t_fork) - p[CHILD_FIRST] - sum(o.values()))
        p[EXEC_MAIN] = x - t_exec
        parts.append({k: v / 1e6 for k, v in p.items()})
        total.append((x - e) / 1e6)
    if not total:
        return None
    tail = sorted(range(len(total)), key=lambda i: -total[i])[:max(1, len(total) // TAIL_FRAC)]
    keys = sorted({k for p in parts for k in p}, key=lambda k: PART_ORDER.get(k, 50))
    res = {"n": len(total), "busy": busy, "med": statistics.median(total),
           "p99": pct(total, 99), "mean": statistics.mean(total), "parts": {},
           "tail_n": len(tail), "tail_min": min(total[i] for i in tail),
           "tail_mean": statistics.mean(total[i] for i in tail)}
    for k in keys:
        v = [p.get(k, 0.0) for p in parts]
        res["parts"][k] = {"mean": statistics.mean(v), "p99": pct(v, 99),
                           "tail_mean": statistics.mean(v[i] for i in tail)}
    return res


TAIL_FRAC = 20  # "the tail": the slowest 1/20 (5%) of the restarts in a profile window
NINES_WAKE = "nines: exit → it runs (it was asleep in epoll_wait: wake-up, waiting for a CPU)"
NINES_LOOP = ("nines: running → fork (wall time of its loop: the turn under way, reaping, "
              "the fork itself; preemptions included)")
CHILD_FIRST = "child: fork → its first run (waiting for a CPU)"
RCU_WAIT = ("child: joining the service's cgroup after fork waits for an RCU grace period "
            "(cgroup_procs_write → percpu_down_write → rcu_sync_enter → synchronize_rcu)")
CHILD_CPU = "child: on CPU until exec (setsid, close_range of nines' fds, execve; the cgroup join where clone3 is missing)"
EXEC_MAIN = "exec → main() of the new program"
PART_ORDER = {NINES_WAKE: 0, NINES_LOOP: 1, CHILD_FIRST: 2, RCU_WAIT: 3,
              "child: preempted, waiting for a CPU": 4, CHILD_CPU: 6, EXEC_MAIN: 7}
SCHED_FNS = {"__schedule", "schedule", "schedule_timeout", "schedule_preempt_disabled",
             "io_schedule", "__traceiter_sched_switch"}


def cpu_profile(pid, seconds, out):
    """perf cpu-clock samples of nines (and its forked children until they exec): share of
    samples by object and the top symbols."""
    subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "999", "-p", str(pid),
                    "-o", out, "--", "sleep", str(seconds)], capture_output=True)
    res = {}
    for key in ("dso", "sym"):
        r = subprocess.run(["perf", "report", "-i", out, "--no-children", "--sort", key,
                            "--stdio", "-g", "none", "--pid", str(pid)],
                           capture_output=True, text=True)
        rows = []
        for line in r.stdout.splitlines():
            f = line.split()
            if (f and f[0].endswith("%") and not line.startswith("#")
                    and not f[-1].startswith("0x")):  # unresolved addresses
                rows.append((float(f[0][:-1]), " ".join(f[1:]).replace("[.] ", "")
                             .replace("[k] ", "kernel: ")))
        res[key] = rows
    return res


# ---------------------------------------------------------------------------- phases

def phase_checks(a, httpd, R):
    n = Nines("checks", a.services, httpd.url)
    try:
        up = n.wait_up()
        R["nofile"] = nofile_limit(n.pid)
        log(f"A. {a.services} services with checks + crash loop: all up {up:.1f} s after launch "
            f"(nines pid {n.pid}, fd limit {R['nofile']})")
        # Checks begin one interval after each spawn; wait for a full second of them.
        c0, t = httpd.count(), time.monotonic()
        time.sleep(a.settle)
        rate = (httpd.count() - c0) / (time.monotonic() - t)
        log(f"  checks flowing: {rate:.0f}/s")
        n.ctl_run("stop", "crash")
        time.sleep(0.5)
        w0 = Window(n, httpd).run(a.checks_only)
        R["A0"] = w0
        log(f"  A0 checks only ({w0['wall']:.1f} s): nines CPU {w0['cpu_pct']:.2f}% of a CPU "
            f"({w0['cpu_ms']:.0f} ms; schedstat {w0['oncpu_ms']:.0f} ms), "
            f"{w0['served'] / w0['wall']:.0f} checks/s served, server CPU "
            f"{w0['httpd_ms'] / (w0['wall'] * 10):.2f}%, other load {w0['other_pct']:.0f}%")
        if R.get("probes"):
            R["cpu_A0"] = cpu_profile(n.pid, a.profile_s, fresh(os.path.join(WORK, "cpu-A0.data")))
            log("  A0 CPU profile: " + ", ".join(f"{x:.1f}% {k}" for x, k in R["cpu_A0"]["dso"][:5]))
            R["prof_A0"] = profile_log("A0", uprobe_window(n, a.profile_s, "A0"))
        n.ctl_run("start", "crash", check=False)  # "fails": the service exits at once
        k = count_lines(n.stamps)
        while count_lines(n.stamps) < k + 2:
            n.alive_or_die()
            time.sleep(0.01)
        w1 = Window(n, httpd).run(a.window)
        R["A1"] = w1
        R["A1"]["crash"] = c = crash_stats(n, w1["k"])
        R["A1"]["spread"] = check_spread(httpd.times, w1["t0_ns"], w1["t1_ns"], c["rows"])
        R["A1"]["health"], R["A1"]["states"] = n.health_summary()
        log(f"  A1 checks + crash loop ({w1['wall']:.1f} s): {c['n']} restarts; exit→exec median "
            f"{c['med']:.2f} p90 {c['p90']:.2f} p99 {c['p99']:.2f} max {c['max']:.1f} ms; "
            f"nines CPU {w1['cpu_pct']:.1f}%, RSS {w1['rss_kb']} KiB (max {w1['rss_max_kb']}), "
            f"{w1['fds']} fds, {w1['threads']} threads; {w1['served'] / w1['wall']:.0f} checks/s; "
            f"other load {w1['other_pct']:.0f}%; health {w1['health']}, states {w1['states']}")
        s = R["A1"]["spread"]
        if s:
            log(f"  checks per 10 ms: mean {s['slot_mean']:.1f}, p99 {s['slot_p99']:.0f}, max "
                f"{s['slot_max']}; checks/s during slow restarts {s['rate_in_slow']}, during the "
                f"others {s['rate_in_fast']}")
        if R.get("probes"):
            R["trace_A"] = trace_log("A", trace_window(n, a.profile_s, "A"))
            R["prof_A"] = profile_log("A", uprobe_window(n, a.profile_s, "A"))
    finally:
        R["left"] += n.stop()


def profile_log(label, p):
    if not p:
        return None
    q = p["parts"]
    log(f"  profile {label}: {q['n']} restarts (slowest {q['n_slow']} ≥ {fmt_ms(q['slow_min'])} ms), median "
        f"{fmt_ms(q['med'])} p99 {fmt_ms(q['p99'])} ms under the probes")
    for k, v in sorted(q["slow"].items(), key=lambda kv: -kv[1]):
        log(f"    slowest 5%, mean ms: {v:7.2f}  {k}")
    for k, c in sorted(p["calls"].items(), key=lambda kv: -kv[1]["ms_per_s"]):
        log(f"    {k:16} {c['per_s']:7.1f}/s  median {c['med']:.3f} p99 {c['p99']:.2f} max "
            f"{c['max']:.2f} ms  busy {c['ms_per_s']:.1f} ms/s")
    return p


def trace_log(label, t):
    if not t:
        return None
    log(f"  native split {label}: {t['n']} restarts, median {fmt_ms(t['med'])} p99 "
        f"{fmt_ms(t['p99'])} ms under the tracepoints; {t['busy']} found nines busy")
    for k, v in t["parts"].items():
        log(f"    mean {v['mean']:7.2f} p99 {v['p99']:7.2f} slowest 5% {v['tail_mean']:7.2f} ms  {k}")
    return t


def phase_baseline(label, a, n_svcs, seconds, R):
    n = Nines(label, n_svcs, None)
    try:
        up = n.wait_up()
        time.sleep(1.0)
        k = count_lines(n.stamps)
        while count_lines(n.stamps) < k + 2:
            n.alive_or_die()
            time.sleep(0.01)
        w = Window(n, None).run(seconds)
        w["crash"] = c = crash_stats(n, w["k"])
        R[label] = w
        log(f"{label}: {n_svcs} services without checks + crash loop (up {up:.1f} s), "
            f"{w['wall']:.1f} s: {c['n']} restarts; exit→exec median {c['med']:.2f} p90 "
            f"{c['p90']:.2f} p99 {c['p99']:.2f} max {c['max']:.1f} ms; nines CPU "
            f"{w['cpu_pct']:.1f}%, RSS {w['rss_kb']} KiB; other load {w['other_pct']:.0f}%")
        if R.get("probes"):
            R[f"trace_{label}"] = trace_log(label, trace_window(n, a.profile_s, label))
        if R.get("probes") and label == "B":
            R["prof_B"] = profile_log("B", uprobe_window(n, a.profile_s, "B"))
    finally:
        R["left"] += n.stop()


def run(a):
    R = {"left": []}
    if a.profile:
        if perf_ok():
            R["probes"] = probes_add(Nines.nines)
            log(f"uprobes on {len(R['probes'])} functions of nines")
        else:
            log("perf does not work here: no profile")
    httpd = Httpd()
    try:
        R["httpd_port"] = httpd.port
        phase_checks(a, httpd, R)
        phase_baseline("B", a, a.services, a.baseline, R)
        phase_baseline("C", a, 0, a.alone, R)
    finally:
        httpd.stop()
        if R.get("probes"):
            probes_del()
    return R


# ---------------------------------------------------------------------------- report

METHOD = """\
Method (`bench/health.py`; helpers `bench/health_httpd.c` and `bench/supervisors.c`). One
local HTTP server, `bench/out/health_httpd` (C, one thread, epoll, non-blocking; answers
`GET /health` with 200 and closes the connection, one request per connection as nines' checks
make them), in its own session; its CPU is measured separately (`/proc/PID/stat`) and it logs
the arrival time of every check. nines (`nines -c nines.conf`, a copy of the binary taken at
the start, RLIMIT_NOFILE {nofile} set before its exec, own session) runs SERVICES services
`/bin/sleep 100000`, each with `[health] url = http://127.0.0.1:PORT/health`, `interval = 1s`,
`timeout = 2s`, `retries = 3`, plus one crash-loop service `bench/out/sup_stamp crash FILE`
(static; appends its CLOCK_MONOTONIC time at the start of `main()` and just before `_exit(1)`)
with `[restart] delay = 0`, `backoff = fixed`, `jitter = 0%`. Crash-to-exec = one run's
`_exit` to the next run's `main()`, i.e. nines' reaping, classification, restart decision,
fork and exec, plus the dynamic-loader-free start of a static binary. Phases, one nines at a
time, in this order:

- **A0, checks only**: all SERVICES services up and their checks flowing, the crash service
  stopped (`ninesctl stop crash`): nines' CPU for the checks alone.
- **A1, checks + crash loop**: `ninesctl start crash`, then WINDOW s: crash-to-exec
  distribution, nines' CPU, RSS; at the end `ninesctl status --json` must show every service
  RUNNING with health `ok`.
- **B, no checks**: a new nines with the same SERVICES `sleep` services and crash service but no
  `[health]`: the crash-to-exec baseline with the checks off.
- **C, alone**: a new nines with only the crash service.

CPU is utime+stime of nines from `/proc/PID/stat` (all threads, exited ones included) over the
window, in % of one CPU (wall time); "other load" is the CPU the rest of the machine used
meanwhile (`/proc/stat` busy time minus nines, the server and the driver), in % of one CPU.
RSS is `VmRSS` of nines at the end of the window (and the maximum of samples every 0.5 s)."""


HANDLER_DOC = {
    "settle": "`on_settle_timer` (zero-delay timer armed by `changed()` when a service's "
              "state changes)",
    "free_removed": "`free_removed` (inside settle: `is_current()` → `config_find_service()`, "
                    "a binary search, for every service)",
    "save": "`on_save_timer` (≤ 1/s after a change: procs + state files)",
    "instance_record": "`instance_record` (inside save, when the set of pids changed: "
                       "`/proc/PID/stat` of every running service, write run_dir/procs)",
    "statefile_save": "`statefile_save` (inside save: write, fsync, rename the state file)",
    "spawn": "`spawn_process` (clone3/fork of nines, parent side)",
    "sigfd": "`on_signalfd` (SIGCHLD: reap, `service_on_exit`)",
    "health": "`on_health_timer` (starts one check: curl easy handle, connect)",
    "curl_timer": "`on_curl_timer` (curl_multi_socket_action on curl's timeout)",
    "curl_sock": "`on_curl_sock` (curl_multi_socket_action on a check's socket; results)",
}


def profile_section(a, R):
    """Markdown lines for the profile part of the section (empty without a profile)."""
    A0, A, B = R.get("prof_A0"), R.get("prof_A"), R.get("prof_B")
    if not (A and B):
        return []
    T = {k: R.get(f"trace_{k}") for k in ("A", "B", "C")}
    out = ["### Where the time goes", "",
           f"`perf stat -e instructions` is not supported on this (virtual) machine: no "
           f"hardware counters; software-event perf (cpu-clock, tracepoints, uprobes) works. "
           f"Profiles are taken after the measured windows, {a.profile_s:.0f} s each: (1) a "
           f"native split of each restart from kernel tracepoints, after A1 (\"A\"), in B and "
           f"in C; (2) uprobes (`perf probe -x` on the copy of nines) on its loop's handlers, "
           f"in A0, after A1 and in B, recorded with CLOCK_MONOTONIC timestamps so they line "
           f"up with the crash service's stamps; (3) `perf record -e cpu-clock` of nines in "
           f"A0. Uprobes cost a trap per hit, so latencies under them are higher (restart "
           f"median {fmt_ms(A['parts']['med'])} ms in A, {fmt_ms(B['parts']['med'])} ms in B); "
           f"their shares are what counts.", "",
           ]
    if all(T.values()):
        out += [f"Native split of exit→exec (kernel tracepoints only, `perf record -a -g`: "
                f"`sched_process_fork`/`sched_process_exec`, `sched_switch` with the kernel "
                f"stack of each switch-out, nines' `epoll_wait` entries and returns), mean ms "
                f"per restart over all restarts / over the slowest 5% of them. A: {T['A']['n']} "
                f"restarts while traced (median {fmt_ms(T['A']['med'])} ms, slowest 5% ≥ "
                f"{fmt_ms(T['A']['tail_min'])} ms), B: {T['B']['n']} ({fmt_ms(T['B']['med'])}, ≥ "
                f"{fmt_ms(T['B']['tail_min'])} ms), C: {T['C']['n']} ({fmt_ms(T['C']['med'])}, ≥ "
                f"{fmt_ms(T['C']['tail_min'])} ms).",
                "", "| part of exit→exec | A: checks, all | A: slowest 5% | B: no checks, all | "
                "B: slowest 5% | C: alone, all | C: slowest 5% |",
                "|---|---:|---:|---:|---:|---:|---:|"]
        keys = sorted(set().union(*(t["parts"] for t in T.values())),
                      key=lambda k: PART_ORDER.get(k, 5))
        for k in keys:
            cells = []
            for t in T.values():
                v = t["parts"].get(k)
                cells += (["–", "–"] if not v else [f"{v['mean']:.2f}", f"{v['tail_mean']:.2f}"])
            if max(float(c) for c in cells if c != "–") < 0.05:
                continue
            out.append(f"| {k} | " + " | ".join(cells) + " |")
        out.append("| **total** | " + " | ".join(f"**{t['mean']:.2f}** | **{t['tail_mean']:.2f}**"
                                                 for t in T.values()) + " |")
        out.append("")
    out += ["Uprobes on nines' loop: calls per second and duration of each handler (nested "
            "ones counted in both):", "",
           "| handler (uprobe) | A0 calls/s | A0 median ms | A0 busy ms/s | A calls/s | "
           "A median ms | A p99 ms | A busy ms/s | B calls/s | B median ms | B busy ms/s |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    labels = sorted(set(A["calls"]) | set(B["calls"]) | set((A0 or {}).get("calls", {})),
                    key=lambda k: -A["calls"].get(k, {}).get("ms_per_s", 0))
    for k in labels:
        def cells(p, keys):
            c = (p or {}).get("calls", {}).get(k)
            if not c:
                return ["–"] * len(keys)
            return [f"{c['per_s']:.1f}" if x == "per_s" else fmt_ms(c[x]) for x in keys]
        out.append(f"| {HANDLER_DOC.get(k, k)} | " + " | ".join(
            cells(A0, ["per_s", "med", "ms_per_s"]) + cells(A, ["per_s", "med", "p99", "ms_per_s"])
            + cells(B, ["per_s", "med", "ms_per_s"])) + " |")
    out += ["", f"Exit→exec under the uprobes, split into exit → reap and reap → fork by what the "
            f"loop was running (innermost probed handler), the fork in nines (`spawn_process`) "
            f"and fork → exec; mean ms per restart over all restarts / the slowest 5% (A: "
            f"{A['parts']['n']} restarts, slowest {A['parts']['n_slow']} ≥ "
            f"{fmt_ms(A['parts']['slow_min'])} ms; B: {B['parts']['n']}, slowest "
            f"{B['parts']['n_slow']} ≥ {fmt_ms(B['parts']['slow_min'])} ms):", "",
            "| part | A all | A slowest 5% | B all | B slowest 5% |", "|---|---:|---:|---:|---:|"]
    parts = sorted(set(A["parts"]["all"]) | set(B["parts"]["all"]),
                   key=lambda k: -A["parts"]["slow"].get(k, A["parts"]["all"].get(k, 0)))
    for k in parts:
        vals = [A["parts"]["all"].get(k), A["parts"]["slow"].get(k), B["parts"]["all"].get(k),
                B["parts"]["slow"].get(k)]
        if max(v or 0 for v in vals) < 0.05:
            continue
        out.append(f"| {k} | " + " | ".join("–" if v is None else f"{v:.2f}" for v in vals) + " |")
    cp = R.get("cpu_A0")
    if cp:
        out += ["", "nines' CPU in A0 (checks only), `perf record -e cpu-clock`: by object "
                + ", ".join(f"{k} {x:.0f}%" for x, k in cp["dso"][:5]) + "; top symbols "
                + ", ".join(f"`{k}` {x:.1f}%" for x, k in cp["sym"][:12]) + "."]
    return out



def why_lines(a, R):
    """Bullets explaining the crash→exec time with the checks on (from the profiles)."""
    T, U = R.get("trace_A"), R.get("prof_A")
    A1, A0, B, C = R["A1"], R["A0"], R.get("trace_B"), R.get("trace_C")
    if not (T and U):
        return []
    P = T["parts"]

    def m(k, t=T):
        v = t["parts"].get(k) if t else None
        return v["mean"] if v else 0.0
    child = sum(v["mean"] for k, v in P.items() if k.startswith("child:"))
    cpu_wait = m(CHILD_FIRST) + m("child: preempted, waiting for a CPU") + m(NINES_WAKE)
    c = U["calls"]
    st, sv = c.get("settle", {}), c.get("save", {})
    sp = A1.get("spread") or {}
    tail = sorted(((v["tail_mean"], k) for k, v in P.items()), reverse=True)
    by_handler = {}  # the uprobe split of the slowest 5%, both waits merged per handler
    for k, v in U["parts"]["slow"].items():
        h = k.split(": ", 1)[1] if ": " in k else k
        by_handler[h] = by_handler.get(h, 0) + v
    lead = []
    if C and R["C"]["crash"]["p99"] >= TARGET_P99_MS:
        lead.append(
            f"On this machine as loaded, even the crash loop alone (C, an otherwise empty "
            f"nines) has p99 {R['C']['crash']['p99']:.1f} ms, with other work using "
            f"{R['C']['other_pct']:.0f}% of one of the {os.cpu_count()} CPUs.")
    lead.append(
        f"The tail in A (the slowest 5% while traced, ≥ {T['tail_min']:.0f} ms, "
        f"{T['tail_mean']:.0f} ms mean): " + ", ".join(
            f"{v:.1f} ms {k.split(' (')[0]}" for v, k in tail[:4]) + ". Under the uprobes the "
        "slowest 5% waited longest for: " + ", ".join(
            (f"`{HANDLER_DOC[h].split('`')[1]}`" if h in HANDLER_DOC else h) + f" {v:.1f} ms"
            for h, v in sorted(by_handler.items(), key=lambda kv: -kv[1])[:5]) + ".")
    out = lead + [
        f"Why (A, native split; {T['mean']:.1f} ms mean exit→exec while traced): "
        f"**{child:.1f} ms** is the child between fork and exec. It is born in the service's "
        f"cgroup (`clone3()` with `CLONE_INTO_CGROUP`, src/spawn.c): joining it after fork by "
        f"writing `cgroup.procs` took `cgroup_threadgroup_rwsem` for writing, "
        f"`percpu_down_write()` → `rcu_sync_enter()` → `synchronize_rcu()`, a full RCU grace "
        f"period (5.7 ms mean, p99 19.0 in the run of 2026-11-29, before clone3); here "
        f"**{m(RCU_WAIT):.1f} ms** mean (B {m(RCU_WAIT, B):.1f}, C {m(RCU_WAIT, C):.1f}). It is "
        f"on CPU for {m(CHILD_CPU):.1f} ms: `close_range` over nines' {A1['fds']} fds and an "
        f"`execve` that frees its copy of nines' {A1['rss_kb'] / 1024:.0f} MiB address space "
        f"(B: {R['B']['rss_kb'] / 1024:.0f} MiB, C: {R['C']['rss_kb'] / 1024:.0f} MiB).",
        f"Waiting for a CPU: {cpu_wait:.1f} ms of the mean (the child before its first run "
        f"and when preempted, nines woken but not yet running). The machine has "
        f"{os.cpu_count()} CPUs and other work used {A1['other_pct']:.0f}% of one during A1.",
        f"nines' own loop before the fork: {m(NINES_LOOP):.1f} ms mean (p99 "
        f"{P.get(NINES_LOOP, {}).get('p99', 0):.1f}). Under the uprobes: `on_settle_timer` "
        f"runs {st.get('per_s', 0):.0f} times a second ({st.get('med', 0):.2f} ms median): "
        f"`changed()` arms it when a service's state changes (every restart of the crash loop "
        f"does; a health result that changes nothing does not: "
        f"{(R.get('prof_A0') or {}).get('calls', {}).get('settle', {}).get('per_s', 0):.0f} "
        f"times a second with the checks alone, A0), and services are found by binary search. "
        f"`on_save_timer` runs at most once a second after a change and holds the loop "
        f"{sv.get('med', 0):.1f} ms (median under the uprobes): `record_procs()` rewrites "
        f"run_dir/procs only when the set of pids changed, `statefile_save()` fsyncs and "
        f"renames. An exit that arrives during either waits for it.",
    ]
    if sp:
        out.append(
            f"The checks are not spread evenly (the first ones are jittered over an interval, "
            f"then each is re-armed `interval` after its result): per 10 ms, mean "
            f"{sp['slot_mean']:.1f} checks but p99 {sp['slot_p99']:.0f}, "
            f"max {sp['slot_max']}. Restarts slower than 10 ms overlapped checks at "
            f"{fmt_rate(sp['rate_in_slow'])}, the others at {fmt_rate(sp['rate_in_fast'])}: "
            f"an exit that lands in a burst waits for the `on_curl_sock`/`on_curl_timer`/"
            f"`on_health_timer` callbacks of the turn under way (up to 64 epoll events, then "
            f"every due timer).")
    cp = R.get("cpu_A0") or {"dso": [], "sym": []}
    share = {k: x for x, k in cp["dso"]}
    sc = next((x for x, k in cp["sym"] if k == "__strcmp_avx2" or k.startswith("__strcmp")), 0)
    out.append(
        f"CPU for the checks: {A0['cpu_ms'] / max(1, A0['served']) * 1000:.0f} µs per check "
        f"({A0['cpu_pct']:.1f}% of a CPU at {A0['served'] / A0['wall']:.0f}/s). By the A0 "
        f"cpu-clock profile: kernel {share.get('[kernel.kallsyms]', 0):.0f}% (loopback TCP "
        f"connect/send/close; both ends' softirq work runs in nines' context), libcurl "
        f"{next((x for k, x in share.items() if 'libcurl' in k), 0):.0f}%, libc "
        f"{share.get('libc.so.6', 0):.0f}%, of which `strcmp` {sc:.0f}% (11% before services "
        f"were found by binary search), nines {share.get('nines', 0):.0f}%.")
    return out


def write_results(section):
    text = read(RESULTS) or "# Benchmarks\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip() == HEADING), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        rest = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + rest if rest else "")
    tmp = RESULTS + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, RESULTS)


def report(a, R, meta):
    A0, A1, B, C = R["A0"], R["A1"], R["B"], R["C"]
    rows = ["| phase | restarts | exit→exec median ms | p90 ms | p99 ms | max ms | > 10 ms | "
            "exec→exec median ms | nines CPU % of one CPU | nines RSS KiB | checks/s served | "
            "server CPU % | other load % |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, w in ((f"A0: {a.services} checks, crash loop stopped", A0),
                    (f"A1: {a.services} checks + crash loop", A1),
                    (f"B: {a.services} services, no checks, + crash loop", B),
                    ("C: crash loop alone", C)):
        c = w.get("crash")
        cells = ([str(c["n"]), f"**{fmt_ms(c['med'])}**", fmt_ms(c["p90"]),
                  f"**{fmt_ms(c['p99'])}**", fmt_ms(c["max"]),
                  f"{c['over']} ({100 * c['over'] / c['n']:.1f}%)", fmt_ms(c["ee_med"])]
                 if c else ["–"] * 7)
        cells += [f"{w['cpu_pct']:.2f}", f"{w['rss_kb']:,}",
                  f"{w['served'] / w['wall']:.0f}" if w["served"] else "–",
                  f"{w['httpd_ms'] / (w['wall'] * 10):.2f}" if w["served"] else "–",
                  f"{w['other_pct']:.0f}"]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    c1, cb = A1["crash"], B["crash"]
    rate_b = cb["n"] / B["wall"]
    cpu_per_restart_b = B["cpu_ms"] / max(1, B["k"][1] - B["k"][0]) * 1000
    checks_ms_per_s = A0["cpu_ms"] / A0["wall"]
    per_check_us = A0["cpu_ms"] / max(1, A0["served"]) * 1000
    s = A1.get("spread")
    notes = [
        f"nines' CPU for the checks alone (A0): **{A0['cpu_pct']:.1f}% of one CPU** "
        f"({checks_ms_per_s:.0f} ms per s; {per_check_us:.0f} µs per check, "
        f"{A0['served'] / A0['wall']:.0f} checks/s); with the crash loop too (A1): "
        f"{A1['cpu_pct']:.1f}% ({c1['n'] / A1['wall']:.0f} restarts/s). Without checks (B) the "
        f"crash loop costs {B['cpu_pct']:.1f}% ({cpu_per_restart_b:.0f} µs per restart, "
        f"{rate_b:.0f} restarts/s).",
        f"nines' memory with {a.services} checked services: RSS {A1['rss_kb']:,} KiB at the end "
        f"of A1 (max sampled {A1['rss_max_kb']:,}, VmHWM {A1['hwm_kb']:,}); without checks (B) "
        f"{B['rss_kb']:,} KiB; alone (C) {C['rss_kb']:,} KiB. {A1['fds']} fds open, "
        f"{A1['threads']} thread(s); fd limit {R['nofile']}.",
        f"Health at the end of A1: {', '.join(f'{v} {k}' for k, v in sorted(A1['health'].items()))}"
        f"; states: {', '.join(f'{v} {k}' for k, v in sorted(A1['states'].items()))}.",
        f"Server (`health_httpd`): {A0['httpd_ms'] / (A0['wall'] * 10):.2f}% of one CPU for "
        f"{A0['served'] / A0['wall']:.0f} requests/s (not counted in nines' CPU).",
    ]
    if s:
        notes.append(
            f"Checks over time in A1: {s['per_s']:.0f}/s on average, per 10 ms slot mean "
            f"{s['slot_mean']:.1f}, p99 {s['slot_p99']:.0f}, max {s['slot_max']}; checks reaching "
            f"the server per s of restart time: {fmt_rate(s['rate_in_slow'])} during restarts "
            f"slower than 10 ms, {fmt_rate(s['rate_in_fast'])} during the others.")
    met = c1["p99"] < TARGET_P99_MS
    verdict = (f"target: crash→exec p99 < {TARGET_P99_MS:.0f} ms while {a.services} checks "
               f"run: **{'met' if met else 'MISSED'}** ({c1['p99']:.2f} ms; baseline without "
               f"checks {cb['p99']:.2f} ms, crash loop alone {C['crash']['p99']:.2f} ms)")
    section = "\n".join([
        HEADING, "",
        f"Run {meta['now']:%Y-%m-%d %H:%M} UTC, {meta['elapsed']:.0f} s in all. Machine: "
        f"{os.cpu_count()} CPUs (nproc; {meta['cpu']}), Linux {platform.release()}, load "
        f"average {meta['load'][0]:.2f} / {meta['load'][1]:.2f} / {meta['load'][2]:.2f} "
        f"(1/5/15 min) at start; the machine is shared with other work, whose CPU use during "
        f"each window is in the \"other load\" column. nines: {meta['nines_ver']}.", "",
        METHOD.replace("SERVICES", str(a.services)).replace("{nofile}", R["nofile"])
        .replace("WINDOW", f"{a.window:.0f}"), "",
        *rows, "",
        *[f"- {x}" for x in notes],
        f"- {verdict}",
        f"- processes left after the run: {meta['left']}", "",
        *profile_section(a, R), *([""] if R.get("prof_A") else []),
        *([f"- {x}" for x in why_lines(a, R)] + [""] if not met and R.get("prof_A") else []),
    ])
    return section, verdict


def fmt_rate(x):
    return "–" if x is None else f"{x:.0f}/s"


# ---------------------------------------------------------------------------- main

def build_helpers():
    os.makedirs(OUT, exist_ok=True)
    sup.build_helper()
    cflags = [f for f in sup.CFLAGS if f != "-static"]
    subprocess.run(["gcc", *cflags, "-o", HTTPD, HTTPD_SRC], check=True)


def build_head():
    """Builds nines from a clean export of HEAD (`git archive`, so no uncommitted change of
    src/ is measured) into WORK/head-REV/build/; returns (path of nines, description)."""
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True,
                         capture_output=True, check=True).stdout.strip()
    d = os.path.join(WORK, f"head-{rev}")
    nines = os.path.join(d, "build", "nines")
    if not os.access(nines, os.X_OK):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        arch = subprocess.Popen(["git", "-C", ROOT, "archive", "HEAD"], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", d], stdin=arch.stdout, check=True)
        if arch.wait() != 0:
            sys.exit("git archive HEAD failed")
        log(f"building nines from a clean export of {rev} in {os.path.relpath(d, ROOT)}")
        subprocess.run(["make", "-C", d, "-j2", "build/nines", "build/ninesctl"], check=True,
                       stdout=subprocess.DEVNULL)
    with open(nines, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:12]
    return nines, (f"built by this script (`--from-head`, `make`, -O2) from a clean export of "
                   f"{rev} (`git archive HEAD`), sha256 {sha}…")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nines", default=Nines.nines)
    ap.add_argument("--from-head", action="store_true",
                    help="measure nines built from a clean export of git HEAD (not build/nines, "
                         "which may hold uncommitted changes of src/)")
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--window", type=float, default=60.0, help="A1 window, s (default 60)")
    ap.add_argument("--checks-only", type=float, default=15.0, help="A0 window, s (default 15)")
    ap.add_argument("--baseline", type=float, default=20.0, help="B window, s (default 20)")
    ap.add_argument("--alone", type=float, default=10.0, help="C window, s (default 10)")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="s between all services up and A0 (default 3)")
    ap.add_argument("--no-profile", dest="profile", action="store_false",
                    help="skip the perf profiles (cpu-clock and uprobes in A0; tracepoints and uprobes "
                         "after A1 and in B; tracepoints in C)")
    ap.add_argument("--profile-s", type=float, default=6.0,
                    help="length of each profile window, s (default 6)")
    ap.add_argument("--quick", action="store_true", help="short windows (a smoke test)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    a = ap.parse_args()
    if a.quick:
        a.window, a.checks_only, a.baseline, a.alone, a.profile_s = 8.0, 4.0, 4.0, 3.0, 4.0
    if os.geteuid() != 0:
        sys.exit("needs root (RLIMIT_NOFILE, nines' cgroups)")
    os.makedirs(WORK, exist_ok=True)
    if a.from_head:
        a.nines, nines_ver = build_head()
    Nines.nines = os.path.abspath(a.nines)
    Nines.ctl = os.path.join(os.path.dirname(Nines.nines), "ninesctl")
    for p in (Nines.nines, Nines.ctl, SLEEP):
        if not os.access(p, os.X_OK):
            sys.exit(f"missing: {p} (make)")
    build_helpers()
    if not a.from_head:
        nines_ver = sup.nines_version(Nines.nines)
    bindir = os.path.join(WORK, "bin")
    os.makedirs(bindir, exist_ok=True)
    for attr in ("nines", "ctl"):  # a copy: a rebuild during the run changes nothing measured
        dst = os.path.join(bindir, os.path.basename(getattr(Nines, attr)))
        shutil.copy2(getattr(Nines, attr), dst)
        setattr(Nines, attr, dst)
    global NOFILE_SET
    NOFILE_SET = nofile_target()
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, on_term)
    load = os.getloadavg()
    log(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; nproc "
        f"{os.cpu_count()}")
    t0 = time.monotonic()
    R, final = None, []
    try:
        R = run(a)
    except (KeyboardInterrupt, Terminated):
        log("interrupted; cleaning up")
    finally:
        for p in list(launched):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        reap_orphans()
        final = tagged()
        for pid in final:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)
        reap_orphans()
    elapsed = time.monotonic() - t0
    if final:
        log(f"WARNING: {len(final)} tagged processes left at the end; killed: {final}")
    if R is None:
        sys.exit(1)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    meta = {"now": datetime.datetime.now(datetime.timezone.utc), "elapsed": elapsed, "cpu": cpu,
            "load": load, "nines_ver": nines_ver, "left": len(R["left"]) + len(final)}
    section, verdict = report(a, R, meta)
    log("")
    log(section)
    log(f"{elapsed:.0f} s; leftover processes: {meta['left']}")
    if not a.no_write:
        write_results(section)
        log(f"wrote section '{HEADING}' to {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
