#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs everything for the parser: rustfmt, clippy, the test suite (kernel
# test_data comparisons, samples, CLI, property tests), JUnit XSD validation
# of every test log with xmllint, and a bounded fuzz smoke run.
#
# Environment:
#   KDIR             kernel tree (default $TEST_KMOD_CACHE/linux-source-7.3)
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)
#   CARGO_TARGET_DIR cargo target dir (default parser/target)
#   FUZZ_SECONDS     length of the fuzz smoke run (default 60)
# Exits non-zero on any failure.  Safe to run repeatedly.

set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
	case "$CARGO_TARGET_DIR" in
	/*) ;;
	*) CARGO_TARGET_DIR="$PWD/$CARGO_TARGET_DIR" ;;
	esac
	export CARGO_TARGET_DIR
fi
REPO=$(git -C "$HERE" rev-parse --show-toplevel 2>/dev/null || dirname "$HERE")
CACHE=${TEST_KMOD_CACHE:-$HOME/.cache/test-kmod-rust}
export KDIR=${KDIR:-$CACHE/linux-source-7.3}
XSD="$REPO/../shared/junit/junit-10.xsd"
export JUNIT_XSD="$XSD"
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
TARGET=${CARGO_TARGET_DIR:-$HERE/target}
BIN="$TARGET/release/ktap2junit"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

step() { printf '\n==> %s\n' "$*"; }

cd "$HERE"

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy -D warnings"
cargo clippy --all-targets --release -- -D warnings

step "cargo test --release"
if [ ! -d "$KDIR/tools/testing/kunit/test_data" ]; then
	echo "NOTE: no kernel tree at $KDIR: the kernel test_data tests will SKIP"
fi
cargo test --release

step "xmllint: JUnit output of every test log against junit-10.xsd"
if ! command -v xmllint >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	apt-get install -y -qq libxml2-utils >/dev/null 2>&1 || true
fi
if [ ! -f "$XSD" ]; then
	echo "SKIP: XSD validation: $XSD not found"
elif ! command -v xmllint >/dev/null 2>&1; then
	echo "SKIP: XSD validation: xmllint not installed (apt-get install libxml2-utils)"
else
	logs=("$HERE"/tests/data/*.log)
	if [ -d "$KDIR/tools/testing/kunit/test_data" ]; then
		logs+=("$KDIR"/tools/testing/kunit/test_data/*.log)
	fi
	# Hostile input: random bytes, and random bytes inside a KTAP run.
	head -c 65536 /dev/urandom >"$TMP/random.log"
	{
		printf 'KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: test_kmod\n    1..2\n'
		head -c 4096 /dev/urandom
		printf '\n    not ok 1 kmod_test_0001_driver\n'
		head -c 4096 /dev/urandom
	} >"$TMP/random-ktap.log"
	logs+=("$TMP/random.log" "$TMP/random-ktap.log")
	n=0
	for log in "${logs[@]}"; do
		rc=0
		"$BIN" -q -o "$TMP/out.xml" "$log" 2>/dev/null || rc=$?
		if [ "$rc" -gt 1 ]; then
			echo "FAIL: ktap2junit exited $rc on $log"
			exit 1
		fi
		if ! xmllint --noout --schema "$XSD" "$TMP/out.xml" 2>"$TMP/xmllint.err"; then
			echo "FAIL: JUnit for $log does not validate:"
			cat "$TMP/xmllint.err"
			exit 1
		fi
		n=$((n + 1))
	done
	echo "OK: $n JUnit reports validate against $XSD"
fi

step "fuzz smoke run (${FUZZ_SECONDS}s)"
if ! cargo +nightly --version >/dev/null 2>&1; then
	echo "SKIP: fuzz smoke: no nightly toolchain (rustup toolchain install nightly)"
else
	FUZZ_ROOT="$CACHE/cargo-fuzz"
	export PATH="$FUZZ_ROOT/bin:$PATH"
	if ! cargo fuzz --version >/dev/null 2>&1; then
		echo "installing cargo-fuzz into $FUZZ_ROOT"
		cargo install cargo-fuzz --locked --root "$FUZZ_ROOT"
	fi
	corpus="$TMP/corpus"
	mkdir -p "$corpus"
	cp "$HERE"/tests/data/*.log "$corpus/"
	cargo +nightly fuzz run parse "$corpus" -- -max_total_time="$FUZZ_SECONDS" 2>&1 | tail -n 5
	echo "OK: fuzz smoke run found no crash"
fi

printf '\nALL PARSER CHECKS PASSED\n'
