#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Compares what this tree's ktap2junit writes with what the one built from
# a base revision writes: JUnit (also with --all-logs), --json, the exit
# status and stderr (warnings), on every sample in tests/data,
# all samples at once, every kernel test_data log, generated hostile input
# and any FILEs given (the benchmark logs, say).  Prints one line per input
# that differs and exits 1 if any does; the differing outputs are kept in
# a directory it names.
#
# Usage: compare.sh [FILE...]
#
# Environment:
#   BASE             base revision (default main), built by build-base.sh
#   KDIR             kernel tree (default $TEST_KMOD_CACHE/linux-source-7.3)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)

set -euo pipefail
for a in "$@"; do
	case $a in -h|--help) sed -n '4,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
KDIR=${KDIR:-$CACHE/linux-source-7.3}
BASE=${BASE:-main}
TARGET=${CARGO_TARGET_DIR:-$HERE/target}

(cd "$HERE" && cargo build --release --quiet)
NEW="$TARGET/release/ktap2junit"
OLD=$("$HERE/build-base.sh" "$BASE")

OUT=$(mktemp -d)
keep=0
cleanup() { [ "$keep" = 1 ] || rm -rf "$OUT"; }
trap cleanup EXIT

# Hostile input: random bytes, and a soup of KTAP-like lines (nested TAP
# wrapped in `# `, prefixes, end markers, bad numbers).
head -c 262144 /dev/urandom >"$OUT/random.log"
python3 - "$OUT/soup.log" <<'PY'
import random, sys
words = ["KTAP version 1", "TAP version 13", "1..2", "1..0", "    1..1",
         "    KTAP version 1", "    # Subtest: s", "ok 1 s", "not ok 2 t",
         "    ok 1 a", "    not ok 2 b # SKIP x", "ok 3 # SKIP", "# diag",
         "# TAP version 13", "# 1..2", "# ok 1 nested", "noise",
         "[    1.000000] KTAP version 1", "<6>[    2.000000][  T1] ok 1 s",
         "reboot: System halted", "kunit executor: oops", "ok 1 bad#name",
         "\x1b[31m", "]]>", "ok 99999999999999999999 huge", ""]
random.seed(12)
with open(sys.argv[1], "w") as f:
    for _ in range(50000):
        f.write(random.choice(words) + random.choice(["\n", "\r\n"]))
PY

inputs=("$HERE"/tests/data/*.log)
if [ -d "$KDIR/tools/testing/kunit/test_data" ]; then
	inputs+=("$KDIR"/tools/testing/kunit/test_data/*.log)
else
	echo "NOTE: no kernel tree at $KDIR: its test_data logs are not compared"
fi
inputs+=("$OUT/random.log" "$OUT/soup.log" "$@")

# Whether a binary has kunit.py's command line (the report on standard
# output, JUnit with --junit, the summary no longer on standard error).
kunit_cli() { "$1" --help 2>/dev/null | grep -q -- --raw_output; }
kunit_cli "$OLD" && old_kunit=1 || old_kunit=0
kunit_cli "$NEW" && new_kunit=1 || new_kunit=0

# run BIN TAG KUNIT_CLI ARGS...: the outputs of one run, as files
# $OUT/TAG.{out,err,rc}.  ARGS are the old command line's (JUnit on
# standard output unless --json); for a binary with kunit.py's command
# line they become the same document on standard output without the
# report, and the old binary's summary lines are left out of its stderr.
run() {
	local bin=$1 tag=$2 kunit=$3 rc=0
	shift 3
	if [ "$kunit" = 1 ]; then
		local a args=(-q) doc=--junit
		for a in "$@"; do
			if [ "$a" = --json ]; then doc=--json; else args+=("$a"); fi
		done
		"$bin" "$doc" "${args[@]}" >"$OUT/$tag.out" 2>"$OUT/$tag.err" || rc=$?
	else
		"$bin" "$@" >"$OUT/$tag.out" 2>"$OUT/$tag.err.all" || rc=$?
		grep -v -e '^Testing complete\. ' -e '^Failures: ' \
			-e ': could not find any KTAP output\. Did any KUnit tests run?$' \
			"$OUT/$tag.err.all" >"$OUT/$tag.err" || true
	fi
	echo "$rc" >"$OUT/$tag.rc"
}

differ=0 n=0
# check NAME ARGS...: both binaries, the same arguments
check() {
	local name=$1 what
	shift
	run "$OLD" old "$old_kunit" "$@"
	run "$NEW" new "$new_kunit" "$@"
	n=$((n + 1))
	for what in out err rc; do
		if ! cmp -s "$OUT/old.$what" "$OUT/new.$what"; then
			differ=$((differ + 1))
			keep=1
			mv "$OUT/old.$what" "$OUT/$differ.old.$what"
			mv "$OUT/new.$what" "$OUT/$differ.new.$what"
			echo "DIFFERS ($what): $name -> $OUT/$differ.{old,new}.$what"
		fi
	done
}

for f in "${inputs[@]}"; do
	check "$f" "$f"
	check "--all-logs $f" --all-logs "$f"
	check "--json $f" --json "$f"
done
samples=("$HERE"/tests/data/*.log)
check "all samples at once" "${samples[@]}"
check "all samples at once, --json" --json "${samples[@]}"

if [ "$differ" -gt 0 ]; then
	echo "$differ of $n outputs differ from $BASE's (kept in $OUT)"
	exit 1
fi
echo "OK: all $n outputs (stdout, stderr, exit status) equal $BASE's"
