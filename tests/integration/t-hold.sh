#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Held verdicts stay bounded under a flood of strangers, through the real kernel NFQUEUE path:
#  tests/bench/synflood sends SYNs from 100 000 spoofed sources (198.18.0.0/15, the benchmarking
#  range) to a real-MX address of the daemon, which trusts a domain (trust-domain), so that
#  every stranger could be let in by its rDNS check and is a candidate for a hold. While it runs:
#  (a) the held SYNs never exceed hold-max (held-peak), the kernel queue never fills;
#  (b) rDNS lookups stay within rdns-rate (stranger-checks over the elapsed time);
#  (c) a whitelisted client keeps getting its greeting at once;
#  (d) the daemon answers SIGUSR1 and SIGHUP (a reload with SYNs held: each gets a verdict);
#  (e) RSS stays bounded (VmHWM before and after the flood);
#  (f) SIGTERM with SYNs held (the DNS server stopped, so their checks wait): the daemon gives
#      each its verdict and exits with status 0, and the kernel queue is empty afterwards.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

FLOOD_DST=198.19.255.20
FLOOD_SRC=198.18.0.0/15
FLOOD_N=100000
FLOOD_RATE=20000
HOLD_MAX=16
RDNS_RATE=100
: "${SYNFLOOD:=$(dirname "$MXALLOWD")/../tests/bench/synflood}"

