#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Where the time goes: counts the instructions ktap2junit executes on the
# first PROFILE_MB MB of a log (cut after its last top-level result line
# there, so that no test is cut off) with callgrind (valgrind), for JUnit
# and for --json, and prints them per result line of the log (per test
# case) and per layer: the reader (src/reader, line scan, UTF-8 checks),
# the core (src/ktap), the writers (src/writers, formatting), the
# allocator and memcpy.  Instruction counts do not depend on the machine's
# load, so they compare across runs where times cannot.
#
# Usage: profile.sh [LOG]
#   LOG  default: the test-dense log bench.sh generates
#        ($BENCH_DIR/dense-v1.log; run bench.sh first)
#
# Environment:
#   PROFILE_MB       size of the slice profiled (default 10)
#   BENCH_DIR        where bench.sh keeps its logs (default
#                    $TEST_KMOD_CACHE/ktap2junit-bench)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)

set -euo pipefail
for a in "$@"; do
	case $a in -h|--help) sed -n '4,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
BENCH_DIR=${BENCH_DIR:-$CACHE/ktap2junit-bench}
PROFILE_MB=${PROFILE_MB:-10}
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
LOG=${1:-$BENCH_DIR/dense-v1.log}

for tool in valgrind callgrind_annotate python3; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "profile.sh: $tool missing (apt-get install valgrind python3)" >&2
		exit 2
	fi
done
if [ ! -s "$LOG" ]; then
	echo "profile.sh: no log at $LOG (run bench.sh first, or name one)" >&2
	exit 2
fi

(cd "$HERE" && cargo build --release --quiet)
BIN="$TARGET/release/ktap2junit"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LC_ALL=C awk -v limit=$((PROFILE_MB * 1000 * 1000)) '
{ bytes += length($0) + 1; if (bytes > limit) exit; line[NR] = $0 }
/^(\[[^]]*\] )?(not )?ok [0-9]/ { last = NR }
END { if (!last) last = NR; for (i = 1; i <= last; i++) print line[i] }' "$LOG" >"$TMP/slice.log"
TESTS=$(grep -c -E '^(\[[^]]*\])? *(not )?ok [0-9]' "$TMP/slice.log" || true)
LINES=$(wc -l <"$TMP/slice.log")
echo "$(basename "$LOG"), first $PROFILE_MB MB: $LINES lines, $TESTS result lines"

for mode in JUnit --json; do
	args=(-q -o /dev/null)
	[ "$mode" = JUnit ] || args=(-q --json=/dev/null)
	valgrind --tool=callgrind --separate-threads=yes \
		--callgrind-out-file="$TMP/cg.$mode" "$BIN" "${args[@]}" "$TMP/slice.log" 2>/dev/null || true
	echo
	echo "$mode: instructions per result line"
	python3 - "$TESTS" "$LINES" "$TMP"/cg."$mode"* <<'PY'
import collections, re, subprocess, sys

def layer(fn):
    if "ktap2junit::reader" in fn or "memchr" in fn or "str::converts" in fn:
        return "reader"
    if "ktap2junit::ktap" in fn or "nom::" in fn:
        return "core"
    if "ktap2junit::writers" in fn or "fmt" in fn or "Display" in fn:
        return "writers"
    if re.search(r"malloc|free|realloc|raw_vec|drop_in_place", fn):
        return "allocator"
    if re.search(r"memmove|memcpy|memcmp|memset", fn):
        return "memcpy"
    return "other"

tests, lines = max(int(sys.argv[1]), 1), max(int(sys.argv[2]), 1)
total = collections.Counter()
funcs = collections.defaultdict(collections.Counter)
for f in sys.argv[3:]:
    out = subprocess.run(["callgrind_annotate", "--threshold=100", f],
                         capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([\s\d.]+%\)\s+(.*)", line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        n, fn = int(m.group(1).replace(",", "")), m.group(2).split(" [")[0]
        fn = fn.split(":", 1)[-1]
        total[layer(fn)] += n
        funcs[layer(fn)][fn] += n
print(f"  all        {sum(total.values()) / tests:6.0f}"
      f"  ({sum(total.values()) / lines:.0f} per line of the log)")
for name, n in total.most_common():
    print(f"  {name:10} {n / tests:6.0f}")
    for fn, k in funcs[name].most_common(4):
        if k / tests >= 20:
            print(f"  {'':10} {k / tests:6.0f}  {fn[:70]}")
PY
done
