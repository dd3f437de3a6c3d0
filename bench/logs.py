#!/usr/bin/python3
"""Log capture throughput: 200 MB of 100-byte lines through nines (timestamps, log patterns and
redaction on) against s6-log, svlogd and supervisord's capture, with `cat > file` as the
physical bound, all in one run.

Usage: /usr/bin/python3 bench/logs.py [--nines build/nines] [--bytes 200000000] [--rounds 3]
                                      [--no-profile] [--no-write]                  (as root)

Every capturer gets the same producer, bench/out/logs_gen (built from bench/logs.c), which
writes the lines to a pipe as fast as the reader takes them and stamps its start on
CLOCK_MONOTONIC. The window runs from that start until the last line (a unique marker) is in
the capturer's destination file, seen by this driver polling the file's tail every ~1 ms. The
capturers (private temp directories under /tmp, run by hand, none as a system service):

  nines        `nines -c nines.conf`, one service whose command is the producer, with [auth]
               (token_env = BENCH_TOKEN, format = opaque: Discord's default log patterns on)
               and [log] timestamps = iso8601, redact = yes, max_size = 1G, max_files = 2;
               nines runs with BENCH_TOKEN set, so its value is masked too. nines starts with
               no service; the service file is added and nines gets SIGHUP (so its CPU time over
               the window excludes its own start-up).
  s6-log       `logs_gen | s6-log T s1000000000 n2 DIR` (T: ISO 8601 timestamp per line).
  svlogd       `logs_gen | svlogd -tt DIR`, DIR/config `s1000000000` `n2`.
  supervisord  `supervisord -n -c CONF` with [program:bench] command = the producer,
               stdout_logfile, stdout_logfile_maxbytes = 1GB (no timestamps: it copies the
               bytes); started by `supervisorctl start bench` (autostart = false).
  cat          `logs_gen | cat > FILE`.

Each round runs every capturer once, in an order rotated each round, after one untimed warm-up
run each at a tenth of the size; medians of the rounds are reported. Each run is verified: the
destination holds exactly the producer's lines, in one file (no rotation), and for nines the
token is masked in every line that held it. When nines misses a target, it is profiled on a
smaller run under valgrind's callgrind (user-space instructions per function), and the kernel's
cost of its write pattern (one write(2) per line) is measured alone against the same bytes in
64 KiB writes (`logs_gen wcost`).

Replaces the "## Log capture throughput" section of bench/RESULTS.md; other sections are kept.
"""

import argparse
import ctypes
import datetime
import hashlib
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
SRC = os.path.join(HERE, "logs.c")
GEN = os.path.join(OUT, "logs_gen")
RESULTS = os.path.join(HERE, "RESULTS.md")
HEADING = "## Log capture throughput"
CFLAGS = ["-O2", "-static", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
          "-Wshadow", "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wformat=2"]
LINE = 100            # bytes per line, newline included (bench/logs.c)
PER_CHUNK = 640       # lines per write of the producer; one of them holds the token
WCOST_LEN = 136       # bytes of one of nines' records: 29 (timestamp) + 1 + 6 ("out | ") + 100
TOKEN = "bench-opaque-token-0123456789abcdefghij"
MASK = b"[REDACTED]"
TAG_VAR = "BENCH_LOGS_TAG"
TAG = f"{os.getpid()}.{time.time_ns()}"
NAMES = ["nines", "s6-log", "svlogd", "supervisord", "cat"]
PY = "/usr/bin/python3"  # supervisor's Debian package is installed for the system python
CLK_TCK = os.sysconf("SC_CLK_TCK")
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


class Terminated(Exception):
    pass


def on_term(signo, frame):
    raise Terminated()


def log(msg):
    print(msg, flush=True)


def read(path, mode="r"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def preexec():
    """In every process this driver starts: SIGTERM when the driver dies, even by SIGKILL."""
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def env_for(label):
    return dict(os.environ, BENCH_TOKEN=TOKEN, **{TAG_VAR: f"{TAG}:{label}"})


# ---------------------------------------------------------------------------- /proc helpers

def cpu_ticks(pid):
    """(utime, stime) of pid in clock ticks, or None when gone."""
    s = read(f"/proc/{pid}/stat")
    if not s:
        return None
    f = s[s.rindex(")") + 2:].split()
    return int(f[11]), int(f[12])


def status_kib(pid, key):
    for l in (read(f"/proc/{pid}/status") or "").splitlines():
        if l.startswith(key + ":"):
            return int(l.split()[1])
    return None


def proc_io(pid):
    """{'syscr': n, 'syscw': n, ...} of /proc/PID/io."""
    out = {}
    for l in (read(f"/proc/{pid}/io") or "").splitlines():
        k, _, v = l.partition(":")
        out[k] = int(v)
    return out


def busy_ticks():
    """CPU ticks of the whole machine not idle (user nice system irq softirq)."""
    f = (read("/proc/stat") or "cpu 0").splitlines()[0].split()[1:]
    v = [int(x) for x in f]
    return v[0] + v[1] + v[2] + v[5] + v[6]


def self_cpu_s():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def tagged(label=""):
    """Live processes carrying this run's tag (for one run when label is given)."""
    me, key = os.getpid(), f"{TAG_VAR}={TAG}:{label}".encode()
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        env = read(f"/proc/{d}/environ", "rb")
        if not env:
            continue
        for var in env.split(b"\0"):
            if var == key or not label and var.startswith(key):
                s = read(f"/proc/{d}/stat")
                if s and s[s.rindex(")") + 2] != "Z":
                    pids.append(int(d))
                break
    return pids


def cgroup_leftovers(run_dir):
    """nines' per-service cgroup directories for run_dir that still exist (named
    nines.FNV1A32(run_dir).NAME under nines' own cgroup, which is this driver's)."""
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
    d = os.path.join(base, f"nines.{h:08x}.bench")
    return [d] if os.path.isdir(d) else []


def wait_file(path, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}) before {path} appeared")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} did not appear within {timeout:.0f} s")
        time.sleep(0.005)


