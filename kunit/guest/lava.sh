#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM of a LAVA job (see kunit/lava), called by the job's test
# definitions, and reports every case through LAVA's lava-test-case with the
# names of kunit/selftest's KTAP, so that the two runs can be compared:
#   lava.sh kmod_sh -s|-t ID...  the kernel's kmod.sh, unmodified, once per test
#                                id: case kmod_<ID> (exit 4, requirements
#                                missing, is a skip, as in selftest.sh)
#   lava.sh kunit [SUITE...]     the KUnit suites that appear in debugfs when
#                                test_kmod loads (all, or the named ones), run
#                                with the modprobe present: a test set per
#                                suite with a case per KUnit case, then a case
#                                named after the suite for its own result
#   lava.sh kernel_log           case kernel_log: selftest.sh's check of the
#                                kernel log (lib.sh): test_kmod unloads, no
#                                report in dmesg, no kmemleak leak
# kmod_<ID>, each suite and kernel_log carry their time in the guest as a
# measurement in seconds.  Always exits 0 once it could report: the results
# are the cases.
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh
command -v lava-test-case >/dev/null || { echo "lava.sh: no lava-test-case: run me from a LAVA test definition"; exit 2; }

report() { # case result [start-uptime]
	local secs=
	[ -z "${3:-}" ] || secs=$(elapsed "$3")
	echo "lava.sh: $1: $2${secs:+ after $secs s}"
	lava-test-case "$1" --result "$2" ${secs:+--measurement "$secs" --units seconds}
}

kmod_sh() {
	local mode=$1 id rc start
	shift
	case $mode in -s|-t) ;; *) echo "lava.sh: kmod_sh takes -s or -t, not $mode"; exit 2 ;; esac
	for id in "$@"; do
		start=$(uptime)
		./kmod.sh "$mode" "$id" 2>&1
		rc=$?
		case $rc in 0) rc=pass ;; 4) rc=skip ;; *) rc=fail ;; esac
		report "kmod_$id" "$rc" "$start"
	done
}

kunit() {
	local dir=/sys/kernel/debug/kunit d suite line want found=() results start
	modprobe -r test_kmod 2>/dev/null
	declare -A before=()
	for d in "$dir"/*; do before[${d##*/}]=1; done
	modprobe test_kmod || { report kunit fail; return; }
	for d in "$dir"/*; do [ -n "${before[${d##*/}]:-}" ] || found+=("${d##*/}"); done
	[ $# -gt 0 ] || set -- "${found[@]}"
	[ $# -gt 0 ] || { echo "lava.sh: no suite in $dir: CONFIG_KUNIT_DEBUGFS and the module's suites are needed"; report kunit fail; return; }
	for suite in "$@"; do
		if [ ! -e "$dir/$suite/run" ]; then
			echo "lava.sh: no suite $suite in $dir (the module has: ${found[*]})"
			report "$suite" fail
			continue
		fi
		start=$(uptime)
		echo 1 >"$dir/$suite/run"
		results=$(cat "$dir/$suite/results")
		echo "$results"
		lava-test-set start "$suite"
		# The suite's own document: its cases are the results one level in.
		while IFS= read -r line; do
			case $line in
			"    ok "*"# SKIP"*) report "$(case_name "$line")" skip ;;
			"    ok "*) report "$(case_name "$line")" pass ;;
			"    not ok "*) report "$(case_name "$line")" fail ;;
			esac
		done <<<"$results"
		lava-test-set stop
		want=fail
		grep -q "^ok [0-9]* $suite\( #.*\)\{0,1\}$" <<<"$results" && want=pass
		grep -q "^ok [0-9]* $suite # SKIP" <<<"$results" && want=skip
		report "$suite" "$want" "$start"
	done
}

# "    ok 3 name # SKIP why" -> name
case_name() { sed -e 's/^ *\(not \)\{0,1\}ok [0-9]* //' -e 's/ *#.*//' <<<"$1"; }

kernel_log() {
	local rc=pass start
	start=$(uptime)
	check_kernel_log || rc=fail
	report kernel_log "$rc" "$start"
}

what=$1
shift
case $what in
kmod_sh) kmod_sh "$@" ;;
kunit) kunit "$@" ;;
kernel_log) kernel_log ;;
*) echo "usage: lava.sh kmod_sh -s|-t ID... | kunit [SUITE...] | kernel_log"; exit 2 ;;
esac
exit 0
