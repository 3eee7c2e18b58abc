#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Static allow lists (NFQUEUE mode): `allow NETWORK` and `allow-file PATH`.
#   - a client inside an allowed network gets the real MX's greeting without a fake-MX visit,
#     logged as `accept ... reason=static net=NETWORK`, with no whitelist entry made for it;
#     IPv4 and IPv6, networks from the config file and from an allow-file;
#   - its neighbour just outside the network is dropped;
#   - the stats line counts static-hits and static-networks;
#   - SIGHUP with a broken allow-file: `reload failed: FILE:LINE: ...`, the running list is kept
#     (an added network does not get in, a removed one still does); a fixed file then applies;
#   - at start, a broken allow-file, a missing one and `allow 0.0.0.0/0` are refused with the
#     place named; --check-config reads the lists too;
#   - table mode, ipset (mx-static): a reload swaps whole new sets in: a partner network in the
#     old and the new lists never leaves the set, also while a reload grows the lists past the
#     live set's maxelem (70,001 networks), and it keeps getting the real MX's greeting; a
#     kernel write that fails makes `mxallowctl reload` answer the error, and the old lists stay
#     in force in the core (`show`) and in the kernel;
#   - table mode, nft (allow4): the same with a set declared too small for the new lists.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup

conf="$MXA_TMP/mxallowd.conf"
list="$MXA_TMP/providers.allow"
write_list() {
	cat >"$list.new"
	mv "$list.new" "$list"
}

cat >"$conf" <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	fake-mailserver $FAKE6
	real-mailserver $REAL6
	no-rdns-whitelist
	allow 198.51.100.4/31   # .4 and .5
	allow-file $list
EOF
write_list <<-EOF
	# a provider's sending networks
	198.51.100.8          # one host
	2001:db8:1::/125      # ::0 to ::7
EOF

# hup PATTERN: SIGHUP, then wait for one more line matching PATTERN.
# shellcheck disable=SC2317 # called through check
hup() {
	local n
	n=$(log_count "$1")
	daemon_signal HUP
	wait_for 10 count_above "$1" "$n"
}

section "--check-config reads the allow lists"
out=$(in_srv "$MXALLOWD" --check-config -c "$conf" --state-file none --control-socket none 2>&1)
check "--check-config: # allow lists: 3 networks" grep -q '^# allow lists: 3 networks$' <<<"$out"

section "clients of allowed networks reach the real MX without a fake-MX visit"
start_daemon -c "$conf"
check "mxallowd: allow lists: 3 networks" log_wait ': allow lists: 3 networks'
expect_probe greeting 198.51.100.4 "$REAL4"
check "mxallowd: accept src=198.51.100.4 dst=192.0.2.20 reason=static net=198.51.100.4/31" \
	log_wait 'accept src=198\.51\.100\.4 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.4/31$'
expect_probe greeting 198.51.100.5 "$REAL4"
expect_probe greeting 198.51.100.8 "$REAL4"
check "mxallowd: accept src=198.51.100.8 ... reason=static net=198.51.100.8/32 (allow-file)" \
	log_wait 'accept src=198\.51\.100\.8 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.8/32$'
expect_probe greeting 2001:db8:1::3 "$REAL6"
check "mxallowd: accept src=2001:db8:1::3 dst=2001:db8::20 reason=static net=2001:db8:1::/125" \
	log_wait 'accept src=2001:db8:1::3 dst=2001:db8::20 reason=static net=2001:db8:1::/125$'

section "neighbours outside the networks are dropped"
expect_probe timeout 198.51.100.6 "$REAL4"
check "mxallowd: drop src=198.51.100.6 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.6 dst=192\.0\.2\.20 reason=not-whitelisted'
expect_probe timeout 198.51.100.9 "$REAL4"
expect_probe timeout 2001:db8:1::9 "$REAL6"
check "mxallowd: drop src=2001:db8:1::9 dst=2001:db8::20" \
	log_wait 'drop src=2001:db8:1::9 dst=2001:db8::20 reason=not-whitelisted'
check "no whitelist entry was made for a static client" not log_has 'whitelist add '

