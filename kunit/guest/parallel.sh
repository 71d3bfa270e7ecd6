#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/parallel) and prints one KTAP document:
#   1 configfs    devices created at will through configfs: every bad input
#                 gets its errno and changes nothing, and the lifecycle holds
#                 (live 0 during a trigger, rmdir during a trigger, rmmod with
#                 items, the count bound, names removed and made again)
#   2 parallel    N unmodified kmod.sh instances at once, on test_kmod1..N,
#                 each with its own DIR, module and file system; tests
#                 0001-0009 and 0012-0013 run concurrently, then 0010 and 0011
#                 (the global modprobe path) alone; and the longest trigger
#                 against kmod's 5 s all-busy timeout
#   3 kernel_log  the module unloads, no leak and no kernel report
# Usage: parallel.sh N THREADS MODPROBE_LIMIT quick|full
#   THREADS          each device's config_num_threads after reset (configfs)
#   MODPROBE_LIMIT   kmod.sh's, for 0008/0009 (LIMIT + LIMIT/6 or /4 threads)
#   quick            each test once (kmod.sh -s), full: kmod.sh's counts (-t)
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh
n=$1 threads=$2 limit=$3 mode=$4
CFG=/sys/kernel/config/test_kmod
MISC=/sys/devices/virtual/misc
# One file system per instance: small modules with no dependencies.
filesystems=(minix romfs bfs qnx4)
[ "$n" -ge 1 ] && [ "$n" -le ${#filesystems[@]} ] || { echo "N=$n: 1 to ${#filesystems[@]} instances"; exit 2; }

echo "KTAP version 1"
echo "1..3"
modprobe test_kmod || exit 1

# 1: configfs.  The checks' lines are collected, then printed behind the
# plan (some checks run in loops).
k=0
cfg_rc=0
cfg_out=/tmp/configfs.ktap
: >"$cfg_out"
check() { # description, then a command that must succeed
	local desc=$1 out
	shift
	k=$((k + 1))
	if out=$("$@" 2>&1); then
		echo "    ok $k $desc" >>"$cfg_out"
	else
		printf '%s\n' "$out" | sed 's/^/    # /' >>"$cfg_out"
		echo "    not ok $k $desc" >>"$cfg_out"
		cfg_rc=1
	fi
}
# fails WANT COMMAND...: the command must fail with that strerror text.
fails() {
	local want=$1 err
	shift
	if err=$("$@" 2>&1); then
		echo "'$*' succeeded"
		return 1
	fi
	case $err in *"$want"*) ;; *) echo "wanted '$want', got: $err"; return 1 ;; esac
}
# write VALUE FILE: what the shell's echo does, as a command.
write() { printf '%s' "$1" >"$2"; }
# state ITEM: the item's attributes and devices, to compare before and after.
state() { echo "live=$(cat "$CFG/$1/live") device=$(cat "$CFG/$1/device") threads=$(cat "$CFG/$1/threads")"; ls "$MISC"; }
# unchanged ITEM COMMAND...: the command fails and the state stays the same.
unchanged() {
	local item=$1 want=$2 before after
	shift 2
	before=$(state "$item")
	fails "$want" "$@" || return 1
	after=$(state "$item")
	[ "$before" = "$after" ] || { echo "changed:"; diff <(echo "$before") <(echo "$after"); return 1; }
}
# trigger_long DEVICE: starts a trigger that runs for seconds in the
# background and returns once it runs; its pid is in $bg.  The trigger's 30
# request_module() calls (of a module that does not exist) start modprobe
# through a wrapper that marks its start and sleeps 3 s first: a plain
# modprobe of a missing module ends too fast to be caught mid-run.  The
# kernel's modprobe path is set back as soon as the trigger runs.
cat >/tmp/slow-modprobe <<EOF
#!/bin/sh
: >/tmp/modprobe-started
sleep 3
exec $(cat /proc/sys/kernel/modprobe) "\$@"
EOF
chmod +x /tmp/slow-modprobe
trigger_long() {
	local i modprobe
	modprobe=$(cat /proc/sys/kernel/modprobe)
	echo 1 >"$MISC/$1/reset"
	echo nope-not-a-module >"$MISC/$1/config_test_driver"
	echo 30 >"$MISC/$1/config_num_threads"
	rm -f /tmp/modprobe-started
	echo /tmp/slow-modprobe >/proc/sys/kernel/modprobe
	echo 1 >"$MISC/$1/trigger_config" &
	bg=$!
	for i in $(seq 300); do
		[ -e /tmp/modprobe-started ] && break
		sleep 0.1
	done
	echo "$modprobe" >/proc/sys/kernel/modprobe
	[ -e /tmp/modprobe-started ] && return 0
	echo "the trigger on $1 started no modprobe in 30 s"
	return 1
}

