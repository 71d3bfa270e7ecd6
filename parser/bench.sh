#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Benchmark (not a test): times this tree's ktap2junit against a baseline
# revision's, and against `kunit.py parse --json`, on two generated logs:
#
#   bench  ~100 MB serial-console boot log of a kernel running many KUnit
#          suites: printk timestamps, 3862 suites of 40 cases (every tenth
#          parameterised, ~3 % failing with KUnit expectation diagnostics,
#          ~4 % skipped), 2-10 driver log lines before each result;
#   dense  test-dense log: 84 suites x 10,000 cases with printk timestamps,
#          one line per case (~1 % failing, ~2 % skipped), ~100 MB.
#
# The two binaries run alternately (base, this, then this, base, ...),
# BENCH_RUNS times each per log and output format (JUnit and --json); the
# medians of wall time and of CPU time (user + system) are printed, and
# the ratio this/base as the median of the ratios of the runs made side by
# side (on a shared host the load drifts within a batch; two runs in a
# row see about the same).  kunit.py runs once per log (it takes 10-30 s, which
# averages out the noise), and its JSON is compared with ours.
#
# Environment:
#   BENCH_BASE       baseline revision (default main; "none": no baseline),
#                    built by build-base.sh
#   BENCH_RUNS       runs per binary, log and format (default 10)
#   BENCH_KUNIT      0: do not run kunit.py (default 1)
#   BENCH_DIR        where the generated logs are kept and reused (default
#                    $TEST_KMOD_CACHE/ktap2junit-bench)
#   BENCH_GENERATE_ONLY  1: generate the logs (if they are not there yet),
#                    print their paths and stop (junit-compare.sh uses it)
#   KDIR             kernel tree with tools/testing/kunit/kunit.py (default
#                    $TEST_KMOD_CACHE/linux-source-7.3)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)

set -euo pipefail
for a in "$@"; do
	case $a in -h|--help) sed -n '4,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
KDIR=${KDIR:-$CACHE/linux-source-7.3}
KUNIT="$KDIR/tools/testing/kunit/kunit.py"
BENCH_BASE=${BENCH_BASE:-main}
BENCH_RUNS=${BENCH_RUNS:-10}
BENCH_KUNIT=${BENCH_KUNIT:-1}
BENCH_DIR=${BENCH_DIR:-$CACHE/ktap2junit-bench}
TARGET=${CARGO_TARGET_DIR:-$HERE/target}

if ! command -v python3 >/dev/null 2>&1; then
	echo "bench.sh: python3 missing (apt-get install python3)" >&2
	exit 2
fi

(cd "$HERE" && cargo build --release --quiet)
THIS="$TARGET/release/ktap2junit"
BASE_BIN=""
if [ "$BENCH_BASE" != none ]; then
	BASE_BIN=$("$HERE/build-base.sh" "$BENCH_BASE")
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$BENCH_DIR"

# The boot log.  The generator is part of the log's name: a changed
# generator makes a new log.
BENCH_LOG="$BENCH_DIR/bench-v1.log"
if [ ! -s "$BENCH_LOG" ]; then
	echo "generating $BENCH_LOG ..."
	awk -v target=100000000 -v BODY="$TMP/body" '
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
	{
		printf '[    0.000000] Linux version 7.3.0 (bench@ci) #1 SMP PREEMPT_DYNAMIC\n'
		printf '[    1.000000] KTAP version 1\n[    1.000000] 1..%d\n' "$(cat "$TMP/suites")"
		cat "$TMP/body"
		printf '[99999.000000] reboot: System halted\n'
	} >"$TMP/bench.log"
	mv "$TMP/bench.log" "$BENCH_LOG"
fi

# The test-dense log: 84 suites of 10,000 test cases.
DENSE_LOG="$BENCH_DIR/dense-v1.log"
if [ ! -s "$DENSE_LOG" ]; then
	echo "generating $DENSE_LOG ..."
	awk '
function ts() { t += 0.000011 + (n % 5) * 0.000003; n++; return sprintf("[%5d.%06d] ", int(t), (t - int(t)) * 1000000) }
BEGIN {
	t = 1.0; n = 0; suites = 84; cases = 10000
	print "[    0.000000] Linux version 7.3.0 (bench@ci) #1 SMP PREEMPT_DYNAMIC"
	print "[    1.000000] KTAP version 1"
	print "[    1.000000] 1..84"
	for (s = 1; s <= suites; s++) {
		suite = sprintf("kmod_dense_%02d", s)
		print ts() "    KTAP version 1"
		print ts() "    # Subtest: " suite
		print ts() "    1..10000"
		for (c = 1; c <= cases; c++) {
			name = sprintf("kmod_test_%05d_request_module_kmod_test_%05d_load_unload_cycle_%03d_threads_on_%02d_cpus", c, (c * 7919) % 100000, c % 128, 1 + c % 64)
			k = (s * cases + c) % 100
			if (k == 0) {
				print ts() "    # " name ": EXPECTATION FAILED at rust/kernel/kmod_test.rs:210"
				print ts() "    Expected ret == 0, but"
				print ts() "        ret == -110 (0xffffffffffffff92)"
				print ts() "    not ok " c " " name
			} else if (k < 3) {
				print ts() "    ok " c " " name " # SKIP requires CONFIG_KMOD_TEST_HW"
			} else {
				print ts() "    ok " c " " name
			}
		}
		print ts() "not ok " s " " suite
	}
	print "[99999.000000] reboot: System halted"
}' /dev/null >"$TMP/dense.log"
	mv "$TMP/dense.log" "$DENSE_LOG"
