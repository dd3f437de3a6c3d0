#!/usr/bin/python3
"""Supervision costs of nines against s6 (s6-svscan/s6-supervise), runit (runsvdir/runsv) and
supervisord, all measured in one run, reported as nines/peer ratios.

Usage: /usr/bin/python3 bench/supervisors.py [--nines build/nines] [--idle 20]
           [--start-rounds 3] [--extra-procs 2000] [--quick] [--no-write]       (as root; ~3 min)

Needs: `make` (build/nines, build/ninesctl), `apt-get install -y s6 runit supervisor strace`
(only the binaries are used; the packages' system services are neither enabled nor started).

Metrics (see METHOD below for the details written into bench/RESULTS.md):
  1. crash-to-exec: one service that exits 1 right away, smallest restart delay each allows;
     median and p90 of the time between consecutive execs (and from exit to the next exec),
     the supervisor's CPU time per restart, and nines once more with N more processes on the
     host (its restart path reads every /proc/PID).
  2. memory: RSS and PSS (/proc/PID/smaps_rollup) of the supervisor's own processes with 1, 10
     and 100 services running `sleep 100000`.
  3. idle cost: 10 services, 20 s with nothing happening: context switches and on-CPU time of
     the supervisor's processes, then 20 s under `strace -c -f` for the syscalls.
  4. start-up: from launching the supervisor until all 100 services have exec'd.
  5. status latency with 100 services: the command an operator runs to see all 100.

Every service is bench/out/sup_stamp (built from bench/supervisors.c), which writes a
CLOCK_MONOTONIC timestamp and exits 1 ("crash") or execs `sleep 100000` ("up"). Each supervisor
runs by hand on a private directory under bench/out/sup/ (no system service of the packages is
used), in its own session, with PR_SET_PDEATHSIG=SIGTERM so it stops its services if this driver
dies. This driver is a child subreaper, so nothing it starts can escape from its process tree,
and every process carries BENCH_SUP_TAG=<id> in its environment: after each supervisor is stopped
the driver checks /proc for anything with the tag, kills it and reports it (there should be none).

Replaces the "## Supervision (vs s6, runit, supervisord)" section of bench/RESULTS.md; other
sections are kept as they are.
"""

import argparse
import ctypes
import datetime
import glob
import hashlib
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
WORK = os.path.join(OUT, "sup")
SRC = os.path.join(HERE, "supervisors.c")
STAMP = os.path.join(OUT, "sup_stamp")
RESULTS = os.path.join(HERE, "RESULTS.md")
HEADING = "## Supervision (vs s6, runit, supervisord)"
CFLAGS = ["-O2", "-static", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
          "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wformat=2"]
SLEEP = "/bin/sleep"
TAG_VAR = "BENCH_SUP_TAG"
TAG = f"{os.getpid()}.{time.time_ns()}"
PEERS = ["s6", "runit", "supervisord"]
NAMES = ["nines"] + PEERS
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36


class Terminated(Exception):
    pass


def on_term(signo, frame):
    raise Terminated()


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------- /proc helpers

def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def stat_fields(pid):
    """(comm, [fields after comm]) of /proc/PID/stat, or None when gone."""
    s = read(f"/proc/{pid}/stat")
    if not s:
        return None
    lp, rp = s.index("("), s.rindex(")")
    return s[lp + 1:rp], s[rp + 2:].split()


def children(pid, comm=None):
    """Pids whose parent is pid (optionally only those whose comm is comm)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = stat_fields(d)
            if st and int(st[1][1]) == pid and (comm is None or st[0] == comm):
                out.append(int(d))
    return sorted(out)


def tagged(which=""):
    """Pids of live (non-zombie) processes carrying this run's tag (for one supervisor run when
    `which` names it, else for any), except this driver."""
    me, key = os.getpid(), f"{TAG_VAR}={TAG}:{which}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        env = read(f"/proc/{d}/environ", "rb")
        if not env:
            continue
        for var in env.split(b"\0"):
            if var == key or not which and var.startswith(key):
                st = stat_fields(d)
                if st and st[1][0] != "Z":
                    pids.append(int(d))
                break
    return pids


def reap_orphans():
    """Reaps zombies re-parented to this driver (it is a subreaper), leaving alone the
    supervisors it launched (their Popen objects wait for them)."""
    known = {s.p.pid for s in running if s.p is not None}
    for pid in children(os.getpid()):
        st = stat_fields(pid)
        if pid not in known and st and st[1][0] == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def smaps(pid):
    """(RSS kB, PSS kB) from /proc/PID/smaps_rollup."""
    rss = pss = 0
    for line in (read(f"/proc/{pid}/smaps_rollup") or "").splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


def smaps_libs(pid):
    """(RSS kB, PSS kB) of the shared libraries mapped by pid other than libc and ld.so (e.g.
    libcurl and what it pulls in, libskarnet, python's extension modules)."""
    rss = pss = 0
    lib = False
    for line in (read(f"/proc/{pid}/smaps") or "").splitlines():
        f = line.split()
        if f and "-" in f[0] and not f[0].endswith(":"):  # a mapping's header line
            path = f[5] if len(f) > 5 else ""
            base = os.path.basename(path)
            lib = ".so" in base and not base.startswith(("libc.so", "ld-linux"))
        elif lib and f[0] == "Rss:":
            rss += int(f[1])
        elif lib and f[0] == "Pss:":
            pss += int(f[1])
    return rss, pss


def tasks(pid):
    try:
        return os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []


def ctxsw(pid):
    """Voluntary + nonvoluntary context switches of every thread of pid."""
    n = 0
    for t in tasks(pid):
        for line in (read(f"/proc/{pid}/task/{t}/status") or "").splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                n += int(line.split()[1])
    return n


def oncpu_ns(pid):
    """Time on CPU of every thread of pid, ns (/proc/PID/task/TID/schedstat, first field)."""
    n = 0
    for t in tasks(pid):
        s = read(f"/proc/{pid}/task/{t}/schedstat")
        if s:
            n += int(s.split()[0])
    return n


# ---------------------------------------------------------------------------- supervisors

def preexec():
    """In the forked supervisor: SIGTERM when this driver dies (even by SIGKILL), so it stops
    its services; every supervisor's orderly stop is SIGTERM except runsvdir's, whose SIGTERM
    leaves the runsv processes running, so runsvdir gets SIGHUP (runsvdir(8))."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP if preexec.sig == "HUP" else signal.SIGTERM,
               0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


preexec.sig = "TERM"


class Sup:
    """One supervisor on a private directory. Subclasses write the configuration for a list of
    services [(name, args for sup_stamp)] and know its processes and status commands."""
    name = "?"
    stop_signal = signal.SIGTERM

    def __init__(self, label, services):
        self.dir = os.path.join(WORK, f"{self.name}-{label}")
        self.tag = f"{self.name}-{label}"
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.services = services
        self.p = None
        self.t_launch = None
        self.write_config()

    def argv(self):
        raise NotImplementedError

    def launch(self):
        env = dict(os.environ, **{TAG_VAR: f"{TAG}:{self.tag}"})
        self.errf = open(os.path.join(self.dir, "stderr.log"), "wb")
        preexec.sig = "HUP" if self.stop_signal == signal.SIGHUP else "TERM"
        self.t_launch = time.monotonic_ns()
        self.p = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=self.errf,
                                  stderr=subprocess.STDOUT, cwd=self.dir, env=env,
                                  start_new_session=True, preexec_fn=preexec)

    def pids(self):
        """The supervisor's own processes (not the services)."""
        return [self.p.pid]

    def stop(self, timeout=20.0):
        """Orderly stop, then SIGKILL of anything tagged that is left. Returns leftover pids."""
        if self.p is None:
            return []
        if self.p.poll() is None:
            try:
                self.p.send_signal(self.stop_signal)
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"  {self.name}: no exit {timeout:.0f} s after SIG"
                    f"{signal.Signals(self.stop_signal).name[3:]}; killing it")
                self.p.kill()
                self.p.wait()
        self.errf.close()
        left = []
        deadline = time.monotonic() + 10
        while True:  # services may still be on their way down after the supervisor exited
            reap_orphans()
            left = tagged(self.tag)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if left:
            time.sleep(0.1)
            reap_orphans()
        self.p = None
        return left


