#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Held verdicts stay bounded under a flood of strangers, through the real kernel NFQUEUE path:
#  tests/bench/synflood sends SYNs from 100 000 spoofed sources (198.18.0.0/15, the benchmarking
#  range) to a real-MX address of the daemon, which trusts a domain (trust-domain), so that
#  every stranger could be let in by its rDNS check and is a candidate for a hold. While it runs:
#  (a) the held SYNs never exceed hold-max (held-peak), the kernel queue never fills;
#  (b) rDNS lookups stay within rdns-rate (stranger-checks over the elapsed time);
#  (c) a whitelisted client keeps getting its greeting at once: its first SYN, within 900 ms
#      (a dropped SYN would cost it its retransmit, one second);
#  (d) the daemon answers SIGUSR1 and SIGHUP during the flood; then, with the DNS server
#      stopped (so that the checks wait) and a steady stream of strangers, a reload while SYNs
#      are held: the held SYNs stay held, and every SYN of the stream gets exactly one verdict;
#  (e) RSS stays bounded (VmHWM before and after the flood);
#  (f) SIGTERM while a steady stream of strangers keeps SYNs held: the daemon gives each held
#      SYN its verdict (as many hold-flushed lines as it reports) and exits with status 0.
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
need_cmds python3
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
held_now() { [ "$(field held "$(stats_line)")" -gt 0 ] 2>/dev/null; }
held_zero() { [ "$(field held "$(stats_line)")" = 0 ]; }
queue_empty() {
	local w
	read -r w _ _ _ <<<"$(nfq_counters)"
	[ "${w:-0}" -eq 0 ]
}
# stream FIRST COUNT: strangers at 20 SYN/s from host FIRST of $FLOOD_SRC on, in the background:
# 16 SYNs held at a time (800 ms each), and fewer lookups started than the resolver's 256 slots
# hold while its server does not answer (each one waits up to 2 x 3 s).
stream() {
	ip netns exec "$NS_CLI" "$SYNFLOOD" -i vcli -m "$SRV_MAC" -d "$FLOOD_DST" -p "$FLOOD_SRC" \
		-o "$1" -n "$2" -r 20 >"$MXA_TMP/stream.out" 2>&1 &
	STREAM_PID=$!
}
# timed_connect SRC: one TCP connect from SRC to the real MX, at most 900 ms, no retry.
# Prints "greeting MS" when the 220 came, else "timeout MS" (or "error ...").
timed_connect() {
	in_cli python3 - "$1" "$REAL4" <<-'EOF'
		import socket, sys, time
		s = socket.socket()
		s.bind((sys.argv[1], 0))
		s.settimeout(0.9)
		t = time.monotonic()
		try:
		    s.connect((sys.argv[2], 25))
		    ms = (time.monotonic() - t) * 1000
		    s.settimeout(3)
		    print("greeting" if s.recv(512).startswith(b"220") else "error", "%.1f" % ms)
		except socket.timeout:
		    print("timeout", "%.0f" % ((time.monotonic() - t) * 1000))
		except OSError as e:
		    print("error", e.errno)
	EOF
}

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
slowest=0
# While it runs: the queue, a whitelisted client's connects, a reload.
while proc_alive "$FLOOD_PID"; do
	read -r waiting _ _ _ <<<"$(nfq_counters)"
	[ "${waiting:-0}" -gt "$maxwait" ] && maxwait=$waiting
	if [ "$probes" -lt 10 ]; then
		probes=$((probes + 1))
		read -r r ms <<<"$(timed_connect 198.51.100.1)"
		if [ "$r" = greeting ]; then
			probes_ok=$((probes_ok + 1))
			ms=${ms%.*}
			[ "$ms" -gt "$slowest" ] && slowest=$ms
		else
			say "  connect $probes of 198.51.100.1: $r $ms"
		fi
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
check "$probes_ok of $probes connects of 198.51.100.1 got the greeting on their first SYN (slowest ${slowest} ms)" \
	test "$probes" -gt 0 -a "$probes_ok" = "$probes"

