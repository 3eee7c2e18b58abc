#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Three mail hosts share one whitelist through a real redis-server (see redis-lib.sh):
#  (0) a bad redis URL stops the start with its reason; no password in any output
#  (a) the race: Postfix is refused by the fake MX on A, then delivers to B at once: B holds the
#      SYN until A's entry arrives (no SYN retransmit: delay under 1 s); C lets the sender in
#      straight away; the entry is in Redis with the remaining lifetime as TTL
#  (b) Redis stopped: A and B decide alone; a sender whitelisted meanwhile on A reaches B within
#      a second of Redis coming back (empty: A pushes its entries again)
#  (c) a daemon restarted while the others run gets the live entries at start
#  (d) garbage in a key and on the channel: one error line, counted, nothing else changes
#  (e) a wrong password, an unreachable host: a clear line, the daemon decides locally
#  (f) peers' deadlines: one far ahead is limited to this host's longest lifetime, one in the
#      past ignored, both said ("clock skew?") and counted; a bogus t= gives no lag
#  (g) a stored entry lives its key's TTL; a key under a longer prefix is not read, a key
#      holding another address's entry is refused; a 100 MB value costs no memory
#  (h) mxallowctl del during an outage stays deleted when Redis comes back with its data
#  (i) a peer's delete made while this host was cut off is applied when it is back
#  (j) two daemons with the same node name: each says so
#  (k) renewal on use reaches Redis: an active sender's key keeps its TTL near renew-time
# shellcheck disable=SC2317 # functions called through check and wait_for
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/redis-lib.sh
. "$(dirname "$0")/redis-lib.sh"
: "${MXALLOWCTL:=$(dirname "$MXALLOWD")/mxallowctl}"
ctl() { ip netns exec "${HOST_NS[$1]}" "$MXALLOWCTL" -s "$MXA_TMP/control-$1" "${@:2}"; }
# live NAME ADDR: NAME's whitelist lets ADDR in.
live() { ctl "$1" show "$2" 2>/dev/null | head -n1 | grep -q 'is let in'; }

section "(0) bad URLs are refused before anything starts; the password is never shown"
need_daemon
bad_url() {
	local url=$1 want=$2 out
	out=$("$MXALLOWD" --check-config -c /dev/null -f 192.0.2.10 -r 192.0.2.20 --redis "$url" 2>&1)
	local rc=$?
	say "  --redis '$url': exit $rc: $out"
	[ "$rc" -eq 1 ] && printf '%s' "$out" | grep -qF -- "$want" &&
		! printf '%s' "$out" | grep -q hunter2
}
check "port 0: refused, names the port" bad_url 'redis://:hunter2@192.0.2.60:0' \
	'redis: the port is not a number from 1 to 65535'
check "not a redis URL: refused" bad_url 'rediss://:hunter2@192.0.2.60' \
	"'(not a redis URL)' is not redis://"
check "a password without ':': refused" bad_url 'redis://hunter2@192.0.2.60' \
	"the password goes after a ':'"
masked() {
	"$MXALLOWD" --check-config -c /dev/null -f 192.0.2.10 -r 192.0.2.20 \
		--redis 'redis://:hunter2@192.0.2.60:6379/0' 2>&1 | tee "$MXA_TMP_EARLY" |
		grep -qx 'redis redis://:\*\*\*@192.0.2.60:6379/0' && ! grep -q hunter2 "$MXA_TMP_EARLY"
}
MXA_TMP_EARLY=$(mktemp)
check "--check-config shows the URL with *** for the password" masked
rm -f "$MXA_TMP_EARLY"

redis_net_setup
redis_dns_setup
redis_sinks_setup
redis_rules_setup
redis_start
R="redis://:$REDIS_PASS@$REDIS_ADDR:6379"

section "three daemons, one Redis"
# A resolves the Redis host by name (asynchronously); B runs without reverse DNS (-b).
host_start A -f "$FAKE4" -r "$REAL4" -r "$MX3_4" --redis "redis://:$REDIS_PASS@redis.example.test"
host_start B -b -f "$FAKE4" -r "$REAL4" --redis "$R"
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R"
for h in A B C; do
	check "$h: connected and in sync" host_wait $h 'redis: [^ ]+: in sync: pushed' 10
