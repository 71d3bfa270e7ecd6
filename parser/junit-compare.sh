#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Measurement (not a test): the JUnit of `kunit.py parse --junit=FILE`
# (the kernel's kunit_junit.py) beside ktap2junit's (`-q --junit=FILE`)
# over the same logs: every sample in tests/data, every log of the
# kernel's tools/testing/kunit/test_data, and bench.sh's ~100 MB boot log
# (generated once by bench.sh into $TEST_KMOD_CACHE/ktap2junit-bench).
# For each group of logs and each program it prints, as a Markdown table
# (parser/README.md's):
#
#   well-formed   outputs xmllint reads (`xmllint --noout`)
#   valid         outputs valid for the Jenkins xUnit junit-10.xsd
#                 (tests/data/junit-10.xsd, `xmllint --schema`)
#   test cases    <testcase> elements written / the leaf results of the
#                 logs: kunit_parser.py's leaves (kunit.py's --json) or,
#                 where more, ktap2junit's (kunit.py stops after a log's
#                 first run, README deviation 1); ktap2junit also writes a
#                 test case for a suite's own failure or crash
#   timed         test cases with a time attribute above 0
#   CPU s         user + system seconds, summed over the group
#   peak RSS      the largest maximum resident set size (/usr/bin/time -v)
#
# Usage: junit-compare.sh [LOG...]   (extra logs form a group of their own)
#
# Environment:
#   KDIR             kernel tree (default $TEST_KMOD_CACHE/linux-source-7.3)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)
#   JUNIT_BIG        0: leave out the 100 MB log (default 1)

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case ${1:-} in
-h|--help) sed -n '4,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
KDIR=${KDIR:-$CACHE/linux-source-7.3}
KUNIT="$KDIR/tools/testing/kunit/kunit.py"
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
JUNIT_BIG=${JUNIT_BIG:-1}

for cmd in python3 xmllint /usr/bin/time; do
	command -v "$cmd" >/dev/null 2>&1 || {
		echo "junit-compare.sh: $cmd missing (apt-get install python3 libxml2-utils time)" >&2
		exit 2
	}
done
[ -f "$KUNIT" ] || {
	echo "junit-compare.sh: no kunit.py at $KUNIT (run kunit/bootstrap, or set KDIR)" >&2
	exit 2
}

(cd "$HERE" && cargo build --release --quiet)
THIS="$TARGET/release/ktap2junit"
BIG=""
if [ "$JUNIT_BIG" != 0 ]; then
	# bench.sh prints the paths of its two logs last: the boot log first.
	BIG=$(BENCH_BASE=none BENCH_GENERATE_ONLY=1 "$HERE/bench.sh" | tail -n 2 | head -n 1)
	[ -s "$BIG" ] || { echo "junit-compare.sh: bench.sh made no log" >&2; exit 2; }
fi

python3 - "$KUNIT" "$THIS" "$HERE/tests/data/junit-10.xsd" "$BIG" \
	"$KDIR/tools/testing/kunit/test_data" "$HERE/tests/data" "$@" <<'PY'
import glob, json, os, re, subprocess, sys, tempfile

kunit, this, xsd, big, test_data, samples = sys.argv[1:7]
extra = sys.argv[7:]
groups = [
    ("samples (tests/data)", sorted(glob.glob(os.path.join(samples, "*.log")))),
    ("kernel test_data", sorted(glob.glob(os.path.join(test_data, "*.log")))),
]
if big:
    groups.append((f"boot log, {os.path.getsize(big) / 1e6:.0f} MB", [big]))
if extra:
    groups.append(("given logs", extra))
tmp = tempfile.mkdtemp()

def timed(argv):
    """Run argv under /usr/bin/time -v: (CPU seconds, peak RSS MB)."""
    tv = os.path.join(tmp, "time")
    with open(os.devnull, "w") as null:
        subprocess.run(["/usr/bin/time", "-v", "-o", tv, *argv],
                       stdout=null, stderr=null)
    text = open(tv).read()
    get = lambda k: float(re.search(re.escape(k) + r": *([0-9.]+)", text).group(1))
    cpu = get("User time (seconds)") + get("System time (seconds)")
    return cpu, get("Maximum resident set size (kbytes)") / 1024

def xmllint(*args):
    with open(os.devnull, "w") as null:
        return subprocess.run(["xmllint", "--noout", *args],
                              stdout=null, stderr=null).returncode == 0

def cases(path):
    """(test cases, test cases with a time above 0) of a JUnit file."""
    text = open(path, encoding="utf-8", errors="replace").read()
    tags = re.findall(r"<testcase\b[^>]*>", text)
    timed = [t for t in tags
             if (m := re.search(r'\btime="([^"]*)"', t)) and float(m.group(1) or 0) > 0]
    return len(tags), len(timed)

def leaves(group):
    """Leaf tests of a kunit.py JSON group."""
    return len(group.get("test_cases", [])) + sum(leaves(g) for g in group.get("sub_groups", []))

def tests_of(log):
    """Leaf tests of a log: kunit_parser.py's for the first run; the runs
    after it as ktap2junit reports them (kunit.py stops at the first)."""
    j = os.path.join(tmp, "t.json")
    with open(os.devnull, "w") as null:
        subprocess.run(["python3", kunit, "parse", f"--json={j}", log], stdout=null, stderr=null)
        theirs = leaves(json.load(open(j))) if os.path.exists(j) else 0
        out = subprocess.run([this, "-q", "--json", log], capture_output=True).stdout
    if os.path.exists(j):
        os.remove(j)
    ours = json.loads(out)
    # ktap2junit's JSON merges every run into the one top-level group.
    return max(theirs, leaves(ours))

programs = [
    ("kunit.py parse --junit", lambda log, out: ["python3", kunit, "parse", f"--junit={out}", log]),
    ("ktap2junit", lambda log, out: [this, "-q", f"--junit={out}", log]),
]
rows = []
for gname, logs in groups:
    want = sum(tests_of(l) for l in logs)
    for pname, argv in programs:
        wf = valid = written = timed_cases = 0
        cpu = rss = 0.0
        for log in logs:
            out = os.path.join(tmp, "out.xml")
            if os.path.exists(out):
                os.remove(out)
            c, r = timed(argv(log, out))
            cpu += c
            rss = max(rss, r)
            if not os.path.exists(out):
                continue
            n, t = cases(out)
            written += n
            timed_cases += t
            if xmllint(out):
                wf += 1
                if xmllint("--schema", xsd, out):
                    valid += 1
            os.remove(out)
        rows.append((gname, len(logs), pname, wf, valid, written, want, timed_cases, cpu, rss))

print("| logs | program | well-formed | valid (junit-10.xsd) | test cases kept | with a time | CPU | peak RSS |")
print("|---|---|---|---|---|---|---|---|")
for gname, n, pname, wf, valid, written, want, t, cpu, rss in rows:
    print(f"| {gname} ({n}) | {pname} | {wf}/{n} | {valid}/{n} | {written}/{want} | {t} | {cpu:.2f} s | {rss:.0f} MB |")
PY
