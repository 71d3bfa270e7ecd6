#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/selftest) and prints one KTAP document:
#   1 kmod_sh     the kernel's kmod.sh, unmodified, one subtest per test id
#                 (default counts; each once with QUICK=1), or one for the
#                 given kmod.sh arguments
#   2 knobs       our bad-input checks of the sysfs knobs (rust only)
#   3 kunit       the module's KUnit suites (test_kmod and its abstractions'),
#                 run through debugfs now that a modprobe exists (rust only)
#   4 kernel_log  no WARNING/BUG/lockdep/hung task report, no kmemleak leak,
#                 and the module unloads
# Usage: selftest.sh rust|c [kmod.sh arguments]
driver=$1
shift
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh

echo "KTAP version 1"
echo "1..4"

# 1: kmod.sh.  Its output becomes diagnostics of the subtest it belongs to.
run_kmod() { # number name kmod.sh-args...
	local n=$1 name=$2 start rc busy
	shift 2
	start=$(uptime)
	./kmod.sh "$@" 2>&1 | sed 's/^/    # /'
	rc=${PIPESTATUS[0]}
	echo "    # $name: exit status $rc after $(elapsed "$start") s"
	busy=$(kmod_busy_since "$start")
	[ "$busy" = 0 ] || echo "    # $name: request_module() timed out waiting for a modprobe slot (kmod busy, -ETIME) $busy time(s)"
	result "    " "$n" "$name" "$rc" "$([ "$rc" = 4 ] && echo "SKIP kmod.sh: requirements missing")"
	return "$rc"
}
echo "    KTAP version 1"
echo "    # Subtest: kmod_sh"
start=$(uptime)
sh_rc=0
if [ $# -gt 0 ]; then
	echo "    1..1"
	run_kmod 1 "kmod_sh_$(echo "$*" | tr -c 'A-Za-z0-9\n' _)" "$@" || sh_rc=$?
else
	ids=(0001 0002 0003 0004 0005 0006 0007 0008 0009 0010 0011 0012 0013)
	echo "    1..${#ids[@]}"
	n=0
	for id in "${ids[@]}"; do
		n=$((n + 1))
		run_kmod "$n" "kmod_$id" "$([ -n "${QUICK:-}" ] && echo -s || echo -t)" "$id" ||
			{ rc=$?; [ "$rc" = 4 ] || sh_rc=$rc; }
	done
fi
echo "# kmod.sh ($driver driver): $(elapsed "$start") s in all"
result "" 1 kmod_sh "$sh_rc"

# 2: knob checks (ours; the C driver fails several on purpose: it WARNs).
if [ "$driver" = rust ]; then
	modprobe test_kmod
	./knobs.sh 2>&1
	result "" 2 knobs "$?"
else
	echo "ok 2 knobs # SKIP the bad-input checks expect the Rust driver's cleaner errors"
fi

# 3: the module's KUnit suites (the driver's and its abstractions') with a
# real modprobe behind request_module(): the suites that appear in debugfs
# when the module loads.
kunit_dir=/sys/kernel/debug/kunit
if [ "$driver" = rust ]; then
	modprobe -r test_kmod
	declare -A before=()
	for d in "$kunit_dir"/*; do before[${d##*/}]=1; done
	modprobe test_kmod
	suites=()
	for d in "$kunit_dir"/*; do [ -n "${before[${d##*/}]:-}" ] || suites+=("${d##*/}"); done
	echo "    KTAP version 1"
	echo "    # Subtest: kunit"
	echo "    1..${#suites[@]}"
	kunit_rc=0
	[ ${#suites[@]} -gt 0 ] || { echo "    # no suite in $kunit_dir: CONFIG_TEST_KMOD_RUST_KUNIT and CONFIG_KUNIT_DEBUGFS are needed"; kunit_rc=1; }
	n=0
	for suite in "${suites[@]}"; do
		n=$((n + 1))
		echo 1 >"$kunit_dir/$suite/run"
		# debugfs gives a document of its own with the suite as test 1.
		sed -e '1,2d' -e "s/^\(\(not \)\{0,1\}ok\) 1 $suite/\1 $n $suite/" -e 's/^/    /' "$kunit_dir/$suite/results"
		grep -q "^not ok 1 $suite" "$kunit_dir/$suite/results" && kunit_rc=1
	done
	# What test_kmod_races measured: it logs its times, which KUnit's
	# results in debugfs do not hold.
	dmesg | grep -o 'test_kmod: test_kmod_races: .*' | sed 's/^test_kmod: /    # /'
	result "" 3 kunit "$kunit_rc"
else
	echo "ok 3 kunit # SKIP the KUnit suites are part of the Rust driver"
fi

# 4: the kernel log.  Unload first, so that leaks of the module show.
log_rc=0
check_kernel_log || log_rc=1
result "" 4 kernel_log "$log_rc"
exit $((failed || log_rc))