class Nines(Sup):
    name = "nines"
    nines = os.path.join(ROOT, "build", "nines")
    ctl = os.path.join(ROOT, "build", "ninesctl")

    def write_config(self):
        d = self.dir
        self.conf = os.path.join(d, "nines.conf")
        self.sock = os.path.join(d, "run", "control.sock")
        os.makedirs(os.path.join(d, "services"))
        with open(self.conf, "w") as f:
            f.write(f"[nines]\nservices_dir = {d}/services\nrun_dir = {d}/run\n"
                    f"state_dir = {d}/state\nlog_dir = {d}/log\n")
        for name, args in self.services:
            text = f"[service]\ncommand = {' '.join([STAMP, *args])}\n"
            if args[0] == "crash":  # the smallest restart delay nines allows
                text += "[restart]\ndelay = 0\nbackoff = fixed\njitter = 0%\n"
            with open(os.path.join(d, "services", f"{name}.conf"), "w") as f:
                f.write(text)

    def argv(self):
        return [self.nines, "-c", self.conf]

    def stop(self, timeout=20.0):
        """Also checks that nines removed its cgroups; removes (rmdir: only empty ones) and
        reports any it left."""
        left = super().stop(timeout)
        for d in cgroup_leftovers(os.path.join(self.dir, "run")):
            log(f"  WARNING: nines left its cgroup {d}; removing it")
            try:
                os.rmdir(d)
            except OSError as e:
                log(f"  cannot remove {d}: {e}")
            left.append(d)
        return left

    def status_all(self):
        return [self.ctl, "-s", self.sock, "status"]

    def status_one(self, name):
        return [self.ctl, "-s", self.sock, "status", name]


def cgroup_leftovers(run_dir):
    """nines' per-service cgroup directories for run_dir that still exist (nines names them
    nines.FNV1A32(run_dir).NAME under its own cgroup v2 directory; see src/cgroup.c). nines
    runs in this driver's cgroup, so that is where they are."""
    mnt = next((l.split()[1] for l in (read("/proc/mounts") or "").splitlines()
                if l.split()[2:3] == ["cgroup2"]), None)
    own = next((l[3:] for l in (read("/proc/self/cgroup") or "").splitlines()
                if l.startswith("0::")), None)
    if not mnt or own is None:
        return []
    h = 2166136261
    for c in run_dir.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    base = mnt + (own if own != "/" else "")
    return glob.glob(os.path.join(base, f"nines.{h:08x}.*"))


class RunDirSup(Sup):
    """s6 and runit: one directory per service whose ./run is a symlink to sup_stamp and whose
    ./args holds its arguments (so no shell runs between the supervisor and the service)."""
    def write_config(self):
        self.svdir = os.path.join(self.dir, "sv")
        for name, args in self.services:
            sd = os.path.join(self.svdir, name)
            os.makedirs(sd)
            os.symlink(STAMP, os.path.join(sd, "run"))
            with open(os.path.join(sd, "args"), "w") as f:
                f.write("\n".join(args) + "\n")


class S6(RunDirSup):
    name = "s6"

    def argv(self):
        return ["/usr/bin/s6-svscan", self.svdir]

    def pids(self):
        return [self.p.pid] + children(self.p.pid, "s6-supervise")

    def status_all(self):
        # s6-svstat takes one service directory: an operator loops over the scan directory.
        return ["/bin/sh", "-c",
                f'for d in {self.svdir}/*; do printf "%s: " "${{d##*/}}"; s6-svstat "$d"; done']

    def status_one(self, name):
        return ["/usr/bin/s6-svstat", os.path.join(self.svdir, name)]