done
check "A: connected to the name it resolved" host_has A 'redis: redis\.example\.test:6379: connected'
check "no password in any log" not grep -q "$REDIS_PASS" "$MXA_TMP"/mxallowd-*.log

section "(a) Postfix: refused by A (fake MX), delivered through B at once; C lets it in too"
postfix_setup v4 ipv4
# On one machine A's entry would often beat Postfix's next SYN; Redis holds writes and
# publications for 500 ms (CLIENT PAUSE WRITE), so the SYN surely reaches B first, as it does
# between real hosts: B must hold it until the entry comes.
check "Redis pauses writes for 500 ms" test "$(redis_cli client pause 500 write)" = OK
# SYNs from the sender to B's port 25, counted before the NFQUEUE rule: one means no retransmit.
ip netns exec "$NS_B" iptables -I INPUT 1 -s 198.51.100.1 -p tcp --syn --dport 25
syns_b() { ip netns exec "$NS_B" iptables -nvxL INPUT 1 | awk '{ print $1 }'; }
check "Postfix delivered the mail: status=sent" send_mail v4
check "Postfix log: connect to mx1.example.test[$FAKE4]:25: Connection refused" \
	log_has "connect to mx1\.example\.test\[$(re "$FAKE4")\]:25: Connection refused" "$MAIL_LINES"
check "Postfix log: relay=mx2.example.test[$REAL4]:25 status=sent" \
	log_has "relay=mx2\.example\.test\[$(re "$REAL4")\]:25,.*status=sent" "$MAIL_LINES"
delay=$(sed -n 's/.* delay=\([0-9.]*\),.*status=sent.*/\1/p' "$MAIL_LINES" | tail -n1)
say "  Postfix delay=$delay"
# Postfix's delay includes its own queue manager and a loaded machine's scheduling: the SYN
# count is what shows a retransmit (the first comes after 1 s); the delay is only reported.
check "no SYN retransmit: B saw exactly one SYN from the sender ($(syns_b))" test "$(syns_b)" = 1
held_ok() {
	local ms
	ms=$(sed -n 's/.*accept src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=whitelisted held-ms=\([0-9]*\).*/\1/p' \
		"${HOST_LOG[B]}" | head -n1)
	say "  B held the SYN $ms ms"
	[ -n "$ms" ] && [ "$ms" -lt 1000 ]
}
check "B let it in within the SYN's first second (held-ms under 1000)" held_ok
check "smtp-sink (B) has the message" wait_for 5 sink_has "$MAIL_TOKEN"
check "A: whitelist add addr=198.51.100.1 reason=fake-mx" \
	host_has A 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 '
check "B: whitelist add addr=198.51.100.1 reason=peer origin=peer:A" \
	host_wait B 'whitelist add addr=198\.51\.100\.1 reason=peer origin=peer:A expires-in=(3599|3600) lag-us=[0-9]+'
check "B held the SYN until A's entry came: accept ... reason=whitelisted held-ms=N" \
	host_has B 'accept src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=whitelisted held-ms=[0-9]+'
check "B never dropped the sender" not host_has B 'drop src=198\.51\.100\.1 '
check "C: whitelist add addr=198.51.100.1 reason=peer origin=peer:A" \
	host_wait C 'whitelist add addr=198\.51\.100\.1 reason=peer origin=peer:A '