section "the stats line counts them"
n=$(log_count ': stats ')
daemon_signal USR1
check "mxallowd: stats line" wait_for 5 count_above ': stats ' "$n"
check "stats: static-hits=4 static-networks=3 accepted=4" \
	grep -Eq ': stats .*accepted=4 .*static-hits=4 static-networks=3( |$)' "$DAEMON_LOG"

section "SIGHUP with a broken allow-file keeps the running list"
write_list <<-EOF
	# a provider's sending networks
	198.51.100.9          # added
	198.51.100.0/40       # a typo
EOF
check "mxallowd: reload failed: .../providers.allow:3: ...; keeping previous configuration" \
	hup ": reload failed: $(re "$list"):3: '198\.51\.100\.0/40': the prefix length is not a number from 1 to 32; keeping previous configuration"
check "mxallowd is still running" proc_alive "$DAEMON_PID"
check "the running list is kept: 198.51.100.8 (not in the new file) still gets in" \
	expect_probe greeting 198.51.100.8 "$REAL4"
check "the running list is kept: 198.51.100.9 (line 2 of the new file) is still dropped" \
	expect_probe timeout 198.51.100.9 "$REAL4"

section "SIGHUP with the file fixed"
write_list <<-EOF
	198.51.100.9
EOF
check "mxallowd: reload ok" hup ': reload ok'
check "mxallowd: reload: allow lists: 2 networks (were 3)" \
	log_has 'reload: allow lists: 2 networks \(were 3\)'
expect_probe greeting 198.51.100.9 "$REAL4"
check "mxallowd: accept src=198.51.100.9 ... reason=static net=198.51.100.9/32" \
	log_wait 'accept src=198\.51\.100\.9 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.9/32$'
check "198.51.100.8 left the list: dropped" expect_probe timeout 198.51.100.8 "$REAL4"
check "the allow key is still in force: 198.51.100.5" expect_probe greeting 198.51.100.5 "$REAL4"
stop_daemon

section "a broken allow list stops the start, naming the place"
restart_log
NO_STATE=(--state-file none --control-socket none)
write_list <<-EOF
	198.51.100.9
	mx.example.org
EOF
in_srv "$MXALLOWD" -F -s -c "$conf" "${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: .../providers.allow:2: 'mx.example.org' is not an address or network" \
	log_has "^mxallowd: $(re "$list"):2: 'mx\.example\.org' is not an address or network \(ADDR or ADDR/BITS\)$"
rm -f "$list"
in_srv "$MXALLOWD" -F -s -c "$conf" "${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "a missing allow-file: exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: .../mxallowd.conf:7: allow-file ...: cannot open: No such file or directory" \
	log_has "^mxallowd: $(re "$conf"):7: allow-file $(re "$list"): cannot open: No such file or directory$"
in_srv "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" -f "$FAKE4" -r "$REAL4" --allow 0.0.0.0/0 \
	"${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "--allow 0.0.0.0/0: exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: command line: allow: '0.0.0.0/0': a /0 would let every IPv4 client in" \
	log_has "^mxallowd: command line: allow: '0\.0\.0\.0/0': a /0 would let every IPv4 client in$"

# ---------------------------------------------------------------- table mode

: "${MXALLOWCTL:=$(dirname "$MXALLOWD")/mxallowctl}"
SOCK="$MXA_TMP/ctl"
tconf="$MXA_TMP/table.conf"
big="$MXA_TMP/big.allow"

# big_list N STEP: into $big, the partner 198.51.100.5, 2001:db8:1::/125 and N host addresses
# from 198.18.0.0 on, STEP apart (STEP 2: no two adjacent, so nft cannot merge them).
big_list() {
	awk -v n="$1" -v step="$2" 'BEGIN {
		print "198.51.100.5"; print "2001:db8:1::/125"
		for (i = 0; i < n; i++) {
			a = i * step
			printf "198.%d.%d.%d\n", 18 + int(a / 65536), int(a / 256) % 256, a % 256
		}
	}' >"$big.new" && mv "$big.new" "$big"
}

# last_of N STEP: the last address big_list N STEP wrote.
last_of() {
	local a=$((($1 - 1) * $2))
	echo "198.$((18 + a / 65536)).$((a / 256 % 256)).$((a % 256))"
}

