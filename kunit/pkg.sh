# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The Debian package sets of the project and their installer.  Sourced, not
# run: by kunit/bootstrap on the host, and by kunit/resolve-sets inside
# throw-away Debian roots, so that what CI proves is what a user's machine
# runs.  Needs only bash, apt and dpkg; works with and without
# `set -euo pipefail` (both callers use it).
#
# Every job asks for the sets it needs; "kunit" comes with every other set:
#   kunit   the Rust toolchain, LLVM, the kernel's build dependencies and
#           kunit.py's python3: enough for kunit/run under UML
#   qemu    QEMU x86_64 and the VM's userspace (busybox, bash, kmod, capsh,
#           cpio): kunit/run --arch=x86_64 and every VM step
#   lava    LAVA's dispatcher (lava-run), for kunit/lava; needs qemu
#   parser  the parser's tests: python3-venv (kcidb-io), xmllint, g++ (the
#           fuzz target's libFuzzer)
#   style   shellcheck
#   roots   debootstrap, for kunit/resolve-sets
#   qemu-arm, qemu-misc, qemu-ppc, qemu-s390x
#           the QEMU of another architecture, for kunit/run --arch=...
#           (kunit/matrix): arm64 and arm; riscv (with OpenSBI) and
#           loongarch; powerpc (with the binutils its boot wrapper runs);
#           s390 (part of qemu-system-misc before QEMU 9.2, its own package
#           since)
#
# Installing on a machine as it comes: a set is installed in one apt call.
# When apt cannot resolve it on the machine's own sources (a machine that
# already holds newer packages from <codename>-backports, e.g. qemu-utils 10
# whose Breaks rule out bookworm's qemu-system-common), each package apt names
# in its unmet dependencies is taken from <codename>-backports instead, one
# round at a time, until the call resolves or backports has nothing more to
# offer; then apt's own first answer is shown.  The backports lists live in a
# private apt directory ($PKG_APT_DIR); the machine's apt configuration is
# never changed.
#
# No daemon is started or left enabled: the install runs under a policy-rc.d
# that refuses every start (only when the machine has none of its own), and
# every systemd unit the install enabled is disabled again.

PKG_SETS=(kunit qemu lava parser style roots qemu-arm qemu-misc qemu-ppc qemu-s390x)

# pkg_set SET: the packages of one set, one per line.
pkg_set() {
	case $1 in
	kunit)	printf '%s\n' rustc-web rust-web-src rustfmt-web rust-web-clippy cargo-web \
			clang-19 lld-19 llvm-19 libclang-19-dev \
			make flex bison bc libelf-dev libssl-dev python3 xz-utils \
			gcc libc6-dev ca-certificates ;;
	qemu)	printf '%s\n' qemu-system-x86 busybox-static bash kmod libcap2-bin cpio ;;
	lava)	printf '%s\n' lava-dispatcher ;;
	parser)	printf '%s\n' python3-venv libxml2-utils g++ ;;
	style)	printf '%s\n' shellcheck ;;
	roots)	printf '%s\n' debootstrap ;;
	qemu-arm)	printf '%s\n' qemu-system-arm ;;
	qemu-misc)	printf '%s\n' qemu-system-misc opensbi ;;
	qemu-ppc)	printf '%s\n' qemu-system-ppc binutils-powerpc-linux-gnu binutils-powerpc64le-linux-gnu ;;
	qemu-s390x)	printf '%s\n' qemu-system-s390x ;;
	*)	pkg_log "unknown package set '$1' (sets: ${PKG_SETS[*]})"; return 2 ;;
	esac
}

# The private apt directory for the backports lists; the caller may set it.
PKG_APT_DIR=${PKG_APT_DIR:-/var/tmp/test-kmod-apt}

pkg_log() { printf '[pkg] %s\n' "$*" >&2; }

# pkg_expand SET...: the sets with what they need, in install order.
pkg_expand() {
	local s want=" kunit " out=()
	for s in "$@"; do
		pkg_set "$s" >/dev/null || return 2
		[ "$s" != lava ] || want+="qemu "
		want+="$s "
	done
	for s in "${PKG_SETS[@]}"; do
		[[ $want == *" $s "* ]] && out+=("$s")
	done
	echo "${out[@]}"
}

