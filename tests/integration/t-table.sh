#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Table mode on Linux: the contrib NFLOG + ipset rules, mxallowd --backend pflog reading
# nflog:5. The kernel enforces the whitelist; the daemon only fills the sets. Postfix delivers
# through the fake MX then the real one, a direct-to-second-MX client is dropped by the kernel,
# rDNS siblings land in the sets, entries leave with -t, after SIGKILL the kernel still admits
# whitelisted clients, still drops the others and still expires entries, and a restart takes the
# sets' entries over (no flush) until their own timeout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/table-lib.sh"

mxa_init
need_daemon
need_cmds ipset
net_setup
dns_setup
sink_setup
table_rules_setup --no-renew # the daemon runs with --renew-time 0

TABLE_ARGS=(--renew-time 0 --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6")

section "1. expiry while the daemon runs (-t 4)"
start_daemon "${TABLE_ARGS[@]}" -b -t 4
check "start-up line names the backend and the sets" \
	log_has 'started .*backend=pflog interface=nflog:5 link=nflog table=ipset:mx-white,mx-white6'
expect_probe refused 198.51.100.7 "$FAKE4"
check "fake-MX hit logged" log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx dst=192\.0\.2\.10 expires-in=4' 5
check "198.51.100.7 is in the kernel set mx-white" wait_for 5 in_set mx-white 198.51.100.7
# The kernel's SET rule adds it first with its own timeout; the daemon then re-arms it.
wait_for 5 timeout_at_most mx-white 198.51.100.7 4 || true
t=$(set_timeout mx-white 198.51.100.7)
check "its kernel timeout is the whitelist time (got ${t:-none})" test "${t:-99}" -le 4
expect_probe greeting 198.51.100.7 "$REAL4"
check "accepted connection logged" log_wait 'accept src=198\.51\.100\.7 dst=192\.0\.2\.20 reason=whitelisted' 5
check "entry expires from the daemon" log_wait 'whitelist del addr=198\.51\.100\.7 reason=expired' 10
check "entry leaves the kernel set" wait_for 5 not_in_set mx-white 198.51.100.7
expect_probe timeout 198.51.100.7 "$REAL4" 2
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

section "2. direct-to-second-MX client, Postfix, siblings (-t 40)"
restart_log
start_daemon "${TABLE_ARGS[@]}" -t 40
drops_before=$(drop_count)
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "kernel DROP rule counted the spammer's SYNs" test "$(drop_count)" -gt "$drops_before"
check "daemon saw the drop in the log records" log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted' 5
check "the spammer is not in the set" not_in_set mx-white 198.51.100.3

postfix_setup v4 ipv4 198.51.100.1
check "Postfix delivers through fake then real MX" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "the message reached the real MX" sink_has "$MAIL_TOKEN"
check "198.51.100.1 is in mx-white" in_set mx-white 198.51.100.1
check "rDNS sibling logged" log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling origin=198\.51\.100\.1 name=sender\.example\.org' 10
check "sibling 198.51.100.2 is in mx-white" wait_for 5 in_set mx-white 198.51.100.2
check "sibling 2001:db8:1::1 is in mx-white6" wait_for 5 in_set mx-white6 2001:db8:1::1
check "sibling 2001:db8:1::2 is in mx-white6" wait_for 5 in_set mx-white6 2001:db8:1::2
expect_probe greeting 198.51.100.2 "$REAL4"
expect_probe greeting 2001:db8:1::2 "$REAL6"
check "liar's PTR is not confirmed: no sibling" not log_has 'addr=198\.51\.100\.5 '

section "3. IPv6 fake-MX hit"
expect_probe refused 2001:db8:1::7 "$FAKE6"
check "2001:db8:1::7 is in mx-white6" wait_for 5 in_set mx-white6 2001:db8:1::7
expect_probe greeting 2001:db8:1::7 "$REAL6"

section "4. SIGKILL: the kernel keeps enforcing"
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
check "daemon is gone" not proc_alive "$(cat "$DAEMON_PIDFILE" 2>/dev/null || echo 0)"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 2001:db8:1::7 "$REAL6"
expect_probe timeout 198.51.100.3 "$REAL4" 2
expect_probe timeout 2001:db8:1::3 "$REAL6" 2
t=$(set_timeout mx-white 198.51.100.1)
say "  198.51.100.1 expires from the kernel set in ${t:-?} s"
check "kernel expires 198.51.100.1 without the daemon" wait_for 45 not_in_set mx-white 198.51.100.1
check "kernel expires 2001:db8:1::7 without the daemon" wait_for 10 not_in_set mx-white6 2001:db8:1::7
expect_probe timeout 198.51.100.1 "$REAL4" 2

section "5. a restart takes the sets' entries over: enforcement goes on as it was"
# No state file on either run: only the sets' own entries can keep the client in.
restart_log
start_daemon "${TABLE_ARGS[@]}" --state-file none -t 20
expect_probe refused 198.51.100.6 "$FAKE4"
expect_probe refused 2001:db8:1::6 "$FAKE6"
check "198.51.100.6 is in mx-white" wait_for 5 in_set mx-white 198.51.100.6
check "2001:db8:1::6 is in mx-white6" wait_for 5 in_set mx-white6 2001:db8:1::6
wait_for 5 timeout_at_most mx-white 198.51.100.6 20 || true
t=$(set_timeout mx-white 198.51.100.6)
check "its kernel timeout is the whitelist time, 20 s (got ${t:-none})" test "${t:-99}" -le 20
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0
check "with the daemon down, 198.51.100.6 is still in mx-white" in_set mx-white 198.51.100.6
t_down=$(set_timeout mx-white 198.51.100.6)
restart_log
start_daemon "${TABLE_ARGS[@]}" --state-file none -t 600
check "after the restart (no flush), 198.51.100.6 is still in mx-white" in_set mx-white 198.51.100.6
check "and 2001:db8:1::6 in mx-white6" in_set mx-white6 2001:db8:1::6
t_up=$(set_timeout mx-white 198.51.100.6)
check "its kernel timeout runs on: ${t_up:-none} s, at most the ${t_down:-?} s before the start (not -t 600)" \
	test "${t_up:-999}" -le "${t_down:-0}"
expect_probe greeting 198.51.100.6 "$REAL4"
expect_probe greeting 2001:db8:1::6 "$REAL6"
check "without a new fake-MX visit" not log_has 'whitelist add addr=(198\.51\.100\.6|2001:db8:1::6) '
daemon_signal HUP # a reload resyncs the table: the adopted entries are kept as they are
check "reload ok" log_wait 'reload ok' 10
daemon_signal USR1
check "the stats line counts the adopted entries, after a resync" \
	log_wait 'table-resyncs=[1-9].* table-adopted=[1-9]' 5
check "the resync kept 198.51.100.6" in_set mx-white 198.51.100.6
t=$(set_timeout mx-white 198.51.100.6)
check "with its timeout running on (got ${t:-none} s, at most ${t_up:-?} s)" test "${t:-999}" -le "${t_up:-0}"
check "its kernel timeout passes: 198.51.100.6 leaves mx-white" \
	wait_for $((${t:-20} + 5)) not_in_set mx-white 198.51.100.6
check "and 2001:db8:1::6 leaves mx-white6" wait_for 5 not_in_set mx-white6 2001:db8:1::6
expect_probe timeout 198.51.100.6 "$REAL4" 2
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

section "5b. a restart with a state file keeps the kernel's renewals; entries only in the kernel are shown and deleted"
: "${MXALLOWCTL:=$(dirname "$MXALLOWD")/mxallowctl}"
mkdir -m 700 "$MXA_TMP/ctl5"
CTL5=(-s "$MXA_TMP/ctl5/control")
RENEW_ARGS=(--renew-time 3600 --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -f "$FAKE6"
	-r "$REAL4" -r "$REAL6" --state-file "$MXA_TMP/t5.state" --control-socket "$MXA_TMP/ctl5/control")
restart_log
start_daemon "${RENEW_ARGS[@]}" -b -t 20
expect_probe refused 198.51.100.8 "$FAKE4"
check "198.51.100.8 is in mx-white" wait_for 5 in_set mx-white 198.51.100.8
stop_daemon
check "SIGTERM: exit status 0, the state file written" eval '[ "$WAIT_STATUS" -eq 0 ] && [ -s "$MXA_TMP/t5.state" ]'
# While the daemon is down: the ruleset renews 198.51.100.8 on use (as its renewal rule does),
# and its fake-MX rule adds 198.51.100.9, of which the state file knows nothing.
in_srv ipset add mx-white 198.51.100.8 timeout 3000 -exist
in_srv ipset add mx-white 198.51.100.9 timeout 3000
restart_log
start_daemon "${RENEW_ARGS[@]}" -b -t 20
t=$(set_timeout mx-white 198.51.100.8)
check "the restored entry keeps the kernel's renewal: timeout ${t:-none} s, not cut back to 20" \
	test "${t:-0}" -gt 2000
out=$(in_srv "$MXALLOWCTL" "${CTL5[@]}" show 198.51.100.8 2>&1)
check "show: the whitelist followed it ($out)" \
	eval 'printf "%s\n" "$out" | grep -Eq "expires in (4[0-9]|50)m"'
out=$(in_srv "$MXALLOWCTL" "${CTL5[@]}" show 198.51.100.9 2>&1)
st=$?
check "show of an entry only in the kernel: exit 0, said so ($out)" \
	eval '[ "$st" -eq 0 ] && printf "%s\n" "$out" | grep -q "let in by the kernel table"'
out=$(in_srv "$MXALLOWCTL" "${CTL5[@]}" del 198.51.100.9 2>&1)
st=$?
check "del of it: exit 0 ($out)" \
	eval '[ "$st" -eq 0 ] && printf "%s\n" "$out" | grep -q "from the kernel table"'
check "198.51.100.9 left mx-white" wait_for 5 not_in_set mx-white 198.51.100.9
expect_probe timeout 198.51.100.9 "$REAL4" 2
out=$(in_srv "$MXALLOWCTL" "${CTL5[@]}" show 198.51.100.9 2>&1)
st=$?
check "show now: exit 1 ($out)" test "$st" -eq 1
daemon_signal HUP # a resync must not bring it back
check "reload ok" log_wait 'reload ok' 10
check "the resync left 198.51.100.9 out" not_in_set mx-white 198.51.100.9
check "and kept 198.51.100.8" in_set mx-white 198.51.100.8
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0
in_srv ipset del mx-white 198.51.100.8 2>/dev/null || true

section "a set without timeout support is refused at start"
in_srv ipset create mx-notimeout hash:ip
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -b -c "$MXA_TMP/empty.conf" --state-file none --control-socket none --backend pflog \
	-p "nflog:$NFLOG_GROUP" --ipset mx-notimeout -f "$FAKE4" -r "$REAL4" 2>&1)
