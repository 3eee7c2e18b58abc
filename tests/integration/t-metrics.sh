#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# metrics-listen: Prometheus metrics at GET /metrics.
#   - off by default: nothing listens;
#   - the scrape is valid exposition text (`promtool check metrics`), with the metrics an
#     operator looks for (whitelist entries and capacity, drops, ENOBUFS, rDNS, table errors,
#     state file, static networks, the kernel queue's drops); every *_total is a counter,
#     every other metric a gauge;
#   - counters move with traffic: a fake-MX hit, a whitelisted and a static client accepted,
#     a stranger dropped;
#   - the state file: saves move mxallowd_state_saves_total; while its directory is gone the
#     failed saves move mxallowd_state_save_errors_total and mxallowd_state_age_seconds grows;
#     once it is back a save brings the age back to 0;
#   - table mode: a kernel set that refuses the daemon's writes moves
#     mxallowd_table_errors_total;
#   - only GET/HEAD of /metrics: 404 elsewhere, 405 for other methods;
#   - bounded: with 8 connections open and silent, the next scrape waits; the silent ones are
#     closed after the 10 s deadline and the scrape is answered; IPv6 [ADDR]:PORT works;
#     an address that is not local stops the start with the reason.
# The helpers below are called through check, eval and wait_for:
# shellcheck disable=SC2317

# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/table-lib.sh
. "$(dirname "$0")/table-lib.sh"

need_cmds curl promtool
mail_host_setup

PORT=9425
URL="http://$REAL4:$PORT/metrics"
scrape="$MXA_TMP/scrape.txt"

# get [CURL ARGS...]: scrape into $scrape from the server namespace; prints the HTTP status.
get() {
	in_srv curl -sS --max-time 5 -o "$scrape" -w '%{http_code}' "$@" "$URL" 2>"$MXA_TMP/curl.err"
}

# metric NAME: the value of sample NAME in the last scrape ("" when absent).
metric() {
	awk -v n="$1" '$1 == n { print $2 }' "$scrape"
}

# metric_is NAME VALUE
metric_is() {
	local got
	got=$(metric "$1")
	[ "$got" = "$2" ] || {
		say "  ($1 is '${got}', expected $2)"
		return 1
	}
}

listening_on() { in_srv ss -Hltn "sport = :$PORT" | grep -q .; }

# type_is NAME TYPE: the last scrape declares NAME with # TYPE TYPE.
type_is() { grep -qx "# TYPE $1 $2" "$scrape"; }

# types_match: every *_total is declared a counter, every other metric a gauge.
types_match() {
	awk '$1 == "#" && $2 == "TYPE" && (($3 ~ /_total$/) != ($4 == "counter")) {
		print "  (" $3 " is a " $4 ")"; bad = 1 } END { exit bad }' "$scrape"
}

# scraped_at_least NAME N: a new scrape has NAME >= N.
scraped_at_least() {
	local v
	[ "$(get)" = 200 ] || return 1
	v=$(metric "$1")
	[ -n "$v" ] && [ "${v%.*}" -ge "$2" ]
}

# scraped_is NAME VALUE: a new scrape has NAME = VALUE.
scraped_is() { [ "$(get)" = 200 ] && [ "$(metric "$1")" = "$2" ]; }

section "off by default"
start_daemon -f "$FAKE4" -r "$REAL4" --no-rdns-whitelist
check "nothing listens on port $PORT" not listening_on
stop_daemon

section "a scrape is valid Prometheus text"
restart_log
start_daemon -f "$FAKE4" -r "$REAL4" --no-rdns-whitelist --allow 198.51.100.4 \
	--metrics-listen "$REAL4:$PORT"
check "mxallowd: metrics at http://192.0.2.20:$PORT/metrics" \
	log_has ": metrics at http://192\.0\.2\.20:$PORT/metrics"
check "GET /metrics: 200" test "$(get)" = 200
check "promtool check metrics: no problem" promtool check metrics <"$scrape"
sed -n '1,6p' "$scrape" | sed 's/^/  | /'
for m in mxallowd_dropped_total mxallowd_accepted_total mxallowd_fake_hits_total \
	mxallowd_whitelist_entries mxallowd_whitelist_capacity mxallowd_enobufs_total \
	mxallowd_rdns_inflight mxallowd_rdns_skipped_total mxallowd_table_errors_total \
	mxallowd_state_saves_total mxallowd_state_age_seconds mxallowd_static_networks \
	mxallowd_static_hits_total mxallowd_queue_kernel_dropped_total \
	mxallowd_queue_user_dropped_total; do
	check "has $m, with # HELP and # TYPE" eval \
		"[ -n \"\$(metric $m)\" ] && grep -q '^# HELP $m ' '$scrape' && grep -q '^# TYPE $m ' '$scrape'"
