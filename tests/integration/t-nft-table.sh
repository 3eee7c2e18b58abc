#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Table mode with nft sets: contrib/nftables-table.conf (the kernel adds a fake-MX client to
# @white4/@white6 itself, logs to NFLOG group 5, accepts set members at the real MX, drops the
# rest) and mxallowd --backend pflog -p nflog:5 --table-writer nft keeping the sets in step.
# Postfix delivers, a direct-to-second-MX client is dropped by the kernel, rDNS siblings land in
# the sets, a restart keeps the elements (no flush), after SIGKILL the kernel still admits,
# drops and expires; a missing set or one of the wrong type is the documented error; the
# ruleset's renewal rule renews a member on use in the kernel, also while mxallowd is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nft-lib.sh"

mxa_init
need_daemon
need_cmds nft
net_setup
dns_setup
sink_setup
need_nft_writer
nft_rules_setup nftables-table.conf 20

ARGS=(--backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft -f "$FAKE4" -f "$FAKE6"
	-r "$REAL4" -r "$REAL6")
# Not renewed on use here: every entry lives the whitelist time (-t), so expiry is seen soon.
ARGS+=(--renew-time 0)

section "1. a direct-to-second-MX client, Postfix, siblings (IPv4)"
start_daemon "${ARGS[@]}" -t 20
check "start-up line names the nft sets" \
	log_has 'started .*backend=pflog interface=nflog:5 link=nflog table=nft:inet/mxallowd:white4,white6'
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "daemon saw the kernel's drop" log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted' 5
check "the spammer is not in white4" nft_not_in_set white4 198.51.100.3
postfix_setup v4 ipv4 198.51.100.1
check "Postfix delivers through fake then real MX" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "the message reached the real MX" sink_has "$MAIL_TOKEN"
check "198.51.100.1 is in white4" nft_in_set white4 198.51.100.1
check "rDNS sibling logged" log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling' 10
check "the daemon wrote sibling 198.51.100.2 into white4" wait_for 5 nft_in_set white4 198.51.100.2
t=$(nft_expires white4 198.51.100.2)
check "with the entry's remaining lifetime as timeout (got ${t:-none} s)" test "${t:-99}" -le 20
check "sibling 2001:db8:1::2 is in white6" wait_for 5 nft_in_set white6 2001:db8:1::2
expect_probe greeting 198.51.100.2 "$REAL4"
expect_probe greeting 2001:db8:1::2 "$REAL6"

section "2. IPv6 fake-MX hit"
expect_probe refused 2001:db8:1::7 "$FAKE6"
check "2001:db8:1::7 is in white6 at once (the kernel rule)" nft_in_set white6 2001:db8:1::7
expect_probe greeting 2001:db8:1::7 "$REAL6"
check "the kernel's accept counter moved (got $(nft_counter))" test "$(nft_counter)" -ge 3

section "3. a restart takes the elements over"
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0
check "the elements stay after the daemon stopped" nft_in_set white4 198.51.100.2
restart_log
start_daemon "${ARGS[@]}" -t 20
check "no flush at start: 198.51.100.2 still in white4" nft_in_set white4 198.51.100.2
expect_probe greeting 198.51.100.2 "$REAL4"
daemon_signal USR1
check "the stats line counts the adopted elements and the kernel's accepts" \
	log_wait 'table-adopted=[1-9].* kernel-accepted=[1-9]' 5

section "4. SIGKILL: the kernel keeps admitting, dropping and expiring"
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 2001:db8:1::7 "$REAL6"
expect_probe timeout 198.51.100.3 "$REAL4" 2
expect_probe refused 198.51.100.9 "$FAKE4"
check "a new fake-MX client is added by the kernel alone" nft_in_set white4 198.51.100.9
expect_probe greeting 198.51.100.9 "$REAL4"
# Entries never used expire by the whitelist time (used ones are renewed: renew-time).
check "sibling 2001:db8:1::1 (written by the daemon, never used) is in white6" \
	nft_in_set white6 2001:db8:1::1
say "  198.51.100.9 expires from white4 in $(nft_expires white4 198.51.100.9) s"
check "the kernel expires 198.51.100.9 without the daemon" wait_for 25 nft_not_in_set white4 198.51.100.9
check "and the daemon's 2001:db8:1::1" wait_for 25 nft_not_in_set white6 2001:db8:1::1
expect_probe timeout 198.51.100.9 "$REAL4" 2

