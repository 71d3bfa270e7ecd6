#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/memory-bound): loads the driver that the
# initramfs carries (C or Rust), starts one run of THREADS request_module()
# threads on a small machine and reports how it ended.  Prints:
#   MEMBOUND machine <MemTotal kB> <MemAvailable kB> <threads-max>
#   MEMBOUND progress <s> <test_kmod threads> <MemAvailable kB> <tasks in D state> <last pid>
#   MEMBOUND result <s> <trigger status: ok | the write's error> <test_result>
#   MEMBOUND after <MemAvailable kB> <unload: ok | failed>
#   MEMBOUND hung <s>   (the trigger is blocked and no process was created
#                        for STALL seconds, default 60, although every call
#                        forks a modprobe: the blocked tasks are dumped and
#                        the VM is reset)
# A kernel that dies on the way prints no later line.
threads=${1:?usage: memory-bound.sh THREADS}
stall=${STALL:-60}
DIR=/sys/devices/virtual/misc/test_kmod0
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }
kthreads() { grep -l '^test_kmod-' /proc/[0-9]*/comm 2>/dev/null | wc -l; }

echo "MEMBOUND machine $(meminfo MemTotal) $(meminfo MemAvailable) $(cat /proc/sys/kernel/threads-max)"
# The module is loaded first, so every thread's request only runs modprobe
# (at most 50 at a time; the rest of the threads wait for a slot).
modprobe test_module || exit 1
modprobe test_kmod || exit 1
echo 1 >$DIR/reset
echo "$threads" >$DIR/config_num_threads || exit 1
t0=$SECONDS
(if err=$(echo 1 2>&1 >$DIR/trigger_config); then echo ok; else echo "${err##*: }"; fi >/tmp/status) &
writer=$!
last_pid=0 moved=$SECONDS
while kill -0 $writer 2>/dev/null; do
	sleep 10
	blocked=$(cat /proc/[0-9]*/stat 2>/dev/null | awk '$3 == "D"' | wc -l)
	# Each call forks a modprobe (and C a thread per call); this loop forks
	# about ten processes per round itself.
	pid=$(awk '{ print $5 }' /proc/loadavg)
	[ "$pid" -gt $((last_pid + 30)) ] && moved=$SECONDS
	last_pid=$pid
	echo "MEMBOUND progress $((SECONDS - t0)) $(kthreads) $(meminfo MemAvailable) $blocked $last_pid"
	if [ $((SECONDS - moved)) -ge "$stall" ]; then
		echo "MEMBOUND hung $((SECONDS - t0))"
		# Show where the blocked tasks are stuck, then reset.
		for stat in /proc/[0-9]*/stat; do
			read -r pid comm state _ <"$stat" 2>/dev/null || continue
			[ "$state" = D ] || continue
			echo "# blocked: $pid $comm"
			sed 's/^/#   /' "/proc/$pid/stack" 2>/dev/null | head -8
		done | head -60
		reboot -f
	fi
done
wait $writer
status=$(cat /tmp/status)
echo "MEMBOUND result $((SECONDS - t0)) ${status// /_} $(cat $DIR/test_result)"
dmesg | grep -a -E 'test_kmod|refusing|Out of memory|oom' | tail -5 | sed 's/^/# /'
if rmmod test_kmod; then unload=ok; else unload=failed; fi
echo "MEMBOUND after $(meminfo MemAvailable) $unload"
