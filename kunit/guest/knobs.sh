#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Bad input against the test_kmod0 knobs, inside the VM with the Rust driver
# loaded (see selftest.sh).  Each check writes what a careless or hostile user
# would and asserts the error the C driver gives (or a cleaner one where C
# misbehaves), that a rejected write leaves `config` as it was, and that
# unload waits for a running trigger.  Prints KTAP subtests (indented, the
# caller prints the parent result); exits 1 if any check failed.
DIR=/sys/devices/virtual/misc/test_kmod0
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
n=0
failed=0
echo "    KTAP version 1"
echo "    # Subtest: knobs"
echo "    1..$(grep -c '^check ' "$0")"

check() { # description, then a command that must succeed
	local desc=$1
	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "    ok $n $desc"
	else
		printf '%s\n' "$out" | sed 's/^/    # /'
		echo "    not ok $n $desc"
		failed=1
	fi
}

# write FILE VALUE EXPECTED_ERROR: the write must fail with that strerror
# text and leave `config` unchanged.
rejected() {
	local file=$1 value=$2 want=$3 before after err
	before=$(cat $DIR/config)
	if err=$(printf '%s' "$value" 2>&1 >"$DIR/$file"); then
		echo "writing '${value:0:40}' to $file succeeded"
		return 1
	fi
	case $err in *"$want"*) ;; *) echo "wanted '$want', got: $err"; return 1 ;; esac
	after=$(cat $DIR/config)
	[ "$before" = "$after" ] || { echo "config changed:"; diff <(echo "$before") <(echo "$after"); return 1; }
}
accepted() { # FILE VALUE EXPECTED_READBACK
	printf '%s' "$2" >"$DIR/$1" || return 1
	local got
	got=$(cat "$DIR/$1")
	[ "$got" = "$3" ] || { echo "$1 reads '$got', wanted '$3'"; return 1; }
}

echo 1 >$DIR/reset
check "num_threads rejects a non-number" rejected config_num_threads abc "Invalid argument"
check "num_threads rejects trailing junk" rejected config_num_threads "12abc" "Invalid argument"
check "num_threads rejects a bare newline" rejected config_num_threads $'\n' "Invalid argument"
check "num_threads rejects a negative number" rejected config_num_threads -1 "Invalid argument"
check "num_threads rejects 2^32 (overflow)" rejected config_num_threads 4294967296 "Numerical result out of range"
check "num_threads rejects 0 (no WARN, unlike C)" rejected config_num_threads 0 "Invalid argument"
check "num_threads rejects a huge count" rejected config_num_threads 4294967295 "Invalid argument"
check "num_threads rejects one past PID_MAX_LIMIT" rejected config_num_threads 4194305 "Invalid argument"
check "num_threads takes '+7' with a newline" accepted config_num_threads $'+7\n' 7
check "test_case rejects 0" rejected config_test_case 0 "Invalid argument"
check "test_case rejects 3" rejected config_test_case 3 "Invalid argument"
check "test_case rejects a word" rejected config_test_case fs "Invalid argument"
check "test_case takes 2" accepted config_test_case 2 2
check "test_result rejects a word" rejected test_result x "Invalid argument"
check "test_result rejects 2^31 (overflow)" rejected test_result 2147483648 "Numerical result out of range"
check "test_result takes -2147483648" accepted test_result -2147483648 -2147483648
check "config is read-only" rejected config x "Permission denied"
check "trigger_config is write-only" bash -c "! cat $DIR/trigger_config 2>/dev/null"
check "reset is write-only" bash -c "! cat $DIR/reset 2>/dev/null"