check "the test_kmod configfs subsystem exists, empty" bash -c "[ -d $CFG ] && [ -z \"\$(ls $CFG)\" ]"
check "a name with a dot is refused" fails "Invalid argument" mkdir "$CFG/a.b"
check "a name with a space is refused" fails "Invalid argument" mkdir "$CFG/a b"
check "a 33-byte name is refused" fails "Invalid argument" mkdir "$CFG/$(printf '%033d' 0)"
check "a 32-byte name is taken" bash -c "mkdir $CFG/$(printf '%032d' 0) && rmdir $CFG/$(printf '%032d' 0)"
mkdir "$CFG/t"
check "an existing name is EEXIST" fails "File exists" mkdir "$CFG/t"
check "a new item is not live and has no device" bash -c "[ \"\$(cat $CFG/t/live)\" = 0 ] && [ -z \"\$(cat $CFG/t/device)\" ] && [ \"\$(cat $CFG/t/threads)\" = 50 ]"
for bad in 2 x -1 o ox; do
	check "live rejects '$bad', nothing changes" unchanged t "Invalid argument" write "$bad" "$CFG/t/live"
done
for bad in 0 x 4194305 -3; do
	check "threads rejects '$bad', nothing changes" unchanged t "Invalid argument" write "$bad" "$CFG/t/threads"
