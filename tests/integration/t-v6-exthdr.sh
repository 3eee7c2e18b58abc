#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# An IPv6 SYN whose TCP header lies beyond the queue's copy range (256 bytes) is still judged:
#  the client's kernel puts one 256-byte destination options header (an unknown option, type
#  0x1e, which receivers skip) in front of the TCP header of every packet of the connection
#  (tests/integration/v6-dstopts-connect.py, IPV6_DSTOPTS);
#  (a) from a client that is not whitelisted, no SYN-ACK comes back and mxallowd logs a drop;
#      the packet is not counted as malformed;
#  (b) control: the same connection from a whitelisted client (it touched the fake MX first)
#      is accepted: the crafted packet is valid, and only the whitelist tells the two apart.
# An ip6tables rule without a target, ahead of the NFQUEUE rule, counts the SYNs that carry
# the 256-byte header with option 0x1e: proof that the daemon saw that packet.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3 # Debian's, not a pyenv one first on PATH
[ -x "$PY" ] || PY=$(command -v python3) || skip "python3 missing"
CONNECT="$MXA_LIB_DIR/v6-dstopts-connect.py"

mail_host_setup
in_srv ip6tables -I INPUT 1 -p tcp --dport 25 --syn -m dst --dst-len 256 --dst-opts 30:252 \
	2>"$MXA_TMP/dst.err" || skip "ip6tables dst match: $(head -n1 "$MXA_TMP/dst.err")"

# crafted_probe SRC DST TIMEOUT: the connection with the long header; prints its result word.
crafted_probe() {
	timeout $(($3 + 5)) ip netns exec "$NS_CLI" "$PY" "$CONNECT" "$1" "$2" "$3" 2>&1
}

# SYNs that carried the 256-byte destination options header, as the server saw them.
long_syns() {
	in_srv ip6tables -nvxL INPUT 1 | awk '{ print $1 }'
}

expect_crafted() {
	local want=$1 src=$2 dst=$3 t=$4 got
	got=$(crafted_probe "$src" "$dst" "$t")
	check "crafted SYN $src -> [$dst]:25: expected $want, got $got" test "$got" = "$want"
}

section "mxallowd"
start_daemon -b -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6"

section "(a) not whitelisted: 2001:db8:1::3 -> real MX, TCP header at byte 296"
before=$(long_syns)
expect_crafted timeout 2001:db8:1::3 "$REAL6" 3
check "the server saw SYNs with the 256-byte destination options header ($before -> $(long_syns))" \
	test "$(long_syns)" -gt "$before"
check "mxallowd: drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted" \
	log_wait 'drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted' 5
check "mxallowd accepted nothing from 2001:db8:1::3" not log_has 'accept src=2001:db8:1::3 '

section "(b) control: whitelisted 2001:db8:1::1 sends the same crafted SYN"
expect_probe refused 2001:db8:1::1 "$FAKE6"
check "mxallowd: whitelist add addr=2001:db8:1::1 reason=fake-mx" \
	log_wait 'whitelist add addr=2001:db8:1::1 reason=fake-mx dst=2001:db8::10 '
before=$(long_syns)
expect_crafted greeting 2001:db8:1::1 "$REAL6" 5
check "the server saw the crafted SYN ($before -> $(long_syns))" test "$(long_syns)" -gt "$before"
check "mxallowd: accept src=2001:db8:1::1 dst=2001:db8::20 reason=whitelisted" \
	log_wait 'accept src=2001:db8:1::1 dst=2001:db8::20 reason=whitelisted' 5

section "statistics"
n=$(log_count ': stats ')
daemon_signal USR1
if check "mxallowd logged a stats line" wait_for 5 count_above ': stats ' "$n"; then
	stats=$(grep ': stats ' "$DAEMON_LOG" | tail -n1)
	say "  $stats"
	counter() { printf '%s\n' "$stats" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	check "malformed=0: a truncated SYN is no malformed packet (got $(counter malformed))" \
		test "$(counter malformed)" = 0
	# Every SYN that carried the long header was queued, cut at 256 bytes and counted.
	check "the stats line has a truncated= counter" test -n "$(counter truncated)"
	check "truncated counts every crafted SYN: $(long_syns) seen (got $(counter truncated))" \
		test "$(counter truncated)" -ge 2 -a "$(counter truncated)" -eq "$(long_syns)"
fi
check "mxallowd is still running" proc_alive "$DAEMON_PID"

finish
