#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/campaign) and prints one KTAP document, the
# reliability campaign against one driver on the hardened kernel (KASAN,
# lockdep, kmemleak, atomic-sleep and hung-task checks, fault injection):
#   1 random_writes    one knobfuzz writer per device at once (test_kmod0,
#                      and for Rust four devices made through configfs):
#                      random writes interleaved with reads, every result
#                      and read checked (see knobfuzz.c)
#   2 concurrency      triggers on every device at once, thread counts 1 to
#                      64, reset during runs, and one run past the memory
#                      budget of this small guest (get_fs_type of ramfs),
#                      which must be throttled and still make every call
#   3 unload           rmmod is refused while configfs items exist; rmmod
#                      while 50 threads load kmod_fixture_misc (its init
#                      registers a misc device); rmmod and modprobe cycles
#                      while triggers run on test_kmod0, every other one
#                      loading kmod_fixture_misc; with Rust, writers of the
#                      knobs arriving during every rmmod
#   4 fault_injection  failslab and fail_page_alloc: first in allocations
#                      made with the driver's code on the stack (knob writes,
#                      triggers), then in kthreadd while a trigger starts its
#                      threads; each must fail cleanly (an errno, the state
#                      kept, no hang); counts of injected failures > 0; with
#                      Rust, a force_init_test load whose start scenario
#                      fails that way, a mkdir into configfs tried all along:
#                      nothing is left behind, no mkdir succeeds; then,
#                      switched off, a clean run
#   5 kernel_log       no KASAN, lockdep, WARNING, BUG or hung-task report
#                      (the traces that injected failures print are counted
#                      apart), kmemleak still on and empty, a clean unload
# Usage: campaign.sh rust|c SEED WRITES CYCLES
# A part whose trigger does not return within HANG seconds (default 120) is
# reported as hung, and the parts that need the driver are not run.
driver=$1 seed=$2 writes=$3 cycles=$4
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh
HANG=${HANG:-120}
# Threads of the run that outgrows the memory budget: kunit/campaign boots a
# guest small enough for this many to need throttling.
THROTTLED=${THROTTLED:-2500}
CFG=/sys/kernel/config/test_kmod
MISC=/sys/devices/virtual/misc
DBG=/sys/kernel/debug
rm -f /tmp/hung

echo "KTAP version 1"
echo "1..5"
echo "# campaign: $driver driver, seed $seed, $writes writes per device, $cycles unload cycles"
# A deadlock is reported within the run's time, and the kernel's hung-task
# detector agrees with the campaign on what a hang is: five writers' runs of
# up to 16 modprobes each under TCG and KASAN keep a trigger waiting past 30 s.
echo "$HANG" >/proc/sys/kernel/hung_task_timeout_secs
# Resets make cheap runs (4 threads) where the driver lets them (not C).
load() { if [ "$driver" = rust ]; then modprobe test_kmod start_num_threads=4; else modprobe test_kmod; fi; }
load || exit 1

# Subtest output is collected and printed behind its plan.
sub_begin() { k=0; sub_rc=0; : >/tmp/sub.ktap; }
check() { # description, then a command that must succeed
	local desc=$1 out
	shift
	k=$((k + 1))
	echo "# [$(uptime)] $desc ..."
	if out=$("$@" 2>&1); then
		printf '%s\n' "$out" | grep -v '^$' | sed 's/^/    # /' >>/tmp/sub.ktap
		echo "    ok $k $desc" >>/tmp/sub.ktap
	else
		printf '%s\n' "$out" | sed 's/^/    # /' >>/tmp/sub.ktap
		echo "    not ok $k $desc" >>/tmp/sub.ktap
		sub_rc=1
	fi
}
skip() { k=$((k + 1)); echo "    ok $k $1 # SKIP $2" >>/tmp/sub.ktap; }
sub_end() { # number name
	echo "    KTAP version 1"
	echo "    # Subtest: $2"
	echo "    1..$k"
	cat /tmp/sub.ktap
	result "" "$1" "$2" "$sub_rc"
}
# trigger DEVICE: one trigger, which must return within HANG seconds;
# prints the write's error, if any, and returns 1 then; 2 when it hung
# (and /tmp/hung says so from then on: checks run in subshells).
trigger() {
	local t=0
	# Its stdout is not the caller's: check() reads that to its end, which
	# never comes while a deadlocked trigger holds it open.
	(echo 1 >"$MISC/$1/trigger_config") >/dev/null 2>/tmp/trigger.err &
	local pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		t=$((t + 1))
		if [ $t -ge "$HANG" ]; then
			echo "the trigger on $1 did not return in $HANG s: hung"
			touch /tmp/hung
			return 2
		fi
	done
	wait "$pid" || { cat /tmp/trigger.err; return 1; }
}
set_run() { # device case name threads
	echo 1 >"$MISC/$1/reset" && echo "$2" >"$MISC/$1/config_test_case" &&
		if [ "$2" = 2 ]; then printf %s "$3" >"$MISC/$1/config_test_fs"; else printf %s "$3" >"$MISC/$1/config_test_driver"; fi &&
		echo "$4" >"$MISC/$1/config_num_threads"
}

