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

# The architectures kunit/run takes: kunit.py's QEMU configurations of
# those where Linux selects HAVE_RUST, and arm64 with 16K and 64K pages.
ARCHS=(um x86_64 arm64 arm64-16k arm64-64k arm riscv loongarch powerpcle powerpc32 s390)

# arch_params ARCH: sets KARCH (kunit.py's --arch), LINUX_ARCH (make's
# ARCH=), KCROSS (make's CROSS_COMPILE=, for binutils only), KSET (the
# package set of its QEMU, kunit/pkg.sh) and KUNIT_ARGS (the kunit.py options
# it adds: page size, kconfig, cross binutils); dies on an unknown ARCH.
arch_params() {
	KUNIT_ARGS=() KCROSS=
	case $1 in
	um) KARCH=um KSET='' ;;
	x86_64) KARCH=x86_64 KSET=qemu ;;
	arm64) KARCH=arm64 KSET=qemu-arm ;;
	arm64-16k) KARCH=arm64 KSET=qemu-arm KUNIT_ARGS=(--kconfig_add CONFIG_ARM64_16K_PAGES=y) ;;
	arm64-64k) KARCH=arm64 KSET=qemu-arm KUNIT_ARGS=(--kconfig_add CONFIG_ARM64_64K_PAGES=y) ;;
	arm) KARCH=arm KSET=qemu-arm ;;
	riscv|loongarch) KARCH=$1 KSET=qemu-misc ;;
	# Linux 7.3's kernel crate has no WARN for powerpc: with BUG() support
	# its generated_arch_warn_asm.rs holds the bare ARCH_WARN_ASM, which
	# powerpc's asm/bug.h does not define ("no rules expected
	# `ARCH_WARN_ASM`"), so the suites run without BUG() support there.
	# powerpc's boot wrapper runs binutils' objcopy even with LLVM=1 ("objcopy:
	# Unable to recognise the format of the input file `vmlinux'"): the
	# qemu-ppc set brings the cross binutils, CROSS_COMPILE names them.
	powerpcle) KARCH=$1 KSET=qemu-ppc KCROSS=powerpc64le-linux-gnu-
		KUNIT_ARGS=(--kconfig_add CONFIG_EXPERT=y --kconfig_add CONFIG_BUG=n) ;;
	powerpc32) KARCH=$1 KSET=qemu-ppc KCROSS=powerpc-linux-gnu-
		KUNIT_ARGS=(--kconfig_add CONFIG_EXPERT=y --kconfig_add CONFIG_BUG=n) ;;
	s390) KARCH=s390 KSET=qemu-s390x ;;
	*) die "--arch=$1: not one of ${ARCHS[*]}" ;;
	esac
	case $KARCH in powerpc*) LINUX_ARCH=powerpc ;; *) LINUX_ARCH=$KARCH ;; esac
	[ -z "$KCROSS" ] || KUNIT_ARGS+=(--cross_compile "$KCROSS")
}

# clippy_module TREE ARCH BUILD [CROSS]: the module built with CLIPPY=1 from
# kernel tree TREE in BUILD, which must be configured (with
# CROSS_COMPILE=CROSS if it was built so); any rustc or clippy warning or
# error fails.  Not counted: rustc's note on the -Ctarget-feature flags
# some architectures' Makefiles give every crate (s390's backchain,
# powerpc's vsx and mma), which says nothing of the code.
clippy_module() {
	local tree=$1 arch=$2 build=$3 cross=${4:-} out
	touch "$REPO/src/test_kmod.rs"
	out=$(make -s -C "$tree" O="$build" ARCH="$arch" ${cross:+CROSS_COMPILE="$cross"} "${MAKE_OPTS[@]}" CLIPPY=1 \
		lib/test_kmod_rust/src/test_kmod.o 2>&1) || { echo "$out"; return 1; }
	out=$(awk '/^warning: (unknown and )?unstable feature specified for `-Ctarget-feature`/ { skip = 1; next }
		skip && (/^ *\|/ || /^ *= / || /^$/) { next }
		{ skip = 0 }
		/^warning: [0-9]+ warnings? emitted/ { next }
		{ print }' <<<"$out")
	if grep -q -E '^(warning|error)' <<<"$out"; then
		echo "$out"
		return 1
	fi
	echo "clippy ($(basename "$tree"), $arch): clean"
}

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
