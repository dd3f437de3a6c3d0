"""Log capture (src/logcap.c, src/logfile.c), black-box: the per-service log file with its
framing, timestamps and size rotation (P10), a FIFO as log target (P11), write failures that drop
and count lines, the console copy, and `ninesctl log [-n N] [-f]` from the in-memory ring.

Record shapes in log_dir/NAME.log:
    2026-11-29T21:33:02.123+00:00 out | text     ([log] timestamps = iso8601, the default)
    out | text                                   (timestamps = none)
`out+`/`err+` label a 4096-byte piece of a longer line that continues on the next record.
"""

import array
import datetime
import fcntl
import json
import os
import re
import signal
import stat
import subprocess
import termios
import time

from conftest import PYTHON, alive, wait_for
from supervisor_util import Sup, ninesctl_path

MiB = 1024 * 1024
PIECE = 4096  # LINEBUF_MAX: longest line delivered whole

TS = rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:\d{2}"
TS_REC_RE = re.compile(rb"(" + TS + rb") (out|err)(\+?) \| (.*)", re.S)
PLAIN_REC_RE = re.compile(rb"(out|err)(\+?) \| (.*)", re.S)
# What `ninesctl log` prints: TIMESTAMP LABEL | text; the zone is checked separately.
CTL_LINE_RE = re.compile(rb"(\S+) (out|err) \| (.*)", re.S)


# --------------------------------------------------------------------------- helpers