# pkg_missing SET...: the packages of the sets that are not installed.  A
# virtual package counts as installed when an installed package provides it
# (qemu-system-s390x is part of bookworm's qemu-system-misc).
pkg_missing() {
	local s p have
	have=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
		awk '$1 == "ii" { gsub(/ \([^)]*\)/, ""); gsub(/,/, " "); for (i = 2; i <= NF; i++) print $i }')
	for s in "$@"; do
		for p in $(pkg_set "$s"); do
			grep -q -x -F "$p" <<<"$have" || echo "$p"
		done
	done
}

# pkg_mirror [security]: the URI of the Debian mirror this machine's apt
# already uses (its security mirror with "security"), so that an extra
# suite comes from the same place (no registry host is written here).
pkg_mirror() {
	local f uri want=${1:-main}
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v want="$want" '/^URIs:/ { for (i = 2; i <= NF; i++)
			if (($i ~ /security/) == (want == "security")) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk -v want="$want" '$1 == "deb" { for (i = 2; i <= NF; i++)
			if ($i ~ /:\/\// && ($i ~ /security/) == (want == "security")) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return; }
	done
}

pkg_codename() { (. /etc/os-release && echo "${VERSION_CODENAME:-}"); }

# pkg_backports_opts: fills PKG_BPO_OPTS with apt options that see the
# machine's sources plus <codename>-backports (lists in $PKG_APT_DIR),
# updating those lists once per process.
PKG_BPO_OPTS=()
pkg_backports_opts() {
	[ ${#PKG_BPO_OPTS[@]} = 0 ] || return 0
	local mirror codename
	mirror=$(pkg_mirror)
	codename=$(pkg_codename)
	[ -n "$mirror" ] && [ -n "$codename" ] || return 1
	mkdir -p "$PKG_APT_DIR/lists/partial"
	{
		[ ! -f /etc/apt/sources.list ] || cat /etc/apt/sources.list
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $codename-backports main"
	} >"$PKG_APT_DIR/sources.list"
	local opts=(-o "Dir::Etc::SourceList=$PKG_APT_DIR/sources.list"
		    -o "Dir::State::Lists=$PKG_APT_DIR/lists" -o "APT::Sandbox::User=$(id -un)")
	pkg_log "apt cannot resolve on the machine's sources; looking in $codename-backports"
	apt-get -qq "${opts[@]}" update >&2 || return 1
	PKG_BPO_OPTS=("${opts[@]}")
}

# pkg_unmet APT_OUTPUT: the packages in apt's unmet-dependency lines, both
# the one whose relation fails and the one it names.
pkg_unmet() {
	awk '/^ [^ ]+ : / { x = $1 }
	     /(Depends|Breaks|Conflicts): / { for (i = 1; i < NF; i++) if ($i ~ /^(Pre-)?(Depends|Breaks|Conflicts):$/) { print x; print $(i + 1) } }' \
		<<<"$1" | sort -u | grep -v '^$' || true
}

# pkg_resolve PKG...: finds an apt call that installs PKG... and removes
# nothing.  On success PKG_ARGS holds its package arguments and PKG_OPTS its
# options; on failure PKG_ERR holds apt's own answer to the plain call.
pkg_resolve() {
	local want=("$@") out removed round p q added codename
	PKG_OPTS=() PKG_ARGS=() PKG_ERR=
	codename=$(pkg_codename)
	for round in 1 2 3 4 5 6 7 8 9 10 11 12; do
		added=0
		if out=$(LC_ALL=C apt-get "${PKG_OPTS[@]}" install -s --no-install-recommends "${want[@]}" 2>&1); then
			removed=$(sed -n 's/^Remv \([^ ]*\) .*/\1/p' <<<"$out")
			if [ -z "$removed" ]; then
				PKG_ARGS=("${want[@]}")
				return 0
			fi
			# A set never removes what the machine holds: ask apt to
			# keep those, and it names the conflict.
			[ "$round" = 1 ] && PKG_ERR="apt would remove installed packages: $(echo $removed)"
			for p in $removed; do
				[[ " ${want[*]} " == *" $p "* ]] || { want+=("$p"); added=1; }
			done
			[ $added = 1 ] || return 1
			continue
		fi
		[ "$round" = 1 ] && PKG_ERR=$out
		pkg_backports_opts || return 1
		PKG_OPTS=("${PKG_BPO_OPTS[@]}")
		for p in $(pkg_unmet "$out"); do
			[[ " ${want[*]} " == *" $p/$codename-backports "* ]] && continue
			# No pipe into grep -q: under pipefail its early exit
			# would fail the pipeline.
			[[ $(LC_ALL=C apt-cache "${PKG_OPTS[@]}" madison "$p" 2>/dev/null) == *" $codename-backports/"* ]] ||
				continue
			for q in "${!want[@]}"; do
				[ "${want[$q]}" = "$p" ] && unset 'want[q]'
			done
			want+=("$p/$codename-backports")
			added=1
		done
		[ $added = 1 ] || return 1
		want=("${want[@]}")
	done
	return 1
}

# pkg_apt_error SET...: apt's reason, named by set.
pkg_apt_error() {
	pkg_log "error: apt cannot install the package set(s) $*; apt says:"
	grep -v -E '^(NOTE|Reading|Building|Inst|Conf|Remv) ' <<<"$PKG_ERR" | sed 's/^/    /' >&2
}

# pkg_simulate SET...: does each set (with what it needs) resolve on this
# machine?  Prints one line per set; returns 1 if any does not.
pkg_simulate() {
	local s sets list pkgs rc=0
	for s in "$@"; do
		sets=$(pkg_expand "$s") || return 2
		# shellcheck disable=SC2086 # a list of set names
		list=$(pkg_missing $sets) || return 2
		pkgs=()
		[ -z "$list" ] || mapfile -t pkgs <<<"$list"
		if [ ${#pkgs[@]} = 0 ]; then
			echo "set $s: resolves (all installed)"
		elif pkg_resolve "${pkgs[@]}"; then
			echo "set $s: resolves, ${#pkgs[@]} packages to install${PKG_OPTS:+ (from backports: $(printf '%s\n' "${PKG_ARGS[@]}" | grep -c /))}"
		else
			pkg_apt_error "$s"
			echo "set $s: DOES NOT RESOLVE"
			rc=1
		fi
	done
	return $rc
}

# pkg_enabled_units: the systemd units enabled on this machine.
pkg_enabled_units() {
	find /etc/systemd/system -mindepth 2 -maxdepth 2 -path '*.wants/*' -printf '%f\n' 2>/dev/null | sort -u
}

# pkg_install SET...: installs what the sets (with what they need) miss.
# Run as root.  Leaves no daemon running or enabled.
pkg_install() {
	local sets list pkgs log policy=/usr/sbin/policy-rc.d ours='' before u rc=0
	sets=$(pkg_expand "$@") || return 2
	# shellcheck disable=SC2086 # a list of set names
	list=$(pkg_missing $sets) || return 2
	[ -n "$list" ] || return 0
	mapfile -t pkgs <<<"$list"
	pkg_log "installing for the set(s) $sets: ${pkgs[*]}"
	apt-get -qq update >&2 || { pkg_log "error: apt-get update failed"; return 1; }
	if ! pkg_resolve "${pkgs[@]}"; then
		pkg_apt_error "$sets"
		return 1
	fi
	[ ${#PKG_OPTS[@]} = 0 ] || pkg_log "from backports: $(printf '%s\n' "${PKG_ARGS[@]}" | grep / | tr '\n' ' ')"
	if [ ! -e "$policy" ]; then
		printf '#!/bin/sh\n# test_kmod: no daemon starts while packages install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		ours=1
	fi
	before=$(pkg_enabled_units)
	log=$(mktemp)
	DEBIAN_FRONTEND=noninteractive apt-get "${PKG_OPTS[@]}" install -y -q --no-install-recommends \
		"${PKG_ARGS[@]}" >"$log" 2>&1 || rc=$?
	[ -z "$ours" ] || rm -f "$policy"
	for u in $(pkg_enabled_units); do
		grep -q -x -F "$u" <<<"$before" && continue
		pkg_log "disabling $u, which the install enabled"
		systemctl disable -q "$u" >&2 || rc=1
	done
	if [ $rc != 0 ]; then
		pkg_log "error: apt-get install for the set(s) $sets failed; its last lines:"
		tail -n 30 "$log" | sed 's/^/    /' >&2
	fi
	rm -f "$log"
	return $rc
}