class Runit(RunDirSup):
    name = "runit"
    stop_signal = signal.SIGHUP  # runsvdir(8): TERM exits at once and leaves runsv running

    def argv(self):
        return ["/usr/bin/runsvdir", self.svdir]

    def pids(self):
        return [self.p.pid] + children(self.p.pid, "runsv")

    def status_all(self):
        # What `sv status /etc/service/*` runs after the shell's glob: one sv, 100 arguments.
        return ["/usr/bin/sv", "status", *sorted(glob.glob(os.path.join(self.svdir, "*")))]

    def status_one(self, name):
        return ["/usr/bin/sv", "status", os.path.join(self.svdir, name)]


class Supervisord(Sup):
    name = "supervisord"

    def write_config(self):
        d = self.dir
        self.conf = os.path.join(d, "supervisord.conf")
        os.makedirs(os.path.join(d, "childlog"))
        text = (f"[unix_http_server]\nfile = {d}/supervisor.sock\n\n"
                f"[supervisord]\nlogfile = {d}/supervisord.log\npidfile = {d}/supervisord.pid\n"
                f"childlogdir = {d}/childlog\nnodaemon = true\nuser = root\n\n"
                "[rpcinterface:supervisor]\n"
                "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
                f"[supervisorctl]\nserverurl = unix://{d}/supervisor.sock\n")
        for name, args in self.services:
            text += (f"\n[program:{name}]\ncommand = {' '.join([STAMP, *args])}\n"
                     "autorestart = true\n")
            if args[0] == "crash":
                text += "startsecs = 0\n"  # else an exit within 1 s is a failed start (BACKOFF)
        with open(self.conf, "w") as f:
            f.write(text)

    def argv(self):
        return ["/usr/bin/python3", "/usr/bin/supervisord", "-n", "-c", self.conf]

    def status_all(self):
        return ["/usr/bin/python3", "/usr/bin/supervisorctl", "-c", self.conf, "status"]

    def status_one(self, name):
        return ["/usr/bin/python3", "/usr/bin/supervisorctl", "-c", self.conf, "status", name]


CLASSES = {"nines": Nines, "s6": S6, "runit": Runit, "supervisord": Supervisord}
running = []  # every launched Sup not yet stopped, for cleanup on any exit path


def launch(cls, label, services):
    s = cls(label, services)
    running.append(s)
    s.launch()
    return s


def stop(s):
    left = s.stop()
    running.remove(s)
    if left:
        log(f"  WARNING: {s.name}: {len(left)} tagged process(es) left after its stop; killed")
    return left


def up_services(s_dir, n):
    """n services that stamp a file in s_dir/up and exec `sleep 100000`."""
    up = os.path.join(s_dir, "up")
    os.makedirs(up, exist_ok=True)
    return [(f"svc{i:03d}", ["up", os.path.join(up, f"svc{i:03d}"), SLEEP, "100000"])
            for i in range(1, n + 1)]


def prepare(cls, label, n):
    """A Sup for n `sleep` services; its stamp files go to WORK/NAME-LABEL.up/."""
    upbase = os.path.join(WORK, f"{cls.name}-{label}.up")
    shutil.rmtree(upbase, ignore_errors=True)
    return upbase, up_services(upbase, n)


def wait_up(s, upbase, n, timeout=60.0):
    """Waits until n services have exec'd; returns ms from launch to the last exec (stamp)."""
    up = os.path.join(upbase, "up")
    deadline = time.monotonic() + timeout
    while True:
        names = [f for f in os.listdir(up) if not f.endswith(".tmp")]
        if len(names) >= n:
            break
        if s.p.poll() is not None:
            raise RuntimeError(f"{s.name} exited ({s.p.returncode}); see {s.dir}/stderr.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{s.name}: only {len(names)}/{n} services up after {timeout} s")
        time.sleep(0.01)
    last = max(int(read(os.path.join(up, f)).split()[0]) for f in names)
    return (last - s.t_launch) / 1e6


def wait_procs(s, n, timeout=20.0):
    """Waits until all of the supervisor's own processes exist (s6 and runit: one per service
    plus the scanner; nines and supervisord: one)."""
    want = n + 1 if s.name in ("s6", "runit") else 1
    deadline = time.monotonic() + timeout
    while len(s.pids()) < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{s.name}: {len(s.pids())}/{want} supervisor processes")
        time.sleep(0.05)


# ---------------------------------------------------------------------------- 1. crash loop

def pct(v, p):
    v = sorted(v)
    k = (len(v) - 1) * p / 100
    lo = int(k)
    return v[lo] + (v[min(lo + 1, len(v) - 1)] - v[lo]) * (k - lo)


# Seconds per window; nines gets three windows spread between the peers' (CRASH_PLAN), so that
# a burst of load from elsewhere on the machine does not decide its number alone.
CRASH_TIME = {"nines": 1.5, "s6": 11.5, "runit": 11.5, "supervisord": 5.0}
CRASH_PLAN = ["nines", "s6", "nines", "runit", "nines", "supervisord"]
CRASH_MAX = 400  # intervals per window; a supervisor that restarts faster stops there