# ---------------------------------------------------------------------------- capturers

class Capture:
    """One run of one capturer: set up (untimed), start the producer, then the driver polls
    dest() for the marker; done() is called right when it is seen; finish() collects and stops."""
    name = "?"
    adds = ""

    def __init__(self, work, label, nbytes):
        self.label = f"{self.name}-{label}"
        self.dir = os.path.join(work, self.label)
        os.makedirs(self.dir)
        self.nbytes = nbytes
        self.marker = f"END-OF-BENCH-{TAG}-{self.label}"
        self.stamp = os.path.join(self.dir, "stamp")
        self.errf = open(os.path.join(self.dir, "stderr.log"), "wb")
        self.procs = []
        self.r = {}

    def popen(self, argv, **kw):
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", self.errf)
        kw.setdefault("stderr", self.errf)
        p = subprocess.Popen(argv, cwd=self.dir, env=env_for(self.label), preexec_fn=preexec, **kw)
        self.procs.append(p)
        return p

    def producer_argv(self):
        return [GEN, self.stamp, str(self.nbytes), self.marker]

    def setup(self):
        pass

    def start(self):
        raise NotImplementedError

    def sample_pid(self):
        """The capturer process whose RSS is sampled during the run (None: use rusage)."""
        return None

    def done(self):
        pass

    def finish(self):
        pass

    def files(self):
        """Every file the capturer wrote lines to."""
        return [self.dest()]

    def stop(self):
        """Stops whatever is left of this run, reports leftovers."""
        for p in self.procs:
            if p.returncode is None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    log(f"  {self.name}: pid {p.pid} still there 20 s after SIGTERM; killing it")
                    p.kill()
                    p.wait()
        self.errf.close()
        left = []
        deadline = time.monotonic() + 5
        while True:
            left = tagged(self.label)
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        return left


class Pipeline(Capture):
    """`logs_gen | CONSUMER`: the consumer starts first, reading the pipe's read end."""
    def consumer_argv(self):
        raise NotImplementedError

    def consumer_stdout(self):
        return self.errf

    def start(self):
        r, w = os.pipe()
        out = self.consumer_stdout()
        self.cons = self.popen(self.consumer_argv(), stdin=r, stdout=out)
        os.close(r)
        if out is not self.errf:
            out.close()
        self.prod = self.popen(self.producer_argv(), stdout=w)
        os.close(w)

    def finish(self):
        self.prod.wait(60)
        deadline = time.monotonic() + 60
        while True:  # the consumer exits at EOF; wait4 for its own rusage
            pid, st, ru = os.wait4(self.cons.pid, os.WNOHANG)
            if pid:
                self.cons.returncode = os.waitstatus_to_exitcode(st)
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not exit at EOF")
            time.sleep(0.002)
        # ru_maxrss is not used: it keeps the high-water mark of the forked driver from
        # before the exec; the peak comes from /proc/PID/status VmHWM sampled while it runs.
        self.r.update(cpu_user=ru.ru_utime, cpu_sys=ru.ru_stime, rc=self.cons.returncode)

    def sample_pid(self):
        return self.cons.pid


class Cat(Pipeline):
    name = "cat"
    adds = "nothing (the physical bound)"

    def dest(self):
        return os.path.join(self.dir, "out.log")

    def consumer_argv(self):
        return ["/bin/cat"]

    def consumer_stdout(self):
        return open(self.dest(), "wb")


class S6Log(Pipeline):
    name = "s6-log"
    adds = "ISO 8601 timestamp (`T`)"

    def dest(self):
        return os.path.join(self.dir, "log", "current")

    def consumer_argv(self):
        return ["/usr/bin/s6-log", "T", "s1000000000", "n2", os.path.join(self.dir, "log")]

    def files(self):
        d = os.path.join(self.dir, "log")
        return [os.path.join(d, f) for f in sorted(os.listdir(d))
                if f == "current" or f.startswith("@") or f == "previous"]


class Svlogd(Pipeline):
    name = "svlogd"
    adds = "UTC timestamp (`-tt`)"

    def setup(self):
        d = os.path.join(self.dir, "log")
        os.makedirs(d)
        with open(os.path.join(d, "config"), "w") as f:
            f.write("s1000000000\nn2\n")

    def dest(self):
        return os.path.join(self.dir, "log", "current")

    def consumer_argv(self):
        return ["/usr/bin/svlogd", "-tt", os.path.join(self.dir, "log")]

    def files(self):
        d = os.path.join(self.dir, "log")
        return [os.path.join(d, f) for f in sorted(os.listdir(d))
                if f == "current" or f.startswith("@") or f == "previous"]


class Daemon(Capture):
    """A long-running capturer (nines, supervisord): its CPU time is read from /proc before the
    producer is started and again when the last line is seen."""
    def cpu_before(self):
        self.t_before = cpu_ticks(self.p.pid)
        self.io_before = proc_io(self.p.pid)
        self.rss_before = status_kib(self.p.pid, "VmRSS")

    def sample_pid(self):
        return self.p.pid

    def done(self):
        t = cpu_ticks(self.p.pid)
        io = proc_io(self.p.pid)
        self.r.update(cpu_user=(t[0] - self.t_before[0]) / CLK_TCK,
                      cpu_sys=(t[1] - self.t_before[1]) / CLK_TCK,
                      rss_peak_kib=status_kib(self.p.pid, "VmHWM"),
                      rss_before_kib=self.rss_before,
                      syscr=io.get("syscr", 0) - self.io_before.get("syscr", 0),
                      syscw=io.get("syscw", 0) - self.io_before.get("syscw", 0))

    def finish(self):
        wait_file(self.stamp, 60)  # the producer is done