section "4b. allow lists reach the kernel (sets allow4/allow6); a reload removes them"
printf 'allow 198.51.100.4/31\nallow 2001:db8:1::4/127\n' >"$MXA_TMP/allow.conf"
restart_log
start_daemon -c "$MXA_TMP/allow.conf" "${ARGS[@]}" -t 20
check "198.51.100.4/31 is in allow4" nft_in_set allow4 198.51.100.4
expect_probe greeting 198.51.100.4 "$REAL4"
expect_probe greeting 198.51.100.5 "$REAL4"
expect_probe greeting 2001:db8:1::5 "$REAL6"
check "not in white4: the static set let it in" nft_not_in_set white4 198.51.100.5
: >"$MXA_TMP/allow.conf"
daemon_signal HUP
check "reload ok" log_wait 'reload ok' 10
check "198.51.100.4 left allow4" wait_for 5 nft_not_in_set allow4 198.51.100.4
expect_probe timeout 198.51.100.5 "$REAL4" 2
expect_probe timeout 2001:db8:1::5 "$REAL6" 2
stop_daemon
# A ruleset without the static sets: allow lists would be dropped by the kernel, so no start.
in_srv nft add table inet bare
in_srv nft add set inet bare white4 '{ type ipv4_addr; flags timeout; }'
in_srv nft add set inet bare white6 '{ type ipv6_addr; flags timeout; }'
in_srv nft add set inet bare allow4 '{ type ipv4_addr; flags interval; }'
nft_start_fails "allow lists in table mode: nft: table inet bare has no set allow6 for the allow lists" \
	--allow 198.51.100.4/31 --backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft --nft-table bare
in_srv nft delete table inet bare

section "5. documented errors: a missing set, a set of the wrong type"
nft_start_fails "nft: reading the set: table inet mxallowd has no set nosuch: declare it in the ruleset \(nft add set inet mxallowd nosuch '\{ type ipv4_addr; flags timeout; size [0-9]+; \}'\)" \
	--backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft --nft-set4 nosuch
nft_start_fails "no table inet other: load the ruleset that declares it" \
	--backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft --nft-table other
in_srv nft add table inet other
in_srv nft add set inet other white4 '{ type ipv6_addr; flags timeout; }'
in_srv nft add set inet other white6 '{ type ipv6_addr; flags timeout; }'
nft_start_fails "set inet other white4 has the wrong type .*: it must be ipv4_addr" \
	--backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft --nft-table other
in_srv nft delete set inet other white4
in_srv nft add set inet other white4 '{ type ipv4_addr; }'
nft_start_fails "set inet other white4 has no timeout flag" \
	--backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft --nft-table other
in_srv nft delete table inet other

# past T: the clock is at or beyond T (seconds since the epoch).
past() { [ "$(date +%s)" -ge "$1" ]; }

section "6. renewal on use: the ruleset renews a member in the kernel, even with mxallowd stopped"
nft_rules_setup nftables-table.conf 3 60
in_srv nft flush set inet mxallowd white4
restart_log
start_daemon --backend pflog -p "nflog:$NFLOG_GROUP" --table-writer nft -f "$FAKE4" -r "$REAL4" \
	-t 3 --renew-time 60
expect_probe refused 198.51.100.8 "$FAKE4"
expect_probe greeting 198.51.100.8 "$REAL4"
check "the daemon renewed its entry from the pass record" \
	log_wait 'whitelist renew addr=198\.51\.100\.8 reason=fake-mx use=accepted expires-in=60( |$)' 5
t=$(nft_expires white4 198.51.100.8)
check "the element lives renew-time: ${t:-none} s (> 30)" test "${t:-0}" -gt 30
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
t0=$(date +%s)
check "whitelist-time has passed (bounded wait)" wait_for 10 past $((t0 + 4))
expect_probe greeting 198.51.100.8 "$REAL4"
t=$(nft_expires white4 198.51.100.8)
check "with mxallowd gone the kernel renewed it again: ${t:-none} s (> 55)" test "${t:-0}" -gt 55

finish