st=$?
check "mxallowd exits with status 1 (got $st)" test "$st" -eq 1
check "and says how to recreate the set: $out" \
	eval 'printf "%s\n" "$out" | grep -q "set mx-notimeout refuses entries with a timeout.*ipset create mx-notimeout hash:net family inet timeout"'
in_srv ipset destroy mx-notimeout

section "set size follows max-entries"
# A set smaller than the whitelist would refuse new clients once full ("Hash is full"): refused at
# start, with the commands that replace it while the rules that use it stay loaded.
in_srv ipset create mx-small hash:net family inet timeout 3600 maxelem 1000
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none --control-socket none --backend pflog \
	-p "nflog:$NFLOG_GROUP" --ipset mx-small --ipset6 mx-small6 -f "$FAKE4" -r "$REAL4" 2>&1)
st=$?
check "a set of 1000 with max-entries 65536: exit status 1 (got $st)" test "$st" -eq 1
check "and the message carries the fix: $out" \
	eval 'printf "%s\n" "$out" | grep -q "set mx-small holds at most 1000 entries (maxelem), fewer than max-entries 65536.*ipset create mx-small.new hash:net family inet timeout 3600 maxelem 131072 && ipset swap mx-small.new mx-small && ipset destroy mx-small.new"'
fix=$(printf '%s\n' "$out" | sed -n 's/.*by a bigger one: \(ipset create .* destroy mx-small\.new\).*/\1/p')
check "the fix as printed works" in_srv sh -c "$fix"
check "the set has maxelem 131072 now (got $(set_maxelem mx-small))" test "$(set_maxelem mx-small)" = 131072
out=$(in_srv timeout 3 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none --control-socket none --backend pflog \
	-p "nflog:$NFLOG_GROUP" --ipset mx-small --ipset6 mx-small6 -f "$FAKE4" -r "$REAL4" 2>&1)
