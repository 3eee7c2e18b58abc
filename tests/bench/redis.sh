# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Part "redis" of tests/bench/run (sourced there): the shared whitelist.
#  1. Propagation: REDIS_N fresh senders (default 1000, 200 a second) hit the fake MX of
#     daemon A (queue 23); daemon B (queue 24: the real MX, same namespace) shares with A through
#     one redis-server on 127.0.0.1 and logs each peer entry with lag-us, the time from A's
#     fake-MX hit to the entry being live on B (wall clock of one machine) -> redis-lag.csv,
#     p50/p99/max.
#  2. Verdict throughput flat out (500 000 SYNs to the real MX, 100 000 pre-filled entries,
#     random sources): the ceiling, the daemon, the daemon with redis -> redis-throughput.csv.
#  3. A spoofed flood: REDIS_FLOOD distinct sources (default 300 000) hit the fake MX at
#     100 000 a second, the daemon with redis: Redis commands a second during the flood and the
#     10 s after it, changes dropped (redis-dropped), the daemon's peak RSS -> redis-flood.csv.
# Bounded: 1000 + 3 x 600 000 + 300 000 generated SYNs.
REDIS_N=${REDIS_N:-1000}
REDIS_FLOOD=${REDIS_FLOOD:-300000}

command -v redis-server >/dev/null || die "redis-server missing (apt-get install redis-server)"
need_net

redis_bench_answers() { [ "$(in_srv redis-cli -h 127.0.0.1 ping 2>/dev/null)" = PONG ]; }

redis_bench_start() {
	mkdir -p "$TMP/redis"
	in_srv redis-server --port 6379 --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$TMP/redis" --daemonize no --logfile "$TMP/redis/redis.log" &
	REDIS_PID=$!
	wait_for 10 redis_bench_answers || die "redis-server does not answer"
}

redis_bench_stop() {
	kill "$REDIS_PID" 2>/dev/null || true
	wait "$REDIS_PID" 2>/dev/null || true
}

# The daemon in CONS_PID (quiet: no notice lines) is connected: its counter says so.
# Not before the queue is bound: a SIGUSR1 before the daemon set its handlers would end it.
redis_connected() {
	wait_for 5 queue_bound && [ "$(stat_field redis-connected "$(daemon_stats)")" = 1 ]
}

redis_cmds() {
	in_srv redis-cli -h 127.0.0.1 info stats | sed -n 's/^total_commands_processed:\([0-9]*\).*/\1/p'
}

# redis_daemon NAME QUEUE LOG ARGS...: mxallowd with redis in the server namespace; sets RD_PID.
RD_PID=
redis_daemon() {
	local name=$1 q=$2 log=$3
	shift 3
	ip netns exec "$NS_SRV" taskset -c "$CONS_CPU" "$MXALLOWD" -F -s -b -c /dev/null \
		--state-file none --control-socket none -n "$q" -f "$FAKE4" -r "$REAL4" \
		--redis redis://127.0.0.1 --node-name "$name" "$@" >"$log" 2>&1 &
	RD_PID=$!
}

section "redis 1. propagation: $REDIS_N fake-MX hits on A, entries live on B"
redis_bench_start
in_srv iptables -t mangle -F INPUT
in_srv iptables -t mangle -A INPUT -p tcp --syn --dport 25 -d "$FAKE4" -m state --state NEW \
	-j NFQUEUE --queue-num 23
in_srv iptables -t mangle -A INPUT -p tcp --syn --dport 25 -d "$REAL4" -m state --state NEW \
	-j NFQUEUE --queue-num 24
LOG_A="$TMP/redis-a.log"
LOG_B="$TMP/redis-b.log"
redis_daemon A 23 "$LOG_A"
PID_A=$RD_PID
redis_daemon B 24 "$LOG_B" --log-rate 0
PID_B=$RD_PID
wait_for 10 grep -q 'in sync' "$LOG_A" || die "A did not connect: $(tail -n3 "$LOG_A")"
wait_for 10 grep -q 'in sync' "$LOG_B" || die "B did not connect: $(tail -n3 "$LOG_B")"
synflood -d "$FAKE4" -p "$SRC4_PREFIX" -o 0 -n "$REDIS_N" -r 200 >/dev/null
wait_for 10 eval "[ \$(grep -c 'reason=peer origin=peer:A' '$LOG_B') -ge $REDIS_N ]" ||
	say "warning: B has $(grep -c 'reason=peer origin=peer:A' "$LOG_B") of $REDIS_N entries"