section "(d) signals during the flood"
check "SIGHUP: reload ok" log_wait ': reload ok' 5
check "SIGUSR1: stats lines" test -n "$s1"

section "(e) memory"
hwm1=$(hwm_kib)
check "VmHWM $hwm0 -> $hwm1 KiB: grew by less than 4 MiB" test $((hwm1 - hwm0)) -lt 4096
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "after the flood, mxallowd ended with status 0 (got $st)" test "$st" -eq 0

section "(d, continued) a reload with SYNs held (the DNS server stopped, 20 strangers a second)"
restart_log
start_daemon -f "$FAKE4" -r "$REAL4" -r "$FLOOD_DST" --trust-domain partner.test \
	--hold-max "$HOLD_MAX" --log-rate 0
# No answer comes: each check waits, its SYN stays held until hold-time.
kill "$DNSMASQ_PID"
wait_pid "$DNSMASQ_PID" 5
STREAM_N=160
stream 120000 "$STREAM_N"
check "strangers are held" wait_for 5 held_now
n=$(log_count ': stats ')
daemon_signal USR1
daemon_signal HUP
wait_for 5 count_above ': stats ' "$n" || die "no stats line at the reload"
held_hup=$(field held "$(grep ': stats ' "$DAEMON_LOG" | tail -n1)")
check "reload ok" log_wait ': reload ok' 5
s_after=$(stats_line)
check "SYNs were held at the reload (held=$held_hup) and still are after it (held=$(field held "$s_after"))" \
	test "${held_hup:-0}" -gt 0 -a "$(field held "$s_after")" -gt 0
wait "$STREAM_PID"
check "the stream ran ($STREAM_N SYNs)" grep -q "sent=$STREAM_N " "$MXA_TMP/stream.out"
check "then nothing is held any more" wait_for 5 held_zero
check "and the kernel queue is empty" wait_for 2 queue_empty
# One line per SYN: drop ... reason=not-whitelisted (at once) or reason=hold-... held-ms=N.
lines=$(grep -cE ': drop src=198\.1[89]\.[0-9.]+ dst=198\.19\.255\.20 ' "$DAEMON_LOG")
srcs=$(grep -oE ': drop src=198\.1[89]\.[0-9.]+ dst=198\.19\.255\.20 ' "$DAEMON_LOG" | sort -u | wc -l)
held_lines=$(log_count 'drop src=198\.1[89]\.[0-9.]+ dst=198\.19\.255\.20 reason=hold-expired held-ms=')
check "each of the $STREAM_N SYNs got one verdict ($lines lines, $srcs sources, $held_lines after a hold)" \
	test "$lines" = "$STREAM_N" -a "$srcs" = "$STREAM_N" -a "$held_lines" -gt 0
check "the reload kept the held SYNs (none hold-flushed)" not log_has 'reason=hold-flushed'

section "(f) SIGTERM with SYNs held (the stream goes on)"
stream 125000 1000
check "strangers are held" wait_for 5 held_now
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
kill "$STREAM_PID" 2>/dev/null
wait "$STREAM_PID" 2>/dev/null
check "mxallowd ended with status 0 (got $st)" test "$st" -eq 0
flushed=$(sed -n 's/.*: shutdown: \([0-9]*\) held SYNs dropped.*/\1/p' "$DAEMON_LOG")
lines=$(log_count 'drop src=198\.1[89]\.[0-9.]+ dst=198\.19\.255\.20 reason=hold-flushed held-ms=')
check "SYNs were held at SIGTERM: each of the ${flushed:-0} got its verdict ($lines hold-flushed lines)" \
	test "${flushed:-0}" -gt 0 -a "$lines" = "${flushed:-0}"
check "no SYN left in the kernel queue" wait_for 2 queue_empty
check "no error was logged" not log_has ': error: '

finish
