#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/races) and prints one KTAP document: the
# module loader's races, driven only through test_kmod's ordinary knobs
# (reset, config_test_case, config_test_driver, config_num_threads,
# trigger_config, test_result; configfs devices for 4), so that they run
# against either driver, with the fixtures kmod_fixture_slow (init sleeps
# init_ms) and kmod_fixture_fail (init fails with -errno):
#   1 same_name_slow     THREADS (50) same-name requests of kmod_fixture_slow
#                        (init 2 s): every call returns 0, one init runs, and
#                        the run takes about one init, not THREADS
#   2 same_name_failing  THREADS requests of kmod_fixture_fail (-ENODEV):
#                        every call fails the same way (modprobe exit 1,
#                        request_module() 256), nothing hangs, nothing is
#                        left in /sys/module; then errno=0 through
#                        /etc/modprobe.d: every call returns 0, one init runs,
#                        the module unloads (its refcount is 0)
#   3 load_vs_unload     ROUNDS (4) times: 20 threads request kmod_fixture_slow
#                        (init 0.3 s) while `modprobe -r` runs 10 times: only
#                        0 or 256 from request_module() (-EBUSY from
#                        finit_module() for a module coming or going), no
#                        hang, the module Live or gone at the end, and it
#                        loads and unloads afterwards
#   4 configfs_devices   4 devices (configfs) at once, 12 threads each: a
#                        different module per device (slow, failing,
#                        kmod_fixture1, kmod_fixture2), then kmod_fixture_slow
#                        from every device: each device's result as in 1 and
#                        2, one init of the shared module (SKIP for the C
#                        driver: it has test_kmod0 only)
#   5 autoload_dups      with CONFIG_MODULE_DEBUG_AUTOLOAD_DUPS: the
#                        duplicates kernel/module/dups.c reports for THREADS
#                        requests, plus the modprobes that ran, are the
#                        requests made (SKIP when the kernel lacks it)
#   6 kernel_log         no WARNING/BUG/lockdep/hung task report, no leak
# Every request_module() runs a modprobe wrapper (kernel.modprobe) that
# records each call's exit status and error message: test_result only keeps
# the last non-zero return of a run, so the wrapper is what says that every
# call returned the same, for either driver.
# Usage: races.sh rust|c [THREADS [ROUNDS [dups]]].  A trigger that does not
# return in HANG s (default 120; the hung-task timeout is half of it) is a
# hang.  "dups": the kernel has CONFIG_MODULE_DEBUG_AUTOLOAD_DUPS, which gives
# every request of a name the first one's result for 60 s, so 1 to 4 would
# test that cache instead of the loader: only 5 runs (kunit/races --dups).
driver=$1 threads=${2:-50} rounds=${3:-4} mode=${4:-all}
cd /kmod || exit 2
# shellcheck source=lib.sh
. ./lib.sh
HANG=${HANG:-120}
DEV0=/sys/devices/virtual/misc/test_kmod0
CALLS=/tmp/races.calls
SLOW_MS=2000 FAIL_MS=500 RACE_MS=300
echo "KTAP version 1"
echo "1..6"
echo "# races: the $driver driver, $threads threads, $rounds rounds of load against unload"
echo $((HANG / 2)) >/proc/sys/kernel/hung_task_timeout_secs
modprobe test_kmod || exit 1
mkdir -p /etc/modprobe.d

# The wrapper: request_module() runs "modprobe -q -- NAME"; without -q, so
# that the reason of a failure is recorded.  busybox sh starts fastest.
cat >/tmp/races-modprobe <<'EOF'
#!/bin/sh
set -f
for a; do shift; [ "$a" = -q ] || set -- "$@" "$a"; done
err=$(/usr/sbin/modprobe "$@" 2>&1)
rc=$?
echo "$rc|$*|"$err >>/tmp/races.calls
exit $rc
EOF
chmod +x /tmp/races-modprobe
modprobe_path=$(cat /proc/sys/kernel/modprobe)
echo /tmp/races-modprobe >/proc/sys/kernel/modprobe