check "and mxallowd starts with it" eval 'printf "%s\n" "$out" | grep -q "started .*table=ipset:mx-small,mx-small6"'
in_srv ipset destroy mx-small
in_srv ipset destroy mx-small6

# Sets mxallowd creates hold max-entries plus room for the kernel rule's own adds (+25 %, at
# least +65536).
in_srv timeout 3 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none --control-socket none --backend pflog \
	-p "nflog:$NFLOG_GROUP" \
	--ipset mx-big --ipset6 mx-big6 --max-entries 1000000 -f "$FAKE4" -r "$REAL4" >/dev/null 2>&1
big=$(set_maxelem mx-big)
check "--max-entries 1000000 creates mx-big with maxelem 1250000 (got ${big:-none})" \
	test "${big:-0}" -eq 1250000
check "and mx-big6 too (got $(set_maxelem mx-big6))" test "$(set_maxelem mx-big6)" = 1250000
in_srv ipset destroy mx-big 2>/dev/null
in_srv ipset destroy mx-big6 2>/dev/null

section "a resync heals what changed behind the daemon's back"
restart_log
start_daemon "${TABLE_ARGS[@]}" -t 120
expect_probe refused 198.51.100.7 "$FAKE4"
check "198.51.100.7 is in mx-white" wait_for 5 in_set mx-white 198.51.100.7
expect_probe refused 2001:db8:1::7 "$FAKE6"
check "2001:db8:1::7 is in mx-white6" wait_for 5 in_set mx-white6 2001:db8:1::7
in_srv ipset del mx-white 198.51.100.7
in_srv ipset add mx-white 203.0.113.5 timeout 600
check "deleted behind its back" not_in_set mx-white 198.51.100.7
daemon_signal HUP # a reload resyncs the table
check "the resync adds the live entry back" wait_for 10 in_set mx-white 198.51.100.7
check "and deletes the stray one" wait_for 5 not_in_set mx-white 203.0.113.5
expect_probe greeting 198.51.100.7 "$REAL4"
# An empty set swapped in (the fix for a too small set does so): refilled by the next resync.
in_srv ipset create mx-white6.new hash:net family inet6 timeout 3600
in_srv ipset swap mx-white6.new mx-white6
in_srv ipset destroy mx-white6.new
check "mx-white6 was emptied" not_in_set mx-white6 2001:db8:1::7
daemon_signal HUP
check "the resync refills it" wait_for 10 in_set mx-white6 2001:db8:1::7
expect_probe greeting 2001:db8:1::7 "$REAL6"
daemon_signal USR1 # the stats line
check "the stats line counts the corrections" log_wait 'table-healed=[3-9]' 5
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

