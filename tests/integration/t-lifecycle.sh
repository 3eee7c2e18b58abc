#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The daemon's life:
#  (f) expiry: with -t 5, once `whitelist del addr=198.51.100.1 reason=expired` is logged,
#      198.51.100.1 is dropped at the real MX again;
#  (h) SIGUSR1 logs one `stats` line whose counters match what happened (and the log);
#  (i) SIGTERM (and SIGINT) end the daemon with status 0 and remove its pidfile;
#  -q logs nothing but errors, yet still answers SIGUSR1 with the stats line;
#  --log-rate limits accept/drop and whitelist lines and counts the rest;
#  without -F the daemon detaches, writes its pidfile and removes it on SIGTERM;
#  a second instance on the same control socket exits before reading its state file;
#  --fail-open: with the daemon stopped and its queue full, the kernel accepts (else drops).
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup

section "mxallowd with -t 5"
start_daemon -t 5 --renew-time 0 -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6"
check "started line says whitelist-time=5" log_has ': started .* whitelist-time=5 '
check "pidfile $DAEMON_PIDFILE holds the daemon's pid ($DAEMON_PID)" \
	wait_for 5 grep -qx "$DAEMON_PID" "$DAEMON_PIDFILE"

section "traffic"
# 198.51.100.6: no PTR, touches only the fake MX (counts as fake-only when its entry ends).
expect_probe refused 198.51.100.6 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.6 reason=fake-mx ... expires-in=5" \
	log_wait 'whitelist add addr=198\.51\.100\.6 reason=fake-mx dst=192\.0\.2\.10 expires-in=5( |$)'
# 198.51.100.1: fake MX, then the real MX (sender.example.org: 198.51.100.2 becomes a sibling).
expect_probe refused 198.51.100.1 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx ... expires-in=5" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 expires-in=5( |$)'
expect_probe greeting 198.51.100.1 "$REAL4"
check "mxallowd: accept src=198.51.100.1 dst=192.0.2.20 reason=whitelisted" \
	log_wait 'accept src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=whitelisted'
check "mxallowd: whitelist add addr=198.51.100.2 reason=rdns-sibling" \
	log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling origin=198\.51\.100\.1 '
# 198.51.100.3: the spammer.
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "mxallowd: drop src=198.51.100.3 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted'

section "(f) expiry"
check "mxallowd: whitelist del addr=198.51.100.6 reason=expired" \
	log_wait 'whitelist del addr=198\.51\.100\.6 reason=expired' 15
check "mxallowd: whitelist del addr=198.51.100.1 reason=expired" \
	log_wait 'whitelist del addr=198\.51\.100\.1 reason=expired' 15
check "mxallowd: whitelist del addr=198.51.100.2 reason=expired (the sibling ends with its origin)" \
	log_wait 'whitelist del addr=198\.51\.100\.2 reason=expired' 5
expect_probe timeout 198.51.100.1 "$REAL4" 2
check "mxallowd: drop src=198.51.100.1 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=not-whitelisted'