devices=(test_kmod0)
if [ "$driver" = rust ]; then
	for i in 1 2 3 4; do
		mkdir "$CFG/c$i" && echo 1 >"$CFG/c$i/live" && devices+=("$(cat "$CFG/c$i/device")")
	done
fi

# 1: random writes, one writer per device at once.
sub_begin
fuzz() {
	local pids=() d i=0 rc=0
	for d in "${devices[@]}"; do
		./knobfuzz "$((seed + i))" "$writes" "$MISC/$d" >"/tmp/fuzz-$d.log" 2>&1 &
		pids+=($!)
		i=$((i + 1))
	done
	for d in "${pids[@]}"; do wait "$d" || rc=1; done
	cat /tmp/fuzz-*.log
	awk '/^FUZZ/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); sum[kv[1]] += kv[2] } }
		END { printf "random writes: %d writes, %d rejected, %d -ENOMEM, %d triggers, %d reads, %d violations\n",
			sum["writes"], sum["rejected"], sum["enomem"], sum["triggers"], sum["reads"], sum["violations"] }' /tmp/fuzz-*.log
	return $rc
}
start=$(uptime)
check "random writes to every knob of ${#devices[@]} devices at once" fuzz
echo "    # random writes: $(elapsed "$start") s" >>/tmp/sub.ktap
sub_end 1 random_writes

# 2: concurrency.
sub_begin
all_at_once() {
	local threads d pids=() rc=0
	for threads in 1 2 4 8 16 32 64; do
		pids=()
		for d in "${devices[@]}"; do
			set_run "$d" 2 ramfs "$threads" || return 1
			(trigger "$d") &
			pids+=($!)
		done
		for d in "${pids[@]}"; do wait "$d" || rc=1; done
		for d in "${devices[@]}"; do
			[ "$(cat "$MISC/$d/test_result")" = 0 ] || { echo "$d: test_result $(cat "$MISC/$d/test_result") at $threads threads"; rc=1; }
		done
		[ $rc = 0 ] || return 1
	done
	echo "triggers on ${#devices[@]} devices at once, 1 to 64 threads: all 0"
}
check "triggers on every device at once, 1 to 64 threads" all_at_once
reset_during() {
	local i
	set_run test_kmod0 2 ramfs 64 || return 1
	for i in $(seq 10); do
		(trigger test_kmod0) &
		echo 1 >"$MISC/test_kmod0/reset" || return 1
		wait $! || return 1
		grep -q 'Number of threads:' "$MISC/test_kmod0/config" || return 1
		echo 2 >"$MISC/test_kmod0/config_test_case" && printf ramfs >"$MISC/test_kmod0/config_test_fs" && echo 64 >"$MISC/test_kmod0/config_num_threads"
	done
}
check "reset during runs" reset_during
throttled() {
	local before
	before=$(dmesg | grep -c "throttling a run of $THROTTLED threads")
	set_run test_kmod0 2 ramfs "$THROTTLED" && trigger test_kmod0 || return 1
	[ "$(cat "$MISC/test_kmod0/test_result")" = 0 ] || { echo "test_result $(cat "$MISC/test_kmod0/test_result")"; return 1; }
	[ "$(dmesg | grep -c "throttling a run of $THROTTLED threads")" -gt "$before" ] || { echo "not throttled"; return 1; }
	dmesg | grep -o "throttling a run of $THROTTLED threads.*" | tail -1
}
if [ "$driver" = rust ]; then
	check "$THROTTLED threads past the memory budget: throttled, every call made" throttled