mail_host_setup
[ -x "$SYNFLOOD" ] || skip "no synflood at $SYNFLOOD (built with -Dbench=true; or set SYNFLOOD)"
in_srv ip addr add "$FLOOD_DST/24" dev vsrv
in_srv ip route add 198.18.0.0/15 dev vsrv
SRV_MAC=$(in_srv ip -o link show vsrv | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[ -n "$SRV_MAC" ] || die "no MAC address on vsrv"

# The queue's counters in the server namespace: "waiting dropped user_dropped id_sequence".
nfq_counters() {
	in_srv awk -v q="$QUEUE_NUM" '$1 == q { print $3, $6, $7, $8 }' \
		/proc/net/netfilter/nfnetlink_queue
}
stats_line() {
	local n
	n=$(log_count ': stats ')
	daemon_signal USR1
	wait_for 5 count_above ': stats ' "$n" || return 1
	grep ': stats ' "$DAEMON_LOG" | tail -n1
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$2"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
now_ms() { date +%s%3N; }

section "mxallowd: hold-max $HOLD_MAX, rdns-rate $RDNS_RATE, trust-domain partner.test"
start_daemon -f "$FAKE4" -r "$REAL4" -r "$FLOOD_DST" --trust-domain partner.test \
	--hold-max "$HOLD_MAX" --rdns-rate "$RDNS_RATE" --queue-maxlen 1024
expect_probe refused 198.51.100.1 "$FAKE4"
expect_probe greeting 198.51.100.1 "$REAL4"
hwm0=$(hwm_kib)
s0=$(stats_line)

section "a flood: $FLOOD_N spoofed strangers at $FLOOD_RATE SYN/s to $FLOOD_DST"
t0=$(now_ms)
ip netns exec "$NS_CLI" "$SYNFLOOD" -i vcli -m "$SRV_MAC" -d "$FLOOD_DST" -p "$FLOOD_SRC" \
	-n "$FLOOD_N" -r "$FLOOD_RATE" >"$MXA_TMP/synflood.out" 2>&1 &
FLOOD_PID=$!
maxwait=0
probes_ok=0
probes=0
# While it runs: the queue, a whitelisted client's connects, a reload.
while proc_alive "$FLOOD_PID"; do
	read -r waiting _ _ _ <<<"$(nfq_counters)"
	[ "${waiting:-0}" -gt "$maxwait" ] && maxwait=$waiting
	if [ "$probes" -lt 10 ]; then
		probes=$((probes + 1))
		r=$(smtp_probe 198.51.100.1 "$REAL4" 2)
		[ "$r" = greeting ] && probes_ok=$((probes_ok + 1))
	fi
	if [ "$probes" = 3 ] && [ -z "${reloaded:-}" ]; then
		reloaded=1
		daemon_signal HUP
	fi
	sleep 0.2
done
wait "$FLOOD_PID"
t1=$(now_ms)
say "  $(cat "$MXA_TMP/synflood.out")"
check "the flood ran ($FLOOD_N SYNs)" grep -q "sent=$FLOOD_N " "$MXA_TMP/synflood.out"
s1=$(stats_line) || die "no stats line after the flood"
say "  $s1"

section "(a) bounded holds"
peak=$(field held-peak "$s1")
check "SYNs were held (held-peak=$peak)" test "${peak:-0}" -gt 0
check "held-peak $peak <= hold-max $HOLD_MAX" test "${peak:-999999}" -le "$HOLD_MAX"
check "hold-full or hold-nocheck dropped the rest at once ($(field hold-full "$s1") / $(field hold-nocheck "$s1"))" \
	test $(($(field hold-full "$s1") + $(field hold-nocheck "$s1"))) -gt 0
check "the kernel queue never filled (at most $maxwait waiting of 1024)" test "$maxwait" -lt 1024

section "(b) rDNS within its rate"
checks=$(($(field stranger-checks "$s1") - $(field stranger-checks "$s0")))
secs=$(((t1 - t0 + 999) / 1000))
limit=$((RDNS_RATE * (secs + 1) + RDNS_RATE))
check "$checks lookups for strangers in ${secs} s: at most $limit (rdns-rate $RDNS_RATE)" \
	test "$checks" -le "$limit"
check "and some were made" test "$checks" -gt 0

section "(c) a whitelisted client during the flood"
check "$probes_ok of $probes connects of 198.51.100.1 got the greeting" test "$probes_ok" = "$probes"

section "(d) signals during the flood"
check "SIGHUP: reload ok" log_wait ': reload ok' 5
check "SIGUSR1: stats lines" test -n "$s1"

section "(e) memory"
hwm1=$(hwm_kib)
check "VmHWM $hwm0 -> $hwm1 KiB: grew by less than 4 MiB" test $((hwm1 - hwm0)) -lt 4096

section "(f) SIGTERM with SYNs held"
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "after the flood, mxallowd ended with status 0 (got $st)" test "$st" -eq 0
restart_log
start_daemon -f "$FAKE4" -r "$REAL4" -r "$FLOOD_DST" --trust-domain partner.test \
	--hold-max "$HOLD_MAX" --log-rate 0
# The DNS server stopped: the checks of 10 strangers wait (no answer before the deadline).
kill "$DNSMASQ_PID"
wait_pid "$DNSMASQ_PID" 5
ip netns exec "$NS_CLI" "$SYNFLOOD" -i vcli -m "$SRV_MAC" -d "$FLOOD_DST" -p "$FLOOD_SRC" \
	-o 120000 -n 10 -r 10000 >/dev/null 2>&1
s2=$(stats_line)
held=$(field held "$s2")
check "SYNs are held at SIGTERM (held=$held)" test "${held:-0}" -gt 0
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "mxallowd ended with status 0 (got $st)" test "$st" -eq 0
flushed=$(log_count 'drop src=198\.1[89]\.[0-9.]+ dst=198\.19\.255\.20 reason=hold-(flushed|expired)')
check "each of the $held held SYNs got its verdict ($flushed drop lines, hold-flushed or expired)" \
	test "$flushed" -ge "$held"
check "hold-flushed at shutdown" log_has 'reason=hold-flushed'
queue_empty() {
	local w
	read -r w _ _ _ <<<"$(nfq_counters)"
	[ "${w:-0}" -eq 0 ]
}
check "no SYN left in the kernel queue" wait_for 2 queue_empty
check "no error was logged" not log_has ': error: '

finish
