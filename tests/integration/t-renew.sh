#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Renewal on use (renew-time): a sender that delivered once comes back straight to the real MX
# after whitelist-time, as Exim does when it remembers the fake MX's refusal (a socat probe from
# the same address plays that part).
#  1. NFQUEUE, -t 2 --renew-time 60: Postfix delivers through the fake then the real MX; its
#     entry is renewed on use ("use=accepted", logged once); a client that only touched the fake
#     MX expires after 2 s; the returning sender gets the greeting at its first SYN (no drop
#     line), the fake-only client does not.
#  2. NFQUEUE, --renew-time 0 (mxallowd 1.9): the returning sender is dropped.
#  3. Table mode (NFLOG + ipset, the contrib rules with their renewal rule's --timeout set to
#     renew-time, as the rules say): the accepted connection refreshes the ipset entry's timeout
#     beyond whitelist-time, the kernel lets the returning sender in at its first SYN (its DROP
#     counter does not move); with --renew-time 0 (the renewal rule left out, as the rules say)
#     the daemon deletes the entry at whitelist-time and the kernel drops it.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/table-lib.sh
. "$(dirname "$0")/table-lib.sh"

mail_host_setup
postfix_setup v4 ipv4 198.51.100.1

SENDER=198.51.100.1 # Postfix, then the Exim-like direct client from the same address
FAKEONLY=198.51.100.6
sre=$(re "$SENDER")
fre=$(re "$FAKEONLY")

# deliver: Postfix sends one message through mx1 (refused) then mx2.
deliver() {
	check "Postfix delivered the mail" send_mail v4
	check "Postfix tried mx1 first (refused), then mx2" \
		mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
	check "smtp-sink received the message" wait_for 5 sink_has "$MAIL_TOKEN"
}

section "1. NFQUEUE: -t 2 --renew-time 60"
start_daemon -f "$FAKE4" -r "$REAL4" -b -t 2 --renew-time 60
deliver
check "mxallowd: whitelist add addr=$SENDER reason=fake-mx ... expires-in=2" \
	log_wait "whitelist add addr=$sre reason=fake-mx dst=192\.0\.2\.10 expires-in=2( |$)"
check "mxallowd: whitelist renew addr=$SENDER reason=fake-mx use=accepted expires-in=60" \
	log_wait "whitelist renew addr=$sre reason=fake-mx use=accepted expires-in=60( |$)"
# A client that only touches the fake MX, after the sender: once it has expired, the sender's
# whitelist-time has passed too.
expect_probe refused "$FAKEONLY" "$FAKE4"
check "the fake-MX-only client expires after whitelist-time" \
	log_wait "whitelist del addr=$fre reason=expired" 10
check "the sender's entry did not expire" not log_has "whitelist del addr=$sre "
expect_probe greeting "$SENDER" "$REAL4"
check "accepted at its first SYN: no drop line for $SENDER" not log_has "drop src=$sre "
check "mxallowd: accept src=$SENDER dst=$REAL4" \
	log_wait "accept src=$sre dst=192\.0\.2\.20 reason=whitelisted"
# A busy sender renews its entry on every connection without a log line each time.
expect_probe greeting "$SENDER" "$REAL4"
expect_probe greeting "$SENDER" "$REAL4"
# A line goes out on the first use and whenever the deadline enters the next step of
# renew-time/2 = 30 s: over this section (well under a minute) one or two lines, never one a
# connection.
n=$(log_count "whitelist renew addr=$sre .*use=accepted")
accepts=$(log_count "accept src=$sre ")
check "fewer renewal lines ($n) than accepted connections ($accepts), at most one per 30 s step" \
	eval '[ "$n" -ge 1 ] && [ "$n" -le 2 ] && [ "$n" -lt "$accepts" ]'
expect_probe timeout "$FAKEONLY" "$REAL4" 2
check "the fake-MX-only client is dropped: whitelist-time still governs it" \
	log_wait "drop src=$fre dst=192\.0\.2\.20 reason=not-whitelisted" 5
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

section "2. NFQUEUE: --renew-time 0 (mxallowd 1.9)"
restart_log
start_daemon -f "$FAKE4" -r "$REAL4" -b -t 2 --renew-time 0
deliver
check "mxallowd accepted the delivery at the real MX" \
	log_wait "accept src=$sre dst=192\.0\.2\.20 reason=whitelisted"
check "no renewal on use" not log_has "use=accepted"
check "the sender's entry expires after whitelist-time" \
	log_wait "whitelist del addr=$sre reason=expired" 10
expect_probe timeout "$SENDER" "$REAL4" 2
check "mxallowd: drop src=$SENDER dst=$REAL4 reason=not-whitelisted" \
	log_wait "drop src=$sre dst=192\.0\.2\.20 reason=not-whitelisted" 5
stop_daemon