echo 1 >$DIR/reset
check "reset restores the defaults" bash -c "cat $DIR/config | grep -qx 'Number of threads:	50' &&
	grep -qx 'driver:	test_module' $DIR/config && grep -qx 'fs:	EMPTY' $DIR/config &&
	[ \"\$(cat $DIR/config_test_fs)\" = '(null)' ] && [ \"\$(cat $DIR/test_result)\" = 0 ]"
check "a file system run without a file system is refused" bash -c \
	"echo 2 >$DIR/config_test_case && ! echo 1 2>/dev/null >$DIR/trigger_config"

long=$(head -c 4000 /dev/zero | tr '\0' a)
check "a 4000-byte driver name is kept verbatim" accepted config_test_driver "$long" "$long"
check "a 4 KiB write keeps the knob readable" bash -c \
	"head -c 4096 /dev/zero | tr '\0' b >$DIR/config_test_driver 2>/dev/null; cat $DIR/config_test_driver >/dev/null"
check "a name is kept verbatim, newline included" bash -c \
	"printf 'nope\n' >$DIR/config_test_driver && [ \"\$(od -An -c $DIR/config_test_driver | tr -s ' ')\" = ' n o p e \n \n' ]"
check "a name stops at the first NUL, as C's kstrndup" bash -c \
	"printf 'ab\0cd' >$DIR/config_test_driver && [ \"\$(cat $DIR/config_test_driver)\" = ab ]"
check "an over-long module name is -ENAMETOOLONG" bash -c "echo 1 >$DIR/reset &&
	printf '%056d' 0 >$DIR/config_test_driver && echo 2 >$DIR/config_num_threads &&
	echo 1 >$DIR/trigger_config && [ \"\$(cat $DIR/test_result)\" = -36 ]"

# Concurrent triggers: one runs at a time, each gets its full run.
concurrent() {
	echo 1 >$DIR/reset
	echo 8 >$DIR/config_num_threads
	local pids=() p rc=0
	for p in 1 2 3 4; do
		echo 1 >$DIR/trigger_config &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	[ $rc = 0 ] && [ "$(cat $DIR/test_result)" = 0 ]
}
check "four concurrent triggers all succeed" concurrent

# Knob reads do not wait for a running trigger, and writes during it are
# race-free.
reads_during_run() {
	echo 1 >$DIR/reset
	echo 50 >$DIR/config_num_threads
	echo 1 >$DIR/trigger_config &
	local pid=$! i
	for i in $(seq 20); do
		cat $DIR/config >/dev/null || return 1
		echo $((i + 1)) >$DIR/config_num_threads || return 1
	done
	wait $pid
}
check "reads and writes while a trigger runs" reads_during_run

# Unload while a trigger runs: rmmod waits for it; nothing is freed under
# running threads (the kernel_log check catches a use-after-free or leak).
unload_during_run() {
	echo 1 >$DIR/reset
	echo nope-never-there >$DIR/config_test_driver
	echo 50 >$DIR/config_num_threads
	echo 1 >$DIR/trigger_config &
	local pid=$!
	sleep 0.2
	modprobe -r test_kmod || return 1
	wait $pid
	[ ! -d $DIR ] || return 1
	modprobe test_kmod && [ -d $DIR ]
}
check "unload during a trigger waits for it" unload_during_run

# The device node has file operations with an owner, as C's: it opens, its
# reads fail with -EINVAL, and the open file holds the module.
device_node() {
	local err rc=0
	exec 3</dev/test_kmod0 || { echo "open(/dev/test_kmod0) failed"; return 1; }
	err=$(cat <&3 2>&1 >/dev/null) && { echo "reading the node succeeded"; rc=1; }
	case $err in *"Invalid argument"*) ;; *) echo "read: wanted 'Invalid argument', got: $err"; rc=1 ;; esac
	if rmmod test_kmod 2>/tmp/node.err; then
		echo "rmmod succeeded while the node was open"
		exec 3<&-
		modprobe test_kmod
		return 1
	fi
	grep -q 'in use' /tmp/node.err || { cat /tmp/node.err; rc=1; }
	exec 3<&-
	return $rc
}
check "the device node opens and holds the module, as C's" device_node

# rmmod while 50 threads load kmod_fixture_misc, whose init registers a misc
# device, with writers of the knobs arriving during rmmod: the unload waits
# for the trigger, holding nothing the loading module or the writers need
# (see lib.sh).
misc_unload() {
	unload_during_trigger kmod_fixture_misc 50 1 120 && modprobe test_kmod && [ -d $DIR ]
}
check "rmmod during a trigger loading a misc-registering module, writers arriving" misc_unload

params() {
	local p
	for p in force_init_test start_driver start_test_fs; do
		[ "$(stat -c %a /sys/module/test_kmod/parameters/$p)" = 444 ] || { echo "$p: mode"; return 1; }
	done
	modprobe -r test_kmod &&
		modprobe test_kmod force_init_test=1 start_driver=test_module start_test_fs=xfs &&
		grep -qx 'driver:	test_module' $DIR/config && grep -qx 'fs:	xfs' $DIR/config &&
		[ "$(cat /sys/module/test_kmod/parameters/start_test_fs)" = xfs ] &&
		[ "$(cat /sys/module/test_kmod/parameters/force_init_test)" = Y ] &&
		[ "$(cat $DIR/test_result)" = 0 ]
}
check "force_init_test runs the start scenarios at load" params
modprobe -r test_kmod && modprobe test_kmod

exit $failed
