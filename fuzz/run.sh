#!/usr/bin/env bash
# nines fuzzing: builds every libFuzzer target (fuzz/TARGET.c, one per file) with clang, ASan and
# UBSan into build-fuzz/, replays every input kept in fuzz/regressions/TARGET/ and
# fuzz/corpus/TARGET/, then fuzzes each target for SECONDS (FUZZ_JOBS targets at a time).
#
#   fuzz/run.sh                  build, replay, 10 s per target (about a minute on 2 cores)
#   fuzz/run.sh 3600             a long run: one hour per target
#   fuzz/run.sh 600 token proto  only these targets
#   fuzz/run.sh 0                build and replay only
#
# Exits non-zero when the build fails, a kept input crashes, leaks or times out, or fuzzing finds
# a new one. New crash inputs land in build-fuzz/artifacts/TARGET/ (fix the bug, then copy the
# input into fuzz/regressions/TARGET/ so the replay keeps it fixed); logs in build-fuzz/logs/.
# Inputs the fuzzer finds interesting are kept in build-fuzz/corpus/TARGET/ between runs; the seed
# corpus in fuzz/corpus/ is only read. Environment: FUZZ_JOBS (default 2), CLANG (default clang).
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-10}
[ $# -gt 0 ] && shift
case $secs in
'' | *[!0-9]*) echo "usage: fuzz/run.sh [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
jobs_max=${FUZZ_JOBS:-2}
cc=${CLANG:-clang}
out=build-fuzz
root=$PWD

