"""discord.js for the end-to-end tests: installed once with npm into a cache directory outside the
work tree, found by the sample bot (services/bot-js/bot.js) through NODE_PATH.

The cache directory is $NINES_NPM_CACHE when set, else /var/cache/nines-test/npm when it can be
created and written (CI runs as root), else ~/.cache/nines-npm. What is installed is the
`dependencies` of services/bot-js/package.json (one source of truth for the version). A cached
install is reused when its version satisfies the spec's major version and is not older than the
spec's base version. Installs are serialised with a lock file, so the normal and the sanitizer
runs may share one cache.

discord_js(): (node_modules path, None) when ready, or (None, reason) when the tests must be
skipped: only when node or npm is missing, or when the npm registry cannot be reached. Any
other npm failure raises, so a broken install is a test failure, not a silent skip.
"""

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE_JSON = ROOT / "services" / "bot-js" / "package.json"
INSTALL_TIMEOUT = 300.0


def cache_dir():
    env = os.environ.get("NINES_NPM_CACHE")
    if env:
        return Path(env)
    system = Path("/var/cache/nines-test/npm")
    try:
        system.mkdir(parents=True, exist_ok=True)
        if os.access(system, os.W_OK):
            return system
    except OSError:
        pass
    return Path.home() / ".cache" / "nines-npm"


def _version_tuple(text):
    out = []
    for part in text.split("-", 1)[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple((out + [0, 0, 0])[:3])


def _satisfied(installed, spec):
    """Enough of semver for `^X.Y.Z`, `X`, `X.Y.Z`: same major, not older than the base."""
    base = _version_tuple(spec.lstrip("^~=v "))
    have = _version_tuple(installed)
    return have[0] == base[0] and have >= base


def _installed_version(node_modules, name):
    try:
        return json.loads((node_modules / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def _wanted():
    deps = json.loads(PACKAGE_JSON.read_text())["dependencies"]
    return dict(deps)


def _missing(node_modules, wanted):
    return [f"{n}@{s}" for n, s in wanted.items()
            if not (v := _installed_version(node_modules, n)) or not _satisfied(v, s)]


def _registry_reachable(npm, env):
    """npm's own client asks the registry it is configured for; a few seconds at most."""
    try:
        p = subprocess.run([npm, "ping"], capture_output=True, timeout=30, env=env,
                           stdin=subprocess.DEVNULL)
        return p.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def discord_js():
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return None, "node/npm not installed: the discord.js end-to-end test needs Node.js >= 18"
    base = cache_dir()
    node_modules = base / "node_modules"
    wanted = _wanted()
    if not _missing(node_modules, wanted):
        return node_modules, None
    base.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("npm_config_update_notifier", "false")
    with open(base / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        missing = _missing(node_modules, wanted)   # another run may have installed it meanwhile
        if not missing:
            return node_modules, None
        argv = [npm, "install", "--prefix", str(base), "--no-audit", "--no-fund",
                "--prefer-offline", "--loglevel=error", *missing]
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                               env=env, stdin=subprocess.DEVNULL)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc, out = None, f"timed out after {INSTALL_TIMEOUT:.0f}s: {e.stdout or ''}{e.stderr or ''}"
        if rc != 0 or _missing(node_modules, wanted):
            if not _registry_reachable(npm, env):
                said = " | ".join(l.strip() for l in out.strip().splitlines()[:2])
                return None, (f"the npm registry cannot be reached, and {', '.join(missing)} is "
                              f"not in the cache {base} (npm install said: {said})")
            raise RuntimeError(f"`{' '.join(argv)}` failed (rc {rc}) although the registry "
                               f"answers:\n{out}")
    return node_modules, None
