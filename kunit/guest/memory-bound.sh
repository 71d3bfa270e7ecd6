#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs inside the VM (see kunit/memory-bound): loads the driver that the
# initramfs carries (C or Rust), starts one run of THREADS request_module()
# threads on a small machine and reports how it ended.  Prints:
#   MEMBOUND machine <MemTotal kB> <MemAvailable kB> <threads-max>
#   MEMBOUND result <seconds> <trigger status: ok | the write's error> <test_result>
#   MEMBOUND after <MemAvailable kB> <unload: ok | failed>
# A kernel that dies on the way prints no later line.
threads=${1:?usage: memory-bound.sh THREADS}
DIR=/sys/devices/virtual/misc/test_kmod0
meminfo() { awk -v k="$1:" '$1 == k { print $2 }' /proc/meminfo; }

echo "MEMBOUND machine $(meminfo MemTotal) $(meminfo MemAvailable) $(cat /proc/sys/kernel/threads-max)"
# The module is loaded first, so every thread's request only runs modprobe
# (at most 50 at a time; the rest of the threads wait for a slot).
modprobe test_module || exit 1
modprobe test_kmod || exit 1
echo 1 >$DIR/reset
echo "$threads" >$DIR/config_num_threads || exit 1
t0=${EPOCHREALTIME/./}
if err=$(echo 1 2>&1 >$DIR/trigger_config); then status=ok; else status=${err##*: }; fi
t1=${EPOCHREALTIME/./}
secs=$(((t1 - t0) / 1000000))
echo "MEMBOUND result $secs ${status// /_} $(cat $DIR/test_result)"
dmesg | grep -a -E 'test_kmod|refusing|Out of memory|oom' | tail -5 | sed 's/^/# /'
if rmmod test_kmod; then unload=ok; else unload=failed; fi
echo "MEMBOUND after $(meminfo MemAvailable) $unload"
