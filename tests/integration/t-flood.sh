#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Under a sustained SYN flood the daemon still answers its signals:
#  tests/bench/synflood, one per CPU, floods the real MX from the client namespace at full rate
#  (sources from 198.18.0.0/15, the benchmarking range; the flood's target 198.19.255.20 is a
#  second real-MX address of the daemon). While the queue stays full:
#  (a) SIGUSR1 is answered with a `stats` line within 5 s;
#  (b) SIGTERM ends the daemon within 1 s, with status 0 (a service manager sends SIGKILL
#      after its own timeout; an event loop that gets its turn needs a few milliseconds).
#
# The daemon must be the slower side, as on an overloaded server: on a small test machine it
# answers faster than one generator's CPU can queue, the queue runs dry between batches and a
# read loop that never yields would still get away. So it shares its CPU with the second
# generator at nice 10, and runs with a 4096-packet queue: a backlog larger than what it
# answers in one time slice, which still fits its socket buffer (an overrun, ENOBUFS, would
# break such a loop as well; the kernel drops at the queue limit instead).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

FLOOD_DST=198.19.255.20
FLOOD_SRC=198.18.0.0/15
FLOOD_SPAN=130560 # 198.18.0.0 .. 198.19.253.255
QUEUE_MAXLEN=4096
STOP_MS=1000 # SIGTERM to exit
: "${SYNFLOOD:=$(dirname "$MXALLOWD")/../tests/bench/synflood}"

mail_host_setup
need_cmds taskset renice nproc date
[ -x "$SYNFLOOD" ] || skip "no synflood at $SYNFLOOD (built with -Dbench=true; or set SYNFLOOD)"
in_srv ip addr add "$FLOOD_DST/24" dev vsrv
in_srv ip route add 198.18.0.0/15 dev vsrv
SRV_MAC=$(in_srv ip -o link show vsrv | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
[ -n "$SRV_MAC" ] || die "no MAC address on vsrv"
CPUS=$(nproc)
DAEMON_CPU=$((CPUS - 1))

# The queue's counters in the server namespace: "waiting dropped user_dropped id_sequence".
nfq_counters() {
	in_srv awk -v q="$QUEUE_NUM" '$1 == q { print $3, $6, $7, $8 }' \
		/proc/net/netfilter/nfnetlink_queue
}
# The flood outruns the daemon: the queue is (nearly) full and the kernel drops at its limit.
queue_full() {
	local waiting dropped
	read -r waiting dropped _ _ <<<"$(nfq_counters)"
	[ "${waiting:-0}" -ge $((QUEUE_MAXLEN - 128)) ] && [ "${dropped:-0}" -gt 0 ]
}
flooding() {
	local p
	for p in "${FLOOD_PIDS[@]}"; do
		proc_alive "$p" || return 1
	done
}
now_ms() { date +%s%3N; }

section "mxallowd (queue of $QUEUE_MAXLEN, CPU $DAEMON_CPU, nice 10), and a flood at full rate"
start_daemon -b --queue-maxlen "$QUEUE_MAXLEN" -f "$FAKE4" -r "$REAL4" -r "$FLOOD_DST"
taskset -p -c "$DAEMON_CPU" "$DAEMON_PID" >/dev/null || die "taskset failed"
renice -n 10 -p "$DAEMON_PID" >/dev/null || die "renice failed"
FLOOD_PIDS=()
for cpu in $(seq 0 $((CPUS - 1))); do
	# A count it never reaches: the flood lasts until it is stopped below.
	ip netns exec "$NS_CLI" taskset -c "$cpu" "$SYNFLOOD" -i vcli -m "$SRV_MAC" \
		-d "$FLOOD_DST" -p "$FLOOD_SRC" -k "$FLOOD_SPAN" -R -s "$cpu" -n 100000000000 \
		>"$MXA_TMP/synflood-$cpu.out" 2>&1 &
	FLOOD_PIDS+=($!)
done
say "  $CPUS synflood processes: ${FLOOD_PIDS[*]}"
check "the flood fills the queue: $QUEUE_MAXLEN waiting, the kernel drops the rest" \
	wait_for 20 queue_full
check "synflood is running" flooding
read -r waiting qdrop udrop seq <<<"$(nfq_counters)"
say "  queue: waiting=$waiting dropped=$qdrop user_dropped=$udrop id_sequence=$seq"

section "(a) SIGUSR1 during the flood"
n=$(log_count ': stats ')
t0=$(now_ms)
daemon_signal USR1
if check "mxallowd logged a stats line within 5 s" wait_for 5 count_above ': stats ' "$n"; then
	say "  after $(($(now_ms) - t0)) ms: $(grep ': stats ' "$DAEMON_LOG" | tail -n1)"
	dropped=$(grep ': stats ' "$DAEMON_LOG" | tail -n1 | sed -n 's/.* dropped=\([0-9]*\).*/\1/p')
	check "it counts the flood's drops (dropped=$dropped)" test "${dropped:-0}" -ge 1000
fi
check "the flood still fills the queue (polled: the generators share the CPUs)" wait_for 5 queue_full

section "(b) SIGTERM during the flood"
pid=$DAEMON_PID
gone_or_late() { ! proc_alive "$pid" || [ $(($(now_ms) - t0)) -gt $STOP_MS ]; }
t0=$(now_ms)
daemon_signal TERM
while ! gone_or_late; do sleep 0.02; done
elapsed=$(($(now_ms) - t0))
check "mxallowd ended within $STOP_MS ms of SIGTERM (took $elapsed ms)" not proc_alive "$pid"
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "with status 0 (got $st)" test "$st" -eq 0
check "mxallowd: exiting on signal 15" log_has ': exiting on signal 15'
check "the flood was still on when it ended" flooding

for p in "${FLOOD_PIDS[@]}"; do
	kill -TERM "$p" 2>/dev/null
	wait_pid "$p" 5
done
check "no error was logged" not log_has ': error: '

finish
