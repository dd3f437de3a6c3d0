"""The documentation cannot drift from the code, and `make install` lays out what the deployment
files expect.

(a) Every key of the parser's table (src/config.c: `keys[]` and `section_names[]`) is documented
    in docs/config.md under its section and in the man page of its file (nines.conf.5 for the
    main config, nines.service.5 for a service file), and neither documents a key the parser does
    not know. Where docs/config.md gives a plain default (`10s`, none, off) the man page says the
    same. The ini examples of both must use known keys, and the man pages must render without a
    groff warning.
(b) `make install` into a staging DESTDIR creates every path that docker/Dockerfile and
    etc/nines.service use (/usr/sbin/nines, /usr/sbin/ninesctl, /etc/nines/nines.conf...), plus
    the man pages, the examples and the unit; and the Dockerfile's build stage (a context of only
    the files it COPYs) installs what its run stage copies out. No container engine is needed.
(c) A code block of docs/config.md marked as a complete service file (info string
    `ini service-file`) passes `nines --check`; skipped while none is marked.

The binaries are $NINES_BUILD/{nines,ninesctl} (default /work/main/build); nothing is compiled
(`make -o` treats them as up to date)."""

import os
import pathlib
import re
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("NINES_BUILD", "/work/main/build")).resolve()
CONFIG_MD = REPO / "docs" / "config.md"
MAN_DIR = REPO / "man"
MAN_MAIN = MAN_DIR / "nines.conf.5"
MAN_SERVICE = MAN_DIR / "nines.service.5"


# --------------------------------------------------------------------------- the parser's table

def parser_keys():
    """{section name: {key, ...}} from src/config.c's section_names[] and keys[] tables."""
    src = (REPO / "src" / "config.c").read_text()
    sections = dict(re.findall(r'\[SEC_(\w+)\]\s*=\s*"([a-z]+)"', src))
    rows = re.findall(r'^\s*\[(K_\w+)\]\s*=\s*\{\s*SEC_(\w+)\s*,\s*"([a-z_]+)"', src, re.M)
    assert len(sections) >= 8 and len(rows) >= 60, "src/config.c's tables were not recognised"
    assert len({r[0] for r in rows}) == len(rows), "a K_ constant appears twice in keys[]"
    keys = {}
    for _, sec, name in rows:
        assert sec in sections, f"keys[] names SEC_{sec}, which section_names[] lacks"
        keys.setdefault(sections[sec], set()).add(name)
    return keys


# --------------------------------------------------------------------------- docs/config.md

def md_sections():
    """{section: {key: default cell}} from the tables under the ### `[section]` headings."""
    out, sec = {}, None
    for line in CONFIG_MD.read_text().splitlines():
        if line.startswith("#"):
            m = re.match(r"###\s+`\[(\w+)\]`\s*$", line)
            sec = m.group(1) if m else None
            if sec:
                assert sec not in out, f"docs/config.md: [{sec}] documented twice"
                out[sec] = {}
            continue
        if sec is None or not line.startswith("|"):
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if cells[0] in ("key", "") or set(cells[0]) <= set("-: "):
            continue  # header and separator rows
        names = re.findall(r"`([a-z_]+)`", cells[0])
        assert names, f"docs/config.md [{sec}]: no key in row {line!r}"
        for name in names:
            assert name not in out[sec], f"docs/config.md: [{sec}] {name} documented twice"
            out[sec][name] = cells[2] if len(cells) > 2 else ""
    return out


def md_files():
    """{"main": [sections], "service": [sections]} from the file list at the top of config.md."""
    text = CONFIG_MD.read_text()
    files = {}
    for kind, label in (("main", "main config:"), ("service", "one service:")):
        m = re.search(re.escape(label) + r"(.*)", text)
        assert m, f"docs/config.md no longer says '{label} [...]' in its file list"
        files[kind] = re.findall(r"\[(\w+)\]", m.group(1))
    return files


def md_code_blocks(info_prefix="ini"):
    """[(info string, text)] of the fenced code blocks of docs/config.md."""
    return [(m.group(1).strip(), m.group(2)) for m in
            re.finditer(r"^ *```([^\n`]*)\n(.*?)^ *```", CONFIG_MD.read_text(), re.M | re.S)
            if m.group(1).strip().startswith(info_prefix)]


# --------------------------------------------------------------------------- man pages

_ESCAPES = {r"\-": "-", r"\e": "\\", r"\&": "", r"\c": "", r"\~": " ", r"\(aq": "'",
            r"\(dq": '"', r"\(ga": "`", r"\(ti": "~", r"\(lq": '"', r"\(rq": '"',
            r"\(em": "--", r"\(mu": "x", r"\(ha": "^", r"\(+-": "+-", r"\(bu": "*"}
_ALTERNATING = {"BR", "RB", "BI", "IB", "IR", "RI"}