done
check "every *_total is a counter, every other metric a gauge" types_match
for m in mxallowd_table_errors_total mxallowd_state_saves_total mxallowd_state_save_errors_total \
	mxallowd_dropped_total mxallowd_enobufs_total; do
	check "# TYPE $m counter" type_is "$m" counter
done
for m in mxallowd_state_age_seconds mxallowd_whitelist_entries mxallowd_whitelist_capacity \
	mxallowd_static_networks; do
	check "# TYPE $m gauge" type_is "$m" gauge
done
check "mxallowd_whitelist_capacity 65536 (max-entries)" metric_is mxallowd_whitelist_capacity 65536
check "mxallowd_static_networks 1" metric_is mxallowd_static_networks 1
check "every sample is mxallowd_*" not grep -Ev '^(#|mxallowd_)' "$scrape"
check "Content-Type: text/plain; version=0.0.4" eval \
	"in_srv curl -sS -o /dev/null -D - '$URL' | grep -qi '^content-type: text/plain; version=0.0.4'"

section "counters move with traffic"
for m in fake_hits_total accepted_total dropped_total static_hits_total whitelist_entries; do
	check "before: mxallowd_$m 0" metric_is "mxallowd_$m" 0
done
expect_probe refused 198.51.100.1 "$FAKE4"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 198.51.100.4 "$REAL4"
expect_probe timeout 198.51.100.3 "$REAL4"
check "mxallowd: drop src=198.51.100.3 (the last probe was judged)" \
	log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 '
check "GET /metrics: 200" test "$(get)" = 200
check "after: mxallowd_fake_hits_total 1" metric_is mxallowd_fake_hits_total 1
check "after: mxallowd_accepted_total 2 (whitelisted and static)" \
	metric_is mxallowd_accepted_total 2
