# SPDX-License-Identifier: GPL-2.0-or-later
#
# Removing the network namespaces a test or benchmark run made. Sourced by
# tests/integration/lib.sh and tests/bench/lib.sh, which provide wait_for.

# kill_ns_pids NS SIG: sends SIG to every process inside NS.
kill_ns_pids() {
	local pids
	pids=$(ip netns pids "$1" 2>/dev/null) || return 0
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -"$2" $pids 2>/dev/null
	return 0
}

ns_empty() { [ -z "$(ip netns pids "$1" 2>/dev/null)" ]; }

# netns_remove NS...: SIGTERM everything inside, SIGKILL what is left after 5 s,
# then delete each namespace and its /etc/netns folder.
netns_remove() {
	local ns
	for ns in "$@"; do
		kill_ns_pids "$ns" TERM
	done
	for ns in "$@"; do
		if ! wait_for 5 ns_empty "$ns"; then
			kill_ns_pids "$ns" KILL
			wait_for 5 ns_empty "$ns"
		fi
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	done
}
