#!/usr/bin/python3
"""Time nines, tini and dumb-init reaping 20,000 orphans as PID 1, in one interleaved run.

Usage: /usr/bin/python3 bench/reap_orphans.py [--rounds 9] [--budget 105] [--n 20000]
                      [--modes zombies,exits] [--nines build/nines] [--no-write]      (as root)

For each init, runs `unshare --pid --fork --mount-proc --kill-child INIT -- bench/out/reap_orphans
MODE N` so the init is PID 1 of a fresh PID namespace and its only child is the helper built from
bench/reap_orphans.c (see that file for the exact protocol). The helper creates N orphans outside
the timed window, then times from outside the init how long it takes until all N are reaped:

  zombies  N zombies are re-parented to PID 1 at once (their parent exits): pure reaping.
  exits    N live orphans of PID 1 all exit at once: reaping while they are still exiting.

Every round runs every (mode, init) once, with the init order rotated each round; one warm-up run
per (mode, init) comes first and is discarded; no round is started that would likely end after
--budget seconds (about 90 s in all on 2 CPUs). Reports medians and the ratios nines/tini and
nines/dumb-init, and replaces the "## Reaping 20,000 orphans as PID 1" section of
bench/RESULTS.md (creating the file if needed; other sections are kept as they are).

Cleanup: the init runs with unshare --kill-child, so if unshare dies the init gets SIGKILL and the
kernel kills everything in the namespace; the driver SIGKILLs unshare (by its pid) on timeout,
Ctrl-C or SIGTERM, and unshare gets SIGKILL by itself if the driver dies (PR_SET_PDEATHSIG). The
helper's orphans block on pipes only the helper holds, so they cannot outlive it either. At the end the driver checks /proc for any leftover helper process.
"""

import argparse
import ctypes
import hashlib
import datetime
import os
import platform
import re
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
SRC = os.path.join(HERE, "reap_orphans.c")
HELPER = os.path.join(OUT, "reap_orphans")
RESULTS = os.path.join(HERE, "RESULTS.md")
HEADING = "## Reaping 20,000 orphans as PID 1"
CFLAGS = ["-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror", "-Wshadow",
          "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wformat=2"]
HELPER_TIMEOUT_S = 30  # the helper gives up (FAIL) if the orphans are not reaped by then

current = None  # the running unshare Popen, killed on any exit path


class Terminated(Exception):
    pass


def on_term(signo, frame):
    raise Terminated()


def build_helper():
    os.makedirs(OUT, exist_ok=True)
    if os.path.exists(HELPER) and os.path.getmtime(HELPER) >= os.path.getmtime(SRC):
        return
    subprocess.run(["gcc", *CFLAGS, "-o", HELPER, SRC], check=True)


def kill_current():
    global current
    if current is not None and current.poll() is None:
        current.kill()  # SIGKILL to unshare; --kill-child takes the init and its namespace along
        current.wait()
    current = None


def busy_ms():
    """CPU time used on the whole machine so far (all CPUs, everything but idle/iowait), ms."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) * 1000 / os.sysconf("SC_CLK_TCK")


def tree_ms():
    """CPU time of this driver and every descendant it has waited for (reaped ones count), ms."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime) * 1000


