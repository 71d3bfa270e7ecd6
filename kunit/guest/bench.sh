#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/bench): for the C and the Rust driver in turn,
# on the same kernel and configuration, times triggers of request_module()
# (test_module already loaded) and get_fs_type() (xfs already registered) at
# 1, 8, 50 and 200 threads, and samples memory while they run.  Then, for
# the Rust driver, the devices axis: 1, 2, 4 and 8 devices made through
# configfs, each triggered with 50 threads at the same time.  Prints one line
# per point:
#   BENCH driver case threads reps min_us median_us max_us memdrop_kib slab_kib
#   BENCHDEV rust case devices threads reps min_us median_us max_us memdrop_kib slab_kib failed
# (times of one trigger, or of one batch of simultaneous triggers; failed:
# triggers whose test_result was not 0)
DIR=/sys/devices/virtual/misc/test_kmod0
reps=${BENCH_REPS:-10}
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

# Lowest MemAvailable and highest Slab seen while the caller's triggers run.
sampler() {
	local min=999999999 max=0 a s
	while [ ! -e /tmp/stop ]; do
		a=$(meminfo MemAvailable); s=$(meminfo Slab)
		[ "$a" -lt "$min" ] && min=$a
		[ "$s" -gt "$max" ] && max=$s
	done
	echo "$min $max" >/tmp/sampled
}

point() { # driver case threads
	local driver=$1 case=$2 threads=$3 n=$reps times=() i t0 t1 base_avail base_slab
	[ "$threads" -ge 200 ] && n=$(((reps + 1) / 2))
	echo 1 >$DIR/reset
	if [ "$case" = fs ]; then echo -n xfs >$DIR/config_test_fs; echo 2 >$DIR/config_test_case; fi
	echo "$threads" >$DIR/config_num_threads
	echo 1 >$DIR/trigger_config # warm-up
	sync; echo 3 >/proc/sys/vm/drop_caches
	base_avail=$(meminfo MemAvailable); base_slab=$(meminfo Slab)
	rm -f /tmp/stop; sampler & local spid=$!
	for ((i = 0; i < n; i++)); do
		t0=${EPOCHREALTIME/./}
		echo 1 >$DIR/trigger_config || { echo "# trigger failed"; break; }
		t1=${EPOCHREALTIME/./}
		times+=($((t1 - t0)))
	done
	touch /tmp/stop; wait $spid
	read -r min_avail max_slab </tmp/sampled
	[ "$(cat $DIR/test_result)" = 0 ] || echo "# $driver $case $threads: test_result $(cat $DIR/test_result)"
	mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
	echo "BENCH $driver $case $threads ${#sorted[@]} ${sorted[0]} ${sorted[$((${#sorted[@]} / 2))]} ${sorted[-1]}" \
		"$((base_avail - min_avail)) $((max_slab - base_slab))"
}

# devices case count: D devices, 50 threads each, triggered at once.
devices() {
	local case=$1 count=$2 n=$reps times=() i d t0 t1 base_avail base_slab pids bad=0
	for i in $(seq "$count"); do
		mkdir "/sys/kernel/config/test_kmod/b$i" && echo 50 >"/sys/kernel/config/test_kmod/b$i/threads" &&
			echo 1 >"/sys/kernel/config/test_kmod/b$i/live" || return 1
		d=/sys/devices/virtual/misc/$(cat "/sys/kernel/config/test_kmod/b$i/device")
		echo 1 >"$d/reset"
		if [ "$case" = fs ]; then echo -n xfs >"$d/config_test_fs"; echo 2 >"$d/config_test_case"; fi
		echo 1 >"$d/trigger_config" # warm-up
	done
	sync; echo 3 >/proc/sys/vm/drop_caches
	base_avail=$(meminfo MemAvailable); base_slab=$(meminfo Slab)
	rm -f /tmp/stop; sampler & local spid=$!
	for ((i = 0; i < n; i++)); do
		pids=()
		t0=${EPOCHREALTIME/./}
		for d in /sys/kernel/config/test_kmod/b*; do
			echo 1 >"/sys/devices/virtual/misc/$(cat "$d/device")/trigger_config" &
			pids+=($!)
		done
		wait "${pids[@]}"
		t1=${EPOCHREALTIME/./}
		times+=($((t1 - t0)))
		for d in /sys/kernel/config/test_kmod/b*; do
			[ "$(cat "/sys/devices/virtual/misc/$(cat "$d/device")/test_result")" = 0 ] || bad=$((bad + 1))
		done
	done
	touch /tmp/stop; wait $spid
	read -r min_avail max_slab </tmp/sampled
	for d in /sys/kernel/config/test_kmod/b*; do echo 0 >"$d/live" && rmdir "$d"; done
	mapfile -t sorted < <(printf '%s\n' "${times[@]}" | sort -n)
	echo "BENCHDEV rust $case $count 50 ${#sorted[@]} ${sorted[0]} ${sorted[$((${#sorted[@]} / 2))]} ${sorted[-1]}" \
		"$((base_avail - min_avail)) $((max_slab - base_slab)) $bad"
}

modprobe test_module
modprobe xfs
for driver in c rust; do
	if [ $driver = c ]; then insmod /kmod/c/test_kmod.ko; else modprobe test_kmod; fi || exit 1
	for case in driver fs; do
		for threads in 1 8 50 200; do point $driver $case $threads; done
	done
	if [ $driver = rust ]; then
		for case in driver fs; do
			for count in 1 2 4 8; do devices $case $count; done
		done
	fi
	rmmod test_kmod || exit 1
done