fi

if [ "${BENCH_GENERATE_ONLY:-0}" = 1 ]; then
	printf '%s\n' "$BENCH_LOG" "$DENSE_LOG"
	exit 0
fi

for log in "$BENCH_LOG" "$DENSE_LOG"; do
	echo "$(basename "$log"): $(awk -v b="$(stat -c %s "$log")" 'BEGIN { printf "%.1f", b / 1e6 }') MB, $(wc -l <"$log") lines, $(grep -c -E '^\[[^]]*\] *(not )?ok [0-9]' "$log") result lines"
done
echo "this: $THIS"
[ -z "$BASE_BIN" ] || echo "base: $BASE_BIN ($BENCH_BASE)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# Alternate the binaries, BENCH_RUNS runs each, and print the medians.
python3 - "$BENCH_RUNS" "$TMP" "$THIS" "$BASE_BIN" "$BENCH_LOG" "$DENSE_LOG" <<'PY'
import os, statistics, subprocess, sys, time

runs, tmp, this, base = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
logs = sys.argv[5:]
bins = [("base", base), ("this", this)] if base else [("this", this)]
modes = [("JUnit", [], "out.xml"), ("--json", ["--json"], "out.json")]

def kunit_cli(path):
    """Whether the binary has kunit.py's options (--json[=FILE], the
    report on stdout), or is a baseline from before them (--json switched
    -o's format)."""
    out = subprocess.run([path, "--help"], capture_output=True, text=True).stdout
    return "--raw_output" in out

new_cli = {name: kunit_cli(path) for name, path in bins}

def argv_for(name, path, args, out, log):
    """The same work for either command line: the document to `out`, no
    report."""
    if new_cli[name] and args == ["--json"]:
        return [path, "-q", "--json=" + out, log]
    return [path, "-q", *args, "-o", out, log]

def once(argv):
    """Wall and CPU seconds and peak RSS (MB) of one run."""
    rss = os.path.join(tmp, "rss")
    # /usr/bin/time reports the peak RSS of its child alone (a child of
    # this script would inherit the script's).
    argv = ["/usr/bin/time", "-f", "%M", "-o", rss, *argv]
    start = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
        (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
        (os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"bench.sh: {' '.join(argv[5:])} exited {code}")
    with open(rss) as f:
        peak = int(f.read().split()[-1]) / 1024
    return wall, ru.ru_utime + ru.ru_stime, peak

samples = {}
for i in range(runs):
    for log in logs:
        for mode, args, out in modes:
            order = bins if i % 2 == 0 else bins[::-1]
            for name, path in order:
                argv = argv_for(name, path, args, os.path.join(tmp, out), log)
                samples.setdefault((log, mode, name), []).append(once(argv))

med = lambda xs: statistics.median(xs)
print(f"\nmedians of {runs} alternating runs each (wall s, CPU s, peak RSS MB)"
      + ("; this/base: median of the side-by-side ratios" if base else "") + ":")
print(f"{'log':<14}{'format':<8}" + "".join(f"{n + ' wall':>11}{n + ' CPU':>10}{n + ' RSS':>10}" for n, _ in bins)
      + (f"{'this/base wall':>16}{'CPU':>6}" if base else ""))
for log in logs:
    for mode, _, _ in modes:
        row = f"{os.path.basename(log):<14}{mode:<8}"
        m = {}
        for name, _ in bins:
            s = samples[(log, mode, name)]
            m[name] = (med([x[0] for x in s]), med([x[1] for x in s]), max(x[2] for x in s))
            row += f"{m[name][0]:>11.3f}{m[name][1]:>10.3f}{m[name][2]:>10.1f}"
        if base:
            pairs = list(zip(samples[(log, mode, "this")], samples[(log, mode, "base")]))
            wall = med([t[0] / b[0] for t, b in pairs])
            cpu = med([t[1] / b[1] for t, b in pairs])
            row += f"{wall:>16.3f}{cpu:>6.3f}"
        print(row)
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "$BENCH_KUNIT" = 0 ]; then
	exit 0
fi
if [ ! -f "$KUNIT" ]; then
	echo "SKIP: kunit.py: not found at $KUNIT"
	exit 0
fi
echo
echo "kunit.py parse --json, once per log (wall s, CPU s, peak RSS MB):"
for log in "$BENCH_LOG" "$DENSE_LOG"; do
	/usr/bin/time -f '%e %U %S %M' -o "$TMP/kunit.time" \
		python3 "$KUNIT" parse --json="$TMP/kunit.json" "$log" >/dev/null 2>&1 || true
	"$THIS" -q --json="$TMP/ours.json" "$log" || true
	# (/usr/bin/time puts "Command exited with non-zero status" first.)
	read -r wall user sys rss < <(tail -n 1 "$TMP/kunit.time")
	same="JSON differs from ktap2junit --json"
	cmp -s "$TMP/kunit.json" "$TMP/ours.json" && same="JSON identical to ktap2junit --json"
	awk -v l="$(basename "$log")" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" -v m="$same" \
		'BEGIN { printf "%-14s%8.2f %8.2f %8.1f   %s\n", l, w, u + s, r / 1024, m }'
done