def die_with_parent():
    """In the forked unshare: get SIGKILL if this driver dies, even by SIGKILL (PR_SET_PDEATHSIG,
    prctl(2)); unshare --kill-child then passes it on to the init and so to the namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the driver died before the prctl
        os._exit(1)


def run_one(init_argv, mode, n):
    """Runs one init once. Returns the helper's RESULT fields as a dict (times in ms), plus
    "foreign": CPU used meanwhile by everything outside this benchmark's process tree (other
    users, and kernel threads, some of which free our processes), in % of one CPU."""
    global current
    busy0, tree0 = busy_ms(), tree_ms()
    cmd = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", *init_argv,
           HELPER, mode, str(n), str(HELPER_TIMEOUT_S)]
    t = time.monotonic()
    # A session of its own for unshare and so the init: with sched autogroup each session is
    # scheduled as one group, and the init should not share one with this driver and its caller.
    current = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd="/", start_new_session=True, preexec_fn=die_with_parent)
    try:
        out, err = current.communicate(timeout=HELPER_TIMEOUT_S + 20)
    except subprocess.TimeoutExpired:
        kill_current()
        raise RuntimeError(f"{' '.join(cmd)}: no exit after {HELPER_TIMEOUT_S + 20} s; killed")
    rc = current.returncode
    current = None
    wall = (time.monotonic() - t) * 1e3
    foreign = max(0.0, (busy_ms() - busy0) - (tree_ms() - tree0)) / wall * 100
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if rc != 0 or not m:
        raise RuntimeError(f"{' '.join(cmd)}: exit {rc}\n{out}{err}")
    r = dict(kv.split("=", 1) for kv in m.group(1).split())
    res = {"init_comm": r["init"], "last_sample": r["last_sample"], "wall": wall,
           "foreign": foreign}
    for key, field in (("reap", "reap_us"), ("cpu", "init_cpu_us"), ("reparent", "reparent_us")):
        res[key] = float(r[field]) / 1e3
    res["create"] = float(r["create_ms"])
    res["net"] = res["reap"] - res["reparent"]
    return res


def leftovers():
    """Pids of processes still running the helper (there should be none)."""
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/exe") == HELPER:
                    pids.append(int(d))
            except OSError:
                pass
    return pids


def pkg_version(name):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", name], text=True,
                              capture_output=True).stdout.strip() or "?"
    except OSError:
        return "?"


def nines_version(path):
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], text=True,
                         capture_output=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", "src"], text=True,
                           capture_output=True).stdout.strip()
    mtime = datetime.datetime.fromtimestamp(os.path.getmtime(path), datetime.timezone.utc)
    return (f"`{os.path.relpath(path, ROOT)}` built {mtime:%Y-%m-%d %H:%M} UTC from {rev}"
            f"{' + uncommitted src/ changes' if dirty else ''}")


def fmt(x):
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def summarize(results, inits, modes, rounds):
    """Returns (markdown table lines, ratio lines, raw per-run lines)."""
    table = ["| scenario | init | median window ms | min – max ms | median net ms | "
             "median init CPU ms | median create ms (untimed) | median other load |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    ratios = []
    for mode in modes:
        med = {}
        for name in inits:
            rs = results[(mode, name)]
            reap = [r["reap"] for r in rs]
            med[name] = statistics.median(reap)
            net = fmt(statistics.median(r["net"] for r in rs)) if mode == "zombies" else "–"
            table.append(f"| {mode} | {name} | **{fmt(med[name])}** | {fmt(min(reap))} – "
                         f"{fmt(max(reap))} | {net} | "
                         f"{fmt(statistics.median(r['cpu'] for r in rs))} | "
                         f"{fmt(statistics.median(r['create'] for r in rs))} | "
                         f"{statistics.median(r['foreign'] for r in rs):.0f}% |")
        for peer in inits[1:]:
            per_round = [a["reap"] / b["reap"]
                         for a, b in zip(results[(mode, "nines")], results[(mode, peer)])]
            cpu = (statistics.median(r["cpu"] for r in results[(mode, "nines")]) /
                   statistics.median(r["cpu"] for r in results[(mode, peer)]))
            wins = sum(x < 1 for x in per_round)
            ratios.append(f"{mode}: nines/{peer} = **{med['nines'] / med[peer]:.2f}** "
                          f"(ratio of medians; median of the {rounds} per-round ratios "
                          f"{statistics.median(per_round):.2f}, nines faster in {wins} of "
                          f"{rounds} rounds; ratio of median init CPU times {cpu:.2f})")
    raw = ["<details><summary>Every run: window / init CPU / other load, by round</summary>", ""]
    for mode in modes:
        for name in inits:
            runs = ", ".join(f"{fmt(r['reap'])}/{fmt(r['cpu'])}/{r['foreign']:.0f}%"
                             for r in results[(mode, name)])
            raw.append(f"- {mode}, {name}: {runs}")
    raw += ["", "</details>"]
    return table, ratios, raw


METHOD = """\
Method (`bench/reap_orphans.py`, helper `bench/reap_orphans.c`): each init runs as PID 1 of a
fresh PID namespace, `unshare --pid --fork --mount-proc --kill-child INIT -- bench/out/reap_orphans
MODE 20000`, with no flag besides `--` (`nines --`, `tini --`, `dumb-init --`). The helper (the
init's only child) forks M2, which forks P, which clone()s 20,000 grandchildren; creating them is
outside the timed window ("create" column, for information only). Then:

- **zombies** (pure reaping; the headline): the 20,000 exit while P is alive and does not wait
  for them, so they are zombies of P (P's `/proc/P/task/P/children` must list exactly them). At
  t0 the helper lets P exit: the kernel re-parents the 20,000 zombies to PID 1 and sends it
  SIGCHLD (a sampled zombie is checked to have ppid 1 afterwards). The window includes P's exit,
  which re-parents them holding the tasklist lock, so no init can reap before it ends (~30 ms,
  the same kernel work for every init); "net" is the window minus that part.
- **exits** (a burst of live orphans exiting): P exits first, so the 20,000 live grandchildren are
  orphans of PID 1 (`/proc/1/task/1/children` must list exactly them and the helper). At t0 the
  helper closes the pipe they all block on and they all exit at once; the init reaps them while
  they are still exiting. Closer to a real burst, but dominated by kernel work that no init
  controls: every `waitpid(-1)` walks the init's list of still-living children
  (`wait_consider_task` is often most of the profile), and 20,000 exits contend for the tasklist
  lock, so the window swings by a factor of several from run to run.

t1 is when the helper has seen every orphan gone. It sleeps on a pidfd of the last orphan in fork
order, which `waitpid(-1)` returns last (a pidfd reports POLLHUP only once its process has been
reaped), then checks with `kill(pid, 0)` (ESRCH only once reaped) that all the others are gone,
and waits again if not; so it does not wake up during the window. (A first version polled every
1 ms: each wake-up preempted the init, which then ran in 1 ms slices.) "Init CPU" is the init's
user+system CPU time over the window (its process CPU clock); it includes spinning on the
tasklist lock while P re-parents. The window is longer than re-parenting plus init CPU: the init
shares a CPU with the other load, and the kernel frees reaped tasks in RCU callbacks
(ksoftirqd, rcu_preempt) that also take turns on that CPU (even a SCHED_FIFO init waits for them).

Verification reads one `children` file rather than `/proc/PID/stat` of every orphan: each
`/proc/PID` dentry that exists when a zombie is reaped must be invalidated by the
reaper (`proc_flush_pid`), which doubled the init's work in a first version. For the same reason
anything that scans all of `/proc` during a run (`ps`, `top`, a nines not running as PID 1
looking for its descendants) slows the reaping down.

Sessions: this kernel has sched autogroup on (`/proc/sys/kernel/sched_autogroup_enabled`), so
each session is scheduled as one group against the other sessions' load. dumb-init puts its
child in a new session; tini and nines keep it in theirs. Left alone, that gave dumb-init's
exiting orphans a CPU share of their own while under tini and nines they shared the init's, and
dumb-init looked up to 1.8x faster in the exits scenario with about the same init CPU time. So every
init runs in a new session (the driver starts unshare with setsid) and M2 calls setsid(), so the
orphans have a session of their own under all three. (Autogroup only applies to tasks in the
root CPU cgroup; in a container with its own cgroup it does not.)

Fairness: all three reap with the same kernel call, a `waitpid(-1, WNOHANG)` loop until nothing
is left, run on every SIGCHLD (nines: signalfd + epoll; tini: `sigtimedwait` with a 1 s timeout;
dumb-init: `sigwait`). tini's 1 s timeout only matters for zombies whose SIGCHLD came before it
started waiting (e.g. inherited at exec); here every SIGCHLD arrives while the init runs, and one
raised during a drain stays pending, so tini never waits for its timeout (it would show as a
window of 1 s or more). Every round runs each init once per scenario, in an order rotated each
round, after one discarded warm-up run each, so drift on the (shared, virtual) machine spreads
over all three; medians, the min–max spread, the median of the per-round ratios (nines and the
peer measured seconds apart) and the other load are all reported, since one run is not enough
to trust on a busy machine."""



def write_results(section):
    intro = ("# Benchmarks\n\nnines against its peers (tini, dumb-init; Debian packages). Each "
             "section says how it was produced; re-running a benchmark script replaces only its "
             "own section.\n")
    text = open(RESULTS).read() if os.path.exists(RESULTS) else intro
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--modes", default="zombies,exits")
    ap.add_argument("--nines", default=os.path.join(ROOT, "build", "nines"))
    ap.add_argument("--budget", type=float, default=105,
                    help="seconds; start no round that would likely end after it (default 105)")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    a = ap.parse_args()
    modes = a.modes.split(",")
    if os.geteuid() != 0:
        sys.exit("needs root (unshare --pid --mount-proc)")
    inits = {"nines": [os.path.abspath(a.nines), "--"],
             "tini": ["/usr/bin/tini", "--"],
             "dumb-init": ["/usr/bin/dumb-init", "--"]}
    for name, argv in inits.items():
        if not os.access(argv[0], os.X_OK):
            sys.exit(f"{name}: {argv[0]} not found (nines: run `make`)")
    build_helper()
    # Run a copy: build/nines may be rebuilt by someone else in the middle of the run.
    nines_desc = nines_version(inits["nines"][0])
    snap = os.path.join(OUT, "reap_orphans_nines", "nines")  # named nines: checked as PID 1's comm
    os.makedirs(os.path.dirname(snap), exist_ok=True)
    shutil.copy2(inits["nines"][0], snap + ".tmp")
    os.replace(snap + ".tmp", snap)
    with open(snap, "rb") as f:
        nines_desc += f", sha256 {hashlib.sha256(f.read()).hexdigest()[:12]}"
    inits["nines"][0] = snap
    signal.signal(signal.SIGTERM, on_term)

    names = list(inits)
    results = {(m, n): [] for m in modes for n in names}
    load = os.getloadavg()[0]
    t_start = time.monotonic()
    try:
        for rnd in range(-1, a.rounds):  # round -1 is the warm-up
            spent = time.monotonic() - t_start
            if rnd >= 1 and spent + spent / (rnd + 1) > a.budget:
                print(f"stopping after {rnd} rounds: another would exceed the "
                      f"{a.budget:.0f} s budget", flush=True)
                break
            order = names[rnd % 3:] + names[:rnd % 3] if rnd >= 0 else names
            for mode in modes:
                for name in order:
                    r = run_one(inits[name], mode, a.n)
                    if r["init_comm"] != os.path.basename(inits[name][0])[:15]:
                        raise RuntimeError(f"PID 1 was {r['init_comm']}, expected {name}")
                    tag = "warm-up" if rnd < 0 else f"round {rnd + 1}"
                    print(f"{tag:8} {mode:8} {name:10} window {r['reap']:8.1f} ms  net "
                          f"{r['net']:8.1f}  init CPU {r['cpu']:8.1f} ms  (create "
                          f"{r['create']:.0f} ms, run {r['wall']:.0f} ms, other load "
                          f"{r['foreign']:.0f}%)", flush=True)
                    if rnd >= 0:
                        results[(mode, name)].append(r)
    except (KeyboardInterrupt, Terminated):
        kill_current()
        sys.exit("interrupted; cleaned up")
    finally:
        kill_current()
    elapsed = time.monotonic() - t_start
    left = leftovers()
    if left:
        print(f"WARNING: helper processes left behind: {left}", file=sys.stderr)

    rounds = len(results[(modes[0], names[0])])
    if rounds == 0:
        sys.exit("no complete round")
    foreign = [r["foreign"] for rs in results.values() for r in rs]
    table, ratios, raw = summarize(results, names, modes, rounds)
    now = datetime.datetime.now(datetime.timezone.utc)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    section = "\n".join([
        HEADING, "",
        f"Run {now:%Y-%m-%d %H:%M} UTC: {rounds} interleaved rounds (+1 warm-up), "
        f"{a.n} orphans per run, {elapsed:.0f} s in all. Machine: {os.cpu_count()} CPUs "
        f"(nproc; {cpu}), Linux {platform.release()}, load average {load:.1f} at start; CPU "
        f"used by other processes and kernel threads during the runs: median "
        f"{statistics.median(foreign):.0f}% of one CPU, max {max(foreign):.0f}%. "
        f"nines: {nines_desc}; tini {pkg_version('tini')}, dumb-init "
        f"{pkg_version('dumb-init')} (Debian).", "",
        METHOD, "",
        "Window = t0 (orphans released) to t1 (none left), in ms; lower is better. Net = window "
        "minus P's re-parenting (zombies only). Init CPU = the init's CPU time in the window. "
        "Other load = CPU used during the whole run by processes outside the benchmark's tree "
        "and by kernel threads (some of which free our processes), in % of one CPU of the "
        f"{os.cpu_count()}.", "",
        *table, "",
        *[f"- {r}" for r in ratios], "",
        *raw, "",
    ])
    print()
    print("\n".join(table))
    print()
    print("\n".join(ratios))
    print(f"\n{rounds} rounds, {elapsed:.0f} s; other load median "
          f"{statistics.median(foreign):.0f}% of one CPU; leftover processes: {len(left)}")
    if not a.no_write:
        write_results(section)
        print(f"wrote section '{HEADING}' to {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
