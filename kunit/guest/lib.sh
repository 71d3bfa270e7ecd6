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