done
check "threads takes 7" bash -c "echo 7 >$CFG/t/threads && [ \"\$(cat $CFG/t/threads)\" = 7 ]"
check "device is read-only: EACCES" unchanged t "Permission denied" write x "$CFG/t/device"
check "live 1 registers test_kmod1 with the eight knobs" bash -c "echo 1 >$CFG/t/live && [ \"\$(cat $CFG/t/device)\" = test_kmod1 ] &&
	[ \"\$(cd $MISC/test_kmod1 && stat -c '%n %a' config config_num_threads config_test_case config_test_driver config_test_fs reset test_result trigger_config | tr '\n' ' ')\" = 'config 444 config_num_threads 644 config_test_case 644 config_test_driver 644 config_test_fs 644 reset 200 test_result 644 trigger_config 200 ' ]"
check "the device resets to its own thread count" bash -c "echo 1 >$MISC/test_kmod1/reset && [ \"\$(cat $MISC/test_kmod1/config_num_threads)\" = 7 ] && grep -qx 'Custom trigger configuration for: test_kmod1' $MISC/test_kmod1/config"
check "live 1 again changes nothing" bash -c "before=\$(ls $MISC); echo y >$CFG/t/live && [ \"\$(cat $CFG/t/device)\" = test_kmod1 ] && [ \"\$(ls $MISC)\" = \"\$before\" ]"
check "threads is EBUSY while live" unchanged t "Device or resource busy" write 9 "$CFG/t/threads"
check "test_kmod0 is not part of configfs" bash -c "[ -d $MISC/test_kmod0 ] && [ \"\$(ls $CFG)\" = t ]"
live0_busy() {
	trigger_long test_kmod1 || return 1
	unchanged t "Device or resource busy" write 0 "$CFG/t/live" || return 1
	wait "$bg" && [ "$(cat "$MISC/test_kmod1/test_result")" = 256 ] || return 1
	echo 0 >"$CFG/t/live" && [ ! -d "$MISC/test_kmod1" ] && [ "$(cat "$CFG/t/live")" = 0 ]
}
check "live 0 during a trigger is EBUSY, then works" live0_busy
rmdir_waits() {
	echo 1 >"$CFG/t/live" && [ -d "$MISC/test_kmod1" ] || return 1
	trigger_long test_kmod1 || return 1
	kill -0 "$bg" 2>/dev/null || { echo "the trigger ended too soon to test"; return 1; }
	rmdir "$CFG/t" || return 1
	# rmdir returned: the trigger has ended (its writer exits a moment
	# later; had rmdir not waited, the trigger would run ~3 s more), and the
	# device is gone.
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		kill -0 "$bg" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$bg" 2>/dev/null && { echo "rmdir returned while the trigger runs"; return 1; }
	wait "$bg" || { echo "the trigger failed"; return 1; }
	[ ! -d "$MISC/test_kmod1" ] && [ ! -d "$CFG/t" ]
}
check "rmdir during a trigger waits for it, then removes the device" rmdir_waits
check "a removed name can be made and made live again" bash -c "mkdir $CFG/t && echo 1 >$CFG/t/live && [ \"\$(cat $CFG/t/device)\" = test_kmod1 ] && echo 0 >$CFG/t/live"
check "rmmod is refused while items exist" fails "in use" rmmod test_kmod
check "rmmod works once they are removed, and leaves nothing" bash -c "rmdir $CFG/t && rmmod test_kmod && [ ! -d $CFG ] && [ -z \"\$(ls $MISC | grep test_kmod)\" ] && modprobe test_kmod && [ -d $MISC/test_kmod0 ]"
bound() {
	local i rc=0
	for i in $(seq 50); do mkdir "$CFG/b$i" || return 1; done
	fails "No space left on device" mkdir "$CFG/b51" || rc=1
	for i in $(seq 50); do rmdir "$CFG/b$i"; done
	[ -z "$(ls "$CFG")" ] && return $rc
}
check "at most 50 items: the 51st is ENOSPC" bound
echo "    KTAP version 1"
echo "    # Subtest: configfs"
echo "    1..$k"
cat "$cfg_out"
result "" 1 configfs "$cfg_rc"

# 2: the kmod.sh instances, each on its own device, module and file system.
echo "    KTAP version 1"
echo "    # Subtest: parallel"
echo "    1..$((n + 1))"
par_rc=0
devices=()
for i in $(seq "$n"); do
	mkdir "$CFG/p$i" && echo "$threads" >"$CFG/p$i/threads" && echo 1 >"$CFG/p$i/live" || par_rc=1
	devices+=("$(cat "$CFG/p$i/device")")
done
flag=$([ "$mode" = quick ] && echo -s || echo -t)
instance() { # number device module fs tests...: runs each test, prints "id status" lines
	local i=$1 dev=$2 module=$3 fs=$4 id
	shift 4
	for id in "$@"; do
		DIR=$MISC/$dev/ DEFAULT_KMOD_DRIVER=$module DEFAULT_KMOD_FS=$fs MODPROBE_LIMIT=$limit \
			./kmod.sh "$flag" "$id" >>"/tmp/instance$i.log" 2>&1
		echo "$id $?" >>"/tmp/instance$i.status"
	done
}
echo "test_kmod: parallel kmod.sh runs start" >/dev/kmsg
start=$(uptime)
pids=()
for i in $(seq "$n"); do
	instance "$i" "${devices[i - 1]}" "kmod_fixture$i" "${filesystems[i - 1]}" \
		0001 0002 0003 0004 0005 0006 0007 0008 0009 0012 0013 &
	pids+=($!)
done
wait "${pids[@]}"
concurrent=$(elapsed "$start")
echo "test_kmod: parallel kmod.sh runs end" >/dev/kmsg
# 0010 and 0011 set the kernel's one modprobe path: alone, afterwards.
start=$(uptime)
instance 1 "${devices[0]}" kmod_fixture1 "${filesystems[0]}" 0010 0011
alone=$(elapsed "$start")
for i in $(seq "$n"); do
	sed 's/^/        # /' "/tmp/instance$i.log"
	echo "        KTAP version 1"
	echo "        # Subtest: ${devices[i - 1]}"
	echo "        1..$(wc -l <"/tmp/instance$i.status")"
	inst_rc=0 t=0
	while read -r id status; do
		t=$((t + 1))
		[ "$status" = 0 ] || inst_rc=1
		result "        " "$t" "kmod_$id" "$status"
	done <"/tmp/instance$i.status"
	[ $inst_rc = 0 ] || par_rc=1
	result "    " "$i" "${devices[i - 1]}" "$inst_rc"
done
echo "    # kmod.sh instances: $n at once for $concurrent s, then 0010/0011 alone for $alone s"
# No request_module() waits for one of kmod's 50 modprobe slots longer than
# the trigger it belongs to runs: the longest trigger of the concurrent phase
# bounds every wait (past 5 s, request_module() gives -ETIME).
# Should the log have wrapped past the start mark, the triggers it still
# holds are measured, and the line says so.
dmesg | awk '
	BEGIN { on = 1 }
	/test_kmod: parallel kmod.sh runs start/ { on = 1; marked = 1; max = 0; dev = ""; measured = 0 }
	/test_kmod: parallel kmod.sh runs end/ { on = 0 }
	# "[ 12.345678] test_kmod: test_kmod3: test case ..., 14 threads on ..."
	function stamp(t) { t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t); return t + 0 }
	function device() { if (match($0, /test_kmod[1-9][0-9]*: /)) return substr($0, RSTART, RLENGTH - 2); return "" }
	on && / test case / { d = device(); if (d != "") { start[d] = stamp(); th = $0; sub(/.*\), /, "", th); sub(/ threads.*/, "", th); threads[d] = th } }
	on && /General test result/ { d = device(); if (d in start) { measured++; t = stamp() - start[d]; if (t > max) { max = t; dev = d; n = threads[d] } } }
	END {
		if (!measured) { print "    # longest trigger: none found in the kernel log"; exit }
		printf "    # longest trigger: %.2f s (%s, %s threads, of %d triggers%s), an upper bound of any wait for a modprobe slot: ", max, dev, n, measured, marked ? "" : " the wrapped kernel log still holds"
		if (max < 5) printf "kmod all-busy timeout 5 s, margin %.2f s\n", 5 - max
		else printf "past the 5 s all-busy timeout, so no bound; the kernel log below counts the waits that timed out\n"
	}'
timeouts=$(kmod_busy_since 0)
echo "    # request_module() timeouts (-ETIME) in the kernel log: $timeouts"
[ "$timeouts" = 0 ] || par_rc=1
for i in $(seq "$n"); do
	echo 0 >"$CFG/p$i/live" && rmdir "$CFG/p$i" || par_rc=1
done
result "    " "$((n + 1))" "devices_removed" "$([ -z "$(ls "$CFG")" ] && echo 0 || echo 1)"
result "" 2 parallel "$par_rc"

# 3: the kernel log, after unloading.
log_rc=0
check_kernel_log || log_rc=1
result "" 3 kernel_log "$log_rc"
exit $((failed || log_rc))