def read_bytes(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


def records(data, timestamps=True):
    """Complete records of log file bytes as [(ts, label, text)]: label 'out', 'out+', 'err',
    'err+'; ts None with timestamps = none. A line that is not a well-formed record gives
    (None, None, line). Bytes after the last newline (a record being written) are ignored."""
    out = []
    lines = data.split(b"\n")
    lines.pop()
    for line in lines:
        if timestamps:
            m = TS_REC_RE.fullmatch(line)
            rec = (m.group(1).decode(), (m.group(2) + m.group(3)).decode(), m.group(4)) if m else None
        else:
            m = PLAIN_REC_RE.fullmatch(line)
            rec = (None, (m.group(1) + m.group(2)).decode(), m.group(3)) if m else None
        out.append(rec or (None, None, line))
    return out


def malformed(recs, text_re=None):
    """Texts (cut to 200 bytes) of lines that are not well-formed records, or whose text does not
    fullmatch text_re. Only the text check catches two records glued together (the first cut
    short): the record regex alone takes the second prefix for text."""
    return [r[2][:200] for r in recs
            if r[1] is None or (text_re is not None and not re.fullmatch(text_re, r[2], re.S))]


def set_main(sup, key, value):
    """Replace a key of the [nines] section Sup wrote (e.g. log_dir, console)."""
    text = sup.conf.read_text()
    new = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
    assert new != text, f"{key} not in {sup.conf}"
    sup.conf.write_text(new)


def script(h, name, text):
    """Write a helper script into the test's tmp dir; returns its path."""
    path = h.tmp / name
    path.write_text(text)
    return path


def start(sup):
    """Start nines and wait until its control socket answers."""
    sup.start()
    assert wait_for(lambda: sup.p.poll() is not None or sup.ctl("status")[0] in (0, 3), 10)
    assert sup.p.poll() is None, sup.log()


def svc_json(sup, name):
    rc, out, err = sup.ctl("status", "--json", name)
    assert rc in (0, 3), (rc, out, err)
    return json.loads(out)["services"][0]


def log_info(sup, name):
    """The `log` object of status --json: {"lines", "dropped", "file"}."""
    return svc_json(sup, name)["log"]


def ctl_timed(sup, *args, timeout=30.0):
    t0 = time.monotonic()
    rc, out, err = sup.ctl(*args, timeout=timeout)
    return rc, out, err, time.monotonic() - t0


def ctl_log_bytes(sup, *args, timeout=30.0):
    """`ninesctl log ARGS`: (rc, raw stdout bytes)."""
    h = sup.h
    p = h.spawn([ninesctl_path(h), "-s", sup.sock, "log", *args])
    rc = h.wait_exit(p, timeout, what="ninesctl log")
    return rc, read_bytes(p.out_path)


NUM_RE = re.compile(rb"(\d{8}) ")


def latest_number(sup, name):
    """Highest line number (8 digits at the start of a line) among the newest lines of NAME's
    ring (`ninesctl log NAME -n 4`); -1 when there is none."""
    rc, out = ctl_log_bytes(sup, name, "-n", "4")
    assert rc == 0, out
    nums = [int(x) for x in re.findall(rb"\| (\d{8}) ", out)]
    return max(nums, default=-1)


def running_pid(sup, name):
    j = svc_json(sup, name)
    return j["pid"] if j["state"] == "RUNNING" else None


def pipe_unread(pid, fd=1):
    """Bytes waiting in the pipe that is fd of pid (FIONREAD through /proc/PID/fd), None when
    it cannot be opened. 0 means nines has read everything the process wrote so far."""
    try:
        w = os.open(f"/proc/{pid}/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        n = array.array("i", [0])
        fcntl.ioctl(w, termios.FIONREAD, n, True)
        return n[0]
    finally:
        os.close(w)


def reassemble(recs):
    """Whole lines from (ts, label, text) records: a `+` piece continues on the next record."""
    lines, cur = [], b""
    for _, label, text in recs:
        cur += text
        if not label.endswith("+"):
            lines.append(cur)
            cur = b""
    return lines, cur


# --------------------------------------------------------------------------- P10

P10_WRITER = r'''
import sys, time
out = sys.stdout.buffer
secs, done = float(sys.argv[1]), sys.argv[2]
tick, per_tick = 0.05, 50          # 50 lines of 1000 bytes every 50 ms: 1 MB/s
t0 = time.monotonic()
n = k = 0
while time.monotonic() - t0 < secs:
    out.write(b"".join(b"%08d " % (n + i) + b"x" * 990 + b"\n" for i in range(per_tick)))
    out.flush()
    n += per_tick
    k += 1
    delay = t0 + k * tick - time.monotonic()
    if delay > 0:
        time.sleep(delay)
with open(done + ".tmp", "w") as f:
    f.write(str(n))
import os
os.rename(done + ".tmp", done)
time.sleep(1000)
'''


def test_sup_p10_logs_cannot_fill_the_disk(h):
    """1 MB/s for 20 s into max_size 1M, max_files 3: never more than 4 files of at most 1 MiB
    (4 MiB together) at any sampled moment; rotation renames NAME.log (the rotated file keeps
    the inode NAME.log had) and reopens a new inode; the kept files hold the newest lines,
    contiguous and complete."""
    secs = 20
    sup = Sup(h)
    writer = script(h, "writer.py", P10_WRITER)
    done = h.tmp / "done"
    sup.service("p10", f"{PYTHON} {writer} {secs} {done}", log={"max_size": "1M", "max_files": "3"})
    allowed = {"p10.log", "p10.log.1", "p10.log.2", "p10.log.3"}
    start(sup)
    sup.wait_state("p10", "RUNNING")

    main_inodes = []     # distinct inodes p10.log had, in order
    seen = set()
    max_total = max_count = 0
    renames_checked = 0
    deadline = time.monotonic() + secs + 30
    while not done.exists():
        assert time.monotonic() < deadline, "the writer never finished"
        names = set(os.listdir(sup.log_dir))
        assert names <= allowed, names
        st = {}
        for name in ("p10.log", "p10.log.1", "p10.log.2", "p10.log.3"):
            try:
                st[name] = os.stat(sup.log_dir / name)
            except FileNotFoundError:
                pass
        # Distinct inodes: a rename between two stat() calls must not count one file twice.
        sizes = {s.st_ino: s.st_size for s in st.values()}
        total = sum(sizes.values())
        max_total, max_count = max(max_total, total), max(max_count, len(sizes))
        assert total <= 4 * MiB, f"log files hold {total} bytes: {sorted(sizes.values())}"
        for name, s in st.items():
            assert s.st_size <= MiB, (name, s.st_size)
        main = st.get("p10.log")
        if main is not None and (not main_inodes or main_inodes[-1] != main.st_ino):
            if main_inodes:
                # Rotation = rename + reopen: the previous NAME.log is now a numbered file.
                rotated = {s.st_ino for n, s in st.items() if n != "p10.log"}
                assert main_inodes[-1] in rotated, (main_inodes[-1], st)
                renames_checked += 1
            main_inodes.append(main.st_ino)
            seen.add(main.st_ino)
        for name, s in st.items():
            # Never a copy: every rotated file is a former NAME.log (same inode), not a new file.
            if name != "p10.log":
                assert s.st_ino in seen, f"{name} has inode {s.st_ino}, never seen as p10.log"
        time.sleep(0.02)  # sampling period, not synchronisation

    n = int(done.read_text())
    assert n * 1000 >= 15 * 1000 * 1000, n  # the service did write ~1 MB/s
    assert renames_checked >= 10, (renames_checked, main_inodes)
    assert max_count == 4, max_count

    # Everything written reached the file (none dropped); the kept files hold the newest lines.
    assert wait_for(lambda: log_info(sup, "p10")["lines"] == n, 10), log_info(sup, "p10")
    assert log_info(sup, "p10")["dropped"] == 0
    numbers = []
    total = 0
    for name in ("p10.log.3", "p10.log.2", "p10.log.1", "p10.log"):
        data = read_bytes(sup.log_dir / name)
        total += len(data)
        assert len(data) <= MiB
        recs = records(data)
        assert not malformed(recs, rb"\d{8} x{990}"), (name, malformed(recs)[:3])
        numbers += [int(r[2][:8]) for r in recs]
    assert total <= 4 * MiB
    assert numbers[-1] == n - 1
    assert numbers == list(range(numbers[0], n)), "kept lines are not contiguous"
    assert numbers[0] > 0  # the oldest were rotated away
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- P11

TALKER = r'''
import sys, time
out = sys.stdout.buffer
n = 0
while True:                       # ~1000 lines of 100 bytes per second
    out.write(b"".join(b"%08d " % (n + i) + b"y" * 90 + b"\n" for i in range(10)))
    out.flush()
    n += 10
    time.sleep(0.01)
'''


class FifoReader:
    """A non-blocking reader of a FIFO; pump() collects what is there."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""

    def pump(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            self.buf += chunk

    def numbers(self, check=True):
        self.pump()
        recs = records(self.buf)
        if check:
            assert not malformed(recs, rb"\d{8} y{90}"), malformed(recs, rb"\d{8} y{90}")[:3]
        return [int(r[2][:8]) for r in recs if r[1] is not None and NUM_RE.match(r[2])]

    def has_after(self, mark, check=True):
        nums = self.numbers(check)
        return bool(nums) and nums[-1] > mark

    def close(self):
        os.close(self.fd)


def test_sup_p11_pipe_as_log_target(h):
    """[log] file = a FIFO (max_size far below what is written): no reader, a reader, a reader
    that stops reading, a reader that leaves and comes back. Capture never stops, nines and the
    other service keep answering, the FIFO is never renamed or rotated."""
    sup = Sup(h)
    fifo_dir = h.tmp / "fifo"
    fifo_dir.mkdir()
    fifo = fifo_dir / "talker.pipe"
    os.mkfifo(fifo)
    talker = script(h, "talker.py", TALKER)
    sup.service("talker", f"{PYTHON} {talker}", log={"file": fifo, "max_size": "1K", "max_files": "2"})
    sup.service("other", "sleep 1000")
    start(sup)
    sup.wait_state("talker", "RUNNING")
    sup.wait_state("other", "RUNNING")
    other_pid = running_pid(sup, "other")

    def healthy():
        assert sup.p.poll() is None, "nines exited"
        rc, out, err, took = ctl_timed(sup, "status")
        assert rc == 0 and took < 5, (rc, out, err, took)
        assert running_pid(sup, "other") == other_pid
        assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced"
        assert os.listdir(fifo_dir) == ["talker.pipe"], os.listdir(fifo_dir)

    def dropped():
        return log_info(sup, "talker")["dropped"]

    # 1. No reader: lines are dropped and counted; the ring keeps capturing.
    assert wait_for(lambda: dropped() > 100, 10), log_info(sup, "talker")
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: latest_number(sup, "talker") > mark + 100, 10)
    healthy()

    # 2. A reader attached: lines arrive (after the open is retried).
    reader = FifoReader(fifo)
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: reader.has_after(mark), 10), "no line through the FIFO"
    healthy()

    # 3. The reader stops reading: the pipe fills, lines are dropped, nothing blocks.
    d0 = dropped()
    assert wait_for(lambda: dropped() > d0 + 100, 10), log_info(sup, "talker")
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: latest_number(sup, "talker") > mark + 100, 10), "capture stopped"
    healthy()

    # 4. It reads again: new lines arrive.
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: reader.has_after(mark), 10), "capture did not resume"

    # 5. The reader leaves (EPIPE for nines): dropped and counted, nothing else.
    reader.close()
    d0 = dropped()
    assert wait_for(lambda: dropped() > d0 + 100, 10), log_info(sup, "talker")
    healthy()

    # 6. A reader comes back: capture resumes by itself.
    reader = FifoReader(fifo)
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: reader.has_after(mark), 10), "capture did not resume for a new reader"
    healthy()
    assert log_info(sup, "talker")["file"] == str(fifo)
    rc, out, err = sup.ctl("status", "talker")
    assert "log dropped:" in out, out
    assert sup.stop()[0] == 0
    reader.close()
    assert os.listdir(fifo_dir) == ["talker.pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


LONG_TALKER = r"""
import sys, time
out = sys.stdout.buffer
n = 0
while True:                       # 5000-byte lines: 4096-byte pieces, records > PIPE_BUF
    out.write(b"%08d " % n + b"z" * (5000 - 9) + b"\n")
    out.flush()
    n += 1
    time.sleep(0.001)
"""


def test_sup_p11_slow_fifo_reader_gets_whole_records(h):
    """A FIFO target whose reader stalls now and then: lines are dropped while the pipe is full,
    but what the reader gets is whole records, also those longer than PIPE_BUF (the 4096-byte
    out+ pieces of 5000-byte lines): a record cut by a full pipe must not glue itself to the
    next one."""
    sup = Sup(h)
    set_main(sup, "console", "no")
    fifo = h.tmp / "talker.pipe"
    os.mkfifo(fifo)
    talker = script(h, "long_talker.py", LONG_TALKER)
    sup.service("talker", f"{PYTHON} {talker}", log={"file": fifo})
    reader = FifoReader(fifo)
    start(sup)
    sup.wait_state("talker", "RUNNING")
    for _ in range(3):
        mark = latest_number(sup, "talker")
        assert wait_for(lambda: reader.has_after(mark, check=False), 10), "no line through the FIFO"
        d0 = log_info(sup, "talker")["dropped"]  # stall: the pipe fills, lines are dropped
        assert wait_for(lambda: log_info(sup, "talker")["dropped"] > d0 + 10, 10)
    mark = latest_number(sup, "talker")
    assert wait_for(lambda: reader.has_after(mark, check=False), 10)
    recs = records(reader.buf)
    piece = re.compile(rb"\d{8} z{%d}" % (PIECE - 9))
    tail = re.compile(rb"z{%d}" % (5000 - PIECE))
    bad = [(r[1], len(r[2]), r[2][:60]) for r in recs
           if not (r[1] == "out+" and piece.fullmatch(r[2]) or r[1] == "out" and tail.fullmatch(r[2]))]
    assert not bad, f"{len(bad)} of {len(recs)} lines are not whole records: {bad[:4]}"
    nums = [int(r[2][:8]) for r in recs if r[1] == "out+"]
    assert nums == sorted(set(nums))
    assert sup.stop()[0] == 0
    reader.close()


# --------------------------------------------------------------------------- long lines

LONG_WRITER = r'''
import os, sys, time
out = sys.stdout.buffer
payload, go = sys.argv[1], sys.argv[2]
out.write(open(payload, "rb").read())           # one 1 MB line, no newline
out.flush()
if go == "-":
    sys.exit(0)                                 # EOF ends the line
while not os.path.exists(go):
    time.sleep(0.02)
out.write(b"\nafter\n")
out.flush()
time.sleep(1000)
'''


def test_one_megabyte_line_without_newline_is_cut_not_lost(h):
    """A 1,000,000-byte line: 4096-byte pieces labelled out+ while it lasts, the tail as out once
    the newline (or EOF) comes; reassembled it equals what was written."""
    sup = Sup(h)
    payload = b"".join(b"%07d," % i for i in range(125000))  # 1,000,000 bytes, order visible
    assert len(payload) == 1000000
    pfile = h.tmp / "payload"
    pfile.write_bytes(payload)
    writer = script(h, "long.py", LONG_WRITER)
    go = h.tmp / "go"
    sup.service("long", f"{PYTHON} {writer} {pfile} {go}")
    sup.service("eof", f"{PYTHON} {writer} {pfile} -", restart={"policy": "never"})
    start(sup)
    full, tail = divmod(len(payload), PIECE)  # 244 pieces, 576 bytes left

    logf = sup.log_dir / "long.log"
    assert wait_for(lambda: len(records(read_bytes(logf))) >= full, 15), len(records(read_bytes(logf)))
    recs = records(read_bytes(logf))
    assert not malformed(recs)
    assert [r[1] for r in recs] == ["out+"] * full, "pieces before the newline"
    assert all(len(r[2]) == PIECE for r in recs)

    go.write_text("")
    assert wait_for(lambda: len(records(read_bytes(logf))) >= full + 2, 10)
    for path in (logf, sup.log_dir / "eof.log"):
        if path.name == "eof.log":
            assert wait_for(lambda: len(records(read_bytes(path))) >= full + 1, 10)
        recs = records(read_bytes(path))
        assert not malformed(recs)
        labels = [r[1] for r in recs]
        assert labels[:full] == ["out+"] * full and labels[full] == "out", (path, labels[full - 2:])
        assert len(recs[full][2]) == tail
        assert b"".join(r[2] for r in recs[:full + 1]) == payload, path
    assert [r[2] for r in records(read_bytes(logf))[full + 1:]] == [b"after"]
    assert len(records(read_bytes(sup.log_dir / "eof.log"))) == full + 1
    assert sup.stop()[0] == 0


EXACT_WRITER = r"""
import os, sys, time
out = sys.stdout.buffer
size, ready, go = int(sys.argv[1]), sys.argv[2], sys.argv[3]
out.write(b"a" * size)                          # the line, its newline comes later
out.flush()
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.02)
out.write(b"\nnext\n")
out.flush()
time.sleep(1000)
"""


def test_line_of_exactly_4096_bytes_is_one_record(h):
    """4096 bytes is the longest line delivered whole (LINEBUF_MAX), also when its newline
    arrives in a later read than its bytes; 4097 bytes are one out+ piece and a 1-byte out."""
    sup = Sup(h)
    writer = script(h, "exact.py", EXACT_WRITER)
    go = h.tmp / "go"
    for name, size in (("exact", PIECE), ("over", PIECE + 1)):
        sup.service(name, f"{PYTHON} {writer} {size} {h.tmp / name}.ready {go}",
                    log={"timestamps": "none"})
    start(sup)
    for name in ("exact", "over"):
        sup.wait_state(name, "RUNNING")
        pid = running_pid(sup, name)
        # nines has read the whole line but not its newline (not written yet).
        assert wait_for(lambda: (h.tmp / f"{name}.ready").exists() and pipe_unread(pid) == 0, 10)
    go.write_text("")
    for name in ("exact", "over"):
        assert wait_for(lambda: read_bytes(sup.log_dir / f"{name}.log").endswith(b"out | next\n"), 10)
    exact = records(read_bytes(sup.log_dir / "exact.log"), timestamps=False)
    assert [(r[1], r[2]) for r in exact] == [("out", b"a" * PIECE), ("out", b"next")], \
        [(r[1], len(r[2])) for r in exact]
    over = records(read_bytes(sup.log_dir / "over.log"), timestamps=False)
    assert [(r[1], r[2]) for r in over] == [("out+", b"a" * PIECE), ("out", b"a"), ("out", b"next")]
    assert sup.stop()[0] == 0


def test_ctl_log_long_line_reassembles(h):
    """`ninesctl log` shows a line longer than 4096 bytes so that it can be read back: every
    output line is `TIMESTAMP LABEL | text` (a `+` label continues on the next line), and the
    pieces give back the line; the next record's prefix never lands inside a line."""
    sup = Sup(h)
    svc = script(h, "long.sh", "{ head -c 10000 /dev/zero | tr '\\0' e; echo; echo next; } >&2\n"
                               "exec sleep 1000\n")
    sup.service("long", f"sh {svc}")
    start(sup)
    assert wait_for(lambda: log_info(sup, "long")["lines"] == 4, 10), log_info(sup, "long")
    file_lines, rest = reassemble(records(read_bytes(sup.log_dir / "long.log")))
    assert file_lines == [b"e" * 10000, b"next"] and rest == b""
    rc, out = ctl_log_bytes(sup, "long", "-n", "10")
    assert rc == 0
    recs = []
    for line in out.split(b"\n")[:-1]:
        m = re.fullmatch(rb"(\S+) (err|out)(\+?) \| (.*)", line, re.S)
        assert m, line[:80]
        recs.append((m.group(1), (m.group(2) + m.group(3)).decode(), m.group(4)))
    lines, rest = reassemble(recs)
    # On failure, show the bytes around the first cut (where a stray prefix would sit).
    assert lines == [b"e" * 10000, b"next"] and rest == b"", \
        [(len(l), l[PIECE - 8:PIECE + 40]) for l in lines]
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- burst

def test_100000_lines_in_a_burst(h):
    """100,000 lines at once: all in the file and on the console, in order, none lost or
    duplicated; status answers quickly throughout."""
    count = 100000
    sup = Sup(h)
    sup.service("burst", f"sh -c 'seq 1 {count}; exec sleep 1000'")
    sup.service("other", "sleep 1000")
    start(sup)
    worst = 0.0

    def all_captured():
        nonlocal worst
        rc, out, err, took = ctl_timed(sup, "status", "--json")
        worst = max(worst, took)
        assert rc in (0, 3), (rc, err)
        by_name = {s["name"]: s for s in json.loads(out)["services"]}
        return by_name["burst"]["log"]["lines"] == count

    assert wait_for(all_captured, 30), log_info(sup, "burst")
    assert worst < 5, worst
    assert sup.p.poll() is None
    rc, out, err, took = ctl_timed(sup, "status")
    assert rc == 0 and took < 5, (rc, out, err, took)

    recs = records(read_bytes(sup.log_dir / "burst.log"))
    assert not malformed(recs), malformed(recs)[:3]
    assert {r[1] for r in recs} == {"out"}
    assert [r[2] for r in recs] == [b"%d" % i for i in range(1, count + 1)]
    assert log_info(sup, "burst")["dropped"] == 0

    expect = [b"burst | %d" % i for i in range(1, count + 1)]
    assert wait_for(lambda: read_bytes(sup.p.out_path).count(b"\n") >= count, 10)
    console = [l for l in read_bytes(sup.p.out_path).split(b"\n") if l.startswith(b"burst | ")]
    assert console == expect
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- binary

BINARY_LINES = [
    bytes(range(0, 10)) + bytes(range(11, 128)),       # every ASCII byte but the newline
    bytes(range(128, 256)),                              # every high byte
    b"invalid utf-8: \xff\xfe\xfd \xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc \xc0\xaf",
    b"surrogate \xed\xa0\x80 and truncated \xe2\x82 and lone \x80",
    b"nul\x00in\x00the\x00middle\x00",
    b"carriage\rreturn\r",
    b"\x1b[31mred\x1b[0m \x1b]0;title\x07 \x08\x7f",
    b"",
    b"\ttabs\t and trailing spaces   ",
    "valid utf-8: h\u00e9llo \u2603 \U0001f600".encode(),
]


def test_binary_and_invalid_utf8_pass_through(h):
    """Arbitrary bytes (NUL, CR, escapes, invalid UTF-8) reach the file, the console and the
    ring unchanged; only the framing is added."""
    sup = Sup(h)
    payload = b"".join(l + b"\n" for l in BINARY_LINES)
    pfile = h.tmp / "payload.bin"
    pfile.write_bytes(payload)
    sup.service("bin", f"sh -c 'cat {pfile}; exec sleep 1000'", log={"timestamps": "none"})
    start(sup)
    n = len(BINARY_LINES)
    logf = sup.log_dir / "bin.log"
    expect_file = b"".join(b"out | " + l + b"\n" for l in BINARY_LINES)
    assert wait_for(lambda: read_bytes(logf).count(b"\n") >= n, 10)
    assert read_bytes(logf) == expect_file

    expect_console = b"".join(b"bin | " + l + b"\n" for l in BINARY_LINES)
    assert wait_for(lambda: expect_console in read_bytes(sup.p.out_path), 5), read_bytes(sup.p.out_path)

    rc, out = ctl_log_bytes(sup, "bin", "-n", str(n))
    assert rc == 0
    got = []
    for line in out.split(b"\n")[:-1]:
        m = CTL_LINE_RE.fullmatch(line)
        assert m and m.group(2) == b"out", line
        got.append(m.group(3))
    assert got == BINARY_LINES
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- full disk

DISK_WRITER = r'''
i=0
while :; do
  i=$((i+1))
  printf '%08d padding padding padding padding padding padding padding\n' "$i"
  echo "$i" > "$1"
  sleep 0.005
done
'''


def test_full_disk_drops_and_counts_then_resumes(h, require_root):
    """log_dir on a 256 KiB tmpfs that a filler file fills up: the service is never blocked
    (its heartbeat goes on), lines are dropped and counted (status --json log.dropped, status
    NAME), nines keeps answering, and writing resumes once the filler is deleted, with every
    record in the file whole."""
    mnt = h.tmp / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], check=True)
    sup = Sup(h)
    try:
        set_main(sup, "log_dir", mnt)
        hb = h.tmp / "heartbeat"
        writer = script(h, "disk.sh", DISK_WRITER)
        sup.service("disk", f"sh {writer} {hb}")
        start(sup)
        sup.wait_state("disk", "RUNNING")
        logf = mnt / "disk.log"
        assert wait_for(lambda: len(records(read_bytes(logf))) >= 20, 10)

        def heartbeat():
            try:
                return int(hb.read_text().strip() or 0)
            except (FileNotFoundError, ValueError):
                return 0

        filler = mnt / "filler"
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"F" * 4096)
            except OSError as e:
                assert e.errno == 28, e  # ENOSPC

        def dropped():
            return log_info(sup, "disk")["dropped"]

        assert wait_for(lambda: dropped() > 0, 10), log_info(sup, "disk")
        d0, beat = dropped(), heartbeat()
        assert wait_for(lambda: heartbeat() > beat + 50, 10), "the service is blocked"
        assert wait_for(lambda: dropped() > d0 + 20, 10), "lines not counted as dropped"
        rc, out, err, took = ctl_timed(sup, "status", "disk")
        assert rc == 0 and took < 5, (rc, out, err, took)
        assert re.search(r"log dropped: *\d+", out), out

        mark = latest_number(sup, "disk")
        os.unlink(filler)

        def resumed():
            recs = records(read_bytes(logf))
            return any(r[1] == "out" and NUM_RE.match(r[2]) and int(r[2][:8]) > mark for r in recs)

        assert wait_for(resumed, 10), "writing did not resume after space was freed"

        rc, out, err = sup.ctl("stop", "disk")
        assert rc == 0, (out, err)
        info = log_info(sup, "disk")
        recs = records(read_bytes(logf))
        # Every record in the file is whole: a record cut by ENOSPC must not glue itself to
        # the first line written after space came back.
        assert not malformed(recs, rb"\d{8}( padding){7}"), malformed(recs, rb"\d{8}( padding){7}")[:3]
        assert read_bytes(logf).endswith(b"\n")
        # Accounting: every captured line is either in the file or counted as dropped.
        assert len(recs) + info["dropped"] == info["lines"], (len(recs), info)
        nums = [int(r[2][:8]) for r in recs]
        assert nums == sorted(set(nums))
        assert sup.stop()[0] == 0
    finally:
        if sup.p is not None and sup.p.poll() is None:
            sup.stop()
        if subprocess.run(["umount", str(mnt)]).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)])