echo "lag_us" >"$OUT/redis-lag.csv"
sed -n 's/.*reason=peer origin=peer:A .* lag-us=\([0-9]*\).*/\1/p' "$LOG_B" >>"$OUT/redis-lag.csv"
tail -n +2 "$OUT/redis-lag.csv" | sort -n | awk -v want="$REDIS_N" '
	{ v[NR] = $1 }
	END {
		if (!NR) { print "  no lag figures"; exit }
		printf "  propagation A -> B over %d of %d senders: p50 %d us, p99 %d us, max %d us\n",
			NR, want, v[int(NR * 0.5 + 0.5)], v[int(NR * 0.99 + 0.5)], v[NR] }' >&2
kill "$PID_A" "$PID_B"
wait "$PID_A" "$PID_B" 2>/dev/null || true
rules_queue_on

section "redis 2. verdict throughput flat out: ceiling, daemon, daemon with redis"
echo "consumer,sent,offered_pps,verdicts,verdict_pps,queue_dropped,user_dropped,peer_sent,redis_dropped" \
	>"$OUT/redis-throughput.csv"
for kind in ceiling daemon daemon-redis; do
	if [ "$kind" = daemon-redis ]; then
		CONS_LOG="$TMP/consumer-redis.log"
		redis_daemon A "$QNUM" "$CONS_LOG" -q --max-entries 200000 --queue-maxlen 1024
		CONS_PID=$RD_PID
		wait_for 10 redis_connected || die "mxallowd (redis) did not connect"
	else
		start_consumer "$kind"
	fi
	synflood -d "$FAKE4" -p "$SRC4_PREFIX" -o 0 -n 100000 -r 100000 >/dev/null
	wait_for 5 queue_empty
	read -r _ qd0 ud0 id0 <<<"$(nfq_counters)"
	out=$(synflood -d "$REAL4" -p "$SRC4_PREFIX" -k "$SRC4_SPAN" -R -n 500000 -r 0 -s 7)
	wait_for 5 queue_empty
	sleep 1 # held SYNs reach their deadline
	read -r _ qd1 ud1 id1 <<<"$(nfq_counters)"
	s=
	[ "$kind" != ceiling ] && s=$(daemon_stats)
	secs=$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$out")
	sent=$(sed -n 's/sent=\([0-9]*\).*/\1/p' <<<"$out")
	line=$(awk -v k="$kind" -v sent="$sent" -v s="$secs" -v qd=$((qd1 - qd0)) -v ud=$((ud1 - ud0)) \
		-v id=$((id1 - id0)) -v ps="$(stat_field peer-sent "$s")" \
		-v rd="$(stat_field redis-dropped "$s")" 'BEGIN {
			v = id - ud
			printf "%s,%d,%.0f,%d,%.0f,%d,%d,%s,%s\n", k, sent, sent / s, v, v / s, qd, ud, ps, rd }')
	echo "$line" >>"$OUT/redis-throughput.csv"
	say "  $line"
	stop_consumer
done

section "redis 3. spoofed flood: $REDIS_FLOOD fake-MX hits at 100 000/s, the daemon with redis"
in_srv redis-cli -h 127.0.0.1 flushall >/dev/null
CONS_LOG="$TMP/consumer-redis-flood.log"
redis_daemon A "$QNUM" "$CONS_LOG" -q --queue-maxlen 1024
CONS_PID=$RD_PID
wait_for 10 redis_connected || die "mxallowd (redis) did not connect"
c0=$(redis_cmds)
t0=$(date +%s%N)
synflood -d "$FAKE4" -p "$SRC4_PREFIX" -k "$SRC4_SPAN" -o 0 -n "$REDIS_FLOOD" -r 100000 >/dev/null
wait_for 5 queue_empty
c1=$(redis_cmds)
t1=$(date +%s%N)
sleep 10
c2=$(redis_cmds)
t2=$(date +%s%N)
s=$(daemon_stats)
echo "hits,flood_s,cmds_during,cmds_per_s_during,cmds_per_s_after_10s,peer_sent,redis_dropped,rss_peak_kib,keys" \
	>"$OUT/redis-flood.csv"
line=$(awk -v n="$REDIS_FLOOD" -v t0="$t0" -v t1="$t1" -v t2="$t2" -v c0="$c0" -v c1="$c1" -v c2="$c2" \
	-v ps="$(stat_field peer-sent "$s")" -v rd="$(stat_field redis-dropped "$s")" \
	-v hwm="$(hwm_kib "$CONS_PID")" -v keys="$(in_srv redis-cli -h 127.0.0.1 dbsize)" 'BEGIN {
		d = (t1 - t0) / 1e9; a = (t2 - t1) / 1e9
		printf "%d,%.2f,%d,%.0f,%.0f,%s,%s,%s,%s\n", n, d, c1 - c0, (c1 - c0) / d, (c2 - c1) / a, ps, rd,
			hwm, keys }')
echo "$line" >>"$OUT/redis-flood.csv"
say "  $line"
stop_consumer
redis_bench_stop
