#!/bin/sh
# nines build driver.
#   ./build.sh run    install what is missing, build, run the demo
#   ./build.sh test   install what is missing, build normal + ASan/UBSan, run every test on both
#   ./build.sh build  install what is missing, build both variants
#   ./build.sh deps   only install what is missing (Debian 12, as root, with apt-get)
set -eu
cd "$(dirname "$0")"

# Build tools, libraries (pkg-config names libcurl, inih, libcap), test tools. procps gives ps/pkill
# to the tests; tini and dumb-init are the peers bench/ compares against.
PACKAGES="gcc make libc6-dev pkg-config libcurl4-openssl-dev libinih-dev libcap-dev libcmocka-dev
python3 python3-pytest python3-discord procps util-linux bsdutils cppcheck openssl tini dumb-init
clang libclang-rt-14-dev"

deps() {
    missing=""
    for p in $PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "build.sh: missing packages:$missing (run as root, or apt-get install them)" >&2
        exit 1
    fi
    echo "build.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

jobs() { nproc 2>/dev/null || echo 2; }

build() {
    make -j"$(jobs)" all
    make -j"$(jobs)" SAN=1 all
}

lint() {
    cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
        --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -Isrc src/
}

# Runs the unit tests and the black-box suite against one build directory.
test_one() {
    dir=$1
    echo "== unit tests ($dir)"
    make --no-print-directory BUILD="$dir" SAN="$2" unit
    echo "== black-box tests ($dir)"
    # pytest exits 5 when it collected nothing: that is a failure here too. To stay inside CI's
    # time: the fake Discord's own tests (they do not run nines), the real-bot end-to-end runs
    # and the chaos run go once, on the normal build; every other test runs on both.
    extra=""
    [ "$2" = 1 ] && extra="--ignore=tests/pytest/test_fake_discord.py --ignore=tests/pytest/test_bot.py --ignore=tests/pytest/test_chaos.py"
    # shellcheck disable=SC2086
    NINES_BUILD="$PWD/$dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider --durations=8 $extra tests/pytest
}

run_tests() {
    lint
    # Sanitizers: any report is fatal, and leaks count.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    test_one build 0
    test_one build-san 1
    # libFuzzer (clang, ASan+UBSan): replay every kept input, then a short run per target.
    # A long run is `fuzz/run.sh 3600`.
    echo "== fuzzing (replay + ${FUZZ_SECONDS:-5} s per target)"
    fuzz/run.sh "${FUZZ_SECONDS:-5}"
    echo "== all tests passed (normal and ASan+UBSan builds, fuzz replay)"
}

# The demo: nines in the foreground supervising a fake Discord and the sample discord.py bot
# (services/bot/bot.py), with health checks, sd_notify readiness and a token file. Everything
# lives in build/demo; Ctrl-C stops it all.
demo() {
    d="$PWD/build/demo"
    rm -rf "$d"
    mkdir -p "$d/services" "$d/run" "$d/state" "$d/log"
    # A fake token for the fake Discord, built from parts like the tests do.
    tok=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/pytest"); from tokens import fake_token; print(fake_token()[0])')
    printf '%s\n' "$tok" > "$d/token"
    printf '%s\n' "$tok" > "$d/valid-tokens"
    chmod 600 "$d/token"
    cat > "$d/nines.conf" <<EOF2
[nines]
services_dir = $d/services
run_dir = $d/run
state_dir = $d/state
log_dir = $d/log
console = yes
EOF2
    cat > "$d/services/fake-discord.conf" <<EOF2
[service]
command = /usr/bin/python3 $PWD/tests/fake_discord.py --port 18089 --token-file $d/valid-tokens
ready = healthy
[health]
tcp = 127.0.0.1:18089
interval = 1s
EOF2
    cat > "$d/services/bot.conf" <<EOF2
[service]
command = /usr/bin/python3 $PWD/services/bot/bot.py
env = HEALTH_PORT=18081
env = DISCORD_API_BASE=http://127.0.0.1:18089/api/v10
after = fake-discord
ready = notify
[restart]
delay = 1s
[health]
url = http://127.0.0.1:18081/health
interval = 5s
start_period = 30s
[auth]
token_file = $d/token
[notify]
watchdog = 30s
EOF2
    echo "== nines supervising a fake Discord and the sample discord.py bot (Ctrl-C stops all)"
    echo "   in another terminal:  $PWD/build/ninesctl -s $d/run/control.sock status"
    echo "                         $PWD/build/ninesctl -s $d/run/control.sock log bot -f"
    echo "   revoke the token:     curl -d '{\"all\":true}' http://127.0.0.1:18089/_control/revoke"
    echo "   then a new token:     (see tests/pytest/test_bot.py) -> AUTHFAIL, then RUNNING again"
    exec build/nines -c "$d/nines.conf"
}

case "${1:-build}" in
deps) deps ;;
build) deps; build ;;
test) deps; build; run_tests ;;
run) deps; make -j"$(jobs)" all; demo ;;
*) echo "usage: $0 run|test|build|deps" >&2; exit 2 ;;
esac