else
	skip "10000 threads past the memory budget" "the C driver has no memory budget"
fi
sub_end 2 concurrency

# 3: unload.
sub_begin
if [ "$driver" = rust ]; then
	check "rmmod is refused while configfs items exist" bash -c "! rmmod test_kmod 2>/tmp/rmmod.err && grep -q 'in use' /tmp/rmmod.err"
	remove_items() {
		local i
		for i in 1 2 3 4; do echo 0 >"$CFG/c$i/live" && rmdir "$CFG/c$i" || return 1; done
	}
	check "the configfs devices are removed" remove_items
fi
# Writers of test_kmod0's knobs keep arriving while rmmod runs, with the Rust
# driver.  Not with C: its exit holds its trigger and config mutexes across
# misc_deregister(), which waits for a write that waits for those mutexes
# (kunit/unload --driver=c shows it).
writers=0
[ "$driver" = c ] || writers=1
# The reproducer of an unload that waited for its trigger under misc_mtx:
# 50 threads request kmod_fixture_misc, whose init registers a misc device,
# and rmmod test_kmod starts while that init runs.
misc_unload() {
	local r=0
	unload_during_trigger kmod_fixture_misc 50 "$writers" "$HANG" || r=$?
	[ $r != 2 ] || touch /tmp/hung
	[ $r = 0 ] && load
}
cycles_during_runs() {
	local c rc=0 r ok=0 module threads
	for c in $(seq "$cycles"); do
		[ -d "$MISC/test_kmod0" ] || load || return 1
		# Odd cycles load a module that registers a misc device.
		if [ $((c % 2)) = 1 ]; then
			module=kmod_fixture_misc threads=$((4 + c % 8))
		else
			module=nope-not-a-module threads=$((1 + c % 8))
		fi
		r=0
		unload_during_trigger "$module" "$threads" "$writers" "$HANG" "0.$((c % 10))" || r=$?
		case $r in
		0) ok=$((ok + 1)) ;;
		2) echo "cycle $c ($module): hung"; touch /tmp/hung; return 1 ;;
		*) echo "cycle $c ($module): failed"; rc=1 ;;
		esac
	done
	echo "rmmod/modprobe cycles during triggers: $cycles ($(((cycles + 1) / 2)) loading kmod_fixture_misc), $ok clean unloads$([ "$writers" = 1 ] && echo ", writers arriving during each rmmod")"
	echo "$ok" >/tmp/summary.unloads
	return $rc
}
if [ -e /tmp/hung ]; then
	skip "rmmod during a trigger loading a misc-registering module" "the driver hung"
	skip "rmmod/modprobe cycles while triggers run" "the driver hung"
else
	check "rmmod during a 50-thread trigger loading a misc-registering module$([ "$writers" = 1 ] && echo ", writers arriving")" misc_unload
	if [ -e /tmp/hung ]; then
		skip "rmmod/modprobe cycles while triggers run" "the driver hung"
	else
		check "rmmod/modprobe cycles while triggers run on test_kmod0" cycles_during_runs
		check "the module unloads at the end" bash -c "! grep -q '^test_kmod ' /proc/modules || rmmod test_kmod"
		load
	fi
fi
sub_end 3 unload

