# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# Shared by the guest scripts (kunit/guest/*.sh), inside the VM: KTAP result
# lines, times, and the kernel log check that ends every run.  Sourced.

failed=0

# kmod.sh's file system (its DEFAULT_KMOD_FS, xfs unless set).  kmod_test_0009
# starts a quarter more get_fs_type() threads than the kernel's 50 concurrent
# modprobes; the rest wait at most 5 s (MAX_KMOD_ALL_BUSY_TIMEOUT) and then
# fail.  Under TCG with KASAN loading xfs takes 5 to 10 s, so 0009 would test
# the host's speed, with either driver; minix loads in well under a second.
# DEFAULT_KMOD_FS=xfs kunit/selftest restores kmod.sh's own default.
export DEFAULT_KMOD_FS=${DEFAULT_KMOD_FS:-minix}

uptime() { cut -d' ' -f1 /proc/uptime; }

# elapsed START: seconds since uptime START, one decimal.
elapsed() { awk -v a="$1" -v b="$(uptime)" 'BEGIN { printf "%.1f", b - a }'; }

# kmod_busy_since START: how many "kmod busy" warnings the kernel logged since
# uptime START.  Each is a request_module() that waited the 5 s all-busy
# timeout (MAX_KMOD_ALL_BUSY_TIMEOUT) for one of kmod's 50 modprobe slots and
# failed with -ETIME; get_fs_type() then finds no file system.  The warning is
# rate-limited, so a burst counts from 1, never 0.
kmod_busy_since() {
	dmesg | awk -v since="$1" '
		/request_module: modprobe .* cannot be processed, kmod busy/ {
			t = $0; sub(/^\[ */, "", t); sub(/\].*/, "", t)
			if (t + 0 >= since) n++
		}
		END { print n + 0 }'
}

# result INDENT NUMBER NAME STATUS [DIRECTIVE]: a KTAP result line; status 0
# (or 4, kselftest's skip) is ok, anything else not ok and sets $failed.
result() {
	local word=ok
	[ "$4" = 0 ] || [ "$4" = 4 ] || { word="not ok"; failed=1; }
	printf '%s%s %d %s%s\n' "$1" "$word" "$2" "$3" "${5:+ # $5}"
}

# check_kernel_log [--no-unload]: the module unloads; kmemleak (two scans:
# an object is reported once it was unreferenced in both) finds no leak and
# is still on; dmesg has no WARNING, BUG, KASAN, lockdep, hung-task or
# soft-lockup report.  What injected failures print (the FAULT_INJECTION
# lines, and the allocation-failure reports with their stack traces, up to
# the end of each trace) is counted, not reported.  Prints what it found as
# diagnostics; returns 1 if anything.
check_kernel_log() {
	local rc=0 pattern injected
	if [ "${1:-}" != --no-unload ]; then
		modprobe -r test_kmod || { echo "# modprobe -r test_kmod failed"; rc=1; }
	fi
	if dmesg | grep -q 'kmemleak: Kernel memory leak detector disabled'; then
		echo "# kmemleak switched itself off: no leak check"
		rc=1
	elif [ -w /sys/kernel/debug/kmemleak ]; then
		echo scan >/sys/kernel/debug/kmemleak
		echo scan >/sys/kernel/debug/kmemleak
		if [ -s /sys/kernel/debug/kmemleak ]; then
			sed 's/^/# /' /sys/kernel/debug/kmemleak | head -60
			rc=1
		fi
	else
		echo "# no kmemleak: no leak check"
		rc=1
	fi
	dmesg | awk '
		/FAULT_INJECTION: forcing a failure|name (failslab|fail_page_alloc), interval/ { inj++; next }
		/page allocation failure: |vmalloc error: |SLUB: Unable to allocate/ { inj++; skip = 1 }
		skip { if (/<\/TASK>/) skip = 0; next }
		{ print > "/tmp/dmesg.reports" }
		END { print inj + 0 > "/tmp/dmesg.injected" }'
	injected=$(cat /tmp/dmesg.injected)
	[ "$injected" = 0 ] || echo "# injected-failure messages in the kernel log: $injected (counted, not reports)"
	pattern='WARNING:|BUG:|KASAN:|UBSAN:|Oops|general protection|possible recursive locking|possible circular locking|inconsistent lock state|INFO: task .* blocked|soft lockup|unreferenced object|Call Trace'
	if grep -Eq "$pattern" /tmp/dmesg.reports; then
		echo "# kernel reports:"
		grep -E -A20 "$pattern" /tmp/dmesg.reports | head -120 | sed 's/^/# /'
		rc=1
	fi
	return $rc
}

# hang_report WHAT: after a hang, no unload (it would hang too): the blocked
# tasks the kernel named, then the rest of check_kernel_log.
hang_report() {
	echo "# $1 hung: no unload; the kernel's reports follow"
	dmesg | grep -E -A12 'INFO: task .* blocked|blocked on a mutex' | head -80 | sed 's/^/# /'
	check_kernel_log --no-unload || true
}

# wait_while PID SECONDS: waits until process PID has ended or SECONDS have
# passed; returns 0 if it ended (its status is still to be collected with
# wait), 1 if it still runs.  A process in an uninterruptible sleep cannot be
# killed, so a bounded wait is how a hang is told.
wait_while() {
	local pid=$1 t=0
	while kill -0 "$pid" 2>/dev/null; do
		[ "$t" -lt "$(($2 * 10))" ] || return 1
		sleep 0.1
		t=$((t + 1))
	done
}