section "a set swapped for one without timeout support: said once, few lines, healed once replaced"
# ipset swap keeps the rules that use the set; a set without timeout support refuses every add
# the daemon sends. Each fake-MX hit below is a failed commit; the resync, backing off, finds why.
restart_log
start_daemon "${TABLE_ARGS[@]}" -t 120
in_srv ipset create mx-white.bad hash:net family inet maxelem 131072
in_srv ipset swap mx-white.bad mx-white
for i in 1 2 4 6 7 8 9; do
	expect_probe refused "198.51.100.$i" "$FAKE4"
done
check "the resync says why, with the fix" log_wait \
	'set mx-white cannot be used: it has no timeout support.*ipset create mx-white\.new hash:net family inet timeout [0-9]+ maxelem [0-9]+ && ipset swap mx-white\.new mx-white && ipset destroy mx-white\.new' 10
daemon_signal USR1
check "the stats line counts every failure (8 or more)" log_wait 'table-errors=([89]|[1-9][0-9]+)( |$)' 5
n=$(log_count 'ipset: ')
check "but the log has few error lines (got $n)" test "$n" -le 3
check "the fix is said once (got $(log_count 'ipset create mx-white\.new'))" \
	test "$(log_count 'ipset create mx-white\.new')" -eq 1
in_srv ipset swap mx-white.bad mx-white # a proper set back (without the new entries)
in_srv ipset destroy mx-white.bad
check "the resync retries and heals" \
	log_wait 'table resync: the kernel table takes changes again \([0-9]+ error lines were not logged\)' 40
check "198.51.100.9 is in mx-white" wait_for 5 in_set mx-white 198.51.100.9
expect_probe greeting 198.51.100.9 "$REAL4"
expect_probe greeting 198.51.100.4 "$REAL4"
daemon_signal USR1
check "the stats line counts the resync" log_wait 'table-resyncs=[1-9]' 5
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

section "allow lists reach the kernel (mx-static/mx-static6); a reload removes them"
printf 'allow 198.51.100.5/32\nallow 2001:db8:1::4/126\n' >"$MXA_TMP/allow.conf"
restart_log
start_daemon -c "$MXA_TMP/allow.conf" "${TABLE_ARGS[@]}" -b -t 40
check "198.51.100.5 is in mx-static" in_set mx-static 198.51.100.5
check "2001:db8:1::5 is in mx-static6" in_set mx-static6 2001:db8:1::5
expect_probe greeting 198.51.100.5 "$REAL4"
expect_probe greeting 2001:db8:1::5 "$REAL6"
check "the allowed client is not in mx-white" not_in_set mx-white 198.51.100.5
: >"$MXA_TMP/allow.conf"
daemon_signal HUP
check "reload ok" log_wait 'reload ok' 10
check "198.51.100.5 left mx-static" wait_for 5 not_in_set mx-static 198.51.100.5
expect_probe timeout 198.51.100.5 "$REAL4" 2
expect_probe timeout 2001:db8:1::5 "$REAL6" 2
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

finish