def unroff(line):
    """The text of one roff line: macro arguments joined as the man macros join them, font and
    character escapes resolved. Comment and layout lines give ''."""
    if line.startswith('.\\"'):
        return ""
    if line.startswith("."):
        m = re.match(r"\.(\w+)\s*(.*)", line)
        if not m:
            return ""
        macro, rest = m.groups()
        args = [a.group(1) if a.group(1) is not None else a.group(2)
                for a in re.finditer(r'"((?:[^"]|"")*)"|(\S+)', rest)]
        if macro in _ALTERNATING:
            line = "".join(args)
        elif macro in ("B", "I", "SH", "SS"):
            line = " ".join(args)
        else:
            return ""
    line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
    for esc, text in _ESCAPES.items():
        line = line.replace(esc, text)
    return line


def man_keys(path):
    """{section: {key: entry text}} of a man page: the .TP/.TQ tags `\\fBkey\\fR = ...` under a
    `.SH [section]` heading; keys tagged together (.TQ) share the entry text."""
    out, sec, group, body = {}, None, [], []

    def flush():
        text = " ".join(" ".join(body).split())
        for k in group:
            out[sec][k] = text

    lines = path.read_text().splitlines()
    tags = set()
    for i, line in enumerate(lines):
        if i in tags:
            continue
        if re.match(r"\.(SH|SS|TP|PP|LP|P|IP)\b", line):
            if group:
                flush()
            group, body = [], []
        if re.match(r"\.(SH|SS)\b", line):
            m = re.fullmatch(r"\[(\w+)\]", unroff(line).strip())
            sec = m.group(1) if m else None
            if sec:
                assert sec not in out, f"{path.name}: [{sec}] twice"
                out[sec] = {}
            continue
        if re.match(r"\.(TP|TQ)\b", line) and sec and i + 1 < len(lines):
            m = re.match(r"\\fB([a-z_]+)\\fR = ", lines[i + 1])
            if m:
                assert m.group(1) not in out[sec], f"{path.name}: [{sec}] {m.group(1)} twice"
                group.append(m.group(1))
                tags.add(i + 1)
            continue
        if group:
            body.append(unroff(line))
    if group:
        flush()
    return out


def man_examples(path):
    """Text of the .EX/.EE blocks of a man page, unescaped."""
    blocks, cur = [], None
    for line in path.read_text().splitlines():
        if line.startswith(".EX"):
            cur = []
        elif line.startswith(".EE"):
            blocks.append("\n".join(cur))
            cur = None
        elif cur is not None:
            cur.append(unroff(line))
    return blocks


def ini_keys(text):
    """[(section, key)] of an ini text: unindented `key = value` lines (continuations and
    comments skipped), with the section they are in."""
    out, sec = [], None
    for line in text.splitlines():
        if not line.strip() or line[0] in " \t;#":
            continue
        m = re.match(r"\[(\w+)\]", line)
        if m:
            sec = m.group(1)
            continue
        m = re.match(r"([a-z_]+)\s*[=:]", line)
        if m and sec:
            out.append((sec, m.group(1)))
    return out


# --------------------------------------------------------------------------- (a) keys

def diff_text(what, want, have):
    missing, unknown = sorted(want - have), sorted(have - want)
    parts = []
    if missing:
        parts.append(f"{what} lacks {missing}")
    if unknown:
        parts.append(f"{what} documents keys the parser does not know: {unknown}")
    return "; ".join(parts)


def test_config_md_documents_every_parser_key():
    parser, doc = parser_keys(), md_sections()
    assert set(doc) == set(parser), \
        f"sections: parser {sorted(parser)}, docs/config.md {sorted(doc)}"
    problems = [diff_text(f"docs/config.md [{s}]", parser[s], set(doc[s])) for s in parser]
    assert not any(problems), "\n".join(p for p in problems if p)


def test_config_md_file_list_names_every_section():
    files = md_files()
    listed = files["main"] + files["service"]
    assert sorted(listed) == sorted(parser_keys()), listed
    assert len(set(listed)) == len(listed), listed


@pytest.mark.parametrize("page,kind", [(MAN_MAIN, "main"), (MAN_SERVICE, "service")],
                         ids=["nines.conf.5", "nines.service.5"])
def test_man_page_lists_every_key_with_its_default(page, kind):
    parser, doc, man = parser_keys(), md_sections(), man_keys(page)
    sections = md_files()[kind]
    assert sorted(man) == sorted(sections), f"{page.name} has sections {sorted(man)}"
    problems = [diff_text(f"{page.name} [{s}]", parser[s], set(man[s])) for s in sections]
    assert not any(problems), "\n".join(p for p in problems if p)
    # The defaults that docs/config.md states plainly must read the same in the man page.
    wrong = []
    for s in sections:
        for key, cell in doc[s].items():
            m = re.fullmatch(r"`([^`]+)`", cell)
            default = m.group(1) if m else cell if cell in ("none", "off") else None
            if default is not None and f"Default: {default}" not in man[s][key]:
                wrong.append(f"[{s}] {key}: config.md says {default!r}, {page.name}: "
                             f"{man[s][key][-80:]!r}")
    assert not wrong, "\n".join(wrong)


