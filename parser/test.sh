#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs every check of the parser: rustfmt, clippy, and the whole test
# suite, including the tests that need something outside the repository
# (the kernel tree from kunit/bootstrap, python3 for kunit.py, xmllint for
# the vendored junit-10.xsd): `cargo test -- --include-ignored`, where a
# missing prerequisite fails its tests.  The prerequisites are checked
# first, so that a missing one fails with one clear line.  KCIDB documents
# are validated by KCIDB's own validator, the kcidb-io package from PyPI,
# pinned in tests/kcidb/requirements.txt and installed into a virtualenv in
# the cache (made once, reused while the pins are the same); if it cannot
# be made (no python3-venv, PyPI out of reach) those tests say SKIP with
# what to install, and the rest runs.  Then the fuzz
# target is built.  Running it (cargo fuzz) needs a nightly toolchain,
# which this project does not use: the run is reported as SKIP unless
# FUZZ_SECONDS asks for it.  The suite's bounded fuzz-like proptest
# (any_input_gives_the_oracles_result: random bytes and KTAP-like lines,
# threaded against single-threaded) runs on stable either way.
#
# Environment:
#   KDIR             kernel tree (default $TEST_KMOD_CACHE/linux-source-7.3)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)
#   KCIDB_VENV       virtualenv for kcidb-io (default $TEST_KMOD_CACHE/kcidb-venv)
#   FUZZ_SECONDS     run the fuzz target this long (default 0: SKIP); needs
#                    a nightly toolchain, installs cargo-fuzz into the cache
# Exits non-zero on any failure.  Safe to run repeatedly.

set -euo pipefail
for a in "$@"; do
	case $a in -h|--help) sed -n '4,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
	case "$CARGO_TARGET_DIR" in
	/*) ;;
	*) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;;
	esac
	export CARGO_TARGET_DIR
fi
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
export KDIR=${KDIR:-$CACHE/linux-source-7.3}
FUZZ_SECONDS=${FUZZ_SECONDS:-0}

step() { printf '\n==> %s\n' "$*"; }

cd "$HERE"

step "prerequisites"
missing=()
[ -d "$KDIR/tools/testing/kunit/test_data" ] ||
	missing+=("the kernel tree at $KDIR (run kunit/bootstrap, or set KDIR)")
command -v python3 >/dev/null 2>&1 || missing+=("python3 (apt-get install python3)")
command -v xmllint >/dev/null 2>&1 || missing+=("xmllint (apt-get install libxml2-utils)")
if [ "${#missing[@]}" -gt 0 ]; then
	printf 'FAIL: missing: %s\n' "${missing[@]}"
	exit 1
fi
echo "OK: kernel tree at $KDIR, python3, xmllint"

step "kcidb-io, KCIDB's validator (PyPI)"
KCIDB_VENV=${KCIDB_VENV:-$CACHE/kcidb-venv}
requirements="$HERE/tests/kcidb/requirements.txt"
skip_kcidb=()
if [ -x "$KCIDB_VENV/bin/python" ] && cmp -s "$requirements" "$KCIDB_VENV/requirements.txt"; then
	echo "OK: reusing $KCIDB_VENV"
elif python3 -m venv "$KCIDB_VENV" &&
	"$KCIDB_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
		--require-virtualenv -r "$requirements"; then
	cp "$requirements" "$KCIDB_VENV/requirements.txt"
	echo "OK: installed $(grep '^kcidb-io==' "$requirements") into $KCIDB_VENV"
else
	echo "SKIP: KCIDB validation: no virtualenv with kcidb-io at $KCIDB_VENV" \
		"(install python3-venv: apt-get install python3-venv; pip needs PyPI)"
	skip_kcidb=(--skip kcidb_io_)
fi
export KCIDB_PYTHON="$KCIDB_VENV/bin/python"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy -D warnings"
cargo clippy --all-targets --release -- -D warnings

step "cargo test --release -- --include-ignored"
cargo test --release -- --include-ignored "${skip_kcidb[@]}"

step "kunit/to-junit writes KCIDB beside JUnit"
to_junit="$HERE/../kunit/to-junit"
if [ ! -x "$to_junit" ]; then
	echo "SKIP: no kunit/to-junit beside parser/"
else
	tj=$(mktemp -d)
	trap 'rm -rf "$tj"' EXIT
	rc=0
	CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HERE/target}" "$to_junit" \
		"$HERE/tests/data/test_kmod_boot.log" "$tj/boot.xml" boot >/dev/null 2>&1 || rc=$?
	# The sample holds a failing case: status 1, both files written.
	if [ "$rc" != 1 ] || [ ! -s "$tj/boot.xml" ] || [ ! -s "$tj/boot.kcidb.json" ] ||
		! grep -q '"origin": "test_kmod_rust"' "$tj/boot.kcidb.json"; then
		echo "FAIL: kunit/to-junit: exit $rc (want 1), files: $(ls "$tj")"
		exit 1
	fi
	if [ "${#skip_kcidb[@]}" -gt 0 ]; then
		echo "SKIP: validating $tj/boot.kcidb.json (no kcidb-io, see above)"
	else
		"$KCIDB_PYTHON" "$HERE/tests/kcidb/validate.py" "$tj/boot.kcidb.json"
	fi
	echo "OK: kunit/to-junit wrote boot.xml and a valid boot.kcidb.json"
	rm -rf "$tj"
	trap - EXIT
fi

step "fuzz target builds"
cargo check --quiet --manifest-path fuzz/Cargo.toml
echo "OK: fuzz/fuzz_targets/parse.rs builds"

step "fuzz run"
if [ "$FUZZ_SECONDS" = 0 ]; then
	echo "SKIP: fuzz run: cargo fuzz needs a nightly toolchain (FUZZ_SECONDS=N runs it where one is installed)"
elif ! cargo +nightly --version >/dev/null 2>&1; then
	echo "FAIL: fuzz run: FUZZ_SECONDS=$FUZZ_SECONDS but no nightly toolchain"
	exit 1
else
	FUZZ_ROOT="$CACHE/cargo-fuzz"
	export PATH="$FUZZ_ROOT/bin:$PATH"
	if ! cargo fuzz --version >/dev/null 2>&1; then
		echo "installing cargo-fuzz into $FUZZ_ROOT"
		cargo install cargo-fuzz --locked --root "$FUZZ_ROOT"
	fi
	corpus=$(mktemp -d)
	trap 'rm -rf "$corpus"' EXIT
	cp "$HERE"/tests/data/*.log "$corpus/"
	cargo +nightly fuzz run parse "$corpus" -- -max_total_time="$FUZZ_SECONDS" 2>&1 | tail -n 5
	echo "OK: fuzz run (${FUZZ_SECONDS}s) found no crash"
fi

printf '\nALL PARSER CHECKS PASSED\n'