# le A B: decimal A <= B.
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
# mark: the kernel log's length, for counting what comes after it.
mark() { dmesg | wc -l; }
# count_since MARK REGEX: kernel log lines after MARK matching REGEX.
count_since() { dmesg | tail -n +$(($1 + 1)) | grep -c -E "$2"; }
# state MODULE: its state in /proc/modules (Live, Loading, Unloading), or gone.
state() { awk -v m="$1" '$1 == m { s = $5 } END { print s ? s : "gone" }' /proc/modules; }
# options LINE: the only /etc/modprobe.d line (request_module() runs a plain
# modprobe: this is how its loads get parameters).
options() { echo "$1" >/etc/modprobe.d/races.conf; }
# unload MODULE: gone before a scenario starts.
unload() { [ "$(state "$1")" = gone ] || modprobe -r "$1"; }

# calls MODULE: the wrapper's records for MODULE since CALLS was emptied, as
# "total rc=N:count... messages" on one line; sets CALLS_N, CALLS_BAD (calls
# whose exit status is not in the allowed list $2, or whose message is not
# in the allowed regex $3).
calls() {
	local module=$1 ok_rc=$2 ok_msg=$3 out
	out=$(awk -F'|' -v m="$module" -v okrc=" $ok_rc " -v okmsg="$ok_msg" '
		$2 ~ ("(^| )" m "$") {
			n++; rc[$1]++
			if (index(okrc, " " $1 " ") == 0) bad++
			if ($3 != "") { msg = $3; sub(/^.*: /, "", msg); msgs[msg]++
				if (okmsg == "" || msg !~ okmsg) bad++ }
		}
		END {
			s = n + 0 " calls:"
			for (r in rc) s = s " exit " r " x" rc[r]
			for (x in msgs) s = s "; \"" x "\" x" msgs[x]
			print (bad + 0) " " (n + 0) " " s
		}' "$CALLS")
	CALLS_BAD=${out%% *}
	out=${out#* }
	CALLS_N=${out%% *}
	CALLS_SUMMARY=${out#* }
}

# trigger DIR MODULE THREADS: one run of THREADS request_module(MODULE) on the
# device at DIR, through its knobs; sets T (seconds), TR (test_result).
# Returns 1 if a knob write failed, 2 if the trigger did not return in HANG s.
trigger() {
	local dir=$1 module=$2 n=$3 start pid rc
	T=- TR=-
	{ echo 1 >"$dir/reset" && echo 1 >"$dir/config_test_case" &&
		printf %s "$module" >"$dir/config_test_driver" &&
		echo "$n" >"$dir/config_num_threads"; } 2>/dev/null ||
		{ echo "cannot configure ${dir##*/}"; return 1; }
	start=$(uptime)
	(echo 1 >"$dir/trigger_config") >/dev/null 2>"/tmp/races.trigger.${dir##*/}" &
	pid=$!
	if ! wait_while "$pid" "$HANG"; then
		T=$(elapsed "$start")
		echo "the trigger on ${dir##*/} did not return in $HANG s: hung"
		return 2
	fi
	wait "$pid"
	rc=$?
	T=$(elapsed "$start")
	TR=$(cat "$dir/test_result")
	[ "$rc" = 0 ] || { echo "the trigger write failed: $(cat "/tmp/races.trigger.${dir##*/}")"; return 1; }
}

hung=0
# scenario NUMBER NAME FUNCTION: runs FUNCTION, its output as diagnostics.
scenario() {
	local number=$1 name=$2 out rc=0
	if [ $hung = 1 ]; then
		echo "ok $number $name # SKIP a trigger hung before"
		return
	fi
	out=$("$3") || rc=$?
	printf '%s\n' "$out" | sed 's/^/# /'
	[ "$rc" != 2 ] || hung=1
	case $rc in
	4) echo "ok $number $name # SKIP ${out##*$'\n'}" ;;
	*) result "" "$number" "$name" "$rc" ;;
	esac
}

# 1. Since Linux 6.0 a finit_module() of a module that is still in its init
# waits for that init and returns -EEXIST (modprobe: success); a modprobe
# that comes after sees it loaded.  So THREADS requests run one init, and
# take the THREADS modprobes' own time (measured first, with the module
# loaded) plus one init (measured alone: one modprobe and the init).
# Bound: twice that sum, for a host under load, and at most half of THREADS
# inits one after another (THREADS x 2 s), which is what it must tell apart.
same_name_slow() {
	local rc=0 start t_single t_loaded bound serial m inits
	options "options kmod_fixture_slow init_ms=$SLOW_MS"
	unload kmod_fixture_slow || return 1
	start=$(uptime)
	modprobe kmod_fixture_slow || { echo "modprobe kmod_fixture_slow failed"; return 1; }
	t_single=$(elapsed "$start")
	trigger "$DEV0" kmod_fixture_slow "$threads" || return
	t_loaded=$T
	[ "$TR" = 0 ] || { echo "loaded already: test_result $TR, expected 0"; rc=1; }
	modprobe -r kmod_fixture_slow || { echo "modprobe -r kmod_fixture_slow failed"; return 1; }
	: >"$CALLS"
	m=$(mark)
	trigger "$DEV0" kmod_fixture_slow "$threads" || return
	serial=$((threads * SLOW_MS / 1000))
	bound=$(awk -v a="$t_single" -v b="$t_loaded" -v c="$serial" 'BEGIN { x = 2 * (a + b); if (x > c / 2) x = c / 2; printf "%.1f", x }')
	echo "one load by hand: $t_single s; $threads requests while it is loaded: $t_loaded s"
	echo "$threads requests while it is not loaded: $T s (bound $bound s = 2 x ($t_single + $t_loaded), at most half of $threads inits one after another: $serial s)"
	calls kmod_fixture_slow 0 ''
	echo "modprobe: $CALLS_SUMMARY"
	inits=$(count_since "$m" 'kmod_fixture_slow: init takes')
	echo "inits run: $inits; test_result $TR; kmod_fixture_slow $(state kmod_fixture_slow)"
	[ "$TR" = 0 ] || { echo "test_result $TR, expected 0"; rc=1; }
	[ "$CALLS_N" = "$threads" ] || { echo "$CALLS_N modprobe calls, expected $threads"; rc=1; }
	[ "$CALLS_BAD" = 0 ] || { echo "$CALLS_BAD calls did not return 0"; rc=1; }
	[ "$inits" = 1 ] || { echo "$inits inits, expected 1"; rc=1; }
	[ "$(state kmod_fixture_slow)" = Live ] || { echo "kmod_fixture_slow is not Live"; rc=1; }
	le "$T" "$bound" || { echo "$T s is over the bound of $bound s"; rc=1; }
	modprobe -r kmod_fixture_slow || { echo "modprobe -r kmod_fixture_slow failed afterwards"; rc=1; }
	return $rc
}

# 2. A finit_module() that waited for a failing init gets -EBUSY (or, for
# the same file at once, the first one's -ENODEV); either way modprobe exits
# 1 and request_module() returns 256.
same_name_failing() {
	local rc=0 m inits
	options "options kmod_fixture_fail errno=19 init_ms=$FAIL_MS"
	unload kmod_fixture_fail || return 1
	: >"$CALLS"
	m=$(mark)
	trigger "$DEV0" kmod_fixture_fail "$threads" || return
	calls kmod_fixture_fail 1 'No such device|Device or resource busy'
	inits=$(count_since "$m" 'kmod_fixture_fail: init fails with -19')
	echo "failing (errno=19): $threads requests in $T s; test_result $TR; inits run: $inits; kmod_fixture_fail $(state kmod_fixture_fail)"
	echo "modprobe: $CALLS_SUMMARY"
	[ "$TR" = 256 ] || { echo "test_result $TR, expected 256"; rc=1; }
	[ "$CALLS_N" = "$threads" ] || { echo "$CALLS_N modprobe calls, expected $threads"; rc=1; }
	[ "$CALLS_BAD" = 0 ] || { echo "$CALLS_BAD calls did not fail with exit 1 and -ENODEV or -EBUSY"; rc=1; }
	[ "$inits" -ge 1 ] || { echo "no init ran"; rc=1; }
	[ ! -e /sys/module/kmod_fixture_fail ] || { echo "/sys/module/kmod_fixture_fail is left"; rc=1; }
	options "options kmod_fixture_fail errno=0 init_ms=$FAIL_MS"
	: >"$CALLS"
	m=$(mark)
	trigger "$DEV0" kmod_fixture_fail "$threads" || return
	calls kmod_fixture_fail 0 ''
	inits=$(count_since "$m" 'kmod_fixture_fail: init succeeds')
	echo "then errno=0: $threads requests in $T s; test_result $TR; inits run: $inits; kmod_fixture_fail $(state kmod_fixture_fail)"
	echo "modprobe: $CALLS_SUMMARY"
	[ "$TR" = 0 ] || { echo "test_result $TR, expected 0"; rc=1; }
	[ "$CALLS_N" = "$threads" ] || { echo "$CALLS_N modprobe calls, expected $threads"; rc=1; }
	[ "$CALLS_BAD" = 0 ] || { echo "$CALLS_BAD calls did not return 0"; rc=1; }
	[ "$inits" = 1 ] || { echo "$inits inits, expected 1"; rc=1; }
	[ "$(state kmod_fixture_fail)" = Live ] || { echo "kmod_fixture_fail is not Live"; rc=1; }
	modprobe -r kmod_fixture_fail || { echo "modprobe -r kmod_fixture_fail failed: refcount not 0"; rc=1; }
	return $rc
}

# 3. Since Linux 6.2 a load does not wait for a module that is going away:
# finit_module() returns -EBUSY for a module coming or going of that name,
# modprobe exits 1, request_module() returns 256; `modprobe -r` of a module
# in its init or already gone exits 1.  Nothing else, and nothing waits
# forever.
load_vs_unload() {
	local rc=0 i n=20 removals=10 pid tpid st rm m raced=0 inits
	options "options kmod_fixture_slow init_ms=$RACE_MS"
	for i in $(seq "$rounds"); do
		unload kmod_fixture_slow || return 1
		: >"$CALLS"
		: >/tmp/races.rm
		m=$(mark)
		(trigger "$DEV0" kmod_fixture_slow "$n" >/tmp/races.t3; echo "$? $T $TR" >/tmp/races.t3rc) >/dev/null 2>&1 &
		tpid=$!
		(
			for _ in $(seq "$removals"); do
				modprobe -r kmod_fixture_slow >/dev/null 2>&1
				echo $? >>/tmp/races.rm
				sleep 0.2
			done
		) >/dev/null 2>&1 &
		pid=$!
		if ! wait_while "$pid" "$HANG"; then
			echo "round $i: modprobe -r did not return in $HANG s: hung"
			return 2
		fi
		wait_while "$tpid" "$HANG" || { echo "round $i: the trigger did not return: hung"; return 2; }
		cat /tmp/races.t3
		read -r st T TR </tmp/races.t3rc
		[ "$st" != 2 ] || return 2
		calls kmod_fixture_slow '0 1' 'Device or resource busy'
		rm=$(sort /tmp/races.rm | uniq -c | awk '{ printf "%s exit %s x%s", (NR > 1 ? "," : ""), $2, $1 }')
		inits=$(count_since "$m" 'kmod_fixture_slow: init takes')
		[ "$inits" -le 1 ] || raced=$((raced + 1))
		echo "round $i: $n requests in $T s, test_result $TR; modprobe: $CALLS_SUMMARY; $removals modprobe -r:$rm; inits run: $inits; kmod_fixture_slow $(state kmod_fixture_slow) at the end"
		[ "$st" = 0 ] || rc=1
		case $TR in 0|256) ;; *) echo "round $i: test_result $TR, expected 0 or 256"; rc=1 ;; esac
		[ "$CALLS_N" = "$n" ] || { echo "round $i: $CALLS_N modprobe calls, expected $n"; rc=1; }
		[ "$CALLS_BAD" = 0 ] || { echo "round $i: $CALLS_BAD calls returned something other than 0, or 1 with -EBUSY"; rc=1; }
		grep -q -v -x -E '0|1' /tmp/races.rm && { echo "round $i: modprobe -r exited other than 0 or 1"; rc=1; }
		case $(state kmod_fixture_slow) in Live|gone) ;; *) echo "round $i: kmod_fixture_slow left $(state kmod_fixture_slow)"; rc=1 ;; esac
	done
	echo "rounds in which a request loaded it again after an unload (more than one init): $raced of $rounds"
	# Nothing is stuck: it loads and unloads.
	modprobe kmod_fixture_slow && modprobe -r kmod_fixture_slow &&
		[ "$(state kmod_fixture_slow)" = gone ] ||
		{ echo "kmod_fixture_slow does not load and unload afterwards"; rc=1; }
	return $rc
}