expect_probe greeting 198.51.100.1 "$MX3_4"
# C reasons by reverse DNS (rDNS on): the same hold, for a client probed straight after its hit.
race_c() {
	local t0 t1 got
	[ "$(smtp_probe 198.51.100.7 "$FAKE4")" = refused ] || return 1
	t0=$(now_ms)
	got=$(smtp_probe 198.51.100.7 "$MX3_4")
	t1=$(now_ms)
	say "  198.51.100.7 -> $MX3_4:25 right after its fake-MX hit: $got in $((t1 - t0)) ms"
	[ "$got" = greeting ] && [ $((t1 - t0)) -lt 1000 ]
}
check "C (rDNS on): a client straight from the fake MX is in at once (no retransmit)" race_c
check "C held it until A's entry came" host_has C 'whitelist add addr=198\.51\.100\.7 reason=peer origin=peer:A '
stored() {
	local v ttl
	v=$(redis_cli get 'mxallowd:e:198.51.100.1/32')
	ttl=$(redis_cli ttl 'mxallowd:e:198.51.100.1/32')
	say "  GET: $v"
	say "  TTL: $ttl"
	[[ $v == "v1 entry node=A addr=198.51.100.1/32 reason=fake-mx origin=192.0.2.10 "* ]] &&
		[ "$ttl" -gt 3500 ] && [ "$ttl" -le 3600 ]
}
check "Redis: the entry, with node A, and a TTL of the remaining lifetime" stored

section "(b) Redis stopped: the hosts decide alone; back, B learns A's news within a second"
redis_stop
check "A: one line: the connection is lost" host_wait A 'redis: [^ ]+: connection lost: .*deciding locally' 5
check "B: one line: the connection is lost" host_wait B 'redis: [^ ]+: connection lost: .*deciding locally' 5
expect_probe refused 198.51.100.2 "$FAKE4"
check "A: whitelists 198.51.100.2 on its own" host_wait A 'whitelist add addr=198\.51\.100\.2 reason=fake-mx' 5
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe timeout 198.51.100.3 "$REAL4"
check "B: still drops a stranger" host_wait B 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20' 5
check "A: one line per outage (no line per retry)" \
	test "$(grep -c 'redis: .*deciding locally' "${HOST_LOG[A]}")" -le 2
t0=$(now_ms)
redis_start
check "B: 198.51.100.2 arrives from A after Redis is back" \
	host_wait B 'whitelist add addr=198\.51\.100\.2 reason=peer origin=peer:A ' 5
t1=$(now_ms)
say "  redis-server started at $t0 ms, B had the entry at $t1 ms: $((t1 - t0)) ms"
check "within a second of Redis coming back ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 1000
expect_probe greeting 198.51.100.2 "$REAL4"
check "Redis was filled again (A pushed 198.51.100.1 and .2)" \
	test "$(redis_cli exists 'mxallowd:e:198.51.100.1/32' 'mxallowd:e:198.51.100.2/32')" = 2

section "(c) a daemon restarted while the others run gets the live entries at start"
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R"
check "C: loaded the live entries" host_wait C 'redis: [^ ]+: loaded [2-9][0-9]* live entries' 5
check "C: 198.51.100.2 from A at start" host_has C 'whitelist add addr=198\.51\.100\.2 reason=peer origin=peer:A '
expect_probe greeting 198.51.100.2 "$MX3_4"

section "(d) garbage in a key and on the channel: an error line, nothing else"
redis_cli set 'mxallowd:e:198.51.100.9/32' 'not an entry' >/dev/null
redis_cli publish 'mxallowd:events' 'v1 add node=X addr=198.51.100.8/32 reason=fake-mx' >/dev/null
check "B: the event is refused with its reason" \
	host_wait B "redis: [^ ]+: an event ignored: 'origin' is missing" 5
check "B: nothing was whitelisted from it" not host_has B 'addr=198\.51\.100\.8 '
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R"
check "C: the stored garbage is refused with its reason" \
	host_wait C "redis: [^ ]+: a stored entry ignored: does not start with 'v1 '" 5
check "C: the good entries are loaded all the same" host_wait C 'loaded [2-9][0-9]* live entries of peers \(1 refused,' 5
check "B: counted (peer-rejected)" test "$(stat_of B peer-rejected)" -ge 1
for h in A B C; do check "$h is still running" host_alive $h; done

section "(e) a wrong password, an unreachable host: one clear line, local decisions go on"
local_works() { # SRC: a fake-MX hit on C's own fake MX, then C's real MX lets SRC in
	[ "$(smtp_probe "$1" "$C_FAKE4")" = refused ] && smtp_probe "$1" "$MX3_4" >/dev/null
}
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "redis://:wrong-$REDIS_PASS@$REDIS_ADDR"
check "C: the password was refused (AUTH)" \
	host_wait C 'redis: 192\.0\.2\.60:6379: the password was refused \(AUTH: WRONGPASS' 5
