#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark (not a test): generate a ~100 MB KUnit serial-console log and
# time `ktap2junit` against `kunit.py parse --json` on it, printing MB/s,
# peak RSS and the speed ratio.
#
# The generated log looks like a boot log of a kernel running many KUnit
# suites: printk timestamps, suites of 40 cases (some parameterised, ~3%
# failing with KUnit expectation diagnostics, ~4% skipped) and driver noise
# between the results.
#
# Environment:
#   KDIR / TEST_KMOD_CACHE   kernel tree with tools/testing/kunit/kunit.py
#   BENCH_MB                 size of the generated log (default 100)
#   KUNIT_TIMEOUT            seconds allowed for kunit.py on the full log
#                            (default 900); if exceeded, kunit.py is timed on
#                            a 10 MB slice instead and the ratio is computed
#                            on that slice
#   CARGO_TARGET_DIR         cargo target dir (default parser/target)
#   BENCH_LOG                keep the generated log at this path (reused by
#                            later runs if it exists)
#   BENCH_RUNS               ktap2junit runs per mode (default 10: on a
#                            shared host single runs vary by +-30 %); the
#                            fastest and the median are printed; kunit.py
#                            runs once, its 10 s average out such noise

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TEST_KMOD_CACHE:-$HOME/.cache/test-kmod-rust}
KDIR=${KDIR:-$CACHE/linux-source-7.3}
KUNIT="$KDIR/tools/testing/kunit/kunit.py"
BENCH_MB=${BENCH_MB:-100}
BENCH_RUNS=${BENCH_RUNS:-10}
KUNIT_TIMEOUT=${KUNIT_TIMEOUT:-900}
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
BIN="$TARGET/release/ktap2junit"

for tool in /usr/bin/time python3; do
	command -v "$tool" >/dev/null 2>&1 && continue
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get install -y -qq "${tool##*/}" >/dev/null
	else
		echo "bench.sh: $tool missing (apt-get install ${tool##*/})" >&2
		exit 2
	fi
done

(cd "$HERE" && cargo build --release --quiet)

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
LOG=${BENCH_LOG:-$TMP/kunit.log}
if [ -s "$LOG" ]; then
	echo "reusing $LOG"
	SUITES=$(grep -c -E '^\[[^]]*\] {5}# Subtest: ' "$LOG")
