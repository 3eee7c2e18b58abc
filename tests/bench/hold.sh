# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Part "hold" of tests/bench/run (sourced there): held verdicts as the sender sees them.
#  1. HOLD_N fresh trusted strangers (mxN.partner.example, forward-confirmed by a dnsmasq in the
#     server namespace, trust-domain partner.example) connect straight to the real MX: the time
#     from SYN to SYN-ACK at the client against the resolver's answer time (PTR + A, measured
#     from the server namespace) -> hold.csv; the daemon's held-ms of each -> in the same rows.
#  2. Verdict throughput flat out (500 000 SYNs, 100 000 pre-filled entries, 23 % strangers) for
#     the ceiling, the daemon, and the daemon holding strangers (trust-domain set, so every
#     stranger is a candidate for a hold and a lookup) -> hold-throughput.csv.
# Bounded: HOLD_N connects (default 100) and 3 x 600 000 generated SYNs.
HOLD_N=${HOLD_N:-100}
DNS_HOLD=198.19.255.54

hold_dns() {
	local i args=()
	for i in $(seq 1 "$HOLD_N"); do
		args+=(--host-record="mx$i.partner.example,198.19.254.$((100 + i))")
	done
	in_srv ip addr add "$DNS_HOLD/24" dev vsrv 2>/dev/null || true
	in_srv dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--listen-address="$DNS_HOLD" --bind-interfaces --pid-file= --user=root \
		--local=/example/ --local=/in-addr.arpa/ --local=/ip6.arpa/ "${args[@]}" \
		>"$TMP/dnsmasq-hold.out" 2>&1 &
	HOLD_DNS_PID=$!
	# The daemon's resolver reads resolv.conf at start: point the server namespace at it.
	cp "/etc/netns/$NS_SRV/resolv.conf" "$TMP/resolv.conf.saved"
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$DNS_HOLD" >"/etc/netns/$NS_SRV/resolv.conf"
	wait_for 10 eval "in_srv getent hosts mx1.partner.example >/dev/null" ||
		die "dnsmasq (hold) does not answer: $(tail -n3 "$TMP/dnsmasq-hold.out")"
}

hold_dns_stop() {
	kill "$HOLD_DNS_PID" 2>/dev/null || true
	wait "$HOLD_DNS_PID" 2>/dev/null || true
	cp "$TMP/resolv.conf.saved" "/etc/netns/$NS_SRV/resolv.conf"
}

# One connect from SRC to the real MX: milliseconds until the SYN was answered (SYN-ACK, or the
# RST when nothing listens), or "timeout" after 3 s.
hold_connect() {
	in_cli python3 - "$1" "$REAL4" <<-'EOF'
		import socket, sys, time
		s = socket.socket()
		s.bind((sys.argv[1], 0))
		s.settimeout(3)
		t = time.monotonic()
		try:
		    s.connect((sys.argv[2], 25))
		    print("%.3f" % ((time.monotonic() - t) * 1000))
		except ConnectionRefusedError:
		    print("%.3f" % ((time.monotonic() - t) * 1000))
		except OSError:
		    print("timeout")
	EOF
}

# The resolver's answer time for a client, as the daemon asks: PTR, then the name's A.
hold_resolve() {
	in_srv python3 - "$1" <<-'EOF'
		import socket, sys, time
		t = time.monotonic()
		name = socket.gethostbyaddr(sys.argv[1])[0]
		socket.getaddrinfo(name, None, socket.AF_INET)
		print("%.3f" % ((time.monotonic() - t) * 1000))
	EOF
}

section "hold 1. trusted strangers: SYN to SYN-ACK ($HOLD_N fresh clients) against the resolver"
need_net
hold_dns
CONS_LOG="$TMP/consumer-hold.log"
ip netns exec "$NS_SRV" taskset -c "$CONS_CPU" "$MXALLOWD" -F -s -b -c /dev/null --state-file none --control-socket none -n "$QNUM" \
	-f "$FAKE4" -r "$REAL4" --trust-domain partner.example --log-rate 0 >"$CONS_LOG" 2>&1 &
CONS_PID=$!
wait_for 5 grep -q ': started ' "$CONS_LOG" || die "mxallowd did not start: $(tail -n3 "$CONS_LOG")"
echo "i,src,connect_ms,held_ms,resolve_ms" >"$OUT/hold.csv"
for i in $(seq 1 "$HOLD_N"); do
	src="198.19.254.$((100 + i))"
	ip -n "$NS_CLI" addr add "$src/24" dev vcli 2>/dev/null || true
	c=$(hold_connect "$src")
	h=$(grep -E "accept src=$src dst=.* held-ms=" "$CONS_LOG" | tail -n1 | sed -n 's/.*held-ms=\([0-9]*\).*/\1/p')
	r=$(hold_resolve "$src")
	echo "$i,$src,$c,${h:-},$r" >>"$OUT/hold.csv"
done
stop_consumer
hold_dns_stop
awk -F, 'NR > 1 && $3 != "timeout" { c[n] = $3; r[n] = $5; n++ } NR > 1 && $3 == "timeout" { t++ }
	function pct(a, k, p,   i, j, x) { for (i = 0; i < k; i++) for (j = i + 1; j < k; j++)
		if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x } return a[int((k - 1) * p + 0.5)] }
	END { printf "{\"clients\": %d, \"timeouts\": %d, \"connect_ms_p50\": %.3f, \"connect_ms_p99\": %.3f, \"resolve_ms_p50\": %.3f, \"resolve_ms_p99\": %.3f}\n",
		n + t, t + 0, pct(c, n, 0.5), pct(c, n, 0.99), pct(r, n, 0.5), pct(r, n, 0.99) }' \
	"$OUT/hold.csv" | tee "$OUT/hold.json" >&2

section "hold 2. verdict throughput flat out while strangers are held: ceiling, daemon, daemon-hold"
hold_dns
echo "consumer,sent,offered_pps,verdicts,verdict_pps,queue_dropped,user_dropped,held_peak,hold_nocheck,hold_full" \
	>"$OUT/hold-throughput.csv"
for kind in ceiling daemon daemon-hold; do
	if [ "$kind" = daemon-hold ]; then
		CONS_LOG="$TMP/consumer-hold2.log"
		ip netns exec "$NS_SRV" taskset -c "$CONS_CPU" "$MXALLOWD" -F -s -q -b -c /dev/null --state-file none --control-socket none \
			-n "$QNUM" -f "$FAKE4" -r "$REAL4" --max-entries 200000 --queue-maxlen 1024 \
			--trust-domain partner.example >"$CONS_LOG" 2>&1 &
		CONS_PID=$!
		wait_for 5 queue_bound || die "mxallowd did not start: $(tail -n3 "$CONS_LOG")"
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
		-v id=$((id1 - id0)) -v hp="$(stat_field held-peak "$s")" -v nc="$(stat_field hold-nocheck "$s")" \
		-v hf="$(stat_field hold-full "$s")" 'BEGIN {
			v = id - ud
			printf "%s,%d,%.0f,%d,%.0f,%d,%d,%s,%s,%s\n", k, sent, sent / s, v, v / s, qd, ud, hp, nc, hf }')
	echo "$line" >>"$OUT/hold-throughput.csv"
	say "  $line"
	stop_consumer
done
hold_dns_stop