# 4. Several devices at once: each device's run is its own, the loader's
# merging is across devices.  12 threads each: 48 requests stay within kmod's
# 50 concurrent modprobes.
configfs_devices() {
	local cfg=/sys/kernel/config/test_kmod rc=0 i m inits st t tr dev mods part
	local -a devs=() names=() pids=()
	if [ ! -d "$cfg" ]; then
		echo "the $driver driver has no configfs devices (test_kmod0 only)"
		return 4
	fi
	for i in 1 2 3 4; do
		mkdir "$cfg/races$i" && echo 12 >"$cfg/races$i/threads" && echo 1 >"$cfg/races$i/live" ||
			{ echo "cannot create configfs device races$i"; return 1; }
		devs+=("/sys/devices/virtual/misc/$(cat "$cfg/races$i/device")")
	done
	options "options kmod_fixture_slow init_ms=$SLOW_MS
options kmod_fixture_fail errno=19 init_ms=$FAIL_MS"
	for part in different same; do
		unload kmod_fixture_slow && unload kmod_fixture_fail && unload kmod_fixture1 && unload kmod_fixture2 ||
			{ rc=1; break; }
		if [ $part = different ]; then
			mods=(kmod_fixture_slow kmod_fixture_fail kmod_fixture1 kmod_fixture2)
		else
			mods=(kmod_fixture_slow kmod_fixture_slow kmod_fixture_slow kmod_fixture_slow)
		fi
		: >"$CALLS"
		m=$(mark)
		pids=()
		for i in 0 1 2 3; do
			(trigger "${devs[$i]}" "${mods[$i]}" 12 >"/tmp/races.t4.$i"; echo "$? $T $TR" >"/tmp/races.t4rc.$i") >/dev/null 2>&1 &
			pids+=($!)
		done
		for i in 0 1 2 3; do
			wait_while "${pids[$i]}" "$HANG" || { echo "$part: the trigger on ${devs[$i]##*/} did not return: hung"; return 2; }
		done
		names=()
		for i in 0 1 2 3; do
			dev=${devs[$i]##*/}
			cat "/tmp/races.t4.$i"
			read -r st t tr <"/tmp/races.t4rc.$i"
			[ "$st" != 2 ] || return 2
			names+=("$dev ${mods[$i]}: $t s, test_result $tr")
			[ "$st" = 0 ] || rc=1
			if [ "${mods[$i]}" = kmod_fixture_fail ]; then
				[ "$tr" = 256 ] || { echo "$part: $dev: test_result $tr, expected 256"; rc=1; }
			else
				[ "$tr" = 0 ] || { echo "$part: $dev: test_result $tr, expected 0"; rc=1; }
			fi
		done
		echo "$part modules: $(printf '%s; ' "${names[@]}")"
		inits=$(count_since "$m" 'kmod_fixture_slow: init takes')
		calls kmod_fixture_slow 0 ''
		echo "$part: kmod_fixture_slow: $CALLS_SUMMARY; inits run: $inits"
		[ "$inits" = 1 ] || { echo "$part: $inits inits of kmod_fixture_slow, expected 1"; rc=1; }
		[ "$CALLS_BAD" = 0 ] || { echo "$part: $CALLS_BAD requests of kmod_fixture_slow did not return 0"; rc=1; }
		if [ $part = different ]; then
			calls kmod_fixture_fail 1 'No such device|Device or resource busy'
			echo "$part: kmod_fixture_fail: $CALLS_SUMMARY"
			[ "$CALLS_BAD" = 0 ] || { echo "$part: $CALLS_BAD requests of kmod_fixture_fail did not fail with exit 1"; rc=1; }
			[ ! -e /sys/module/kmod_fixture_fail ] || { echo "/sys/module/kmod_fixture_fail is left"; rc=1; }
		fi
	done
	for i in 1 2 3 4; do
		echo 0 >"$cfg/races$i/live" && rmdir "$cfg/races$i" || { echo "cannot remove races$i"; rc=1; }
	done
	unload kmod_fixture_slow; unload kmod_fixture1; unload kmod_fixture2
	return $rc
}

# 5. kernel/module/dups.c: a request_module() for a name that another one is
# already loading is a duplicate; it is reported and waits for the first
# one's result instead of running a modprobe.  So the duplicates reported and
# the modprobes run add up to the requests made.
autoload_dups() {
	local rc=0 m dups
	if [ ! -e /sys/module/module/parameters/enable_dups_trace ]; then
		echo "the kernel has no CONFIG_MODULE_DEBUG_AUTOLOAD_DUPS (kunit/vm.config leaves it off: it makes every request for a name share the first one's result for 60 s, which changes what the other VM tests load); kunit/races --dups boots a kernel with it"
		return 4
	fi
	echo "enable_dups_trace=$(cat /sys/module/module/parameters/enable_dups_trace)"
	options "options kmod_fixture_slow init_ms=$SLOW_MS"
	unload kmod_fixture_slow || return 1
	: >"$CALLS"
	m=$(mark)
	trigger "$DEV0" kmod_fixture_slow "$threads" || return
	calls kmod_fixture_slow 0 ''
	dups=$(count_since "$m" 'module-autoload: duplicate request for module kmod_fixture_slow')
	echo "$threads requests in $T s, test_result $TR; duplicates reported: $dups; modprobe: $CALLS_SUMMARY"
	[ "$TR" = 0 ] || { echo "test_result $TR, expected 0"; rc=1; }
	[ $((dups + CALLS_N)) = "$threads" ] || { echo "$dups duplicates + $CALLS_N modprobes != $threads requests"; rc=1; }
	[ "$dups" -ge 1 ] || { echo "no duplicate reported"; rc=1; }
	unload kmod_fixture_slow
	return $rc
}

start=$(uptime)
if [ "$mode" = dups ]; then
	for s in 1:same_name_slow 2:same_name_failing 3:load_vs_unload 4:configfs_devices; do
		echo "ok ${s%%:*} ${s#*:} # SKIP this kernel has CONFIG_MODULE_DEBUG_AUTOLOAD_DUPS, which shares each name's first result for 60 s: kunit/races without --dups runs it"
	done
else
	scenario 1 same_name_slow same_name_slow
	scenario 2 same_name_failing same_name_failing
	scenario 3 load_vs_unload load_vs_unload
	scenario 4 configfs_devices configfs_devices
fi
scenario 5 autoload_dups autoload_dups
echo "$modprobe_path" >/proc/sys/kernel/modprobe
rm -f /etc/modprobe.d/races.conf
echo "# races ($driver driver): $(elapsed "$start") s in all"
log_rc=0
if [ $hung = 1 ]; then
	hang_report "a trigger"
	log_rc=1
else
	check_kernel_log || log_rc=1
fi
result "" 6 kernel_log "$log_rc"
exit $((failed || log_rc))