# --------------------------------------------------------------------------- rotation

ROT_WRITER = r'''
for i in $(seq 1 "$1"); do printf 'r%012d\n' "$i"; done
while [ ! -f "$2" ]; do sleep 0.02; done
printf 'r%012d\n' 99
exec sleep 1000
'''


def rec(i):
    """One 20-byte record with timestamps = none: 'out | r000000000001\\n'."""
    r = b"out | r%012d\n" % i
    assert len(r) == 20
    return r


def test_rotation_boundaries(h):
    """timestamps = none, 20-byte records. max_size 100 with 5 records: exactly full, not
    rotated until the next record; max_size 99: the 5th record (one byte over) goes to a new
    file. A record bigger than max_size is written whole into a fresh file. max_files = 2 keeps
    NAME.log.1 and .2 only."""
    sup = Sup(h)
    writer = script(h, "rot.sh", ROT_WRITER)
    go = h.tmp / "go"
    never = h.tmp / "never"
    plain = {"timestamps": "none"}
    sup.service("exact", f"sh {writer} 5 {go}", log={**plain, "max_size": "100"})
    sup.service("over", f"sh {writer} 5 {go}", log={**plain, "max_size": "99"})
    sup.service("keep", f"sh {writer} 6 {never}", log={**plain, "max_size": "20", "max_files": "2"})
    big = script(h, "big.sh", "printf 'r%012d\\n' 1\nprintf '%050d\\n' 0\nprintf 'r%012d\\n' 3\n"
                              "exec sleep 1000\n")
    sup.service("big", f"sh {big}", log={**plain, "max_size": "30"})
    start(sup)
    d = sup.log_dir
    five = b"".join(rec(i) for i in range(1, 6))

    def files(name):
        return {p: read_bytes(d / p) for p in sorted(os.listdir(d)) if p.startswith(name + ".log")}

    # Exactly max_size: no rotation yet.
    assert wait_for(lambda: files("exact") == {"exact.log": five}, 10), files("exact")
    # One byte over: the 5th record rotated the file first.
    assert wait_for(lambda: files("over") == {"over.log": rec(5), "over.log.1": five[:80]}, 10), \
        files("over")
    keep = {"keep.log": rec(6), "keep.log.1": rec(5), "keep.log.2": rec(4)}
    assert wait_for(lambda: files("keep") == keep, 10), files("keep")
    bigrec = b"out | " + b"0" * 50 + b"\n"
    bigfiles = {"big.log": rec(3), "big.log.1": bigrec, "big.log.2": rec(1)}
    assert wait_for(lambda: files("big") == bigfiles, 10), files("big")

    go.write_text("")
    assert wait_for(lambda: files("exact") == {"exact.log": rec(99), "exact.log.1": five}, 10), \
        files("exact")
    assert wait_for(lambda: files("over") == {"over.log": rec(5) + rec(99), "over.log.1": five[:80]},
                    10), files("over")
    assert files("exact") == {"exact.log": rec(99), "exact.log.1": five}
    assert files("keep") == keep
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- console

