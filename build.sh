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
python3 python3-pytest procps util-linux bsdutils cppcheck tini dumb-init"

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
    # pytest exits 5 when it collected nothing: that is a failure here too.
    NINES_BUILD="$PWD/$dir" /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/pytest
}

run_tests() {
    lint
    # Sanitizers: any report is fatal, and leaks count.
    export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
    export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
    test_one build 0
    test_one build-san 1
    echo "== all tests passed (normal and ASan+UBSan builds)"
}

demo() {
    N=build/nines
    echo "== nines as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc)"
    echo "   the child starts 200 short-lived orphans, then a daemon that traps TERM,"
    echo "   then exits 3; nines reaps them all, stops the daemon gracefully, exits 3."
    set +e
    unshare --pid --fork --mount-proc "$N" -v -- sh -c '
        for i in $(seq 200); do sh -c "sleep 0.2 &"; done
        setsid sh -c "trap \"echo daemon: got TERM, finishing; sleep 0.5; echo daemon: done; exit 0\" TERM
                      while :; do sleep 0.1; done" &
        sleep 0.5
        echo "child: $(ps -eo stat= | grep -c ^Z) zombies left, exiting 3"
        exit 3'
    echo "== nines exited with $? (the child's status)"
    echo "== the tini-style use in a container: ENTRYPOINT [\"nines\", \"--\"]"
}

case "${1:-build}" in
deps) deps ;;
build) deps; build ;;
test) deps; build; run_tests ;;
run) deps; make -j"$(jobs)" all; demo ;;
*) echo "usage: $0 run|test|build|deps" >&2; exit 2 ;;
esac