# Table mode needs ipset and a build with the pflog backend.
TABLE_SKIP=
if ! command -v ipset >/dev/null 2>&1 || ! command -v iptables-restore >/dev/null 2>&1; then
	TABLE_SKIP="ipset or iptables-restore missing"
elif ! "$MXALLOWD" --help 2>&1 | grep -q -- '--backend nfqueue|pflog'; then
	TABLE_SKIP="this build has no table mode (--backend pflog)"
fi

# timeout_between SET ADDR MIN MAX: the entry's kernel timeout lies in [MIN, MAX].
# shellcheck disable=SC2317 # called through wait_for
timeout_between() {
	local t
	t=$(set_timeout "$1" "$2")
	[ -n "$t" ] && [ "$t" -ge "$3" ] && [ "$t" -le "$4" ]
}

# past T: the clock is at or beyond T (seconds since the epoch).
# shellcheck disable=SC2317 # called through wait_for
past() { [ "$(date +%s)" -ge "$1" ]; }

table_sections() {
	local t t_fake drops
	section "3. table mode: NFLOG + ipset, the kernel renews too"
	rules_flush
	# The contrib rules' renewal rule refreshes an accepted sender's timeout in the kernel
	# itself; its --timeout is min(renew-time, 2147483): here 30 s, in the one rule there is.
	table_rules_setup --renew 30
	in_srv iptables -S mxallowd | sed 's/^/  | /'
	check "one renewal rule, with --timeout 30" \
		test "$(in_srv iptables -S mxallowd | grep -c -- '--match-set mx-white src -j SET --add-set mx-white src --exist --timeout 30$')" = 1
	check "and no other SET rule at the real MX" \
		test "$(in_srv iptables -S mxallowd | grep -c -- "-d $REAL4/32 .*-j SET")" = 1
	TABLE_ARGS=(--backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -r "$REAL4" -b -t 2)

	restart_log
	start_daemon "${TABLE_ARGS[@]}" --renew-time 30
	expect_probe refused "$SENDER" "$FAKE4"
	check "$SENDER is in mx-white" wait_for 5 in_set mx-white "$SENDER"
	# The fake MX's SET rule adds it for 3600 s; the daemon re-arms it to whitelist-time.
	check "its kernel timeout is whitelist-time (got $(set_timeout mx-white "$SENDER"))" \
		wait_for 5 timeout_between mx-white "$SENDER" 0 2
	expect_probe greeting "$SENDER" "$REAL4"
	check "mxallowd: whitelist renew addr=$SENDER reason=fake-mx use=accepted expires-in=30" \
		log_wait "whitelist renew addr=$sre reason=fake-mx use=accepted expires-in=30( |$)"
	t=$(set_timeout mx-white "$SENDER")
	check "the accepted connection refreshed the ipset timeout: ipset list shows ${t:-none} (> 2)" \
		timeout_between mx-white "$SENDER" 20 30
	# Postfix delivers again (fake then real MX): the entry ends renewed all the same.
	deliver
	check "after a Postfix delivery the ipset timeout is renew-time (got $(set_timeout mx-white "$SENDER"))" \
		timeout_between mx-white "$SENDER" 20 30
	t_fake=$(date +%s)
	check "whitelist-time has passed (bounded wait)" wait_for 5 past $((t_fake + 3))
	check "$SENDER is still in mx-white" in_set mx-white "$SENDER"
	drops=$(drop_count)
	expect_probe greeting "$SENDER" "$REAL4"
	check "the kernel let it in at its first SYN: DROP counter unchanged ($drops -> $(drop_count))" \
		test "$(drop_count)" -eq "$drops"
	check "no drop line for $SENDER" not log_has "drop src=$sre "
	stop_daemon
	check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

	section "4. table mode: --renew-time 0 (the renewal rule left out)"
	rules_flush
	in_srv iptables -F mxallowd
	in_srv ip6tables -F mxallowd
	table_rules_setup --no-renew
	check "no renewal rule" not eval 'in_srv iptables -S mxallowd | grep -q -- "--match-set mx-white src -j SET"'
	in_srv ipset flush mx-white
	restart_log
	start_daemon "${TABLE_ARGS[@]}" --renew-time 0
	deliver
	check "mxallowd: accept src=$SENDER (logged pass)" \
		log_wait "accept src=$sre dst=192\.0\.2\.20 reason=whitelisted" 5
	check "no renewal on use" not log_has "use=accepted"
	check "the daemon expires the entry after whitelist-time" \
		log_wait "whitelist del addr=$sre reason=expired" 10
	check "and deletes it from the kernel set" wait_for 5 not_in_set mx-white "$SENDER"
	drops=$(drop_count)
	expect_probe timeout "$SENDER" "$REAL4" 2
	check "the kernel dropped the returning sender ($drops -> $(drop_count))" \
		test "$(drop_count)" -gt "$drops"
	stop_daemon
}

if [ -z "$TABLE_SKIP" ]; then
	table_sections
else
	section "3.-4. table mode"
	say "  SKIP: $TABLE_SKIP"
fi

finish