def busy_ms():
    """CPU time used on the whole machine so far (all CPUs, everything but idle/iowait), ms."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) * 1000 / os.sysconf("SC_CLK_TCK")


def nprocs():
    return sum(1 for d in os.listdir("/proc") if d.isdigit())


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().count(b"\n")
    except OSError:
        return 0


def self_cpu_ms():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return (r.ru_utime + r.ru_stime) * 1e3


def crash_one(name, quick, label="crash"):
    """Runs the crash loop under one supervisor for one window. CPU per restart is the
    supervisor processes' time on CPU between the first exec and the stop, divided by the
    restarts in between. "Other load" is the CPU used on the machine meanwhile by everything but
    the supervisor and this driver (the crashing service included: a few % at most)."""
    cls = CLASSES[name]
    base = os.path.join(WORK, f"{name}-{label}.out")
    os.makedirs(base, exist_ok=True)
    f = os.path.join(base, "stamps")
    if os.path.exists(f):
        os.unlink(f)
    s = launch(cls, label, [("crash", ["crash", f])])
    deadline = time.monotonic() + 30
    while count_lines(f) < 1:
        if s.p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name}: no exec of the crash service; see {s.dir}/stderr.log")
        time.sleep(0.01)
    wait_procs(s, 1)
    pids = s.pids()
    k0, cpu0, busy0, procs = count_lines(f), sum(oncpu_ns(p) for p in pids), busy_ms(), [nprocs()]
    self0 = self_cpu_ms()
    limit = CRASH_TIME[name] * (0.5 if quick else 1)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        time.sleep(0.1)
        procs.append(nprocs())
        if s.p.poll() is not None:
            raise RuntimeError(f"{name} exited ({s.p.returncode}); see {s.dir}/stderr.log")
        if count_lines(f) > CRASH_MAX + 1:
            break
    k1, cpu1 = count_lines(f), sum(oncpu_ns(p) for p in pids)
    wall = time.monotonic() - t0
    other = ((busy_ms() - busy0) - (cpu1 - cpu0) / 1e6 - (self_cpu_ms() - self0)) / (wall * 10)
    stop(s)
    rows = [tuple(map(int, l.split())) for l in (read(f) or "").splitlines() if l.strip()]
    rows = rows[:CRASH_MAX + 1]
    execs = [(b[0] - a[0]) / 1e6 for a, b in zip(rows, rows[1:])]
    exit_exec = [(b[0] - a[1]) / 1e6 for a, b in zip(rows, rows[1:])]
    if not execs:
        raise RuntimeError(f"{name}: no restart in {wall:.1f} s; see {s.dir}/stderr.log")
    return {"execs": execs, "exit_exec": exit_exec, "cpu_ns": cpu1 - cpu0,
            "restarts": max(1, k1 - k0), "other": other, "procs": procs}


def crash_summary(windows):
    """Pools the windows of one supervisor."""
    execs = [x for w in windows for x in w["execs"]]
    exit_exec = [x for w in windows for x in w["exit_exec"]]
    procs = [x for w in windows for x in w["procs"]]
    return {"n": len(execs), "med": statistics.median(execs), "p90": pct(execs, 90),
            "max": max(execs), "xmed": statistics.median(exit_exec), "xp90": pct(exit_exec, 90),
            "cpu_us": sum(w["cpu_ns"] for w in windows) / 1e3 / sum(w["restarts"] for w in windows),
            "other": statistics.median(w["other"] for w in windows),
            "procs": (min(procs), max(procs)),
            "win_med": [statistics.median(w["execs"]) for w in windows]}


# ---------------------------------------------------------------------------- 2. memory

def memory(s):
    """(RSS kB, PSS kB, number of processes, libraries' RSS kB, libraries' PSS kB) summed over
    the supervisor's own processes."""
    pids = s.pids()
    rp = [smaps(p) for p in pids]
    lp = [smaps_libs(p) for p in pids]
    return (sum(r for r, _ in rp), sum(p for _, p in rp), len(pids),
            sum(r for r, _ in lp), sum(p for _, p in lp))


def mem_run(name, n, settle):
    upbase, svcs = prepare(CLASSES[name], f"mem{n}", n)
    s = launch(CLASSES[name], f"mem{n}", svcs)
    ms = wait_up(s, upbase, n)
    wait_procs(s, n)
    time.sleep(settle)
    m = memory(s)
    return s, ms, m


# ---------------------------------------------------------------------------- 3. idle

def strace_cmd(pids, out):
    argv = ["strace", "-c", "-f", "-qq", "-o", out]
    for p in pids:
        argv += ["-p", str(p)]
    return argv


def parse_strace(path):
    """{syscall: calls} from an `strace -c` summary."""
    calls = {}
    for line in (read(path) or "").splitlines():
        f = line.split()
        if len(f) >= 5 and f[0].replace(".", "").isdigit() and f[-1] != "total":
            try:
                calls[f[-1]] = int(f[3])
            except ValueError:
                pass
    return calls


def idle(sups, seconds):
    """Context switches and CPU over `seconds`, then syscalls over another `seconds` under
    strace, for every supervisor in sups at once (they are independent and idle)."""
    res = {}
    pids = {s.name: s.pids() for s in sups}
    c0 = {n: sum(ctxsw(p) for p in ps) for n, ps in pids.items()}
    u0 = {n: sum(oncpu_ns(p) for p in ps) for n, ps in pids.items()}
    time.sleep(seconds)
    for n, ps in pids.items():
        res[n] = {"ctxsw": sum(ctxsw(p) for p in ps) - c0[n],
                  "cpu_us": (sum(oncpu_ns(p) for p in ps) - u0[n]) / 1e3,
                  "procs": len(ps)}
    straces = {}
    for s in sups:
        out = os.path.join(s.dir, "strace.txt")
        straces[s.name] = (subprocess.Popen(strace_cmd(pids[s.name], out),
                                            stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL), out)
    time.sleep(1.0)  # let strace attach to every process before the window starts
    t0 = time.monotonic()
    time.sleep(seconds)
    for name, (p, out) in straces.items():
        p.send_signal(signal.SIGINT)
    for name, (p, out) in straces.items():
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        calls = parse_strace(out)
        # Attaching interrupts the syscall each process sleeps in; it shows up once per process
        # as restart_syscall (or as the sleeping call itself), which is not an idle wake-up.
        res[name]["syscalls_raw"] = sum(calls.values())
        res[name]["syscalls"] = sum(v for k, v in calls.items() if k != "restart_syscall")
        res[name]["top"] = sorted(calls.items(), key=lambda kv: -kv[1])[:4]
        res[name]["strace_s"] = time.monotonic() - t0 + 1.0
    return res


# ---------------------------------------------------------------------------- 5. status

def time_run(argv):
    """Wall time (ms) of one run of argv with its output read from a pipe; (ms, rc, lines)."""
    t = time.perf_counter_ns()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return (time.perf_counter_ns() - t) / 1e6, r.returncode, len(r.stdout.splitlines())