check "C: no password in the log" not grep -q "$REDIS_PASS" "${HOST_LOG[C]}"
check "C decides locally: 198.51.100.5 via C's fake MX, then in" local_works 198.51.100.5
check "C is still running" host_alive C
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "redis://192.0.2.99:6379"
check "C: unreachable Redis: one line" \
	host_wait C 'redis: 192\.0\.2\.99:6379: (no connection within 2 s|cannot connect|connection lost).*deciding locally' 8
check "C decides locally: 198.51.100.6 via C's fake MX, then in" local_works 198.51.100.6
check "C is still running" host_alive C

section "(f) peers' deadlines: limited to this host's longest lifetime, or ignored in the past"
now=$(date +%s)
redis_cli publish mxallowd:events "v1 add node=X addr=198.51.100.40/32 reason=fake-mx origin=- deadline=99999999999 last-use=0 t=1" >/dev/null
redis_cli publish mxallowd:events "v1 add node=X addr=198.51.100.41/32 reason=manual origin=- deadline=$((now - 10)) last-use=0 t=$((now * 1000000))" >/dev/null
# the longest lifetime here: renew-time's default, 3110400 s (36 days), not 3000 years
check "B: the far deadline is limited: expires-in=3110400, lag-us=-1 (t=1 is no lag)" \
	host_wait B 'whitelist add addr=198\.51\.100\.40 reason=peer origin=peer:X expires-in=(3110400|3110399) lag-us=-1$' 5
check "B: said: deadline in the future by N s: clock skew?" \
	host_has B 'an event of node X for 198\.51\.100\.40/32: deadline in the future by [0-9]+ s: clock skew\? limited to 3110400 s here'
check "B: said: t in the past: clock skew? its lag is unknown" \
	host_has B 'an event of node X for 198\.51\.100\.40/32: t in the past by [0-9]+ s: clock skew\? its lag is unknown'
check "B: the past deadline is said and ignored" \
	host_wait B 'an event of node X for 198\.51\.100\.41/32: deadline in the past by (9|10|11|12) s: clock skew\? ignored' 5
check "B: nothing was whitelisted from it" not host_has B 'whitelist add addr=198\.51\.100\.41 '
lagmax_ok() { local v; v=$(stat_of B sync-lag-max-us); say "  B: sync-lag-max-us=$v"; [ "$v" -lt 60000000 ]; }
check "B: sync-lag-max-us stays that of real events (under 60 s)" lagmax_ok
check "B: counted (peer-clock-skew >= 3)" test "$(stat_of B peer-clock-skew)" -ge 3

section "(g) stored entries: the key's TTL, this prefix's keys only, values read 513 bytes at most"
redis_cli set mxallowd:e:198.51.100.42/32 "v1 entry node=X addr=198.51.100.42/32 reason=fake-mx origin=- deadline=99999999999 last-use=0 t=1" ex 120 >/dev/null
redis_cli set mxallowd:e:e:198.51.100.43/32 "v1 entry node=Y addr=198.51.100.43/32 reason=fake-mx origin=- deadline=$((now + 600)) last-use=0 t=1" >/dev/null
redis_cli set mxallowd:e:192.0.2.99/32 "v1 entry node=Y addr=198.51.100.44/32 reason=fake-mx origin=- deadline=$((now + 600)) last-use=0 t=1" >/dev/null
# 100 MB in one value, written straight in the protocol (no 100 MB command line)
big_set() {
	python3 -c "import sys; k=b'mxallowd:e:198.51.100.45/32'; n=100*1024*1024
sys.stdout.buffer.write(b'*3\r\n\$3\r\nSET\r\n\$%d\r\n%s\r\n\$%d\r\n' % (len(k), k, n))
sys.stdout.buffer.write(b'v' * n + b'\r\n')" |
		ip netns exec "$NS_R" redis-cli -h "$REDIS_ADDR" -a "$REDIS_PASS" --no-auth-warning --pipe >/dev/null
}
check "Redis holds a 100 MB value under an entry key" big_set
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R"
check "C: in sync" host_wait C 'redis: [^ ]+: in sync: pushed' 10
check "C: the stored entry lives its key's TTL (120 s), not its deadline" \
	host_has C 'whitelist add addr=198\.51\.100\.42 reason=peer origin=peer:X expires-in=(120|119) '