else
echo "generating a ${BENCH_MB} MB KUnit log in $TMP ..."
awk -v target=$((BENCH_MB * 1000 * 1000)) -v BODY="$TMP/body" '
function ts() { t += 0.000137 + (n % 7) * 0.00001; n++; return sprintf("[%5d.%06d] ", int(t), (t - int(t)) * 1000000) }
function out(s) { body = body s "\n"; if (length(body) > 65536) { printf "%s", body > BODY; bytes += length(body); body = "" } }
BEGIN {

	t = 1.0; n = 0; suites = 0; bytes = 0; body = ""
	split("probing device;registered driver;firmware loaded from /lib/firmware/kmod/test.bin;irq 42 enabled;dma mask set to 64 bits;clock rate 19200000 Hz", noise, ";")
	while (bytes < target) {
		suites++
		s = sprintf("test_kmod_%05d", suites)
		out(ts() "    KTAP version 1")
		out(ts() "    # Subtest: " s)
		out(ts() "    # module: " s)
		out(ts() "    1..40")
		for (c = 1; c <= 40; c++) {
			name = sprintf("kmod_test_%04d_driver", c)
			k = (suites * 40 + c) % 97
			for (j = 0; j < 2 + (k % 9); j++)
				out(ts() s ": " name ": " noise[1 + (k + j) % 6] " (iteration " j ")")
			if (c % 10 == 0) {
				out(ts() "        KTAP version 1")
				out(ts() "        # Subtest: " name)
				out(ts() "        1..3")
				for (p = 1; p <= 3; p++) out(ts() "        ok " p " " name ".param" p)
				out(ts() "    # " name ": pass:3 fail:0 skip:0 total:3")
				out(ts() "    ok " c " " name)
			} else if (k < 3) {
				out(ts() "    # " name ": EXPECTATION FAILED at rust/kernel/kmod_test.rs:" 100 + k)
				out(ts() "    Expected ret == 0, but")
				out(ts() "        ret == -2 (0xfffffffffffffffe)")
				out(ts() "    not ok " c " " name)
			} else if (k < 7) {
				out(ts() "    ok " c " " name " # SKIP requires CONFIG_KMOD_TEST_HW")
			} else {
				out(ts() "    ok " c " " name)
			}
		}
		out(ts() "# " s ": pass:38 fail:1 skip:1 total:40")
		out(ts() "not ok " suites " " s)
	}
	printf "%s", body > BODY
	print suites
}' /dev/null >"$TMP/suites"
SUITES=$(cat "$TMP/suites")
{
	printf '[    0.000000] Linux version 7.3.0 (bench@ci) #1 SMP PREEMPT_DYNAMIC\n'
	printf '[    1.000000] KTAP version 1\n[    1.000000] 1..%d\n' "$SUITES"
	cat "$TMP/body"
	printf '[99999.000000] reboot: System halted\n'
} >"$LOG"
rm -f "$TMP/body"
fi
SIZE=$(stat -c %s "$LOG")
MB=$(awk -v b="$SIZE" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "log: $MB MB, $(wc -l <"$LOG") lines, $SUITES suites"

# measure NAME CMD...: run CMD once (stdout discarded); sets SECS (wall
# clock, millisecond resolution: /usr/bin/time has only 10 ms) and RSS_MB
# (peak resident set size, from /usr/bin/time)
measure() {
	local name=$1 status
	shift
	read -r SECS status < <(python3 -c '
import subprocess, sys, time
t = time.perf_counter()
r = subprocess.run(sys.argv[2:], stdout=subprocess.DEVNULL, stderr=open(sys.argv[1], "w"))
print(f"{time.perf_counter() - t:.3f} {r.returncode}")
' "$TMP/err.$name" /usr/bin/time -f %M -o "$TMP/rss.$name" "$@")
	RSS_MB=$(awk '{ v = $1 } END { printf "%.1f", v / 1024 }' "$TMP/rss.$name")
	echo "  $name: ${SECS}s, peak RSS ${RSS_MB} MB, exit $status"
}
# best NAME CMD...: measure CMD BENCH_RUNS times; SECS and RSS_MB are those
# of the fastest run, MED_SECS the median time
best() {
	local name=$1 i b_secs="" b_rss="" all=""
	shift
	for i in $(seq "$BENCH_RUNS"); do
		measure "$name" "$@"
		all="$all $SECS"
		if [ -z "$b_secs" ] || awk -v a="$SECS" -v b="$b_secs" 'BEGIN { exit !(a < b) }'; then
			b_secs=$SECS b_rss=$RSS_MB
		fi
	done
	MED_SECS=$(printf '%s\n' $all | sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
	SECS=$b_secs RSS_MB=$b_rss
	echo "  $name: fastest of $BENCH_RUNS: ${SECS}s, median ${MED_SECS}s, peak RSS ${RSS_MB} MB"
}
rate() { awk -v mb="$1" -v s="$2" 'BEGIN { if (s <= 0) s = 0.001; printf "%.0f", mb / s }'; }

echo "load before the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ktap2junit (JUnit) on the full log:"
best ktap2junit "$BIN" -q -o "$TMP/out.xml" "$LOG"
K_SECS=$SECS K_RSS=$RSS_MB K_MED=$MED_SECS
echo "ktap2junit --json on the full log:"
best ktap2junit_json "$BIN" -q --json -o "$TMP/out.json" "$LOG"
KJ_SECS=$SECS KJ_RSS=$RSS_MB KJ_MED=$MED_SECS

if [ ! -f "$KUNIT" ] || ! command -v python3 >/dev/null 2>&1; then
	echo "kunit.py not found at $KUNIT (or no python3): ktap2junit only"
	echo "RESULT ktap2junit: $(rate "$MB" "$K_SECS") MB/s, peak RSS $K_RSS MB"
	exit 0
fi

echo "kunit.py parse --json on the full log (timeout ${KUNIT_TIMEOUT}s):"
measure kunit timeout "$KUNIT_TIMEOUT" python3 "$KUNIT" parse --json="$TMP/kunit.json" "$LOG"
if [ -s "$TMP/kunit.json" ]; then
	P_SECS=$SECS P_RSS=$RSS_MB P_MB=$MB
	cmp -s "$TMP/kunit.json" "$TMP/out.json" && echo "  JSON output identical to ktap2junit --json" ||
		echo "  NOTE: JSON differs from ktap2junit --json"
	KS_SECS=$KJ_SECS KS_MED=$KJ_MED SLICE="full log"
else
	echo "  kunit.py did not finish in ${KUNIT_TIMEOUT}s: timing both on a 10 MB slice"
	head -c 10000000 "$LOG" >"$TMP/slice.log"
	P_MB=$(awk -v b="$(stat -c %s "$TMP/slice.log")" 'BEGIN { printf "%.1f", b / 1e6 }')
	measure kunit_slice python3 "$KUNIT" parse --json="$TMP/kunit.json" "$TMP/slice.log"
	P_SECS=$SECS P_RSS=$RSS_MB
	best ktap2junit_slice "$BIN" -q --json -o "$TMP/out.json" "$TMP/slice.log"
	KS_SECS=$SECS KS_MED=$MED_SECS SLICE="10 MB slice"
fi

echo
echo "RESULT ($(date +%F), $(nproc) cores, log $MB MB, load average $(cut -d' ' -f1-3 /proc/loadavg)):"
echo "  ktap2junit JUnit : $(rate "$MB" "$K_SECS") MB/s (fastest ${K_SECS}s, median ${K_MED}s), peak RSS $K_RSS MB"
echo "  ktap2junit --json: $(rate "$MB" "$KJ_SECS") MB/s (fastest ${KJ_SECS}s, median ${KJ_MED}s), peak RSS $KJ_RSS MB"
echo "  kunit.py --json  : $(rate "$P_MB" "$P_SECS") MB/s (${P_SECS}s on the $SLICE), peak RSS $P_RSS MB"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b <= 0) b = 0.001; printf "%.0fx", a / b }'; }
if [ "$SLICE" = "full log" ]; then
	echo "  speed ratio, kunit.py time / ktap2junit --json time: $(ratio "$P_SECS" "$KS_SECS") (fastest), $(ratio "$P_SECS" "$KS_MED") (median)"
	echo "  speed ratio, kunit.py time / ktap2junit JUnit time:  $(ratio "$P_SECS" "$K_SECS") (fastest), $(ratio "$P_SECS" "$K_MED") (median)"
else
	echo "  speed ratio on the 10 MB slice: $(ratio "$P_SECS" "$KS_SECS") (fastest), $(ratio "$P_SECS" "$KS_MED") (median) (ktap2junit's time on a 10 MB slice is dominated by start-up; MB/s above are the honest comparison)"
fi