# Runs per round of (all 100, one service): about the same time per round for each command.
STATUS_REPS = {"true": (10, 0), "nines": (10, 10), "s6": (1, 10), "runit": (10, 10),
               "supervisord": (1, 1)}


def status_interleaved(sups, budget_s):
    """Status latency of every supervisor in sups (all up with 100 services), interleaved round
    by round (order rotated) so that load from elsewhere on the machine hits all alike. The
    "true" entry is the cost of spawning /bin/true from here, for reference."""
    cmds = {s.name: (s.status_all(), s.status_one("svc050")) for s in sups}
    cmds["true"] = (["/bin/true"], None)
    res = {n: {"all": [], "one": [], "rc": set(), "lines": set()} for n in cmds}
    for n, (a, o) in cmds.items():  # warm-up: page cache, python's .pyc files
        time_run(a)
        if o:
            time_run(o)
    names = list(cmds)
    t_end, rnd = time.monotonic() + budget_s, 0
    while rnd < 3 or time.monotonic() < t_end:
        for n in names[rnd % len(names):] + names[:rnd % len(names)]:
            ra, ro = STATUS_REPS[n]
            for _ in range(ra):
                ms, rc, lines = time_run(cmds[n][0])
                res[n]["all"].append(ms)
                res[n]["rc"].add(rc)
                res[n]["lines"].add(lines)
            for _ in range(ro):
                ms, rc, _ = time_run(cmds[n][1])
                res[n]["one"].append(ms)
                res[n]["rc"].add(rc)
        rnd += 1
    out = {}
    for n, r in res.items():
        out[n] = {"all": statistics.median(r["all"]), "all_n": len(r["all"]),
                  "all_p90": pct(r["all"], 90),
                  "one": statistics.median(r["one"]) if r["one"] else None,
                  "one_n": len(r["one"]), "rc": sorted(r["rc"]), "lines": sorted(r["lines"])}
    return out, rnd


# ---------------------------------------------------------------------------- report

def pkg_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], text=True,
                       capture_output=True)
    return r.stdout.strip() or "?"


def nines_version(path):
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True,
                         capture_output=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"], text=True,
                           capture_output=True).stdout.strip()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:12]
    return (f"`{os.path.relpath(path, ROOT)}` (sha256 {sha}…) built {mtime:%Y-%m-%d %H:%M:%S} "
            f"UTC from {rev}{' + uncommitted src/ changes' if dirty else ''}")


def f1(x):
    if x is None:
        return "–"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}" if abs(x) < 100 else f"{x:.0f}"


def ratio(a, b):
    if a is None or b is None:
        return "–"
    if b == 0:
        return "0/0" if a == 0 else "∞"
    r = a / b
    return f"{r:.3f}" if r < 0.01 else f"{r:.2f}"


def build_table(R):
    """Markdown rows: metric | nines | s6 | runit | supervisord | nines/s6 | nines/runit |
    nines/supervisord."""
    rows = []

    def row(metric, vals, fmt=f1, bold_ratio=False):
        cells = [fmt(vals.get(n)) for n in NAMES]
        rs = [ratio(vals.get("nines"), vals.get(p)) for p in PEERS]
        if bold_ratio:
            rs = [f"**{r}**" for r in rs]
        rows.append(f"| {metric} | " + " | ".join(cells) + " | " + " | ".join(rs) + " |")

    c = R["crash"]
    row("crash→exec: median ms between execs", {n: c[n]["med"] for n in c}, bold_ratio=True)
    row("crash→exec: p90 ms between execs", {n: c[n]["p90"] for n in c})
    row("crash→exec: median ms exit→next exec", {n: c[n]["xmed"] for n in c})
    row("crash→exec: p90 ms exit→next exec", {n: c[n]["xp90"] for n in c})
    row("crash→exec: supervisor CPU µs per restart", {n: c[n]["cpu_us"] for n in c})
    row("crash→exec: restarts measured", {n: c[n]["n"] for n in c},
        fmt=lambda x: "–" if x is None else str(x))
    if "crash_extra" in R:
        x = R["crash_extra"]
        row(f"crash→exec with {R['extra_procs']} more processes on the host: median ms",
            {"nines": x["med"]})
        row(f"crash→exec with {R['extra_procs']} more processes on the host: p90 ms",
            {"nines": x["p90"]})
        row(f"crash→exec with {R['extra_procs']} more processes: CPU µs per restart",
            {"nines": x["cpu_us"]})
    for n_svc in (1, 10, 100):
        m = R["mem"][n_svc]
        row(f"memory, {n_svc} service{'s' if n_svc > 1 else ''}: PSS KiB (processes)",
            {n: m[n][1] for n in m},
            fmt=lambda x: "–" if x is None else f"{x:,}", bold_ratio=n_svc == 100)
        row(f"memory, {n_svc} service{'s' if n_svc > 1 else ''}: RSS KiB",
            {n: m[n][0] for n in m}, fmt=lambda x: "–" if x is None else f"{x:,}")
        if n_svc == 1:
            row("memory, 1 service: of which shared libraries beyond libc, PSS KiB",
                {n: m[n][4] for n in m}, fmt=lambda x: "–" if x is None else f"{x:,}")
            row("memory, 1 service: of which shared libraries beyond libc, RSS KiB",
                {n: m[n][3] for n in m}, fmt=lambda x: "–" if x is None else f"{x:,}")
    i = R["idle"]
    row(f"idle, 10 services, {R['idle_s']:.0f} s: context switches", {n: i[n]["ctxsw"] for n in i},
        fmt=lambda x: "–" if x is None else str(x), bold_ratio=True)
    row(f"idle, 10 services, {R['idle_s']:.0f} s: syscalls (strace -c -f)",
        {n: i[n]["syscalls"] for n in i}, fmt=lambda x: "–" if x is None else str(x))
    row(f"idle, 10 services, {R['idle_s']:.0f} s: CPU µs", {n: i[n]["cpu_us"] for n in i})
    st = R["start"]
    row("start 100 services: ms to the last exec (median)",
        {n: statistics.median(st[n]) for n in st}, bold_ratio=True)
    s = R["status"]
    row("status of all 100: median ms", {n: s[n]["all"] for n in s}, bold_ratio=True)
    row("status of all 100: median ms minus spawning /bin/true",
        {n: s[n]["all"] - R["spawn_ms"] for n in s})
    row("status of one of 100: median ms", {n: s[n]["one"] for n in s})
    return rows