check "C: its deadline is said (clock skew?)" \
	host_has C 'a stored entry of node X for 198\.51\.100\.42/32: deadline in the future by [0-9]+ s: clock skew\? its key.s TTL: 1[12][0-9] s here'
check "C: the key under mxallowd:e:e: (another deployment) is not read" \
	not host_has C 'addr=198\.51\.100\.43'
check "C: the key of 192.0.2.99 holding 198.51.100.44's entry is refused" \
	host_has C 'a stored entry ignored: the key mxallowd:e:192\.0\.2\.99/32 holds the entry of 198\.51\.100\.44/32'
check "C: neither address is whitelisted" not host_has C 'whitelist add addr=(198\.51\.100\.44|192\.0\.2\.99) '
check "C: the 100 MB value is refused" host_has C 'a stored entry ignored: longer than 512 bytes'
hwm_ok() {
	local kb
	kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/${HOST_PID[C]}/status")
	say "  C: VmHWM $kb kB after loading beside a 100 MB value"
	[ -n "$kb" ] && [ "$kb" -lt 51200 ]
}
check "C: peak memory under 50 MB" hwm_ok
redis_cli del mxallowd:e:198.51.100.45/32 >/dev/null

section "(h) mxallowctl del while Redis is away stays deleted when Redis comes back with its data"
check "B: mxallowctl add 198.51.100.47" ctl B add 198.51.100.47 --ttl 3000
key47() { [ "$(redis_cli exists mxallowd:e:198.51.100.47/32)" = 1 ]; }
check "Redis has B's entry" wait_for 5 key47
check "A has it from B" wait_for 5 live A 198.51.100.47
# The store's marker (set when Redis came back empty in (b)) is older than 10 s: the store was
# not just refilled, so a key missing after the restart is a deletion (A removes its copy even
# if it missed B's event). Within 10 s of an empty restart missing keys are not deletions.
marker_old() { local v; v=$(redis_cli get mxallowd:store); [ -n "$v" ] && [ $(($(date +%s) - v)) -gt 10 ]; }
check "the store's marker is older than 10 s" wait_for 15 marker_old
check "Redis saves its data (SAVE) and stops" test "$(redis_cli save)" = OK
n_lost=$(log_count 'connection lost' "${HOST_LOG[B]}")
redis_stop
check "B: the connection is lost" wait_for 5 count_above 'connection lost' "$n_lost" "${HOST_LOG[B]}"
check "B: mxallowctl del 198.51.100.47 while Redis is away" ctl B del 198.51.100.47
n_sync_b=$(log_count 'in sync: pushed' "${HOST_LOG[B]}")
n_sync_a=$(log_count 'in sync: pushed' "${HOST_LOG[A]}")
redis_start
check "B: in sync again" wait_for 5 count_above 'in sync: pushed' "$n_sync_b" "${HOST_LOG[B]}"
check "A: in sync again" wait_for 5 count_above 'in sync: pushed' "$n_sync_a" "${HOST_LOG[A]}"
check "B: 198.51.100.47 stays deleted" not live B 198.51.100.47
check "Redis: the key is gone" not key47
check "A: 198.51.100.47 is deleted there too" wait_for 10 not live A 198.51.100.47
rm -f "$REDIS_DIR/dump.rdb"

