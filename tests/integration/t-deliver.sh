#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# A real MTA through nolisting, with mxallowd in the way:
#  (a) Postfix over IPv4: mx1 (fake) refused, then relay=mx2 status=sent; the sink has the mail;
#      mxallowd whitelisted 198.51.100.1 because of its fake-MX hit and accepted it at mx2.
#  (b) the same over IPv6 (a Postfix instance with inet_protocols = ipv6).
#  (c) direct-to-second-MX clients (198.51.100.3, 2001:db8:1::3) get no greeting and are dropped.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup
postfix_setup v4 ipv4
postfix_setup v6 ipv6

section "mxallowd with two fake and two real MX addresses"
start_daemon -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" -n 23
check "started line names backend, queue, servers, time, rdns" \
	log_has ': started version=[^ ]+ backend=nfqueue queue=23 fake=192\.0\.2\.10,2001:db8::10 real=192\.0\.2\.20,2001:db8::20 whitelist-time=3600 rdns=on'

deliver() {
	local inst=$1 src=$2 fake=$3 real=$4
	local fre rre sre
	fre=$(re "$fake")
	rre=$(re "$real")
	sre=$(re "$src")
	check "Postfix ($inst) delivered the mail: status=sent on the first attempt" send_mail "$inst"
	check "Postfix log: connect to mx1.example.test[$fake]:25: Connection refused" \
		log_has "connect to mx1\.example\.test\[$fre\]:25: Connection refused" "$MAIL_LINES"
	check "Postfix log: relay=mx2.example.test[$real]:25 ... status=sent" \
		log_has "relay=mx2\.example\.test\[$rre\]:25,.*status=sent" "$MAIL_LINES"
	check "Postfix tried mx1 first, then mx2" \
		mail_order "connect to mx1\.example\.test" "relay=mx2\.example\.test.*status=sent"
	check "smtp-sink received the message ($MAIL_TOKEN)" wait_for 5 sink_has "$MAIL_TOKEN"
	check "mxallowd: whitelist add addr=$src reason=fake-mx dst=$fake expires-in=3600" \
		log_wait "whitelist add addr=$sre reason=fake-mx dst=$fre expires-in=3600( |$)"
	check "mxallowd: accept src=$src dst=$real reason=whitelisted" \
		log_wait "accept src=$sre dst=$rre reason=whitelisted"
	check "mxallowd dropped nothing from $src" not log_has "drop src=$sre "
}

section "(a) Postfix over IPv4 (bound to 198.51.100.1)"
deliver v4 198.51.100.1 "$FAKE4" "$REAL4"

section "(b) Postfix over IPv6 (bound to 2001:db8:1::1)"
deliver v6 2001:db8:1::1 "$FAKE6" "$REAL6"

section "(c) direct-to-second-MX clients"
expect_probe timeout 198.51.100.3 "$REAL4"
check "mxallowd: drop src=198.51.100.3 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted'
expect_probe timeout 2001:db8:1::3 "$REAL6"
check "mxallowd: drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted" \
	log_wait 'drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted'
check "the spammer was never whitelisted" not log_has 'whitelist add addr=(198\.51\.100\.3|2001:db8:1::3) '
check "mxallowd is still running" proc_alive "$DAEMON_PID"

finish