def test_examples_use_known_keys():
    parser = parser_keys()
    texts = [(f"docs/config.md ```{info}", t) for info, t in md_code_blocks()]
    texts += [(p.name, t) for p in (MAN_MAIN, MAN_SERVICE) for t in man_examples(p)]
    assert len(texts) >= 5
    unknown = [f"{where}: [{s}] {k}" for where, t in texts for s, k in ini_keys(t)
               if k not in parser.get(s, ())]
    assert not unknown, unknown


def test_man_pages_render_without_warnings():
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    pages = sorted(p for p in MAN_DIR.iterdir() if re.search(r"\.[1-8]$", p.name))
    assert {p.name for p in pages} >= {"nines.8", "ninesctl.8", "nines.conf.5",
                                       "nines.service.5"}
    for p in pages:
        r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(p)],
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0 and not r.stderr, f"{p.name}: {r.stderr}"


# --------------------------------------------------------------------------- (b) make install

def make_install(tree, destdir, prefix="/usr", sysconfdir="/etc", build="build"):
    """`make install` in tree without compiling: build/nines and build/ninesctl count as up to
    date. Returns the completed process."""
    targets = [f"{build}/nines", f"{build}/ninesctl"]
    argv = ["make", "-s", "-C", str(tree), f"BUILD={build}", f"PREFIX={prefix}",
            f"SYSCONFDIR={sysconfdir}", f"DESTDIR={destdir}"]
    for t in targets:
        argv += ["-o", t]
    r = subprocess.run(argv + ["install"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def staged(destdir, path):
    return pathlib.Path(str(destdir) + path)


def nines_paths(text):
    """Absolute paths of nines' files on the non-comment lines of a Dockerfile or unit."""
    lines = [l for l in text.splitlines() if not l.lstrip().startswith("#")]
    paths = re.findall(r"(?<![\w.])(/(?:usr|etc)/[\w./-]+)", "\n".join(lines))
    return sorted({p.rstrip("/") for p in paths if "nines" in p})


def dockerfile():
    return (REPO / "docker" / "Dockerfile").read_text()


def dockerfile_install_args():
    """PREFIX and DESTDIR of the Dockerfile's `make ... install` line."""
    code = "\n".join(l for l in dockerfile().splitlines() if not l.lstrip().startswith("#"))
    m = re.search(r"\bmake\s+((?:\S+=\S+\s+)+)install\b", code)
    assert m, "docker/Dockerfile runs no `make VAR=... install`"
    args = dict(re.findall(r"(\w+)=(\S+)", m.group(1)))
    assert "DESTDIR" in args, m.group(0)
    return args.get("PREFIX", "/usr/local"), args["DESTDIR"]


def context_copies(text=None):
    """[(sources, destination)] of the COPY lines from the build context (not --from) of a
    Dockerfile text (default: the whole docker/Dockerfile)."""
    out = []
    for line in (dockerfile() if text is None else text).splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(w.startswith("--from") for w in words):
            out.append((words[1:-1], words[-1]))
    return out


def docker_copy(src_rel, dest, root):
    """COPY src_rel dest into root (dest relative to it): a directory's contents, or a file
    into a directory (dest ending in /) or to a file name."""
    src, target = REPO / src_rel, root / dest
    if src.is_dir():
        shutil.copytree(src, target, dirs_exist_ok=True)
    elif dest.endswith("/"):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target / src.name)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, target)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The repository's `make install` with the Dockerfile's PREFIX, staged in a DESTDIR."""
    prefix, _ = dockerfile_install_args()
    dest = tmp_path_factory.mktemp("destdir")
    make_install(REPO, dest, prefix=prefix, build=str(BUILD))
    return prefix, dest


def test_install_provides_what_the_dockerfile_and_unit_use(installed):
    prefix, dest = installed
    _, docker_dest = dockerfile_install_args()
    copied_to = {d for _, d in context_copies()}
    missing = []
    for name, text in (("docker/Dockerfile", dockerfile()),
                       ("etc/nines.service", (REPO / "etc" / "nines.service").read_text())):
        paths = nines_paths(text)
        assert paths, f"no nines paths found in {name}"
        for p in paths:
            if p in copied_to:  # the image gets it from the build context, not from install
                continue
            if not staged(dest, p).exists():
                missing.append(f"{name}: {p}")
    # The run stage copies from the build stage's DESTDIR.
    for p in re.findall(re.escape(docker_dest) + r"(/[\w./-]+)", dockerfile()):
        if not staged(dest, p).exists():
            missing.append(f"docker/Dockerfile: {docker_dest}{p}")
    assert not missing, f"make install PREFIX={prefix} does not create: {missing}"
    for p in ("/usr/sbin/nines", "/usr/sbin/ninesctl"):
        assert os.access(staged(dest, p), os.X_OK), p


def test_install_layout(installed):
    prefix, dest = installed
    for page in MAN_DIR.iterdir():
        section = page.suffix.lstrip(".")
        assert staged(dest, f"{prefix}/share/man/man{section}/{page.name}").is_file(), page.name
    conf = staged(dest, "/etc/nines/nines.conf")
    assert conf.read_text() == (REPO / "etc" / "nines.conf").read_text()
    # The examples need editing: they go next to the docs, never into the live services dir.
    examples = sorted(p.name for p in (REPO / "services").glob("*.conf"))
    assert examples
    assert sorted(p.name for p in staged(dest, f"{prefix}/share/nines/examples").iterdir()) \
        == examples
    assert staged(dest, "/etc/nines/services").is_dir()
    assert not list(staged(dest, "/etc/nines/services").iterdir())
    unit = staged(dest, f"{prefix}/lib/systemd/system/nines.service")
    assert unit.read_text() == (REPO / "etc" / "nines.service").read_text()


def test_install_unit_follows_prefix_and_sysconfdir(tmp_path):
    make_install(REPO, tmp_path, prefix="/opt/n", sysconfdir="/opt/etc", build=str(BUILD))
    unit = (tmp_path / "opt/n/lib/systemd/system/nines.service").read_text()
    assert "ExecStart=/opt/n/sbin/nines -c /opt/etc/nines/nines.conf" in unit
    assert (tmp_path / "opt/etc/nines/nines.conf").is_file()
    assert (tmp_path / "opt/n/sbin/ninesctl").is_file()


def test_install_keeps_an_existing_config(tmp_path):
    """Without DESTDIR (a live install) an operator's nines.conf is never overwritten."""
    etc = tmp_path / "etc"
    (etc / "nines").mkdir(parents=True)
    (etc / "nines" / "nines.conf").write_text("[nines]\n; mine\n")
    argv = ["make", "-s", "-C", str(REPO), f"BUILD={BUILD}", f"PREFIX={tmp_path}/usr",
            f"SYSCONFDIR={etc}", "-o", f"{BUILD}/nines", "-o", f"{BUILD}/ninesctl", "install"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (etc / "nines" / "nines.conf").read_text() == "[nines]\n; mine\n"
    assert "keeping the existing" in r.stdout
    assert (tmp_path / "usr" / "sbin" / "nines").is_file()


def test_dockerfile_build_stage_without_docker(tmp_path):
    """The build stage's context holds only what its COPY lines bring (Makefile, src/): its
    `make install` must still produce what the run stage copies out of it."""
    stages = re.split(r"^FROM\s", dockerfile(), flags=re.M)
    assert len(stages) >= 3, "docker/Dockerfile: expected a build stage and a run stage"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for sources, dest in context_copies(stages[1]):
        assert not dest.startswith("/"), f"build stage COPY to {dest}: WORKDIR expected"
        for s in sources:
            docker_copy(s, dest, ctx)
    assert (ctx / "Makefile").is_file() and (ctx / "src").is_dir(), sorted(os.listdir(ctx))
    (ctx / "build").mkdir()
    for prog in ("nines", "ninesctl"):
        shutil.copy(BUILD / prog, ctx / "build" / prog)
    prefix, docker_dest = dockerfile_install_args()
    out = tmp_path / "out"
    make_install(ctx, out, prefix=prefix)
    wanted = re.findall(re.escape(docker_dest) + r"(/[\w./-]+)", dockerfile())
    assert wanted
    for p in wanted:
        assert staged(out, p).exists(), f"{docker_dest}{p}"


# --------------------------------------------------------------------------- (c) --check

def test_marked_service_examples_pass_check(tmp_path):
    blocks = [t for info, t in md_code_blocks() if "service-file" in info.split()]
    if not blocks:
        pytest.skip("docs/config.md marks no code block as a complete service file "
                    "(```ini service-file)")
    nines = BUILD / "nines"
    for d in ("services", "run", "state", "log"):
        (tmp_path / d).mkdir()
    (tmp_path / "nines.conf").write_text(
        "[nines]\nservices_dir = services\nrun_dir = run\nstate_dir = state\nlog_dir = log\n")
    for i, text in enumerate(blocks):
        (tmp_path / "services" / f"example{i}.conf").write_text(text)
    r = subprocess.run([str(nines), "--check", "-c", str(tmp_path / "nines.conf")],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