class NinesCap(Daemon):
    name = "nines"
    adds = "ISO 8601 timestamp, stream label (`out`), patterns, redaction"
    binary = None       # a copy of build/nines taken at the start of the run
    wrapper = []        # e.g. valgrind for the profile run

    def setup(self):
        d = self.dir
        self.conf = os.path.join(d, "nines.conf")
        os.makedirs(os.path.join(d, "services"))
        with open(self.conf, "w") as f:
            f.write(f"[nines]\nservices_dir = {d}/services\nrun_dir = {d}/run\n"
                    f"state_dir = {d}/state\nlog_dir = {d}/log\nconsole = no\n")
        self.p = self.popen([*self.wrapper, self.binary, "-c", self.conf], start_new_session=True)
        wait_file(os.path.join(d, "run", "control.sock"), 60, self.p)
        time.sleep(0.05)

    def dest(self):
        return os.path.join(self.dir, "log", "bench.log")

    def files(self):
        d = os.path.join(self.dir, "log")
        return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.startswith("bench.log")]

    def start(self):
        self.cpu_before()
        with open(os.path.join(self.dir, "services", "bench.conf"), "w") as f:
            f.write(f"[service]\ncommand = {' '.join(self.producer_argv())}\n"
                    "[restart]\npolicy = never\n"
                    "[auth]\ntoken_env = BENCH_TOKEN\nformat = opaque\n"
                    "[log]\nmax_size = 1G\nmax_files = 2\ntimestamps = iso8601\nredact = yes\n")
        self.p.send_signal(signal.SIGHUP)

    def stop(self):
        left = super().stop()
        for d in cgroup_leftovers(os.path.join(self.dir, "run")):
            log(f"  WARNING: nines left its cgroup {d}; removing it")
            try:
                os.rmdir(d)
            except OSError as e:
                log(f"  cannot remove {d}: {e}")
            left.append(d)
        return left


class Supervisord(Daemon):
    name = "supervisord"
    adds = "nothing (copies the bytes)"

    def setup(self):
        d = self.dir
        self.conf = os.path.join(d, "supervisord.conf")
        with open(self.conf, "w") as f:
            f.write(f"[unix_http_server]\nfile = {d}/supervisor.sock\n\n"
                    f"[supervisord]\nlogfile = {d}/supervisord.log\npidfile = {d}/supervisord.pid\n"
                    f"childlogdir = {d}\nnodaemon = true\nuser = root\n\n"
                    "[rpcinterface:supervisor]\n"
                    "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\n"
                    f"[supervisorctl]\nserverurl = unix://{d}/supervisor.sock\n\n"
                    f"[program:bench]\ncommand = {' '.join(self.producer_argv())}\n"
                    "autostart = false\nautorestart = false\nstartsecs = 0\n"
                    f"stdout_logfile = {self.dest()}\nstdout_logfile_maxbytes = 1GB\n"
                    "stdout_logfile_backups = 2\n")
        self.p = self.popen([PY, "/usr/bin/supervisord", "-n", "-c", self.conf],
                            start_new_session=True)
        wait_file(os.path.join(d, "supervisor.sock"), 60, self.p)
        time.sleep(0.2)

    def dest(self):
        return os.path.join(self.dir, "bench.log")

    def files(self):
        return [os.path.join(self.dir, f) for f in sorted(os.listdir(self.dir))
                if f.startswith("bench.log")]

    def start(self):
        self.cpu_before()
        self.ctl = self.popen([PY, "/usr/bin/supervisorctl", "-c", self.conf, "start", "bench"])

    def finish(self):
        super().finish()
        _, st, ru = os.wait4(self.ctl.pid, 0)  # supervisorctl: not "other load"
        self.ctl.returncode = os.waitstatus_to_exitcode(st)
        self.r["helper_cpu"] = ru.ru_utime + ru.ru_stime


CLASSES = {"nines": NinesCap, "s6-log": S6Log, "svlogd": Svlogd, "supervisord": Supervisord,
           "cat": Cat}


# ---------------------------------------------------------------------------- one run

def wait_marker(cap, timeout):
    """Polls cap.dest() until its tail holds the marker; returns (CLOCK_MONOTONIC ns right after
    the read that found it, the largest VmHWM seen). Reads the capturer's VmHWM (peak RSS of its
    address space, which exec starts afresh) every ~10 ms meanwhile."""
    path, mb = cap.dest(), cap.marker.encode()
    last, hwm, next_rss = -1, 0, 0
    pid = cap.sample_pid()
    deadline = time.monotonic() + timeout
    while True:
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = -1
        if size > 0 and size != last:
            last = size
            try:
                with open(path, "rb") as f:
                    f.seek(max(0, size - 512))
                    tail = f.read()
            except FileNotFoundError:
                tail = b""
            if mb in tail:
                t = time.monotonic_ns()
                if pid:
                    hwm = max(hwm, status_kib(pid, "VmHWM") or 0)
                return t, hwm
        now = time.monotonic_ns()
        if pid and now >= next_rss:
            hwm = max(hwm, status_kib(pid, "VmHWM") or 0)
            next_rss = now + 10_000_000
        if time.monotonic() > deadline:
            raise RuntimeError(f"{cap.name}: last line not in {path} after {timeout:.0f} s")
        time.sleep(0.001)