CONSOLE_WRITER = r'''
import sys
name, n = sys.argv[1], int(sys.argv[2])
out = sys.stdout.buffer
for i in range(n):
    out.write(b"%s-%05d " % (name.encode(), i) + name.encode() * 3000 + b"\n")
    if i % 7 == 0:
        out.flush()
out.flush()
import time
time.sleep(1000)
'''


def test_console_prefixes_lines_never_interleaved(h):
    """console = yes: nines' stdout carries `NAME | text` for both services, every line whole
    (3000-byte lines written concurrently by two services are never mixed), in order."""
    n = 400
    sup = Sup(h)  # Sup writes console = yes
    writer = script(h, "console.py", CONSOLE_WRITER)
    sup.service("a", f"{PYTHON} {writer} a {n}")
    sup.service("b", f"{PYTHON} {writer} b {n}")
    start(sup)
    line_re = re.compile(rb"([ab]) \| ([ab])-(\d{5}) (a{3000}|b{3000})")
    assert wait_for(lambda: read_bytes(sup.p.out_path).count(b"\n") >= 2 * n, 20)
    seen = {b"a": [], b"b": []}
    for line in read_bytes(sup.p.out_path).split(b"\n")[:-1]:
        m = line_re.fullmatch(line)
        assert m, f"not a whole `NAME | text` line: {line[:120]!r}...{line[-40:]!r}"
        assert m.group(1) == m.group(2) and m.group(4)[:1] == m.group(1), line[:40]
        seen[m.group(1)].append(int(m.group(3)))
    assert seen[b"a"] == list(range(n)) and seen[b"b"] == list(range(n))
    assert sup.stop()[0] == 0


