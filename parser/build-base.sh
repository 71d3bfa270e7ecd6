#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Builds ktap2junit as it is at a git revision and prints the path of the
# release binary: the baseline that bench.sh times and compare.sh checks
# this tree against.
#
# Usage: build-base.sh REV
#
# The revision's parser/ is exported with `git archive` (no worktree is
# registered) into $TEST_KMOD_CACHE/ktap2junit-base/COMMIT/ and built there
# with its own Cargo.lock; a later call for the same commit reuses the
# binary.  Build output goes to stderr.
#
# Environment:
#   TEST_KMOD_CACHE  cache root (default ~/.cache/test-kmod-rust)

set -euo pipefail
for a in "$@"; do
	case $a in -h|--help) sed -n '4,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;; esac
done

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REV=${1:?usage: build-base.sh REV}
REPO=$(git -C "$HERE" rev-parse --show-toplevel)
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}

commit=$(git -C "$REPO" rev-parse --verify --quiet "$REV^{commit}") || {
	echo "build-base.sh: $REV is not a commit of $REPO" >&2
	exit 2
}
dir="$CACHE/ktap2junit-base/$commit"
bin="$dir/target/release/ktap2junit"
if [ ! -x "$bin" ]; then
	echo "building ktap2junit at ${commit:0:12} in $dir" >&2
	mkdir -p "$dir/src"
	git -C "$REPO" archive "$commit" parser | tar -x -C "$dir/src"
	(cd "$dir/src/parser" && CARGO_TARGET_DIR="$dir/target" cargo build --release --locked --quiet) >&2
fi
echo "$bin"