def verify(cap, lines):
    """Counts lines, masks and token occurrences in every file the capturer wrote."""
    n_lines = n_mask = n_tok = size = 0
    with_data = 0
    tok = TOKEN.encode()
    for path in cap.files():
        st = os.stat(path)
        size += st.st_size
        with_data += st.st_size > 0
        carry = b""
        with open(path, "rb") as f:
            while True:
                b = f.read(16 << 20)
                if not b:
                    break
                b = carry + b
                cut = b.rfind(b"\n") + 1
                b, carry = b[:cut], b[cut:]
                n_lines += b.count(b"\n")
                n_mask += b.count(MASK)
                n_tok += b.count(tok)
        if carry:
            n_lines += 1
    return {"lines": n_lines, "mask": n_mask, "token": n_tok, "bytes": size, "files": with_data,
            "ok_lines": n_lines == lines, "ok_files": with_data == 1}


def run_one(name, work, label, nbytes, timeout=180.0):
    cap = CLASSES[name](work, label, nbytes)
    lines = nbytes // LINE
    try:
        cap.setup()
        busy0, self0, m0 = busy_ticks(), self_cpu_s(), time.monotonic_ns()
        cap.start()
        t_end, hwm = wait_marker(cap, timeout)
        busy1, self1 = busy_ticks(), self_cpu_s()
        cap.done()
        cap.finish()
        st = read(cap.stamp).split()
        t0, t1, pu, ps = int(st[0]), int(st[1]), int(st[2]), int(st[3])
        r = cap.r
        r.update(window_s=(t_end - t0) / 1e9, prod_done_s=(t1 - t0) / 1e9,
                 prod_cpu=(pu + ps) / 1e6)
        r["rss_peak_kib"] = max(r.get("rss_peak_kib") or 0, hwm)
        r["cpu"] = r["cpu_user"] + r["cpu_sys"]
        machine = (busy1 - busy0) / CLK_TCK
        r["other_pct"] = max(0.0, machine - r["cpu"] - r["prod_cpu"] - (self1 - self0)
                             - r.get("helper_cpu", 0.0)) / ((t_end - m0) / 1e9) * 100
        if "syscw" in r and name in ("nines", "perf"):
            # /proc/PID/io adds a child's counts once it is reaped: the producer's chunk
            # writes and its stamp write are not nines'.
            r["syscw"] -= -(-lines // PER_CHUNK) + 1
        r.update(verify(cap, lines))
        r["mb_s"] = nbytes / 1e6 / r["window_s"]
    finally:
        left = cap.stop()
        if left:
            log(f"  WARNING: {name}: {len(left)} process(es)/cgroup(s) left after its stop; removed")
        cap.r["left"] = len(left)
        if not getattr(run_one, "keep", False):
            shutil.rmtree(cap.dir, ignore_errors=True)
    return cap.r


# ---------------------------------------------------------------------------- profile

def wcost(lines, per):
    """The kernel's cost of appending lines of nines' record size, per write(2) or batched."""
    path = os.path.join(tempfile.gettempdir(), f"nines-bench-logs.wcost.{os.getpid()}")
    try:
        out = subprocess.run([GEN, "wcost", path, str(lines), str(WCOST_LEN), str(per)],
                             check=True, text=True, capture_output=True).stdout.split()
    finally:
        if os.path.exists(path):
            os.unlink(path)
    wall, usr, sy, writes = (int(x) for x in out)
    return {"per": per, "wall_s": wall / 1e9, "user_s": usr / 1e6, "sys_s": sy / 1e6,
            "writes": writes, "lines": lines}


def profile_nines(work, nbytes, wcost_lines):
    """Where nines' time goes: callgrind on a smaller run (user-space instructions per
    function; `perf stat -e instructions` does not work on this VM), and the kernel's cost of
    nines' one write(2) per line measured alone (wcost), against the same bytes batched."""
    res = {"wcost": [wcost(wcost_lines, 1), wcost(wcost_lines, 65536 // WCOST_LEN)]}
    out = os.path.join(OUT, "logs_callgrind.out")
    NinesCap.wrapper = ["/usr/bin/valgrind", "--tool=callgrind",
                        f"--callgrind-out-file={out}", "--trace-children=no"]
    try:
        r = run_one("nines", work, "callgrind", nbytes, timeout=600)
    finally:
        NinesCap.wrapper = []
    if not r["ok_lines"]:
        raise RuntimeError("callgrind run lost lines")
    cg = {"lines": nbytes // LINE, "path": out}
    for mode in ("no", "yes"):
        a = subprocess.run(["callgrind_annotate", f"--inclusive={mode}", "--threshold=100",
                            "--auto=no", out], text=True, capture_output=True)
        if a.returncode != 0:
            raise RuntimeError("callgrind_annotate: " + a.stderr)
        cg["total"], rows = parse_annotate(a.stdout)
        cg["incl" if mode == "yes" else "self"] = rows
    res["callgrind"] = cg
    return res


def parse_annotate(text):
    """(total Ir, {function: Ir}) from callgrind_annotate output (one event, Ir); the same
    function name in several files is summed for self cost, the largest kept for inclusive."""
    total, rows = 0, {}
    lines = text.splitlines()
    for l in lines:
        m = re.match(r"^\s*([\d,]+)(?:\s+\([^)]*\))?\s+PROGRAM TOTALS", l)
        if m:
            total = int(m.group(1).replace(",", ""))
    start = next((i for i, l in enumerate(lines) if "file:function" in l), None)
    if start is None:
        return total, rows
    for l in lines[start + 2:]:
        if not l.strip():
            break
        m = re.match(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$", l)
        if not m:
            continue
        ir = int(m.group(1).replace(",", ""))
        fn = re.sub(r"\s*\[[^\]]*\]$", "", m.group(2).strip())  # the object file
        fn = fn.split(":", 1)[1] if ":" in fn else fn                # the source file
        rows.setdefault(fn, []).append(ir)
    return total, rows


# ---------------------------------------------------------------------------- report

def pkg_version(name):
    r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], text=True,
                       capture_output=True)
    return r.stdout.strip() or "?"


def nines_version(src, copy):
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True,
                         capture_output=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"], text=True,
                           capture_output=True).stdout.strip()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(src), datetime.timezone.utc)
    with open(copy, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()[:12]
    return (f"`{os.path.relpath(src, ROOT)}` (sha256 {sha}…) built {mtime:%Y-%m-%d %H:%M:%S} "
            f"UTC from {rev}{' + uncommitted src/ changes' if dirty else ''}")


def machine():
    model = next((l.split(":", 1)[1].strip() for l in (read("/proc/cpuinfo") or "").splitlines()
                  if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) for l in (read("/proc/meminfo") or "").splitlines()
                if l.startswith("MemTotal:")), 0)
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], text=True,
                        capture_output=True).stdout.splitlines()[-1].split()
    return (f"{os.cpu_count()} CPUs (nproc; {model}), {mem / 1048576:.0f} GiB RAM, Linux "
            f"{platform.release()}; files on {fs[1]} ({fs[0]}, `{tempfile.gettempdir()}`)")