def test_console_no_leaves_stdout_empty(h):
    sup = Sup(h)
    set_main(sup, "console", "no")
    sup.service("quiet", "sh -c 'echo hello; exec sleep 1000'", log={"timestamps": "none"})
    start(sup)
    assert wait_for(lambda: read_bytes(sup.log_dir / "quiet.log") == b"out | hello\n", 10)
    assert sup.stop()[0] == 0
    assert read_bytes(sup.p.out_path) == b""


def test_console_to_a_slow_pipe_never_interleaves_mid_line(h):
    """nines' stdout is a pipe (as under `docker logs`) whose reader stalls now and then: console
    lines may be dropped (counted), but every line that comes out is one whole `NAME | text`,
    also when it is longer than PIPE_BUF (a 4096-byte service line)."""
    sup = Sup(h)
    writer = script(h, "console_long.py", r"""
import sys, time
name = sys.argv[1].encode()
out = sys.stdout.buffer
n = 0
while True:
    out.write(b"%s-%08d " % (name, n) + name * (4096 - 11) + b"\n")
    out.flush()
    n += 1
    time.sleep(0.001)
""")
    for name in ("a", "b"):
        sup.service(name, f"{PYTHON} {writer} {name}", log={"file": ""})
    sup.p = h.spawn([h.nines, "-c", sup.conf], stdout=subprocess.PIPE)
    fd = sup.p.stdout.fileno()
    os.set_blocking(fd, False)
    buf = bytearray()

    def pump():
        while True:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            buf.extend(chunk)

    def count():
        pump()
        return buf.count(b"\n")

    assert wait_for(lambda: sup.p.poll() is not None or sup.ctl("status")[0] == 0, 10)
    dropped = lambda: sum(log_info(sup, n)["dropped"] for n in ("a", "b"))
    for _ in range(3):
        c0 = count()
        assert wait_for(lambda: count() > c0 + 20, 10), "no console output"
        d0 = dropped()  # stall: the pipe fills, console lines are dropped and counted
        assert wait_for(lambda: dropped() > d0 + 10, 10)
    c0 = count()
    assert wait_for(lambda: count() > c0 + 20, 10)
    line_re = re.compile(rb"([ab]) \| ([ab])-(\d{8}) (a{4085}|b{4085})")
    lines = bytes(buf).split(b"\n")[:-1]
    bad = [l for l in lines if not line_re.fullmatch(l)]
    assert not bad, (f"{len(bad)} of {len(lines)} console lines are not whole, e.g. "
                     f"{bad[0][:40]!r}...{bad[0][-40:]!r} ({len(bad[0])} bytes)")
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- ninesctl log

