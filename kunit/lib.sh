# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Common settings for the kunit/ scripts: where the cache and the kernel tree
# live, and the toolchain variables every `make` in the tree needs.  Sourced,
# not run.

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Everything downloaded or built lives here, outside the repository, so that a
# fresh clone (CI) reuses the work of the previous run on the same machine.
CACHE=${TEST_KMOD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/test-kmod-rust}
# The kernel series: Debian's linux-source-7.3 (default) or linux-source-7.2.
KVER_SERIES=${TEST_KMOD_KSERIES:-7.3}
case $KVER_SERIES in 7.2|7.3) ;; *) printf 'TEST_KMOD_KSERIES=%s: use 7.2 or 7.3\n' "$KVER_SERIES" >&2; exit 2 ;; esac
# The kernel tree.  Point KDIR at your own tree to use it instead of Debian's
# linux-source package (the hook lines are added to it, see kunit/hook).
KDIR_DEFAULT=$CACHE/linux-source-$KVER_SERIES
KDIR=${KDIR:-$KDIR_DEFAULT}
# Build directories, one set per series: kunit-um, kunit-x86_64, vm-x86_64,
# and the C driver built against each VM kernel build (<build>.c-test_kmod).
BUILDS=$CACHE/build/$KVER_SERIES
# What results/ file names carry for the series: nothing for 7.3, "-7.2".
SERIES_TAG=${KVER_SERIES/#7.3/}
SERIES_TAG=${SERIES_TAG:+-$SERIES_TAG}
BINDGEN=${BINDGEN:-$CACHE/bindgen/bin/bindgen}
RESULTS=${TEST_KMOD_RESULTS:-$REPO/results}

export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-19/lib}

# Debian's rustc-web (1.96, with its own library sources) and LLVM 19.  The
# rustup rustc on PATH has no rust-src and a different version, so every Rust
# tool is named explicitly: mixing versions breaks the doctests.
MAKE_OPTS=(LLVM=-19 RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc HOSTRUSTC=/usr/bin/rustc
	   "BINDGEN=$BINDGEN" RUSTFMT=/usr/bin/rustfmt CLIPPY_DRIVER=/usr/bin/clippy-driver)
JOBS=${JOBS:-$(nproc)}

log() { printf '\033[1m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }
die() { printf '[%s] error: %s\n' "$(basename "$0")" "$*" >&2; exit 2; }

# elapsed SECONDS-since-start, as "1m 23s"
fmt_secs() { printf '%dm %02ds' $(($1 / 60)) $(($1 % 60)); }

# usage_from_header: the script's header comment (after the SPDX line), as
# its --help.
usage_from_header() {
	awk 'NR > 1 && !/^#/ { exit } NR > 1 && !/SPDX-License-Identifier/ { sub(/^# ?/, ""); print }' "$0" |
		sed '1{/^$/d}'
}

# Every script that sources this file answers -h and --help, anywhere among
# its arguments, with its header, before it installs or builds anything.
for _arg in "$@"; do
	case $_arg in -h|--help) usage_from_header; exit 0 ;; esac
done
unset _arg