section "(i) a peer's delete made while this host was cut off is applied when it is back"
check "A: mxallowctl add 198.51.100.48" ctl A add 198.51.100.48 --ttl 3000
check "B has it from A" wait_for 5 live B 198.51.100.48
check "the store's marker is older than 10 s" wait_for 15 marker_old
ip netns exec "$NS_B" iptables -I OUTPUT -d "$REDIS_ADDR" -p tcp --dport 6379 -j REJECT --reject-with tcp-reset
n_lost=$(log_count 'connection lost' "${HOST_LOG[B]}")
kill_b() {
	local a
	for a in $(redis_cli client list | sed -n "s/.* addr=\($(re "$REAL4"):[0-9]*\) .*/\1/p"); do
		redis_cli client kill "$a" >/dev/null
	done
}
kill_b
check "B: cut off from Redis" wait_for 5 count_above 'connection lost' "$n_lost" "${HOST_LOG[B]}"
check "A: mxallowctl del 198.51.100.48 meanwhile" ctl A del 198.51.100.48
check "B still has it (it heard nothing)" live B 198.51.100.48
n_sync_b=$(log_count 'in sync: pushed' "${HOST_LOG[B]}")
ip netns exec "$NS_B" iptables -D OUTPUT -d "$REDIS_ADDR" -p tcp --dport 6379 -j REJECT --reject-with tcp-reset
check "B: in sync again" wait_for 5 count_above 'in sync: pushed' "$n_sync_b" "${HOST_LOG[B]}"
check "B: removed the entry deleted while it was away" \
	host_has B 'removed [1-9][0-9]* entries of peers that were deleted while this host was away'
check "B: 198.51.100.48 is gone" not live B 198.51.100.48

section "(j) two daemons with one node name: each says so"
host_stop C
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R" --node-name B
check "B: another mxallowd uses this host's node name" \
	host_wait B "another mxallowd \(instance [0-9a-f]{16}\) uses this host's node name 'B'" 5
check "C (named B too): says the same" \
	host_wait C "another mxallowd \(instance [0-9a-f]{16}\) uses this host's node name 'B'" 10
check "B: counted (peer-node-clash)" test "$(stat_of B peer-node-clash)" -ge 1
host_stop C

section "counters"
say "  A: $(host_stats A)"
say "  B: $(host_stats B)"
check "A: peer-sent counts its entries" test "$(stat_of A peer-sent)" -ge 2
check "B: peer-received counts A's entries" test "$(stat_of B peer-received)" -ge 2
check "B: redis-reconnects counts the comeback" test "$(stat_of B redis-reconnects)" -ge 1
check "B: redis-connected is 1" test "$(stat_of B redis-connected)" = 1
check "B: sync-lag-us is there" stat_of B sync-lag-us

section "(k) renewal on use reaches Redis: an active sender's key keeps a TTL near renew-time"
# C is fake and real MX at once (C_FAKE4, MX3_4). -t 5 --renew-time 8: the report step is
# 4 s (half of renew-time); the sender uses the real MX at once, then every second for 12 s,
# each use moving its deadline by 1 s. The key's TTL must stay within a step of renew-time all along, not run
# out after the first report.
: >"${HOST_LOG[C]}"
HOST_STARTS[C]=0
host_start C -f "$FAKE4" -f "$C_FAKE4" -r "$MX3_4" --redis "$R" -t 5 --renew-time 8
check "C: in sync" host_wait C 'redis: [^ ]+: in sync: pushed' 10
expect_probe refused 198.51.100.8 "$C_FAKE4"
check "C: whitelist add addr=198.51.100.8 reason=fake-mx" \
	host_wait C 'whitelist add addr=198\.51\.100\.8 reason=fake-mx ' 5
past_ms() { [ "$(now_ms)" -ge "$1" ]; }
key='mxallowd:e:198.51.100.8/32'
low=99
start=$(now_ms)
for i in $(seq 0 12); do
	wait_for 3 past_ms $((start + i * 1000)) || break
	[ "$(smtp_probe 198.51.100.8 "$MX3_4")" = greeting ] || fail "use $i: no greeting"
	ttl=$(redis_cli ttl "$key")
	[ "$ttl" -lt "$low" ] && low=$ttl
done
say "  Redis TTL of $key over 12 s of uses: lowest $low (renew-time 8, step 4)"
check "the key never fell a step behind (lowest TTL $low >= 3)" test "$low" -ge 3
check "C: renewals logged, not one per use ($(grep -c 'whitelist renew addr=198\.51\.100\.8 .*use=accepted' "${HOST_LOG[C]}") of 13)" \
	test "$(grep -c 'whitelist renew addr=198\.51\.100\.8 .*use=accepted' "${HOST_LOG[C]}")" -le 5
host_stop C

finish