# 4: fault injection (Documentation/fault-injection/).
sub_begin
# inject ATTR TASK_FILTER START END: sets an injector up, still off: only
# tasks marked make-it-fail (task filter Y) fail, at allocations with a
# caller in [START, END) on the stack; verbose, every gfp mask, every order.
inject() {
	local a=$DBG/$1
	echo 0 >"$a/probability"
	echo 1 >"$a/interval"
	echo 100000 >"$a/times"
	echo 1 >"$a/verbose"
	echo N >"$a/ignore-gfp-wait"
	[ ! -e "$a/min-order" ] || echo 0 >"$a/min-order"
	echo "$2" >"$a/task-filter"
	echo "$3" >"$a/require-start"
	echo "$4" >"$a/require-end"
	echo 32 >"$a/stacktrace-depth"
	# Armed only once every filter reads back as set.
	[ "$(cat "$a/task-filter")" = "$2" ] && [ "$(printf '%u' "$(cat "$a/require-start")")" = "$3" ] &&
		[ "$(printf '%u' "$(cat "$a/require-end")")" = "$4" ] || { echo "$1: the filters did not take"; return 1; }
}
arm() { local a; for a in failslab fail_page_alloc; do echo "$1" >"$DBG/$a/probability"; done; }
off() { arm 0; }
injected() { local a n=0; for a in failslab fail_page_alloc; do n=$((n + 100000 - $(cat "$DBG/$a/times"))); done; echo $n; }
# The driver's own allocations: only those of the writer (make-it-fail,
# set by knobfuzz on itself) made with the driver's code on the stack (the
# stack-trace filter, on the module's address range) fail.
driver_allocations() {
	local base end a before after enomem rc
	base=$(printf '%u' "$(cat /sys/module/test_kmod/sections/.text)")
	end=$(printf '%u' $(($(cat /sys/module/test_kmod/sections/.text) + $(cat /sys/module/test_kmod/coresize))))
	for a in failslab fail_page_alloc; do inject $a Y "$base" "$end" || return 1; done
	arm 20
	before=$(injected)
	./knobfuzz "$((seed + 100))" "$((writes / 4 + 50))" "$MISC/test_kmod0" fail >/tmp/fuzz-inject.log 2>&1
	rc=$?
	off
	after=$(injected)
	cat /tmp/fuzz-inject.log
	enomem=$(grep -o 'enomem=[0-9]*' /tmp/fuzz-inject.log | cut -d= -f2)
	echo "driver allocations: $((after - before)) injected failures, ${enomem:-0} writes or triggers gave -ENOMEM, state kept"
	echo "$((after - before))" >/tmp/summary.inj_alloc
	[ "$((after - before))" -gt 0 ] && [ "${enomem:-0}" -gt 0 ] && [ $rc = 0 ]
}
# Thread creation happens in kthreadd (PID 2): its allocations fail, at any
# depth, while a trigger starts its threads.  Other kernel threads created
# meanwhile can fail too (kworkers retry); the window is one trigger.
thread_creation() {
	local a try before after spawn_before spawn_after rc=0 res
	for a in failslab fail_page_alloc; do inject $a Y 0 18446744073709551615 || return 1; done
	spawn_before=$(dmesg | grep -c 'starting thread [0-9]* failed')
	before=$(injected)
	for try in 1 2 3 4 5; do
		echo 1 >"$MISC/test_kmod0/reset"
		set_run test_kmod0 2 ramfs 200 || return 1
		arm 25
		echo 1 >/proc/2/make-it-fail
		trigger test_kmod0
		res=$?
		echo 0 >/proc/2/make-it-fail
		off
		[ $res = 2 ] && return 1
		spawn_after=$(dmesg | grep -c 'starting thread [0-9]* failed')
		if [ "$spawn_after" -gt "$spawn_before" ]; then
			# The trigger gave the error (res 1), and the next one too
			# until reset, as in C.
			[ $res = 1 ] || { echo "a thread could not start, yet the trigger succeeded"; rc=1; }
			break
		fi
	done
	after=$(injected)
	echo "$((after - before))" >/tmp/summary.inj_kthread
	echo "thread creation: $((after - before)) injected failures in kthreadd, $((spawn_after - spawn_before)) runs stopped by a thread that could not start (after $try triggers)"
	dmesg | grep -o 'starting thread [0-9]* failed.*' | tail -1
	[ "$((spawn_after - spawn_before))" -gt 0 ] && [ $rc = 0 ]
}
# A load whose start scenario fails (kthreadd cannot create its threads)
# leaves nothing behind, and configfs cannot be used while the scenarios run:
# a mkdir in /sys/kernel/config/test_kmod, tried all through the load, never
# succeeds (configfs is registered only once the scenarios passed; before,
# an item made during them outlived the failed load).
failed_init() {
	local a mk rc=0 made tries failed_before
	failed_before=$(dmesg | grep -c 'not ok 1 test_kmod_start')
	rmmod test_kmod || return 1
	for a in failslab fail_page_alloc; do inject $a Y 0 18446744073709551615 || return 1; done
	rm -f /tmp/init.stop
	(
		made=0 tries=0
		while [ ! -e /tmp/init.stop ]; do
			tries=$((tries + 1))
			mkdir "$CFG/early" 2>/dev/null && { made=$((made + 1)); rmdir "$CFG/early"; }
		done
		echo "$made $tries" >/tmp/init.mkdir
	) >/dev/null 2>&1 &
	mk=$!
	[ ! -e /sys/class/misc/kmod_fixture_misc ] || rmmod kmod_fixture_misc
	# The first scenario loads kmod_fixture_misc (seconds); thread creation
	# fails from when its init runs, so the scenarios cannot finish.
	modprobe test_kmod force_init_test=1 start_driver=kmod_fixture_misc start_test_fs=ramfs \
		start_num_threads=50 >/dev/null 2>/tmp/init.err &
	local pid=$!
	until grep -q '^kmod_fixture_misc ' /proc/modules || ! kill -0 $pid 2>/dev/null; do
		sleep 0.05
	done
	arm 100
	echo 1 >/proc/2/make-it-fail
	wait_while $pid "$HANG" || { echo "the load did not end in $HANG s"; touch /tmp/hung; return 1; }
	echo 0 >/proc/2/make-it-fail
	off
	if wait $pid; then
		echo "the load succeeded, though thread creation failed"
		rc=1
	else
		echo "the load failed: $(cat /tmp/init.err)"
	fi
	touch /tmp/init.stop
	wait $mk
	read -r made tries </tmp/init.mkdir
	echo "mkdir during the load: $tries tries, $made succeeded"
	[ "$made" = 0 ] || rc=1
	dmesg | grep -E '(not )?ok [0-9] start_|could not run' | tail -3
	[ "$(dmesg | grep -c 'not ok 1 test_kmod_start')" -gt "$failed_before" ] || { echo "no start scenario failed"; rc=1; }
	! grep -q '^test_kmod ' /proc/modules || { echo "test_kmod is loaded"; rc=1; }
	[ ! -e "$MISC/test_kmod0" ] || { echo "test_kmod0 was left behind"; rc=1; }
	[ ! -e "$CFG" ] || { echo "the configfs subsystem was left behind"; rc=1; }
	load || rc=1
	return $rc
}
clean_run() {
	echo 1 >"$MISC/test_kmod0/reset"
	set_run test_kmod0 2 ramfs 50 && trigger test_kmod0 && [ "$(cat "$MISC/test_kmod0/test_result")" = 0 ]
}
if [ -e /tmp/hung ]; then
	skip "failures in the driver's own allocations" "the driver hung"
	skip "failures in thread creation" "the driver hung"