section "(h) SIGUSR1 statistics"
n=$(log_count ': stats ')
daemon_signal USR1
if check "mxallowd logged a stats line" wait_for 5 count_above ': stats ' "$n"; then
	stats=$(grep ': stats ' "$DAEMON_LOG" | tail -n1)
	say "  $stats"
	# The contract's counters, in its order; further name=N counters may follow.
	check "the stats line has the contract's counters in order" \
		log_has ': stats dropped=[0-9]+ accepted=[0-9]+ fake-hits=[0-9]+ rdns-siblings=[0-9]+ fake-only=[0-9]+ entries=[0-9]+ malformed=[0-9]+ enobufs=[0-9]+( [a-z-]+=[0-9]+)*$'
	beyond=$(printf '%s\n' "$stats" | sed -n 's/.* enobufs=[0-9]*//p')
	[ -z "$beyond" ] || say "  (counters beyond the contract:$beyond)"
	# What the log said before the stats line.
	before="$MXA_TMP/before-stats.log"
	awk '/: stats /{exit} {print}' "$DAEMON_LOG" >"$before"
	adds=$(log_count 'whitelist add ' "$before")
	dels=$(log_count 'whitelist del ' "$before")
	want_dropped=$(log_count ': drop src=' "$before")
	want_siblings=$(log_count 'whitelist add .*reason=rdns-sibling' "$before")
	counter() { printf '%s\n' "$stats" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
	expect_counter() {
		local got
		got=$(counter "$1")
		check "stats $1=$got (expected $2: $3)" test "$got" = "$2"
	}
	expect_counter dropped "$want_dropped" "one per dropped SYN, as many as drop lines"
	expect_counter accepted 1 "198.51.100.1 at the real MX"
	expect_counter fake-hits 2 "198.51.100.6 and 198.51.100.1"
	expect_counter rdns-siblings "$want_siblings" "the rdns-sibling add lines"
	expect_counter fake-only 1 "198.51.100.6 expired without a real-MX connection"
	expect_counter entries $((adds - dels)) "$adds added - $dels removed"
	expect_counter malformed 0 "no malformed packets"
	expect_counter enobufs 0 "the queue never overflowed"
	# Counters beyond the contract, checked when present.
	if [ -n "$(counter expired)" ]; then
		expect_counter expired "$(log_count 'whitelist del .*reason=expired' "$before")" "the expired del lines"
	fi
	if [ -n "$(counter evicted)" ]; then
		expect_counter evicted 0 "nothing was evicted"
	fi
	if [ -n "$(counter rdns-unconfirmed)" ]; then
		expect_counter rdns-unconfirmed "$(log_count ': rdns addr=.* not-confirmed' "$before")" "the not-confirmed lines"
	fi
	check "at least one drop and one sibling were counted" \
		test "$want_dropped" -ge 2 -a "$want_siblings" -ge 1
fi

section "(i) SIGTERM"
check "pidfile still present while running" test -s "$DAEMON_PIDFILE"
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "mxallowd exited by itself within 10 s with status 0 (got $st)" test "$st" -eq 0
check "mxallowd: exiting on signal 15" log_has ': exiting on signal 15'
check "pidfile removed" test ! -e "$DAEMON_PIDFILE"

section "(i) SIGINT"
restart_log
start_daemon -f "$FAKE4" -r "$REAL4"
pid=$DAEMON_PID
daemon_signal INT
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "mxallowd exited on SIGINT with status 0 (got $st)" test "$st" -eq 0
check "mxallowd: exiting on signal 2" log_has ': exiting on signal 2$'
check "pidfile removed" test ! -e "$DAEMON_PIDFILE"

section "-q: errors only, but SIGUSR1 still answers"
# -q logs no `started` line: the pidfile, written once the queue is bound, says it is up.
restart_log
rm -f "$DAEMON_PIDFILE"
ip netns exec "$NS_SRV" "$MXALLOWD" -F -s -q -b -c "$MXA_TMP/empty.conf" --state-file none --control-socket none \
	--pidfile "$DAEMON_PIDFILE" -f "$FAKE4" -r "$REAL4" >>"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
check "quiet mxallowd wrote its pidfile" wait_for 10 test -s "$DAEMON_PIDFILE"
expect_probe refused 198.51.100.1 "$FAKE4"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe timeout 198.51.100.3 "$REAL4" 2
daemon_signal USR1
check "mxallowd -q: stats line on SIGUSR1" \
	log_wait 'stats dropped=[1-9][0-9]* accepted=1 fake-hits=1 ' 5
check "nothing but the stats line was logged" \
	test "$(grep -cv ': stats ' "$DAEMON_LOG")" -eq 0
pid=$DAEMON_PID
daemon_signal TERM
wait_pid "$pid" 10
st=$WAIT_STATUS
DAEMON_PID=
check "quiet mxallowd exited with status 0 (got $st)" test "$st" -eq 0

section "--log-rate 1: at most one accept/drop line a second, the rest counted"
restart_log
start_daemon -b --log-rate 1 -f "$FAKE4" -r "$REAL4"
# Three direct clients at once: their SYNs arrive within the same second.
probes=()
for src in 198.51.100.3 198.51.100.4 198.51.100.5; do
	smtp_probe "$src" "$REAL4" 2 >/dev/null &
	probes+=($!)
done
for p in "${probes[@]}"; do
	wait_pid "$p" 15
done
check "mxallowd: log-rate: N accept/drop lines not logged" \
	log_wait 'log-rate: [1-9][0-9]* accept/drop/whitelist lines not logged \(at most 1 a second\)' 5
# The count of unlogged lines comes once a second: ask for stats until the books balance.
drops_add_up() {
	local before
	before=$(log_count ': stats ')
	daemon_signal USR1
	wait_for 3 count_above ': stats ' "$before" || return 1
	dropped=$(sed -n 's/.*: stats dropped=\([0-9]*\) .*/\1/p' "$DAEMON_LOG" | tail -n 1)
	lines=$(log_count ': drop src=')
	unlogged=$(sed -n 's/.*log-rate: \([0-9]*\) accept.*/\1/p' "$DAEMON_LOG" |
		awk '{n += $1} END {print n + 0}')
	[ "${dropped:-0}" -eq $((lines + unlogged)) ]
}
check "every drop was counted: stats dropped = lines logged + lines not logged" \
	wait_for 5 drops_add_up
say "  dropped=$dropped: $lines logged, $unlogged not logged"
check "fewer lines than drops ($lines < $dropped)" test "$lines" -lt "${dropped:-0}"
# Whitelist lines share the limit: a spoofed flood to the fake MX must not log a line per SYN.
probes=()
for i in 1 2 3 4 5 6 7 8 9; do
	smtp_probe "198.51.100.$i" "$FAKE4" 2 >/dev/null &
	probes+=($!)
done
for p in "${probes[@]}"; do
	wait_pid "$p" 15
done
fake_hits_counted() {
	local before
	before=$(log_count ': stats ')
	daemon_signal USR1
	wait_for 3 count_above ': stats ' "$before" || return 1
	hits=$(sed -n 's/.* fake-hits=\([0-9]*\) .*/\1/p' "$DAEMON_LOG" | tail -n 1)
	[ "${hits:-0}" -ge 9 ]
}
check "all 9 fake-MX hits are counted" wait_for 5 fake_hits_counted
adds=$(log_count ': whitelist add ')
check "fewer whitelist add lines than fake-MX hits under --log-rate 1 ($adds < 9)" \
	test "$adds" -lt 9
check "mxallowd: log-rate: ... accept/drop/whitelist lines not logged, after the hits" \
	log_wait 'log-rate: [1-9][0-9]* accept/drop/whitelist lines not logged' 5
stop_daemon

section "without -F: detaches, writes its pidfile, SIGTERM removes it"
restart_log
rm -f "$DAEMON_PIDFILE"
ip netns exec "$NS_SRV" "$MXALLOWD" -s -b -c "$MXA_TMP/empty.conf" --pidfile "$DAEMON_PIDFILE" \
	--state-file none --control-socket none -f "$FAKE4" -r "$REAL4" >>"$DAEMON_LOG" 2>&1 &
launcher=$!
wait_pid "$launcher" 10
check "the launching process returned at once with status 0 (got $WAIT_STATUS)" \
	test "$WAIT_STATUS" -eq 0
check "the detached daemon wrote its pidfile" wait_for 10 test -s "$DAEMON_PIDFILE"
detached=$(cat "$DAEMON_PIDFILE" 2>/dev/null || echo 0)
check "the pidfile names a live process other than the launcher ($detached)" \
	eval 'proc_alive "$detached" && [ "$detached" != "$launcher" ]'
check "the detached daemon logged its start" log_wait ': started ' 10
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "the detached daemon dropped it" log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20' 5
kill -TERM "$detached" 2>/dev/null
check "the detached daemon ended on SIGTERM" wait_for 10 not proc_alive "$detached"
check "and removed its pidfile" wait_for 5 test ! -e "$DAEMON_PIDFILE"

section "a second instance stops before it touches anything"
restart_log
start_daemon -b -f "$FAKE4" -r "$REAL4" --control-socket "$MXA_TMP/one.ctl"
# The second one's own state file is damaged: had it read it, it would have moved it aside.
printf 'not a state file\n' >"$MXA_TMP/second.state"
sum_before=$(md5sum <"$MXA_TMP/second.state")
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -b -c "$MXA_TMP/empty.conf" --queue-num 24 \
	--state-file "$MXA_TMP/second.state" --control-socket "$MXA_TMP/one.ctl" \
	-f "$FAKE4" -r "$REAL4" 2>&1)