def med(rs, key):
    v = [r[key] for r in rs if r.get(key) is not None]
    return statistics.median(v) if v else None


def f2(x, d=2):
    return "–" if x is None else f"{x:,.{d}f}"


def build_section(a, R, order_log, prof, t_start, t_total, load0, load1, nver):
    lines = a.bytes // LINE
    cat, s6 = med(R["cat"], "mb_s"), med(R["s6-log"], "mb_s")
    rows = []
    for n in NAMES:
        rs = R[n]
        mbs = med(rs, "mb_s")
        w = [r["window_s"] for r in rs]
        rss = med(rs, "rss_peak_kib")
        rows.append(
            f"| {n} | {CLASSES[n].adds} | {statistics.median(w):.2f} ({min(w):.2f}–{max(w):.2f}) | "
            f"{'**' if n == 'nines' else ''}{mbs:.0f}{'**' if n == 'nines' else ''} | "
            f"{mbs / cat:.2f} | {mbs / s6:.2f} | {med(rs, 'cpu'):.2f} "
            f"({med(rs, 'cpu_user'):.2f} + {med(rs, 'cpu_sys'):.2f}) | "
            f"{med(rs, 'cpu') / lines * 1e9:,.0f} | {med(rs, 'cpu') / med(R['s6-log'], 'cpu'):.2f} | "
            f"{rss / 1024:.1f} | {med(rs, 'bytes') / 1e6:.0f} | {med(rs, 'other_pct'):.0f}% |")
    nin = R["nines"]
    per_round = [R["nines"][i]["mb_s"] / R["s6-log"][i]["mb_s"] for i in range(a.rounds)]
    per_round_cat = [R["nines"][i]["mb_s"] / R["cat"][i]["mb_s"] for i in range(a.rounds)]
    n_mbs = med(nin, "mb_s")
    t1 = n_mbs > s6
    t2 = n_mbs >= 0.5 * cat
    cpu_line = med(nin, "cpu") / lines * 1e9
    usr_line = med(nin, "cpu_user") / lines * 1e9
    sys_line = med(nin, "cpu_sys") / lines * 1e9
    syscw = med(nin, "syscw")
    syscr = med(nin, "syscr")
    out = [
        HEADING, "",
        f"Run {t_start:%Y-%m-%d %H:%M} UTC: {a.rounds} interleaved rounds (+1 warm-up at a tenth "
        f"of the size), {t_total:.0f} s in all. Machine: {machine()}; load average {load0:.1f} "
        f"at start, {load1:.1f} at the end. nines: {nver}; s6 {pkg_version('s6')}, runit "
        f"{pkg_version('runit')}, supervisor {pkg_version('supervisor')}, coreutils "
        f"{pkg_version('coreutils')} (Debian).",
        "",
        "Method (`bench/logs.py`, producer `bench/logs.c`): every capturer reads the output of "
        f"the same producer, `bench/out/logs_gen` (static), which writes {a.bytes / 1e6:.0f} MB "
        f"= {lines:,} lines of 100 bytes (bot-like log text: dotted logger names, a URL, ids; "
        "an 8-digit sequence number; one line in 640 holds the service's token) through a pipe, "
        "64,000 bytes per write(2), as fast as the reader takes them. The window runs from the "
        "producer's first instruction (CLOCK_MONOTONIC, written to a stamp file) until the "
        "driver sees the last line (a unique marker) in the destination file; it polls the "
        "file's tail every ~1 ms, so the end is late by about 1 ms. MB/s = the producer's "
        f"{a.bytes / 1e6:.0f} MB (10^6 bytes) / window. Each capturer runs by hand on a "
        "private directory under /tmp (no system service):",
        "",
        "- **nines** `nines -c nines.conf` (`console = no`), one service whose command is the "
        "producer: `[auth] token_env = BENCH_TOKEN`, `format = opaque` (so Discord's default "
        "log patterns run on every line), `[log] timestamps = iso8601`, `redact = yes`, "
        "`max_size = 1G`, `max_files = 2`, `[restart] policy = never`; nines runs with "
        "BENCH_TOKEN set, so redaction looks for that token as well as for Discord-shaped "
        "tokens and Authorization values. nines starts with no service; the driver then adds "
        "the service file and sends SIGHUP, so nines' CPU time (utime+stime from "
        "/proc/PID/stat, sampled before the SIGHUP and when the last line is seen) covers the "
        "reload, the spawn and the capture, not its start-up. Its line: "
        "`2026-11-29T22:22:44.532+00:00 out | ` + the line.",
        "- **s6-log** `logs_gen | s6-log T s1000000000 n2 DIR` (`T`: ISO 8601 timestamp, "
        "`2026-11-29 22:21:50.304253862  `).",
        "- **svlogd** `logs_gen | svlogd -tt DIR`, `DIR/config`: `s1000000000`, `n2` (UTC "
        "timestamp `2026-11-29_22:21:50.40110 `; svlogd's default 1024-byte read buffer).",
        "- **supervisord** `supervisord -n -c CONF`, `[program:bench]` with the producer as "
        "command, `stdout_logfile`, `stdout_logfile_maxbytes = 1GB`, `autostart = false`, "
        "started by `supervisorctl start bench` (in the background; the window starts at the "
        "producer's exec all the same). It copies the bytes, no timestamps. CPU from /proc as "
        "for nines.",
        "- **cat** `logs_gen | cat > FILE`: the physical bound (pipe to page cache).",
        "",
        "The pipelines' consumer starts before the producer; its CPU time comes from wait4()'s "
        "rusage (whole life, start-up included). Peak RSS is VmHWM (/proc/PID/status, read "
        "every 10 ms and when the last line is seen) of the capturer's process (for nines, "
        "started fresh for each run, it covers start-up and the whole capture). Every run is checked: the destination "
        f"holds exactly {lines:,} lines, in one file (no rotation happened; 1 GB limits), "
        f"nines' file has {lines // PER_CHUNK:,} masks and no token; then the directory is "
        "deleted. Each round runs each capturer once, in an order rotated each round; medians "
        "of the rounds. \"Other load\" is CPU used on the machine during the window by "
        "everything but the capturer, the producer and the driver (kernel writeback included), "
        "in % of one CPU.",
        "",
        "MB/s, ÷ cat and ÷ s6-log are throughput (higher is better); CPU is the capturer's "
        "own time (lower is better), which depends much less on the machine's other load than "
        "the window does.",
        "",
        "| capturer | adds to each line | window s, median (min–max) | MB/s | ÷ cat | ÷ s6-log "
        "| capturer CPU s (user + sys) | CPU ns per line | CPU ÷ s6-log's | peak RSS MiB "
        "| output MB | other load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"- nines ÷ cat = **{n_mbs / cat:.2f}** (per round: "
        + ", ".join(f"{x:.2f}" for x in per_round_cat) + f"); nines ÷ s6-log = **{n_mbs / s6:.2f}**"
        " (per round: " + ", ".join(f"{x:.2f}" for x in per_round) + ")",
        f"- target: faster than s6-log: **{'met' if t1 else 'MISSED'}** ({n_mbs:.0f} vs "
        f"{s6:.0f} MB/s)",
        f"- target: at least half the speed of cat: **{'met' if t2 else 'MISSED'}** "
        f"({n_mbs:.0f} vs {cat / 2:.0f} MB/s needed; cat {cat:.0f} MB/s)",
        f"- CPU per line: nines {med(nin, 'cpu') / lines * 1e9:,.0f} ns, s6-log "
        f"{med(R['s6-log'], 'cpu') / lines * 1e9:,.0f} ns, svlogd "
        f"{med(R['svlogd'], 'cpu') / lines * 1e9:,.0f} ns, cat "
        f"{med(R['cat'], 'cpu') / lines * 1e9:,.0f} ns",
        f"- nines' CPU per line: {usr_line:,.0f} ns user + {sys_line:,.0f} ns system; its "
        f"system calls during the window: {syscw:,.0f} writes "
        f"({syscw / lines:.3f} per line), {syscr:,.0f} reads "
        f"({lines * LINE / max(syscr, 1) / 1024:.1f} KiB per read) (/proc/PID/io, less the "
        "producer's own, which the kernel adds to nines' counts when it is reaped)",
        f"- window ÷ capturer CPU time (medians): " + ", ".join(
            f"{n} {med(R[n], 'window_s') / med(R[n], 'cpu'):.1f}" for n in NAMES)
        + ": where it is well above 1 the capturer spent most of the window waiting for a CPU "
        "(2 CPUs shared with the producer and the other load), so the MB/s depend on the "
        f"load at the time; capacity on a CPU of its own, {a.bytes / 1e6:.0f} MB ÷ capturer CPU "
        "time: " + ", ".join(
            f"{n} {a.bytes / 1e6 / med(R[n], 'cpu'):,.0f} MB/s" for n in NAMES)
        + f". By CPU time: {med(nin, 'cpu') / med(R['s6-log'], 'cpu'):.2f}x "
        f"s6-log's CPU (faster than s6-log needs < 1: "
        f"{'met' if med(nin, 'cpu') < med(R['s6-log'], 'cpu') else 'missed'}) and "
        f"{med(nin, 'cpu') / med(R['cat'], 'cpu'):.1f}x cat's (half of cat needs ≤ 2: "
        f"{'met' if med(nin, 'cpu') <= 2 * med(R['cat'], 'cpu') else 'missed'}).",
        f"- nines memory: RSS {med(nin, 'rss_before_kib') / 1024:.1f} MiB before the run, peak "
        f"{med(nin, 'rss_peak_kib') / 1024:.1f} MiB (VmHWM) while {a.bytes / 1e6:.0f} MB went "
        "through: bounded (the pipe throttles the producer; nines keeps a 64 KiB ring, one "
        "4 KiB line buffer per stream and a 64 KiB write batch per log file)",
        "- producer: done writing after a median of "
        + ", ".join(f"{n} {med(R[n], 'prod_done_s'):.2f} s" for n in NAMES)
        + f"; its own CPU {med(R['cat'], 'prod_cpu'):.2f} s",
    ]
    if prof:
        out += profile_text(prof, R, lines)
    out += ["", "<details><summary>Every run: window s / MB/s / capturer CPU s / other load, "
            "in run order</summary>", ""]
    for n in NAMES:
        out.append(f"- {n}: " + ", ".join(
            f"{r['window_s']:.2f}/{r['mb_s']:.0f}/{r['cpu']:.2f}/{r['other_pct']:.0f}%"
            for r in R[n]))
    out += ["", "Order: " + "; ".join(order_log), "", "</details>", ""]
    return "\n".join(out)


def profile_text(prof, R, lines):
    out = [""]
    nin = R["nines"]
    usr, sy = med(nin, "cpu_user"), med(nin, "cpu_sys")
    out.append(f"**Where nines' time goes.** In the runs above nines spent "
               f"{(usr + sy) / lines * 1e9:,.0f} ns of CPU per line: {usr / lines * 1e9:,.0f} ns "
               f"in user space, {sy / lines * 1e9:,.0f} ns ({sy / (usr + sy) * 100:.0f}%) in the "
               f"kernel, with {med(nin, 'syscw') / lines:.3f} write(2) per line. "
               "`perf stat -e instructions` is not supported on this VM (no hardware "
               "counters; software-clock sampling delivered samples only for the first "
               "milliseconds), so user space is profiled with callgrind and the kernel's part "
               "is measured directly.")
    w1, wb = prof["wcost"]
    # The cost of one write(2) call beyond its bytes, from wcost; nines pays it syscw/lines
    # times per line (1 before records were batched, far less since).
    per_call = max(0.0, (w1["sys_s"] - wb["sys_s"]) / max(1, w1["writes"] - wb["writes"]))
    wpl = med(nin, "syscw") / lines
    out += ["", f"The kernel's part, measured alone (`logs_gen wcost`: {w1['lines']:,} records "
            f"of {WCOST_LEN} bytes, nines' record size, appended to a file on the same "
            f"filesystem): one write(2) per record costs {w1['sys_s'] / w1['lines'] * 1e9:,.0f} "
            f"ns of system time per record; the same bytes in {wb['per']}-record writes "
            f"(64 KiB) cost {wb['sys_s'] / wb['lines'] * 1e9:,.0f} ns per record (wall "
            f"{w1['wall_s']:.2f} s vs {wb['wall_s']:.2f} s on this loaded machine), so a "
            f"write(2) call costs about {per_call * 1e9:,.0f} ns beyond its bytes. nines made "
            f"{wpl:.3f} writes per line, so of its {sy / lines * 1e9:,.0f} ns of system time "
            f"per line about {per_call * wpl * 1e9:,.0f} ns is the price of the calls "
            "themselves and the rest is copying bytes (pipe to user space, user space to the "
            "page cache) and waiting in epoll."]
    cg = prof["callgrind"]
    n, tot = cg["lines"], cg["total"]
    self_rows = sorted(((sum(v), f) for f, v in cg["self"].items()), reverse=True)
    incl = {f: max(v) for f, v in cg["incl"].items()}
    out += ["", f"callgrind (valgrind 3.19), one {n * LINE / 1e6:.0f} MB run ({n:,} lines) of "
            f"the same setup: {tot / n:,.0f} instructions per line in nines' user space "
            f"(`{os.path.relpath(cg['path'], ROOT)}`):", "",
            "| function | self instructions per line | % of user instructions | inclusive per line |",
            "|---|---:|---:|---:|"]
    for ir, f in self_rows:
        if ir / tot < 0.01:
            break
        inc = incl.get(f)
        out.append(f"| `{f}` | {ir / n:,.0f} | {ir / tot * 100:.1f}% | "
                   f"{'–' if inc is None else f'{inc / n:,.0f}'} |")
    key = ["on_line", "linebuf_feed", "tsfmt_format", "__vsnprintf_internal", "__vsprintf_internal",
           "redact_line", "patterns_match", "ring_push", "logfile_write", "wall_ms", "now_ms"]
    out += ["", "- inclusive instructions per line: " + ", ".join(
        f"`{k}` {incl[k] / n:,.0f}" for k in key if k in incl)]
    fmt = incl.get("tsfmt_format", 0) + incl.get("__vsnprintf_internal", 0)
    parts = [("formatting the record prefix (`tsfmt_format`, and `to_file`'s `snprintf` of "
              "\"%s | \")", fmt)]
    parts += [(f"`{k}`", incl.get(k, 0)) for k in ("redact_line", "patterns_match", "ring_push")]
    on = incl.get("on_line", tot)
    parts.append(("the rest of `on_line`, `linebuf_feed` and the loop",
                  tot - sum(v for _, v in parts)))
    out += ["- user-space instructions per line, by job: " + "; ".join(
        f"{label} {v / n:,.0f} ({v / tot * 100:.0f}%)" for label, v in parts)]
    # nines' CPU per line, attributed: the system-call overhead measured by wcost, the rest of
    # the system time (copying into the page cache, reading the pipe), and user time split in
    # proportion to the instructions (an approximation: instructions are not cycles).
    cpu = (usr + sy) / lines * 1e9
    ovh = min(sy / lines * 1e9, per_call * wpl * 1e9)
    attr = [(f"write(2) calls ({wpl:.3f} per line): system-call overhead", ovh),
            ("the rest of the kernel's part (page-cache copy, pipe reads, epoll)",
             sy / lines * 1e9 - ovh)]
    attr += [(f"user space: {label}", usr / lines * 1e9 * v / tot) for label, v in parts]
    out += ["- nines' CPU per line attributed (user time split by instruction share, an "
            f"approximation): " + "; ".join(f"{label} ≈ {v:,.0f} ns ({v / cpu * 100:.0f}%)"
                                             for label, v in attr)]
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


# ---------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nines", default=os.path.join(ROOT, "build", "nines"))
    ap.add_argument("--bytes", type=int, default=200_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile-bytes", type=int, default=10_000_000,
                    help="size of the callgrind run (default 10 MB)")
    ap.add_argument("--wcost-lines", type=int, default=500_000,
                    help="records in the write-cost measurement (default 500,000)")
    ap.add_argument("--no-profile", action="store_true", help="never run the callgrind profile")
    ap.add_argument("--profile", action="store_true", help="profile even when nines meets both targets")
    ap.add_argument("--keep", action="store_true", help="keep the run directories (debugging)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (nines' cgroups, supervisord user = root)")
    for b in ["/usr/bin/s6-log", "/usr/bin/svlogd", "/usr/bin/supervisord", "/bin/cat"]:
        if not os.access(b, os.X_OK):
            sys.exit(f"{b} missing: apt-get install s6 runit supervisor")
    a.bytes -= a.bytes % (LINE * PER_CHUNK)
    signal.signal(signal.SIGTERM, on_term)
    run_one.keep = a.keep
    t_start = datetime.datetime.now(datetime.timezone.utc)
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    os.makedirs(OUT, exist_ok=True)
    subprocess.run(["gcc", *CFLAGS, "-o", GEN, SRC], check=True)
    work = tempfile.mkdtemp(prefix="nines-bench-logs.")
    src = os.path.abspath(a.nines)
    NinesCap.binary = os.path.join(work, "nines")
    shutil.copy2(src, NinesCap.binary)
    nver = nines_version(src, NinesCap.binary)
    R = {n: [] for n in NAMES}
    order_log = []
    prof = None
    try:
        log(f"warm-up ({a.bytes // 10 / 1e6:.0f} MB each, untimed)")
        for n in NAMES:
            r = run_one(n, work, "warmup", a.bytes // 10)
            log(f"  {n:12} {r['window_s']:6.2f} s {r['mb_s']:7.0f} MB/s  lines ok {r['ok_lines']}")
            if not (r["ok_lines"] and r["ok_files"]):
                raise RuntimeError(f"{n}: warm-up check failed: {r}")
        for rnd in range(a.rounds):
            order = NAMES[rnd % len(NAMES):] + NAMES[:rnd % len(NAMES)]
            order_log.append(f"round {rnd + 1}: " + ", ".join(order))
            log(f"round {rnd + 1}: {', '.join(order)}")
            for n in order:
                r = run_one(n, work, f"r{rnd + 1}", a.bytes)
                R[n].append(r)
                extra = ""
                if n == "nines":
                    extra = (f"  RSS {r['rss_before_kib']:,}→{r['rss_peak_kib']:,} KiB, "
                             f"{r['syscw']:,} writes, masks {r['mask']:,}, token {r['token']}")
                log(f"  {n:12} {r['window_s']:6.2f} s {r['mb_s']:7.0f} MB/s  CPU "
                    f"{r['cpu_user']:.2f}+{r['cpu_sys']:.2f} s  peak RSS {r['rss_peak_kib']:,} KiB"
                    f"  other {r['other_pct']:.0f}%  lines {r['lines']:,} files {r['files']}"
                    f"{extra}")
                bad = not (r["ok_lines"] and r["ok_files"])
                if n == "nines":
                    bad |= r["token"] != 0 or r["mask"] != a.bytes // LINE // PER_CHUNK
                if bad:
                    raise RuntimeError(f"{n}: check failed: {r}")
        cat, s6 = med(R["cat"], "mb_s"), med(R["s6-log"], "mb_s")
        nm = med(R["nines"], "mb_s")
        log(f"nines {nm:.0f} MB/s; cat {cat:.0f}; s6-log {s6:.0f}: ÷cat {nm / cat:.2f}, "
            f"÷s6-log {nm / s6:.2f}")
        if a.profile or not a.no_profile and (nm <= s6 or nm < cat / 2):
            log(f"profiling nines under callgrind ({a.profile_bytes / 1e6:.0f} MB)")
            unit = LINE * PER_CHUNK
            prof = profile_nines(work, a.profile_bytes - a.profile_bytes % unit, a.wcost_lines)
            for w in prof["wcost"]:
                log(f"  wcost {w['per']:4} per write: {w['sys_s'] / w['lines'] * 1e9:6.0f} ns "
                    f"sys/record, wall {w['wall_s']:.2f} s")
            cg = prof["callgrind"]
            for ir, fn in sorted(((sum(v), f) for f, v in cg["self"].items()), reverse=True)[:12]:
                log(f"  callgrind {ir / cg['lines']:8,.0f} Ir/line  {fn}")
    except Terminated:
        log("terminated")
        raise SystemExit(1)
    finally:
        left = tagged()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if left:
            log(f"WARNING: {len(left)} tagged process(es) left at the end; killed")
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    section = build_section(a, R, order_log, prof, t_start, time.monotonic() - t0, load0,
                            os.getloadavg()[0], nver)
    print()
    print(section)
    if not a.no_write:
        write_results(section)
        log(f"wrote {HEADING!r} in {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