# unload_during_trigger MODULE THREADS WRITERS [HANG [DELAY]]: test_kmod (loaded)
# runs a trigger on test_kmod0 that requests MODULE with THREADS threads,
# and `rmmod test_kmod` starts while it runs; with WRITERS=1 a writer keeps
# writing and reading the knobs of test_kmod0 while rmmod runs.  With
# MODULE kmod_fixture_misc (whose init sleeps 3 s, then registers a misc device)
# it is unloaded first, and rmmod starts once its init runs (otherwise DELAY
# s after the trigger, default 0.3): the unload must
# wait for the trigger without holding misc_mtx, which that init needs.
# Passes when rmmod succeeds within HANG s (default 120), the trigger and the
# writer end with it (the writer's writes succeed or fail, none hangs),
# test_kmod0 is gone, and a kmod_fixture_misc requested has registered its
# device.  Prints what happened and when; returns 0, 1 (failed), 2 (hung).
unload_during_trigger() {
	local module=$1 threads=$2 writers=$3 hang=${4:-120} delay=${5:-0.3}
	local dir=/sys/devices/virtual/misc/test_kmod0 tpid rpid wpid start t0 rc=0 rmmod_rc writes refused
	[ -d "$dir" ] || { echo "test_kmod0 is not there"; return 1; }
	[ "$module" != kmod_fixture_misc ] || ! grep -q '^kmod_fixture_misc ' /proc/modules ||
		rmmod kmod_fixture_misc || { echo "kmod_fixture_misc does not unload"; return 1; }
	echo 1 >"$dir/reset" && echo 1 >"$dir/config_test_case" && printf %s "$module" >"$dir/config_test_driver" &&
		echo "$threads" >"$dir/config_num_threads" || { echo "cannot configure the trigger"; return 1; }
	rm -f /tmp/unload.stop /tmp/unload.writes
	start=$(uptime)
	(echo 1 >"$dir/trigger_config") >/dev/null 2>/tmp/unload.trigger &
	tpid=$!
	if [ "$writers" = 1 ]; then
		# From the trigger on until rmmod has returned; builtins only: as
		# many writes and reads as the shell can make.
		(
			n=0 refused=0
			while [ ! -e /tmp/unload.stop ]; do
				for f in config_num_threads config_test_driver test_result; do
					case $f in
					config_num_threads) v=3 ;;
					config_test_driver) v=$module ;;
					test_result) v=0 ;;
					esac
					printf %s "$v" 2>/dev/null >"$dir/$f" || refused=$((refused + 1))
					read -r _ 2>/dev/null <"$dir/config"
					n=$((n + 1))
				done
			done
			echo "$n $refused" >/tmp/unload.writes
		) >/dev/null 2>&1 &
		wpid=$!
	fi
	# rmmod starts from a shell at the highest priority: the trigger's
	# threads and modprobes fill both vCPUs, and a shell at nice 0 (a fork
	# takes seconds then under TCG with KASAN) notices too late.  With
	# kmod_fixture_misc, rmmod starts once its init runs (it sleeps 3 s
	# before misc_register()); /proc/modules is read with a builtin.  No
	# background process keeps the caller's stdout: callers read it to its
	# end (check's $(...)), which never comes while a hung one holds it.
	(
		renice -n -20 -p "$BASHPID" >/dev/null 2>&1
		if [ "$module" = kmod_fixture_misc ]; then
			t=0
			while :; do
				read -r -d '' mods </proc/modules
				case $'\n'$mods in *$'\n'"kmod_fixture_misc "*) break ;; esac
				sleep 0.02
				t=$((t + 1))
				[ $t -lt 3000 ] || break
			done
			# Its state (Loading, Live), with builtins: a line of
			# /proc/modules is "name size refs deps state address".
			mods=$'\n'$mods
			mods=${mods#*$'\n'kmod_fixture_misc }
			read -r _ _ _ state _ <<<"${mods%%$'\n'*}"
			echo "${state:-unknown}" >/tmp/unload.state
		else
			sleep "$delay"
		fi
		uptime >/tmp/unload.t0
		exec rmmod test_kmod
	) >/dev/null 2>/tmp/unload.rmmod &
	rpid=$!
	if ! wait_while "$rpid" "$hang"; then
		echo "rmmod did not return in $hang s: hung (trigger and writer left running)"
		touch /tmp/unload.stop
		return 2
	fi
	wait "$rpid"
	rmmod_rc=$?
	t0=$(cat /tmp/unload.t0 2>/dev/null || echo "$start")
	echo "rmmod returned $rmmod_rc after $(elapsed "$t0") s ($(elapsed "$start") s after the trigger started$([ "$module" = kmod_fixture_misc ] && echo ", kmod_fixture_misc $(cat /tmp/unload.state) when it began"))"
	[ "$rmmod_rc" = 0 ] || { cat /tmp/unload.rmmod; rc=1; }
	touch /tmp/unload.stop
	if [ "$writers" = 1 ]; then
		if wait_while "$wpid" 30; then
			wait "$wpid"
			read -r writes refused </tmp/unload.writes
			echo "the writer made $writes writes, $refused refused"
		else
			echo "the writer did not end in 30 s: hung"
			return 2
		fi
	fi
	if wait_while "$tpid" 30; then
		# A trigger that had not entered the store when rmmod began may be
		# refused; one that loads kmod_fixture_misc had, and must succeed.
		if ! wait "$tpid"; then
			echo "the trigger failed: $(cat /tmp/unload.trigger)"
			[ "$module" != kmod_fixture_misc ] || rc=1
		fi
	else
		echo "the trigger did not end in 30 s after rmmod: hung"
		return 2
	fi
	[ ! -d "$dir" ] || { echo "test_kmod0 outlived the module"; rc=1; }
	if [ "$module" = kmod_fixture_misc ]; then
		[ -e /sys/class/misc/kmod_fixture_misc ] ||
			{ echo "kmod_fixture_misc did not register its device"; rc=1; }
	fi
	return $rc
}