st=$?
check "the second instance exits with status 1 (got $st)" test "$st" -eq 1
check "it says another mxallowd answers: $out" \
	eval 'printf "%s\n" "$out" | grep -q "control-socket $MXA_TMP/one.ctl: another mxallowd answers on it"'
check "its state file was neither read nor moved aside" \
	eval '[ "$(md5sum <"$MXA_TMP/second.state")" = "$sum_before" ] && [ ! -e "$MXA_TMP/second.state.corrupt" ]'
check "the first one still runs" proc_alive "$DAEMON_PID"
stop_daemon

# A stopped daemon with a queue of one packet: the kernel queues the first SYN and must then
# drop further ones, or, with --fail-open, accept them (the client's retransmit gets in).
stalled_queue() {
	restart_log
	rm -f "$DAEMON_PIDFILE"
	ip netns exec "$NS_SRV" "$MXALLOWD" -F -s -q -b -c "$MXA_TMP/empty.conf" --state-file none --control-socket none \
		--pidfile "$DAEMON_PIDFILE" --queue-maxlen 1 "$@" \
		-f "$FAKE4" -r "$REAL4" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	check "mxallowd $* wrote its pidfile" wait_for 10 test -s "$DAEMON_PIDFILE"
	daemon_signal STOP
}
resume_and_stop() {
	local pid=$DAEMON_PID
	daemon_signal CONT
	daemon_signal TERM
	wait_pid "$pid" 10
	check "mxallowd exited with status 0 (got $WAIT_STATUS)" test "$WAIT_STATUS" -eq 0
	DAEMON_PID=
}

section "--fail-open: a full queue accepts"
stalled_queue --fail-open
expect_probe greeting 198.51.100.3 "$REAL4" 4
resume_and_stop

section "without --fail-open: a full queue drops"
stalled_queue
expect_probe timeout 198.51.100.3 "$REAL4" 4
resume_and_stop

finish
