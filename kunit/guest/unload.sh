#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/unload) and prints one KTAP document: rmmod
# test_kmod while a trigger on test_kmod0 loads kmod_fixture_misc, whose init
# sleeps 3 s and then registers a misc device (as fuse or tun do), for
# one driver (unload_during_trigger in lib.sh):
#   1 trigger_running   ROUNDS times: 50 threads request kmod_fixture_misc,
#                       rmmod starts while its init runs; rmmod must return
#                       once the run has ended, the device gone
#   2 writers_arriving  the same, with a writer of the knobs (writes and
#                       reads of config_num_threads, config_test_driver,
#                       test_result, config) all through the rmmod
#   3 kernel_log        no hung-task, lockdep or other report, no leak
# Usage: unload.sh rust|c ROUNDS.  A rmmod that does not return within HANG
# seconds (default 60; the hung-task timeout is set to half of it, so that
# the kernel names the blocked tasks) is reported as hung and the rounds
# after it are skipped.
driver=$1 rounds=$2
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh
HANG=${HANG:-60}
MISC=/sys/devices/virtual/misc
echo "KTAP version 1"
echo "1..3"
echo "# unload: the $driver driver, $rounds rounds each"
echo $((HANG / 2)) >/proc/sys/kernel/hung_task_timeout_secs
modprobe test_kmod || exit 1
hung=0
part() { # number name writers
	local number=$1 name=$2 writers=$3 i r rc=0 out
	echo "    KTAP version 1"
	echo "    # Subtest: $name"
	echo "    1..$rounds"
	for i in $(seq "$rounds"); do
		if [ $hung = 1 ]; then
			echo "    ok $i round_$i # SKIP the driver hung"
			continue
		fi
		[ -d "$MISC/test_kmod0" ] || modprobe test_kmod || { rc=1; break; }
		r=0
		out=$(unload_during_trigger kmod_fixture_misc 50 "$writers" "$HANG") || r=$?
		printf '%s\n' "$out" | sed 's/^/    # /'
		[ $r != 2 ] || hung=1
		result "    " "$i" "round_$i" "$r"
		[ $r = 0 ] || rc=1
	done
	result "" "$number" "$name" "$rc"
}
part 1 trigger_running 0
part 2 writers_arriving 1
log_rc=0
if [ $hung = 1 ]; then
	hang_report "the driver"
	log_rc=1
else
	[ -d "$MISC/test_kmod0" ] || modprobe test_kmod
	check_kernel_log || log_rc=1
fi
result "" 3 kernel_log "$log_rc"
exit $((failed || log_rc))