def test_ctl_log_tail_n3(h):
    sup = Sup(h)
    sup.service("tail", "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do echo l$i; done; exec sleep 1000'")
    start(sup)
    assert wait_for(lambda: log_info(sup, "tail")["lines"] == 10, 10)
    rc, out = ctl_log_bytes(sup, "tail", "-n", "3")
    assert rc == 0
    lines = out.split(b"\n")
    assert lines[-1] == b"", out
    got = [CTL_LINE_RE.fullmatch(l) for l in lines[:-1]]
    assert all(got), out
    assert [(m.group(2), m.group(3)) for m in got] == [(b"out", b"l8"), (b"out", b"l9"), (b"out", b"l10")]
    loose_ts = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}[+-]\d{2}:?\d{2}")
    assert all(loose_ts.fullmatch(m.group(1)) for m in got), out
    rc, out = ctl_log_bytes(sup, "tail")  # default: the last 10
    assert rc == 0 and [CTL_LINE_RE.fullmatch(l).group(3) for l in out.split(b"\n")[:-1]] == \
        [b"l%d" % i for i in range(1, 11)]
    rc, out = ctl_log_bytes(sup, "tail", "-n", "0")
    assert rc == 0 and out == b""
    rc, out = ctl_log_bytes(sup, "tail", "-n", "1000")
    assert rc == 0 and out.count(b"\n") == 10
    rc, out, err = sup.ctl("log", "nosuch", "-n", "3")
    assert rc == 4, (rc, out, err)
    assert sup.stop()[0] == 0