else
	check "failures in the driver's own allocations: -ENOMEM, state kept" driver_allocations
	check "failures in thread creation: the run stops with the error, no hang" thread_creation
	if [ "$driver" = rust ] && [ ! -e /tmp/hung ]; then
		check "a failed force_init_test load leaves nothing behind; no mkdir during it" failed_init
	fi
	if [ -e /tmp/hung ]; then
		skip "switched off, a clean run passes" "the driver hung"
	else
		check "switched off, a clean run passes" clean_run
	fi
fi
echo 0 >/proc/2/make-it-fail
off
sub_end 4 fault_injection

# 5: the kernel log.
log_rc=0
if [ -e /tmp/hung ]; then
	echo "# the driver hung: no unload"
	log_rc=1
	check_kernel_log --no-unload || true
else
	check_kernel_log || log_rc=1
fi
result "" 5 kernel_log "$log_rc"
summary() { cat "/tmp/summary.$1" 2>/dev/null || echo none; }
echo "# campaign summary: seed $seed; $(awk '/^FUZZ/ { for (i = 3; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } } END { printf "%d writes, %d rejected, %d triggers", s["writes"], s["rejected"], s["triggers"] }' /tmp/fuzz-*.log); rmmod cycles: $(summary unloads) of $cycles; injected failures: $(summary inj_alloc) in the driver's allocations, $(summary inj_kthread) in thread creation"
exit $((failed || log_rc))