if [ $# -gt 0 ]; then
	targets=("$@")
else
	targets=()
	for f in fuzz/*.c; do
		t=${f#fuzz/}
		targets+=("${t%.c}")
	done
fi
for t in "${targets[@]}"; do
	[ -f "fuzz/$t.c" ] || { echo "fuzz/run.sh: no target fuzz/$t.c" >&2; exit 2; }
done

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz/run.sh: $cc not found (apt-get install clang libclang-rt-14-dev)" >&2
	exit 1
fi

san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
pkg_cflags=$(pkg-config --cflags libcurl inih libcap 2>/dev/null || true)
pkg_libs=$(pkg-config --libs inih libcap 2>/dev/null || echo "-linih -lcap")
base="-std=c11 -D_GNU_SOURCE -O1 -g -Isrc $pkg_cflags $san"
warn="-Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2"
# The module sources get the gcc build's warnings without -Werror (the gcc build enforces them;
# a clang-only warning must not stop fuzzing); the targets are held to -Werror.
src_cflags="$base $warn -fsanitize=fuzzer-no-link"
fuzz_cflags="$base $warn -Werror -Wno-missing-prototypes -fsanitize=fuzzer-no-link"

mkdir -p "$out/obj" "$out/logs" "$out/tmp"

# Runs at most jobs_max background commands at a time; waits for a slot.
pids=()
cleanup() {
	for p in "${pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
slot() {
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n || true
	done
}

# True when $1 is missing or older than a file its .d dependency list ($2) names.
stale() {
	local obj=$1 dep=$2 f
	[ -f "$obj" ] && [ -f "$dep" ] || return 0
	# shellcheck disable=SC2013 # words: the paths of a .d file
	for f in $(sed -e 's/^[^:]*://' -e 's/\\$//' "$dep"); do
		[ "$f" -nt "$obj" ] && return 0
	done
	return 1
}

# ---- build
echo "== fuzz: building targets with $cc into $out/"
fail=0
lib_objs=()
for c in src/*.c; do
	m=${c#src/}
	m=${m%.c}
	case $m in main | ninesctl) continue ;; esac
	o=$out/obj/$m.o
	lib_objs+=("$o")
	rm -f "$out/obj/$m.failed"
	if stale "$o" "$out/obj/$m.d"; then
		slot
		# shellcheck disable=SC2086
		{ $cc $src_cflags -MMD -MF "$out/obj/$m.d" -c -o "$o" "$c" || touch "$out/obj/$m.failed"; } &
		pids+=($!)
	fi
done
wait
pids=()
if compgen -G "$out/obj/*.failed" >/dev/null; then
	echo "fuzz/run.sh: compiling src/ failed" >&2
	exit 1
fi
lib=$out/libnines-fuzz.a
rm -f "$lib"
ar rcs "$lib" "${lib_objs[@]}"
for t in "${targets[@]}"; do
	o=$out/obj/fuzz_$t.o
	if stale "$o" "$out/obj/fuzz_$t.d"; then
		# shellcheck disable=SC2086
		$cc $fuzz_cflags -MMD -MF "$out/obj/fuzz_$t.d" -c -o "$o" "fuzz/$t.c" || fail=1
	fi
	# shellcheck disable=SC2086
	$cc $san -fsanitize=fuzzer -o "$out/fuzz_$t" "$o" "$lib" $pkg_libs -ldl || fail=1
done
[ $fail -eq 0 ] || { echo "fuzz/run.sh: building the targets failed" >&2; exit 1; }

# Sanitizers: every report is fatal, leaks count. Config targets write their files under TMPDIR.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TMPDIR="$root/$out/tmp"
common=(-rss_limit_mb=2048 -timeout=5)

# Per-target options: a dictionary when there is one; longer inputs where lines must exceed
# LINEBUF_MAX (4096) to reach the cut path.
target_opts() {
	local t=$1
	[ -f "fuzz/$t.dict" ] && printf '%s\n' "-dict=fuzz/$t.dict"
	case $t in
	logline) printf '%s\n' -max_len=20000 ;;
	*) printf '%s\n' -max_len=4096 ;;
	esac
}

# ---- replay kept inputs (regressions first), each once
echo "== fuzz: replaying fuzz/regressions/ and fuzz/corpus/"
failed=()
for t in "${targets[@]}"; do
	files=()
	for d in "fuzz/regressions/$t" "fuzz/corpus/$t"; do
		[ -d "$d" ] || continue
		while IFS= read -r -d '' f; do
			files+=("$f")
		done < <(find "$d" -type f ! -name '.*' ! -name README -print0 | sort -z)
	done
	[ ${#files[@]} -gt 0 ] || continue
	log=$out/logs/$t.replay.log
	if "$out/fuzz_$t" "${common[@]}" "${files[@]}" >"$log" 2>&1; then
		echo "   $t: ${#files[@]} inputs ok"
	else
		echo "   $t: FAILED replaying kept inputs ($log):"
		grep -E '^(Running|==[0-9]+==ERROR|SUMMARY)|runtime error|check failed|deadly signal|ERROR: libFuzzer' "$log" |
			tail -n 20 | sed 's/^/      /'
		failed+=("$t")
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz/run.sh: kept inputs fail for: ${failed[*]}" >&2
	exit 1
fi
[ "$secs" -gt 0 ] || exit 0

# ---- fuzz
echo "== fuzz: $secs s per target, $jobs_max at a time"
fuzz_one() {
	local t=$1 rc log dirs=() opts=()
	log=$out/logs/$t.log
	mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
	dirs+=("$out/corpus/$t")
	for d in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	mapfile -t opts < <(target_opts "$t")
	rc=0
	"$out/fuzz_$t" "${common[@]}" "${opts[@]}" -max_total_time="$secs" -print_final_stats=1 \
		-artifact_prefix="$out/artifacts/$t/" "${dirs[@]}" >"$log" 2>&1 || rc=$?
	echo "$rc" >"$out/logs/$t.rc"
}
for t in "${targets[@]}"; do
	rm -f "$out/logs/$t.rc"
	slot
	fuzz_one "$t" &
	pids+=($!)
done
wait
for t in "${targets[@]}"; do
	log=$out/logs/$t.log
	if [ "$(cat "$out/logs/$t.rc" 2>/dev/null)" = 0 ]; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1)
		echo "   $t: ok (${runs:-?} runs, ${cov:-cov: ?})"
	else
		echo "   $t: FAILED ($log):"
		grep -E '^(==[0-9]+==ERROR|SUMMARY)|runtime error|check failed|deadly signal|Test unit written|ERROR: libFuzzer' "$log" |
			tail -n 20 | sed 's/^/      /'
		failed+=("$t")
	fi
done
pids=()
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz/run.sh: fuzzing found problems in: ${failed[*]} (inputs in $out/artifacts/)" >&2
	exit 1
fi
echo "== fuzz: all targets passed"