check "after: mxallowd_static_hits_total 1" metric_is mxallowd_static_hits_total 1
# The stranger's client sends its SYN again after 1 s and 2 s: each one is a drop, and a line.
drops=$(log_count 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 ')
check "after: mxallowd_dropped_total $drops (the drop lines of 198.51.100.3's SYNs)" \
	metric_is mxallowd_dropped_total "$drops"
check "after: mxallowd_whitelist_entries 1" metric_is mxallowd_whitelist_entries 1
check "promtool check metrics: still no problem" promtool check metrics <"$scrape"

section "only GET and HEAD of /metrics"
URL="http://$REAL4:$PORT/other" && code=$(get)
check "GET /other: 404 (got $code)" test "$code" = 404
URL="http://$REAL4:$PORT/metrics" && code=$(get -X POST)
check "POST /metrics: 405 (got $code)" test "$code" = 405
code=$(get -I)
check "HEAD /metrics: 200 (got $code)" test "$code" = 200
check "HEAD /metrics: headers only" not grep -q '^mxallowd_' "$scrape"

section "bounded: 8 connections at a time, 10 s each at most"
holders=()
for i in 1 2 3 4 5 6 7 8; do
	# Connected and silent for 60 s (socat's -T), unless the daemon closes the connection.
	in_srv socat -T 60 -u "TCP:$REAL4:$PORT" - >/dev/null 2>&1 &
	holders+=($!)
done
established() {
	[ "$(in_srv ss -Htn state established "sport = :$PORT" | wc -l)" -ge 8 ]
}
check "8 silent connections are open" wait_for 5 established
t0=$SECONDS
code=$(in_srv curl -sS --max-time 2 -o /dev/null -w '%{http_code}' "$URL" 2>/dev/null)
check "a 9th client gets no answer meanwhile (got '$code')" test "$code" != 200
scrape_ok() { [ "$(get)" = 200 ]; }
check "the silent ones are closed at the deadline, then a scrape is answered" \
	wait_for 20 scrape_ok
check "... after about 10 s (took $((SECONDS - t0)) s)" test $((SECONDS - t0)) -ge 7
for p in "${holders[@]}"; do wait_pid "$p" 5; done
check "the daemon closed the silent connections (no socat left)" \
	not pgrep -f "socat -T 60 -u TCP:$REAL4:$PORT"
stop_daemon

section "IPv6: [ADDR]:PORT"
restart_log
start_daemon -f "$FAKE6" -r "$REAL6" --no-rdns-whitelist --metrics-listen "[$REAL6]:$PORT"
URL="http://[$REAL6]:$PORT/metrics"
check "GET http://[2001:db8::20]:$PORT/metrics: 200" test "$(get)" = 200
check "promtool check metrics: no problem" promtool check metrics <"$scrape"
stop_daemon

section "the state file: saves, failed saves and the file's age"
restart_log
STATE_DIR=$(mktemp -d "$MXA_TMP/state.XXXXXX")
URL="http://$REAL4:$PORT/metrics"
started_at=$(date +%s)
start_daemon -f "$FAKE4" -r "$REAL4" --no-rdns-whitelist --metrics-listen "$REAL4:$PORT" \
	--state-file "$STATE_DIR/whitelist.state" --save-interval 1
check "GET /metrics: 200" test "$(get)" = 200
saves0=$(metric mxallowd_state_saves_total)
check "mxallowd_state_save_errors_total 0 at start" metric_is mxallowd_state_save_errors_total 0
# Nothing saved yet: the age counts from the start, so it is at most the seconds since then
# (+1: the daemon's clock and date(1) tick whole seconds apart).
age=$(metric mxallowd_state_age_seconds)
since=$(($(date +%s) - started_at + 1))
check "mxallowd_state_age_seconds at start: ${age:-none}, no more than the ${since} s since the start" \
	test "${age:-999}" -le "$since"
expect_probe refused 198.51.100.1 "$FAKE4"
check "a whitelist change is saved: mxallowd_state_saves_total goes past $saves0" \
	wait_for 10 scraped_at_least mxallowd_state_saves_total $((saves0 + 1))
check "and mxallowd_state_age_seconds is 0 again" wait_for 10 scraped_is mxallowd_state_age_seconds 0
mv "$STATE_DIR" "$STATE_DIR.away"
expect_probe refused 198.51.100.2 "$FAKE4"
check "with the directory gone: mxallowd_state_save_errors_total moves" \
	wait_for 10 scraped_at_least mxallowd_state_save_errors_total 1
check "mxallowd_state_age_seconds grows while saves fail" \
	wait_for 10 scraped_at_least mxallowd_state_age_seconds 2
check "mxallowd: state: cannot save ..." log_has 'state: cannot save'
mv "$STATE_DIR.away" "$STATE_DIR"
check "the directory back: mxallowd_state_age_seconds returns to 0" \
	wait_for 10 scraped_is mxallowd_state_age_seconds 0
check "promtool check metrics: still no problem" promtool check metrics <"$scrape"
stop_daemon

section "table mode: a kernel set that refuses writes moves mxallowd_table_errors_total"
rules_flush
table_rules_setup --no-renew
restart_log
start_daemon --renew-time 0 --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -r "$REAL4" \
	--metrics-listen "$REAL4:$PORT"
check "GET /metrics: mxallowd_table_errors_total 0" scraped_is mxallowd_table_errors_total 0
# A set without timeout support in place of mx-white refuses every add the daemon sends.
in_srv ipset create mx-white.bad hash:net family inet maxelem 131072
in_srv ipset swap mx-white.bad mx-white
expect_probe refused 198.51.100.1 "$FAKE4"
check "a refused add: mxallowd_table_errors_total moves" \
	wait_for 10 scraped_at_least mxallowd_table_errors_total 1
check "# TYPE mxallowd_table_errors_total counter" type_is mxallowd_table_errors_total counter
check "promtool check metrics: still no problem" promtool check metrics <"$scrape"
stop_daemon

section "an address that is not local stops the start"
restart_log
in_srv "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" -f "$FAKE4" -r "$REAL4" --state-file none --control-socket none \
	--control-socket none --metrics-listen 192.0.2.99:$PORT >>"$DAEMON_LOG" 2>&1
rc=$?
check "exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: metrics-listen 192.0.2.99:$PORT: cannot listen: Cannot assign requested address" \
	log_has "^mxallowd: metrics-listen 192\.0\.2\.99:$PORT: cannot listen: Cannot assign requested address$"

finish
