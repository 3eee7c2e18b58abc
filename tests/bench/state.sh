# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The state file, sourced by tests/bench/run (sudo ./tests/bench/run state; not in the default
# list). Figures in docs/BENCHMARKS.md, section "State file".
#
#  (a) bench-state, in one process pinned to CONS_CPU, with the daemon's own code: save and load
#      times at 1e3 ... 1e6 entries, how long fork() holds the caller, and the longest time
#      between two mx_syn() verdicts while a background save runs, against the same loop
#      without a save.                                                      -> $OUT/state.csv
#  (b) the daemon through NFQUEUE with 1.13e6 entries (1e6 IPv6 and 130560 IPv4 fake-MX
#      clients): a steady flood of SYNs to the real MX from the whitelisted IPv4 clients, while
#      the daemon saves its state file back to back (save-interval 1; the accepted SYNs change
#      the whitelist every second). A REJECT rule after the verdict answers each accepted SYN
#      with a RST; tcpdump on the server's interface timestamps (kernel time) each SYN as it
#      arrives and its RST as it leaves: the longest time in which a SYN was waiting and no
#      verdict came is the longest pause of the verdict loop (see verdict_pauses), independent
#      of the generator's own stalls. The baseline is the same flood with save-interval 86400
#      (no save), on the same daemon.                                  -> $OUT/state-pause.csv
#
# Needs tcpdump. The state files go to $TMP/state (the file system is printed).

STATE_RATE=${STATE_RATE:-30000}
STATE_SECONDS=${STATE_SECONDS:-20}
STATE_FILL6=${STATE_FILL6:-1000000}
STATE_REPS=${STATE_REPS:-3}

section "state file (a): save and load at 1e3 ... 1e6 entries (bench-state on CPU $CONS_CPU)"
mkdir -p "$TMP/state"
say "  state files on $(stat -f -c %T "$TMP/state") ($TMP/state)"
taskset -c "$CONS_CPU" "$BUILD_DIR/tests/bench/bench-state" "$TMP/state" 1000000 |
	tee "$OUT/state.csv" | column -t -s, >&2

section "state file (b): pauses between verdicts during saves (NFQUEUE, $STATE_RATE SYN/s)"
command -v tcpdump >/dev/null || die "tcpdump is missing (apt-get install tcpdump)"
need_net
conf="$TMP/state.conf"
printf 'save-interval 86400\n' >"$conf"
# Accepted SYNs from the flood sources get a RST; the rule comes before the bench's DROP. The
# RSTs go to the client's MAC address through its address (the sources answer no ARP).
in_srv iptables -I INPUT 1 -p tcp --dport 25 -d "$REAL4" -s "$SRC4_PREFIX" \
	-j REJECT --reject-with tcp-reset
in_srv ip route replace "$SRC4_PREFIX" via "$CLIENT4" dev vsrv onlink
CONS_LOG="$TMP/consumer-state.log"
ip netns exec "$NS_SRV" taskset -c "$CONS_CPU" "$MXALLOWD" -F -s -q -b -c "$conf" \
	-n "$QNUM" -f "$FAKE4" -r "$REAL4" -f "$FAKE6" -r "$REAL6" --max-entries 1200000 \
	--queue-maxlen 4096 --state-file "$TMP/state/whitelist.state" --control-socket none \
	>"$CONS_LOG" 2>&1 &
CONS_PID=$!
wait_for 5 queue_bound || die "mxallowd did not start: $(tail -n3 "$CONS_LOG")"
# The IPv4 clients first and gently: every one of them must be whitelisted (a dropped SYN
# gets no RST and would look like a pause).
synflood -d "$FAKE4" -p "$SRC4_PREFIX" -o 0 -n "$SRC4_SPAN" -r 50000 >/dev/null
wait_for 10 queue_empty
synflood -d "$FAKE6" -p "$SRC6_PREFIX" -o 1 -n "$STATE_FILL6" -r 100000 >/dev/null
wait_for 10 queue_empty
s=$(daemon_stats)
entries=$(stat_field entries "$s")
say "  the daemon holds $entries entries"