# ctl ARGS...: mxallowctl in the server namespace; sets OUT and RC.
ctl() {
	OUT=$(in_srv "$MXALLOWCTL" -s "$SOCK" "$@" 2>&1)
	RC=$?
}

# stat_of NAME: a counter of `mxallowctl stats`.
stat_of() {
	in_srv "$MXALLOWCTL" -s "$SOCK" stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'
}

# ipset_entries SET: the number of members of the kernel set.
ipset_entries() {
	in_srv ipset list -t "$1" 2>/dev/null | sed -n 's/^Number of entries: //p'
}

# watch_start WRITER SET ADDR: a loop in the server namespace asks the kernel, one test after
# the other, whether SET (ipset, or nft in table inet mxallowd) holds ADDR, until watch_stop;
# it counts its tests in watch.n and notes each miss in watch.miss.
watch_start() {
	rm -f "$MXA_TMP/watch.stop" "$MXA_TMP/watch.miss"
	echo 0 >"$MXA_TMP/watch.n"
	# shellcheck disable=SC2016 # expanded by the inner shell
	ip netns exec "$NS_SRV" bash -c '
		n=0
		while [ ! -e "$1/watch.stop" ]; do
			if [ "$2" = nft ]; then
				nft get element inet mxallowd "$3" "{ $4 }" >/dev/null 2>&1
			else
				ipset test "$3" "$4" >/dev/null 2>&1
			fi || echo "$n" >>"$1/watch.miss"
			n=$((n + 1))
			echo "$n" >"$1/watch.n.new" && mv "$1/watch.n.new" "$1/watch.n"
		done' watch "$MXA_TMP" "$@" &
	WATCH_PID=$!
	wait_for 10 watch_ran 1 || die "the set watch loop does not run"
}

watch_count() {
	local n
	n=$(cat "$MXA_TMP/watch.n" 2>/dev/null)
	echo "${n:-0}"
}

# shellcheck disable=SC2317 # called through wait_for
watch_ran() { [ "$(watch_count)" -ge "$1" ]; }

watch_stop() {
	touch "$MXA_TMP/watch.stop"
	wait_pid "$WATCH_PID" 10
	WATCH_PID=
}

# watched_reload WRITER SET MIN: `mxallowctl reload` while the loop watches the partner
# 198.51.100.5 in SET; checks the loop made at least MIN tests from just before the reload to
# just after it (a reload that takes a while: some ran meanwhile) and never missed it.
watched_reload() {
	local n0 n1
	watch_start "$1" "$2" 198.51.100.5
	n0=$(watch_count)
	ctl reload
	# One more test after the answer: the state the reload left is watched too.
	n1=$(($(watch_count) + 1))
	wait_for 10 watch_ran "$n1"
	watch_stop
	n1=$(watch_count)
	say "  mxallowctl reload: $OUT (exit $RC); $((n1 - n0)) tests of $2 meanwhile"
	check "the loop tested $2 across the reload ($((n1 - n0)) tests, at least $3)" \
		test "$((n1 - n0))" -ge "$3"
	check "198.51.100.5 never left $2 during the reload (misses at tests: $(tr '\n' ' ' \
		<"$MXA_TMP/watch.miss" 2>/dev/null))" test ! -s "$MXA_TMP/watch.miss"
}

table_part() {
	if [ "$1" = ipset ]; then
		command -v ipset >/dev/null 2>&1 || return 1
		! grep -qF 'built without libpcap (table mode)' "$MXALLOWD" &&
			! grep -qF 'built without libipset' "$MXALLOWD"
	else
		command -v nft >/dev/null 2>&1 || return 1
		! grep -qF 'built without libpcap (table mode)' "$MXALLOWD" &&
			! grep -qF 'built without libnftnl' "$MXALLOWD"
	fi
}

# no_ipset SET: the kernel has no set of that name.
# shellcheck disable=SC2317 # called through check
no_ipset() { ! in_srv ipset list -n "$1" >/dev/null 2>&1; }

[ -x "$MXALLOWCTL" ] || die "mxallowctl not found at $MXALLOWCTL (build it or set MXALLOWCTL)"
rules_flush # the NFQUEUE rules go: from here on the kernel judges by itself