METHOD = """\
Method (`bench/supervisors.py`, helper `bench/supervisors.c`). Each supervisor runs by hand on
a private directory (Debian packages; none of their system services is used): nines
`nines -c nines.conf` (a copy of the binary taken at the start of the run); s6
`s6-svscan SCANDIR` (one `s6-supervise` per service); runit `runsvdir SVDIR` (one `runsv` per
service); supervisord `supervisord -n -c CONF` with a unix socket. Every service is
`bench/out/sup_stamp` (static binary), which writes its CLOCK_MONOTONIC time at the start of
`main()`; for s6 and runit `./run` is a symlink to it (arguments in `./args`), so no shell runs
anywhere between a supervisor and a measurement. The driver is a child subreaper and tags every
process through the environment; after each supervisor's orderly stop (SIGTERM; runsvdir
SIGHUP) it checks /proc for anything tagged that is left, and that nines removed its per-service
cgroups.

1. **crash→exec**: one service that exits 1 right after writing its start time (and its end
   time just before `_exit`). Smallest restart delay each allows: nines `[restart] delay = 0`,
   `backoff = fixed`, `jitter = 0%`; s6-supervise waits 1 s when the service lived less than 1 s
   (by design, not configurable); runsv waits 1 s likewise; supervisord `startsecs = 0`,
   `autorestart = true` (it respawns on the next turn of its main loop, which sleeps up to 1 s
   in poll). Median and p90 of the time between consecutive execs, and from one run's exit to
   the next exec (the supervisor's part). nines runs three 1.5 s windows (up to 400 restarts
   each, pooled) spread between the peers' runs, so that a burst of load from elsewhere does
   not decide its number alone; s6 and runit run ~11 s (about 10 restarts), supervisord 5 s.
   "CPU per restart": time on CPU of the supervisor's processes over the window
   (`/proc/PID/task/*/schedstat`) divided by the restarts in it (the forked child's own time
   before its exec is not included); it depends little on the load of the machine, the latency
   much. One more nines window runs with N more idle processes on the host (`sup_stamp hold
   N`): nines restarts only once nothing of the old generation is left. With a cgroup per
   service (as here) it asks the cgroup alone; without one it walks `/proc/PID/stat` of every
   process on the host (`/proc/PID/environ` only for orphans it adopted), and only then does its
   restart cost grow with the host's process count (before 428055c it read both files of every
   process after every exit in all cases). The peers never scan /proc.
2. **memory**: RSS and PSS (`/proc/PID/smaps_rollup`) summed over the supervisor's own processes
   with 1, 10 and 100 services running `sleep 100000` (nines: 1 process; s6: s6-svscan + one
   s6-supervise per service; runit: runsvdir + one runsv per service; supervisord: 1 python
   process), read 2 s after the last service exec'd. PSS is the fair total for s6 and runit,
   whose many processes share their text pages; their RSS sum counts shared pages once per
   process. PSS also shares a library's pages with every other process on the host that maps
   them (e.g. other nines instances run by tests), so RSS is the steadier number for one
   process. "Shared libraries beyond libc": RSS/PSS of the mappings of `.so` files other than
   libc and ld.so (`/proc/PID/smaps`).
3. **idle**: 10 services running `sleep`, all four supervisors at once (they are independent),
   2 s after start-up: voluntary + nonvoluntary context switches (`/proc/PID/task/*/status`) and
   time on CPU (`/proc/PID/task/*/schedstat`) of the supervisor's processes over the window;
   then syscalls over a second window of the same length under `strace -c -f -p PID...`
   (attaching interrupts the call each process sleeps in; the `restart_syscall` that follows,
   one per process, is not counted).
4. **start 100**: from just before the driver's fork of the supervisor to the latest start time
   written by the 100 services (each writes it, then execs `sleep 100000`); rounds in rotated
   order, one supervisor at a time (in the last round the ones already started stay up, idle,
   for 5.), median of the rounds.
5. **status with 100 services**: all four up with 100 services each; wall time of the command
   an operator runs, spawned from the driver with output to a pipe, interleaved round by round
   (rotated order; so load from elsewhere hits all alike) after one warm-up, median:
   `ninesctl status`; `sh -c 'for d in SCANDIR/*; do printf "%s: " "${d##*/}"; s6-svstat "$d";
   done'` (s6-svstat takes one directory); `sv status SVDIR/svc001 ... SVDIR/svc100` (one sv,
   what the shell's glob passes); `supervisorctl -c CONF status` (python3). "One of 100": the
   same for one service (`ninesctl status svc050`, `s6-svstat DIR`, `sv status DIR`,
   `supervisorctl status svc050`). Spawning `/bin/true` the same way is measured alongside and
   subtracted in one row."""


def write_results(section):
    intro = ("# Benchmarks\n\nnines against its peers. Each section is written by the script "
             "it names; re-running a script replaces only its own section.\n")
    text = read(RESULTS) or intro
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


# ---------------------------------------------------------------------------- main

def build_helper():
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["gcc", *CFLAGS, "-o", STAMP, SRC], check=True)