# verdict_pauses PCAP: from a capture on the server's interface (kernel timestamps): each SYN's
# arrival, and its RST's departure (sent inside the verdict's system call), matched by the
# client's address and port. A pause of the verdict loop is a time in which a SYN was waiting
# and no verdict was given: for each RST, from the later of the previous RST and its own SYN's
# arrival. (A plain gap between RSTs would also count the generator's own stalls.) Prints
# "matched max_pause_ms p999_pause_ms pauses_over_1ms pauses_over_5ms max_wait_ms", the last
# being the longest time a SYN waited for its verdict.
verdict_pauses() {
	python3 tests/bench/pcap-pauses.py "$1" | sort -g | awk '
		{ v[NR] = $1; if ($1 > 1) o1++; if ($1 > 5) o5++; if ($2 > w) w = $2 }
		END { i = int(NR * 0.999); if (i < 1) i = 1
			printf "%d %.3f %.3f %d %d %.3f\n", NR, v[NR], v[i], o1, o5, w }'
}

# pause_window MODE: the flood for STATE_SECONDS, captured on the server side; one CSV row.
pause_window() {
	local mode=$1 pcap="$TMP/state-$1.pcap" err="$TMP/tcpdump-$1.err" tp s0 s1 out sent
	# Directly, not through in_srv: $! must be tcpdump itself.
	ip netns exec "$NS_SRV" taskset -c "$GEN_CPU" tcpdump -i vsrv -n -B 131072 -s 80 -w "$pcap" \
		"tcp port 25 and host $REAL4 and (tcp[tcpflags] & (tcp-syn|tcp-rst) != 0)" 2>"$err" &
	tp=$!
	wait_for 5 grep -qs 'listening on' "$err" || die "tcpdump did not start: $(cat "$err")"
	s0=$(daemon_stats)
	out=$(synflood -d "$REAL4" -p "$SRC4_PREFIX" -k "$SRC4_SPAN" -R -b 1 \
		-n $((STATE_RATE * STATE_SECONDS)) -r "$STATE_RATE" -s 7)
	wait_for 5 queue_empty
	sleep 0.3
	kill -INT "$tp"
	wait "$tp" 2>/dev/null || true
	s1=$(daemon_stats)
	sent=$(sed -n 's/sent=\([0-9]*\).*/\1/p' <<<"$out")
	read -r rsts max p999 o1 o5 wait <<<"$(verdict_pauses "$pcap")"
	line="$mode,$entries,$STATE_SECONDS,$sent"
	line="$line,$(($(stat_field accepted "$s1") - $(stat_field accepted "$s0"))),$rsts"
	line="$line,$(($(stat_field state-saves "$s1") - $(stat_field state-saves "$s0")))"
	line="$line,$(stat_field state-save-errors "$s1"),$(stat_field state-fork-usec "$s1")"
	line="$line,$(stat_field state-fork-usec-max "$s1")"
	line="$line,$max,$p999,$o1,$o5,$wait,$(sed -n 's/^\([0-9]*\) packets* dropped by kernel.*/\1/p' "$err")"
	echo "$line" >>"$OUT/state-pause.csv"
	say "  $line"
}

echo "mode,entries,seconds,syns_sent,accepted,matched,saves,save_errors,fork_usec_last,fork_usec_max_so_far,max_pause_ms,p999_pause_ms,pauses_over_1ms,pauses_over_5ms,max_wait_ms,capture_dropped" \
	>"$OUT/state-pause.csv"
no_child() { ! pgrep -P "$CONS_PID" >/dev/null; }
saves_above() { [ "$(stat_field state-saves "$(daemon_stats)")" -gt "$1" ]; }
for _ in $(seq 1 "$STATE_REPS"); do
	# No save: save-interval 86400, and no save still running from before.
	printf 'save-interval 86400\n' >"$conf"
	kill -HUP "$CONS_PID"
	wait_for 60 no_child || die "a save did not end within 60 s"
	pause_window no-save
	# Saves back to back: the first one of the whole whitelist first, then measure.
	printf 'save-interval 1\n' >"$conf"
	kill -HUP "$CONS_PID"
	n0=$(stat_field state-saves "$(daemon_stats)")
	wait_for 60 saves_above "$n0" || die "no save within 60 s: $(tail -n3 "$CONS_LOG")"
	pause_window saving
done
ls -l "$TMP/state" >&2
stop_consumer
in_srv iptables -D INPUT -p tcp --dport 25 -d "$REAL4" -s "$SRC4_PREFIX" \
	-j REJECT --reject-with tcp-reset
in_srv ip route replace "$SRC4_PREFIX" dev vsrv