if table_part ipset; then
	. "$(dirname "$0")/table-lib.sh"
	table_rules_setup --no-renew
	TABLE_ARGS=(--renew-time 0 --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -f "$FAKE6"
		-r "$REAL4" -r "$REAL6" --control-socket "$SOCK")

	section "table mode (ipset): a reload swaps new sets in, the partner never leaves mx-static"
	restart_log
	printf 'allow 198.51.100.5\n' >"$tconf"
	start_daemon -c "$tconf" "${TABLE_ARGS[@]}"
	check "198.51.100.5 is in mx-static" in_set mx-static 198.51.100.5
	check "mx-static was made by the rules with maxelem 65536 (got $(set_maxelem mx-static))" \
		test "$(set_maxelem mx-static)" = 65536
	expect_probe greeting 198.51.100.5 "$REAL4"
	big_list 40000 1
	printf 'allow-file %s\n' "$big" >"$tconf"
	watched_reload ipset mx-static 3
	check "mxallowctl reload: reload ok (got: $OUT)" test "$RC" -eq 0 -a "$OUT" = "reload ok"
	check "mx-static holds the 40,001 IPv4 networks (got $(ipset_entries mx-static))" \
		test "$(ipset_entries mx-static)" = 40001
	check "mx-static6 holds 2001:db8:1::/125" in_set mx-static6 2001:db8:1::3

	section "table mode (ipset): a reload past the live set's maxelem (70,001 networks)"
	big_list 70000 1
	watched_reload ipset mx-static 3
	check "mxallowctl reload: reload ok (got: $OUT)" test "$RC" -eq 0 -a "$OUT" = "reload ok"
	check "mxallowd: reload: allow lists: 70002 networks (were 40002)" \
		log_has 'reload: allow lists: 70002 networks \(were 40002\)'
	check "mx-static holds all 70,001 IPv4 networks (got $(ipset_entries mx-static))" \
		test "$(ipset_entries mx-static)" = 70001
	last=$(last_of 70000 1)
	check "the last network of the list, $last, is in mx-static" in_set mx-static "$last"
	check "the partner 198.51.100.5 gets the real MX's greeting" \
		expect_probe greeting 198.51.100.5 "$REAL4"
	check "no leftover set mx-static.tmp" no_ipset mx-static.tmp
	check "table-errors 0 (got $(stat_of table-errors))" test "$(stat_of table-errors)" = 0

	section "table mode (ipset): a kernel write that fails fails the reload; the old lists stay"
	# A set of the name mxallowd builds the new lists in, which a rule uses: it cannot go.
	in_srv ipset create mx-static.tmp hash:net family inet
	in_srv iptables -A OUTPUT -m set --match-set mx-static.tmp dst -j RETURN
	printf 'allow 198.51.100.6\n' >"$tconf"
	ctl reload
	say "  mxallowctl reload: $OUT (exit $RC)"
	check "mxallowctl reload: exit status 2 (got $RC)" test "$RC" -eq 2
	check "it answers: reload failed: allow lists: ipset: cannot create set mx-static.tmp ...; keeping previous configuration and allow lists" \
		grep -Eq '^mxallowctl: reload failed: allow lists: ipset: cannot create set mx-static\.tmp .*: set with the same name already exists; a set of that name must not be in use \(ipset destroy mx-static\.tmp once no rule names it\); keeping previous configuration and allow lists$' <<<"$OUT"
	check "mxallowd logs: reload failed: allow lists: ..." \
		log_has ': reload failed: allow lists: ipset: cannot create set mx-static\.tmp .*; keeping previous configuration and allow lists$'
	check "table-errors 1 (got $(stat_of table-errors))" test "$(stat_of table-errors)" = 1
	ctl show "$last"
	check "show $last: let in by the old allow list (got: $OUT)" \
		grep -qF "is let in by the allow list: $last/32 " <<<"$OUT"
	ctl show 198.51.100.6
	check "show 198.51.100.6: not let in, the new list did not apply (exit $RC: $OUT)" test "$RC" -eq 1
	check "mx-static still holds the old lists (got $(ipset_entries mx-static))" \
		test "$(ipset_entries mx-static)" = 70001
	check "the partner 198.51.100.5 still gets the real MX's greeting" \
		expect_probe greeting 198.51.100.5 "$REAL4"
	check "198.51.100.6 (only in the failed list) is still dropped" \
		expect_probe timeout 198.51.100.6 "$REAL4" 2
	in_srv iptables -D OUTPUT -m set --match-set mx-static.tmp dst -j RETURN
	ctl reload
	check "the name freed, the reload goes through (got: $OUT)" test "$RC" -eq 0
	check "198.51.100.6 gets in now" expect_probe greeting 198.51.100.6 "$REAL4"
	check "the partner 198.51.100.5 left the list: dropped" \
		expect_probe timeout 198.51.100.5 "$REAL4" 2
	stop_daemon
	in_srv iptables -F INPUT
	in_srv ip6tables -F INPUT