def run(a):
    R = {"crash": {}, "mem": {1: {}, 10: {}, 100: {}}, "idle": {}, "start": {n: [] for n in NAMES},
         "status": {}}
    order = NAMES

    log("1. crash→exec latency")
    windows = {n: [] for n in NAMES}
    for i, name in enumerate(CRASH_PLAN):
        w = crash_one(name, a.quick, f"crash{i + 1}")
        windows[name].append(w)
        log(f"  {name:12} window: {len(w['execs']):4} restarts, median "
            f"{statistics.median(w['execs']):8.2f} ms, other load {w['other']:.0f}%")
    for name in order:
        r = R["crash"][name] = crash_summary(windows[name])
        log(f"  {name:12} {r['n']:4} restarts  median {r['med']:8.2f} ms  p90 {r['p90']:8.2f} ms"
            f"  max {r['max']:8.2f} ms  (exit→exec median {r['xmed']:.2f}, p90 {r['xp90']:.2f});"
            f" {r['cpu_us']:.0f} µs CPU/restart; other load {r['other']:.0f}%, "
            f"{r['procs'][0]}-{r['procs'][1]} processes")

    if a.extra_procs:
        R["extra_procs"] = a.extra_procs
        log(f"1b. nines crash→exec with {a.extra_procs} more idle processes on the host")
        hold = subprocess.Popen([STAMP, "hold", str(a.extra_procs)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                env=dict(os.environ, **{TAG_VAR: f"{TAG}:hold"}))
        try:
            if hold.stdout.readline() != b"ready\n":
                raise RuntimeError("sup_stamp hold failed")
            r = R["crash_extra"] = crash_summary([crash_one("nines", a.quick, "crash-extra")])
        finally:
            hold.stdin.close()
            hold.wait(30)
        log(f"  {'nines':12} {r['n']:4} restarts  median {r['med']:8.2f} ms  p90 {r['p90']:8.2f} ms"
            f"  max {r['max']:8.2f} ms; {r['cpu_us']:.0f} µs CPU/restart; "
            f"{r['procs'][0]}-{r['procs'][1]} processes")

    log("2. memory with 1 service")
    for name in order:
        s, ms, m = mem_run(name, 1, 2.0)
        R["mem"][1][name] = m
        stop(s)
        log(f"  {name:12} RSS {m[0]:7,} KiB  PSS {m[1]:7,} KiB  ({m[2]} processes; libraries RSS {m[3]:,}, PSS {m[4]:,})")

    log(f"3. 10 services: memory and idle cost (all four at once, {a.idle:.0f} s + {a.idle:.0f} s)")
    sups = []
    try:
        for name in order:
            upbase, svcs = prepare(CLASSES[name], "idle10", 10)
            s = launch(CLASSES[name], "idle10", svcs)
            wait_up(s, upbase, 10)
            wait_procs(s, 10)
            sups.append(s)
        time.sleep(2.0)
        for s in sups:
            m = R["mem"][10][s.name] = memory(s)
            log(f"  {s.name:12} RSS {m[0]:7,} KiB  PSS {m[1]:7,} KiB  ({m[2]} processes; libraries RSS {m[3]:,}, PSS {m[4]:,})")
        R["idle"] = idle(sups, a.idle)
        R["idle_s"] = a.idle
        for s in sups:
            i = R["idle"][s.name]
            log(f"  {s.name:12} {i['ctxsw']:5} context switches, {i['cpu_us']:9.0f} µs CPU; "
                f"{i['syscalls']:5} syscalls ({i['syscalls_raw']} with restart_syscall): "
                + ", ".join(f"{k} {v}" for k, v in i["top"]))
    finally:
        for s in sups:
            stop(s)

    log("4./5. 100 services: start-up; then, all four up, memory and status latency")
    up = []
    try:
        for rnd in range(a.start_rounds):
            keep = rnd == a.start_rounds - 1  # the last round stays up for memory and status
            for name in order[rnd % 4:] + order[:rnd % 4]:
                upbase, svcs = prepare(CLASSES[name], f"n100r{rnd + 1}", 100)
                s = launch(CLASSES[name], f"n100r{rnd + 1}", svcs)
                try:
                    ms = wait_up(s, upbase, 100)
                finally:
                    if not keep:
                        stop(s)
                R["start"][name].append(ms)
                log(f"  round {rnd + 1} {name:12} start {ms:8.1f} ms")
                if keep:
                    wait_procs(s, 100)
                    up.append(s)
        time.sleep(2.0)
        for s in up:
            m = R["mem"][100][s.name] = memory(s)
            log(f"  {s.name:12} RSS {m[0]:7,} KiB  PSS {m[1]:7,} KiB  ({m[2]} processes; libraries RSS {m[3]:,}, PSS {m[4]:,})")
        R["status"], R["status_rounds"] = status_interleaved(up, 6.0 if a.quick else 25.0)
        R["spawn_ms"] = R["status"].pop("true")["all"]
        log(f"  status, {R['status_rounds']} interleaved rounds; spawning /bin/true from here: "
            f"{R['spawn_ms']:.2f} ms")
        for n, st in R["status"].items():
            log(f"  {n:12} all 100: {st['all']:8.2f} ms (p90 {st['all_p90']:.2f}, "
                f"n={st['all_n']}, {st['lines']} lines)  one: {st['one']:8.2f} ms "
                f"(n={st['one_n']})  exit codes {st['rc']}")
    finally:
        for s in up:
            stop(s)
    return R


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nines", default=Nines.nines)
    ap.add_argument("--idle", type=float, default=20.0, help="idle window, s (default 20)")
    ap.add_argument("--start-rounds", type=int, default=3)
    ap.add_argument("--extra-procs", type=int, default=2000,
                    help="also time nines' crash loop with this many more processes on the "
                         "host (0: skip; default 2000)")
    ap.add_argument("--quick", action="store_true", help="shorter windows (a smoke test)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (strace -p, /proc/PID/smaps_rollup of every supervisor)")
    Nines.nines = os.path.abspath(a.nines)
    Nines.ctl = os.path.join(os.path.dirname(Nines.nines), "ninesctl")
    nines_src = Nines.nines
    need = [Nines.nines, Nines.ctl, "/usr/bin/s6-svscan", "/usr/bin/s6-svstat", "/usr/bin/runsvdir",
            "/usr/bin/sv", "/usr/bin/supervisord", "/usr/bin/supervisorctl", "/usr/bin/strace", SLEEP]
    missing = [p for p in need if not os.access(p, os.X_OK)]
    if missing:
        sys.exit(f"missing: {' '.join(missing)} (make; apt-get install -y s6 runit supervisor strace)")
    build_helper()
    os.makedirs(WORK, exist_ok=True)
    # A copy, so a rebuild of build/ during the run cannot change what is measured.
    nines_ver = nines_version(nines_src)
    bindir = os.path.join(WORK, "bin")
    os.makedirs(bindir, exist_ok=True)
    for attr in ("nines", "ctl"):
        dst = os.path.join(bindir, os.path.basename(getattr(Nines, attr)))
        shutil.copy2(getattr(Nines, attr), dst)
        setattr(Nines, attr, dst)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGTERM, on_term)
    load = os.getloadavg()[0]
    t0 = time.monotonic()
    leftovers = []
    try:
        R = run(a)
    except (KeyboardInterrupt, Terminated):
        log("interrupted; cleaning up")
        R = None
    finally:
        for s in list(running):
            leftovers += stop(s)
        reap_orphans()
        final = tagged()
        for pid in final:
            os.kill(pid, signal.SIGKILL)
        reap_orphans()
    elapsed = time.monotonic() - t0
    if final:
        log(f"WARNING: {len(final)} tagged processes left at the end; killed: {final}")
    if R is None:
        sys.exit(1)

    table = ["| metric | nines | s6 | runit | supervisord | nines/s6 | nines/runit | "
             "nines/supervisord |", "|---|---:|---:|---:|---:|---:|---:|---:|"] + build_table(R)
    now = datetime.datetime.now(datetime.timezone.utc)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    i, c, s, st = R["idle"], R["crash"], R["status"], R["start"]
    speed = [f"status of all 100: supervisorctl/nines = **{s['supervisord']['all'] / s['nines']['all']:.1f}x**, "
             f"s6-svstat loop/nines = {s['s6']['all'] / s['nines']['all']:.1f}x, "
             f"sv status/nines = {s['runit']['all'] / s['nines']['all']:.1f}x; one service: "
             f"s6-svstat/nines = {s['s6']['one'] / s['nines']['one']:.2f}x",
             "start 100 (all rounds, ms): " + "; ".join(
                 f"{n} " + ", ".join(f"{x:.0f}" for x in st[n]) for n in NAMES),
             "idle syscalls, most frequent: " + "; ".join(
                 f"{n}: " + (", ".join(f"{k} {v}" for k, v in i[n]['top']) or "none")
                 for n in NAMES),
             "crash→exec: processes on the host during each run (min–max): " + ", ".join(
                 f"{n} {c[n]['procs'][0]}–{c[n]['procs'][1]}" for n in NAMES)
             + (f"; nines with {R['extra_procs']} more: {R['crash_extra']['procs'][0]}–"
                f"{R['crash_extra']['procs'][1]}" if "crash_extra" in R else "")
             + "; other load (median of the windows; CPU used by everything but the supervisor "
               "and the driver, in % of one CPU): " + ", ".join(
                 f"{n} {c[n]['other']:.0f}%" for n in NAMES)
             + "; nines per window (median ms): " + ", ".join(
                 f"{x:.2f}" for x in c["nines"]["win_med"])]
    if "crash_extra" in R:
        x, base = R["crash_extra"], c["nines"]
        extra = (x["procs"][0] + x["procs"][1]) / 2 - (base["procs"][0] + base["procs"][1]) / 2
        speed.append(f"nines' CPU per restart changes by {(x['cpu_us'] - base['cpu_us']) / extra:+.2f} µs "
                     f"per extra process on the host ({base['cpu_us']:.0f} µs at "
                     f"{base['procs'][0]}–{base['procs'][1]} processes, {x['cpu_us']:.0f} µs at "
                     f"{x['procs'][0]}–{x['procs'][1]}); the median crash→exec goes from "
                     f"{base['med']:.1f} to {x['med']:.1f} ms")
    targets = [
        f"crash→exec median < 5 ms: {'met' if c['nines']['med'] < 5 else 'MISSED'} "
        f"({c['nines']['med']:.2f} ms)",
        f"PSS at 100 services below s6: "
        f"{'met' if R['mem'][100]['nines'][1] < R['mem'][100]['s6'][1] else 'MISSED'}",
        f"zero wake-ups while idle: {'met' if i['nines']['ctxsw'] == 0 else 'MISSED'} "
        f"({i['nines']['ctxsw']} context switches, {i['nines']['syscalls']} syscalls)",
        f"status ≥ 10x faster than supervisorctl: "
        f"{'met' if s['supervisord']['all'] >= 10 * s['nines']['all'] else 'MISSED'}; "
        f"as fast as s6-svstat (one service): "
        f"{'met' if s['nines']['one'] <= s['s6']['one'] * 1.05 else 'MISSED'}",
    ]
    section = "\n".join([
        HEADING, "",
        f"Run {now:%Y-%m-%d %H:%M} UTC, {elapsed:.0f} s in all. Machine: {os.cpu_count()} CPUs "
        f"(nproc; {cpu}), Linux {platform.release()}, load average {load:.1f} at start. "
        f"nines: {nines_ver}; s6 {pkg_version('s6')}, runit "
        f"{pkg_version('runit')}, supervisor {pkg_version('supervisor')} (Debian), "
        f"strace {pkg_version('strace')}.", "",
        METHOD, "",
        "Lower is better everywhere; ratios are nines ÷ peer (below 1: nines costs less).", "",
        *table, "",
        *[f"- {x}" for x in speed],
        *[f"- target: {x}" for x in targets],
        f"- processes left after the run: {len(leftovers) + len(final)}", "",
    ])
    log("")
    log("\n".join(table))
    log("")
    log("\n".join(speed + targets))
    log(f"\n{elapsed:.0f} s; leftover processes: {len(leftovers) + len(final)}")
    if not a.no_write:
        write_results(section)
        log(f"wrote section '{HEADING}' to {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