FOLLOW_WRITER = r'''
echo ready
i=0
while :; do
  if [ -f "$1" ]; then i=$((i+1)); rm -f "$1"; echo "mark-$i"; fi
  sleep 0.02
done
'''


def test_ctl_log_follow_sees_new_lines_and_ends_with_client(h):
    sup = Sup(h)
    go = h.tmp / "go"
    writer = script(h, "follow.sh", FOLLOW_WRITER)
    sup.service("fol", f"sh {writer} {go}")
    start(sup)
    assert wait_for(lambda: log_info(sup, "fol")["lines"] >= 1, 10)
    nines_fds = lambda: len(os.listdir(f"/proc/{sup.p.pid}/fd"))
    base_fds = nines_fds()

    f = h.spawn([ninesctl_path(h), "-s", sup.sock, "log", "fol", "-n", "3", "-f"])
    assert wait_for(lambda: b" out | ready\n" in read_bytes(f.out_path), 10), read_bytes(f.out_path)
    for i in (1, 2):
        go.write_text("")
        assert wait_for(lambda: b" out | mark-%d\n" % i in read_bytes(f.out_path), 10), \
            read_bytes(f.out_path)
    assert f.poll() is None, "log -f ended by itself"
    lines = read_bytes(f.out_path).split(b"\n")[:-1]
    assert [CTL_LINE_RE.fullmatch(l).group(3) for l in lines] == [b"ready", b"mark-1", b"mark-2"]

    os.kill(f.pid, signal.SIGKILL)
    h.wait_exit(f, 5, what="ninesctl log -f")
    # nines is unaffected: it keeps capturing and answering, and lets the follower go.
    go.write_text("")
    assert wait_for(lambda: b"out | mark-3\n" in read_bytes(sup.log_dir / "fol.log"), 10)
    assert alive(sup.p.pid)
    rc, out, err, took = ctl_timed(sup, "status")
    assert rc == 0 and took < 5, (rc, out, err)
    go.write_text("")
    assert wait_for(lambda: b"out | mark-4\n" in read_bytes(sup.log_dir / "fol.log"), 10)
    assert wait_for(lambda: nines_fds() == base_fds, 5), (nines_fds(), base_fds)
    rc, out = ctl_log_bytes(sup, "fol", "-n", "2")
    assert rc == 0
    assert [CTL_LINE_RE.fullmatch(l).group(3) for l in out.split(b"\n")[:-1]] == [b"mark-3", b"mark-4"]
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- timestamps