else
	say "table mode (ipset): skipped (no ipset command, or mxallowd built without libpcap/libipset)"
fi

if table_part nft; then
	section "table mode (nft): the allow sets change in one transaction, or not at all"
	# allow4 declared with room for 50,000 elements (the kernel counts one a range).
	sed -e 's/set allow4 { type ipv4_addr; flags interval; }/set allow4 { type ipv4_addr; flags interval; size 50000; }/' \
		-e '/update @white[46] {/d' "$MXA_ROOT/contrib/nftables-table.conf" >"$MXA_TMP/nft.conf"
	grep -q 'flags interval; size 50000;' "$MXA_TMP/nft.conf" || die "contrib/nftables-table.conf changed"
	in_srv nft -f "$MXA_TMP/nft.conf" 2>"$MXA_TMP/nft.err" ||
		die "nft -f: $(head -n1 "$MXA_TMP/nft.err")"
	restart_log
	printf 'allow 198.51.100.5\n' >"$tconf"
	start_daemon -c "$tconf" --renew-time 0 --backend pflog -p nflog:5 --table-writer nft \
		-f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" --control-socket "$SOCK"
	# shellcheck disable=SC2317 # called through check
	nft_has() { in_srv nft get element inet mxallowd "$1" "{ $2 }" >/dev/null 2>&1; }
	check "198.51.100.5 is in allow4" nft_has allow4 198.51.100.5
	big_list 20000 2
	printf 'allow-file %s\n' "$big" >"$tconf"
	watched_reload nft allow4 1
	check "mxallowctl reload: reload ok (got: $OUT)" test "$RC" -eq 0 -a "$OUT" = "reload ok"
	check "the last network, $(last_of 20000 2), is in allow4" nft_has allow4 "$(last_of 20000 2)"
	big_list 60000 2
	watched_reload nft allow4 1
	check "mxallowctl reload: exit status 2 (got $RC)" test "$RC" -eq 2
	check "it answers: reload failed: allow lists: nft: ... set allow4 or allow6 is full ...; keeping previous configuration and allow lists" \
		grep -Eq '^mxallowctl: reload failed: allow lists: nft: writing 60002 allow-list networks to allow4/allow6: set allow4 or allow6 is full: .*; keeping previous configuration and allow lists$' <<<"$OUT"
	check "table-errors 1 (got $(stat_of table-errors))" test "$(stat_of table-errors)" = 1
	ctl show "$(last_of 20000 2)"
	check "show $(last_of 20000 2): let in by the old allow list (got: $OUT)" test "$RC" -eq 0
	ctl show "$(last_of 60000 2)"
	check "show $(last_of 60000 2): not let in, the new list did not apply (exit $RC)" test "$RC" -eq 1
	check "allow4 still holds the old list: $(last_of 20000 2)" nft_has allow4 "$(last_of 20000 2)"
	check "allow4 holds nothing of the new list: $(last_of 60000 2)" not nft_has allow4 "$(last_of 60000 2)"
	check "the partner 198.51.100.5 still gets the real MX's greeting" \
		expect_probe greeting 198.51.100.5 "$REAL4"
	stop_daemon
else
	say "table mode (nft): skipped (no nft command, or mxallowd built without libpcap/libnftnl)"
fi

finish
