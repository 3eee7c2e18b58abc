#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rDNS sibling whitelisting:
#  (d) after 198.51.100.1's mail (PTR sender.example.org, forward-confirmed, which also has
#      198.51.100.2), 198.51.100.2 gets the real MX's greeting without touching the fake MX;
#      the same over IPv6 (2001:db8:1::1 -> 2001:db8:1::2). With -b it is dropped instead.
#  (e) the liar 198.51.100.4 (PTR liar.example.org, whose only address is 198.51.100.5) hits
#      the fake MX: not-confirmed, so 198.51.100.5 is still dropped at the real MX.
#      A client without PTR (198.51.100.6) gets an rdns error line and no siblings.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup
postfix_setup v4 ipv4
postfix_setup v6 ipv6

section "mxallowd with rDNS sibling whitelisting (the default)"
start_daemon -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" -n 23
check "started line says rdns=on" log_has ': started .* rdns=on'

section "(d) siblings over IPv4"
check "Postfix (v4, from 198.51.100.1) delivered: status=sent" send_mail v4
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 '
check "mxallowd: whitelist add addr=198.51.100.2 reason=rdns-sibling origin=198.51.100.1 name=sender.example.org" \
	log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling origin=198\.51\.100\.1 name=sender\.example\.org expires-in=[0-9]+'
expect_probe greeting 198.51.100.2 "$REAL4"
check "mxallowd: accept src=198.51.100.2 dst=192.0.2.20 reason=whitelisted" \
	log_wait 'accept src=198\.51\.100\.2 dst=192\.0\.2\.20 reason=whitelisted'

section "(d) siblings over IPv6"
check "Postfix (v6, from 2001:db8:1::1) delivered: status=sent" send_mail v6
check "mxallowd: whitelist add addr=2001:db8:1::1 reason=fake-mx" \
	log_wait 'whitelist add addr=2001:db8:1::1 reason=fake-mx dst=2001:db8::10 '
# 2001:db8:1::2 may already have come in as a sibling of 198.51.100.1 (same name): add or renew.
check "mxallowd: whitelist add|renew addr=2001:db8:1::2 reason=rdns-sibling name=sender.example.org" \
	log_wait 'whitelist (add|renew) addr=2001:db8:1::2 reason=rdns-sibling origin=[0-9a-f.:]+ name=sender\.example\.org '
expect_probe greeting 2001:db8:1::2 "$REAL6"
check "mxallowd: accept src=2001:db8:1::2 dst=2001:db8::20 reason=whitelisted" \
	log_wait 'accept src=2001:db8:1::2 dst=2001:db8::20 reason=whitelisted'

section "(e) a PTR that does not resolve back (liar.example.org)"
expect_probe refused 198.51.100.4 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.4 reason=fake-mx" \
	log_wait 'whitelist add addr=198\.51\.100\.4 reason=fake-mx dst=192\.0\.2\.10 '
check "mxallowd: rdns addr=198.51.100.4 name=liar.example.org not-confirmed" \
	log_wait 'rdns addr=198\.51\.100\.4 name=liar\.example\.org not-confirmed'
expect_probe timeout 198.51.100.5 "$REAL4"
check "mxallowd: drop src=198.51.100.5 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.5 dst=192\.0\.2\.20 reason=not-whitelisted'
check "198.51.100.5 was never whitelisted" not log_has 'whitelist (add|renew) addr=198\.51\.100\.5 '
expect_probe greeting 198.51.100.4 "$REAL4"

expect_probe refused 2001:db8:1::4 "$FAKE6"
check "mxallowd: rdns addr=2001:db8:1::4 name=liar.example.org not-confirmed" \
	log_wait 'rdns addr=2001:db8:1::4 name=liar\.example\.org not-confirmed'
expect_probe timeout 2001:db8:1::5 "$REAL6"
check "mxallowd: drop src=2001:db8:1::5 dst=2001:db8::20 reason=not-whitelisted" \
	log_wait 'drop src=2001:db8:1::5 dst=2001:db8::20 reason=not-whitelisted'
check "2001:db8:1::5 was never whitelisted" not log_has 'whitelist (add|renew) addr=2001:db8:1::5 '

section "(e) a client without PTR"
expect_probe refused 198.51.100.6 "$FAKE4"
check "mxallowd: rdns addr=198.51.100.6 error=..." log_wait 'rdns addr=198\.51\.100\.6 error=.'
check "no sibling has 198.51.100.6 as origin" not log_has 'reason=rdns-sibling origin=198\.51\.100\.6 '

section "(d) with -b: no sibling whitelisting"
check "mxallowd stopped with SIGTERM (status 0)" stop_daemon
check "exit status was 0" test "$WAIT_STATUS" -eq 0
restart_log
start_daemon -b -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" -n 23
check "started line says rdns=off" log_has ': started .* rdns=off'
check "Postfix (v4, from 198.51.100.1) delivered: status=sent" send_mail v4
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 '
expect_probe timeout 198.51.100.2 "$REAL4"
check "mxallowd: drop src=198.51.100.2 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.2 dst=192\.0\.2\.20 reason=not-whitelisted'
check "no rdns-sibling entries and no rDNS lookups with -b" not log_has 'rdns-sibling|: rdns addr='

finish