TZ = "XYZ+3:30"   # POSIX TZ: 3 h 30 min west of UTC, so local time carries -03:30 (no tzdata)


def test_timestamps_iso8601_and_none(h, monkeypatch):
    """iso8601 (default): `YYYY-MM-DDTHH:MM:SS.mmm±HH:MM out | text`, local time of nines' TZ,
    close to now; none: `out | text` exactly."""
    monkeypatch.setenv("TZ", TZ)
    sup = Sup(h)
    sup.service("ts", "sh -c 'echo hello; echo world; exec sleep 1000'")
    sup.service("plain", "sh -c 'echo hello; echo world; exec sleep 1000'", log={"timestamps": "none"})
    t0 = time.time()
    start(sup)
    assert wait_for(lambda: read_bytes(sup.log_dir / "plain.log") == b"out | hello\nout | world\n", 10), \
        read_bytes(sup.log_dir / "plain.log")
    assert wait_for(lambda: len(records(read_bytes(sup.log_dir / "ts.log"))) == 2, 10)
    recs = records(read_bytes(sup.log_dir / "ts.log"))
    assert not malformed(recs), recs
    assert [(r[1], r[2]) for r in recs] == [("out", b"hello"), ("out", b"world")]
    for ts, _, _ in recs:
        assert ts.endswith("-03:30"), ts
        when = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        assert t0 - 1 <= when <= time.time() + 1, (ts, t0)
    assert sup.stop()[0] == 0


def test_ctl_log_timestamps_match_the_file(h, monkeypatch):
    """`ninesctl log` shows a line with the same ISO 8601 timestamp (±HH:MM zone) as the file."""
    monkeypatch.setenv("TZ", TZ)
    sup = Sup(h)
    sup.service("ts", "sh -c 'echo hello; exec sleep 1000'")
    start(sup)
    assert wait_for(lambda: len(records(read_bytes(sup.log_dir / "ts.log"))) == 1, 10)
    file_ts = records(read_bytes(sup.log_dir / "ts.log"))[0][0]
    rc, out = ctl_log_bytes(sup, "ts", "-n", "1")
    assert rc == 0
    m = CTL_LINE_RE.fullmatch(out.rstrip(b"\n"))
    assert m and m.group(3) == b"hello", out
    assert re.fullmatch(TS, m.group(1)), f"ninesctl log timestamp {m.group(1)!r} vs file {file_ts!r}"
    assert m.group(1).decode() == file_ts
    assert sup.stop()[0] == 0


# --------------------------------------------------------------------------- stderr

def test_stderr_lines_are_labelled_err(h):
    sup = Sup(h)
    svc = script(h, "err.sh", "echo to-out\necho to-err >&2\n"
                              "{ head -c 5000 /dev/zero | tr '\\0' e; echo; } >&2\nexec sleep 1000\n")
    sup.service("mixed", f"sh {svc}")
    start(sup)
    logf = sup.log_dir / "mixed.log"
    assert wait_for(lambda: len(records(read_bytes(logf))) >= 4, 10), read_bytes(logf)
    recs = records(read_bytes(logf))
    assert not malformed(recs)
    by_label = {}
    for _, label, text in recs:
        by_label.setdefault(label, []).append(text)
    assert by_label == {"out": [b"to-out"], "err": [b"to-err", b"e" * (5000 - PIECE)],
                        "err+": [b"e" * PIECE]}, {k: [t[:20] for t in v] for k, v in by_label.items()}
    errs = [r for r in recs if r[1].startswith("err")]
    assert [r[1] for r in errs] == ["err", "err+", "err"]  # stderr order kept
    rc, out = ctl_log_bytes(sup, "mixed", "-n", "10")
    assert rc == 0
    assert b" err | to-err\n" in out and b" out | to-out\n" in out, out[:300]
    assert sup.stop()[0] == 0
