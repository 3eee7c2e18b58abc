#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# rDNS hardening, with dnsmasq serving odd PTR names:
#  (f) PTR names that are not host names ("evil name=x.example.org": a space and '=', which
#      would forge fields in the log; "back\slash.example.org") are refused before any use:
#      one error line with the name escaped (\xNN), never the raw name in the log, and no
#      forward query for them at the DNS server.
#  (g) a PTR name of 64+ characters (evdns 2.1 cannot read it) is reported as such.
#  (h) a name without A and AAAA records (NODATA) is "not-confirmed", not a failed lookup.
#  (i) a lookup that failed because the DNS server was down is tried again on the client's
#      next fake-MX hit once DNS is back, and the client then gets its siblings.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

LONG_NAME=$(printf 'a%.0s' $(seq 1 57)).example.org # 69 characters

# The standard records of lib.sh's dns_setup and this test's odd ones. (evdns asks in mixed
# case, 0x20: hence [eE]... in the patterns on dnsmasq's log.)
rdns_dns_start() {
	ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --no-poll --listen-address="$DNS4" --bind-interfaces --pid-file= --user=root \
		--log-facility="$MXA_TMP/dnsmasq.log" --log-queries \
		--local=/test/ --local=/org/ --local=/in-addr.arpa/ --local=/ip6.arpa/ \
		--mx-host=example.test,mx1.example.test,10 \
		--mx-host=example.test,mx2.example.test,20 \
		--host-record=mx1.example.test,"$FAKE4","$FAKE6" \
		--host-record=mx2.example.test,"$REAL4","$REAL6" \
		--host-record=sender.example.org,198.51.100.1,2001:db8:1::1 \
		--host-record=sender.example.org,198.51.100.2,2001:db8:1::2 \
		--ptr-record='7.100.51.198.in-addr.arpa,evil name=x.example.org' \
		--ptr-record='8.100.51.198.in-addr.arpa,back\slash.example.org' \
		--ptr-record="9.100.51.198.in-addr.arpa,$LONG_NAME" \
		--host-record="$LONG_NAME",198.51.100.9 \
		--ptr-record=10.100.51.198.in-addr.arpa,noaddr.example.org \
		--txt-record=noaddr.example.org,"no addresses here" \
		>>"$MXA_TMP/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	wait_for 10 dns_answers || die "dnsmasq does not answer ($(tail -n3 "$MXA_TMP/dnsmasq.out"))"
}

rdns_dns_stop() {
	kill -TERM "$DNSMASQ_PID" 2>/dev/null
	wait_pid "$DNSMASQ_PID" 10
	DNSMASQ_PID=
}

# shellcheck disable=SC2317 # called through wait_for
dns_down() { ! in_cli getent ahostsv4 mx2.example.test >/dev/null 2>&1; }

mxa_init
need_daemon
net_setup
ip -n "$NS_CLI" addr add 198.51.100.10/24 dev vcli
rdns_dns_start
sink_setup
rules_setup "$QUEUE_NUM"

section "mxallowd with rDNS siblings"
start_daemon -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" -n 23

section "(f) PTR names that are not host names"
expect_probe refused 198.51.100.7 "$FAKE4"
check "mxallowd: rdns addr=198.51.100.7 error=invalid PTR name name=evil\\x20name\\x3dx.example.org" \
	log_wait 'rdns addr=198\.51\.100\.7 error=invalid PTR name name=evil\\x20name\\x3dx\.example\.org$'
expect_probe refused 198.51.100.8 "$FAKE4"
check "mxallowd: rdns addr=198.51.100.8 error=invalid PTR name name=back\\x5cslash.example.org" \
	log_wait 'rdns addr=198\.51\.100\.8 error=invalid PTR name name=back\\x5cslash\.example\.org$'
check "the raw names are nowhere in the log" not log_has 'evil name|back\\slash'
check "no line has a name= field with a space or '=' in its value" \
	not log_has 'name=[^ ]*=|name=evil '
check "dnsmasq was never asked for the addresses of the invalid names" \
	not log_has 'query\[(A|AAAA)\] ([eE][vV][iI][lL]|[bB][aA][cC][kK])' "$MXA_TMP/dnsmasq.log"
check "198.51.100.7 itself is whitelisted (rDNS does not decide that)" \
	log_has 'whitelist add addr=198\.51\.100\.7 reason=fake-mx '
check "no sibling came from 198.51.100.7" not log_has 'reason=rdns-sibling origin=198\.51\.100\.7 '

section "(g) a PTR name of 64 characters or more"
expect_probe refused 198.51.100.9 "$FAKE4"
check "mxallowd: rdns addr=198.51.100.9 error=PTR answer unreadable (...): a name of 64 characters or more" \
	log_wait 'rdns addr=198\.51\.100\.9 error=PTR answer unreadable \(.*\): a name of 64 characters or more'
check "one rdns line for 198.51.100.9 (no second, mislabelled one)" \
	test "$(log_count 'rdns addr=198\.51\.100\.9 ')" -eq 1

section "(h) a PTR name without addresses (NODATA)"
expect_probe refused 198.51.100.10 "$FAKE4"
check "mxallowd: rdns addr=198.51.100.10 name=noaddr.example.org not-confirmed" \
	log_wait 'rdns addr=198\.51\.100\.10 name=noaddr\.example\.org not-confirmed'
check "no 'lookup failed' line for 198.51.100.10" not log_has 'rdns addr=198\.51\.100\.10 error='

section "(i) DNS down at the first fake-MX hit, back at the next one"
rdns_dns_stop
check "DNS is down" wait_for 5 dns_down
expect_probe refused 198.51.100.1 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 '
# evdns in the daemon: 3 s timeout, 2 attempts.
check "mxallowd: rdns addr=198.51.100.1 error=PTR lookup failed: ..." \
	log_wait 'rdns addr=198\.51\.100\.1 error=PTR lookup failed' 20
check "no sibling while DNS is down" not log_has 'reason=rdns-sibling origin=198\.51\.100\.1 '
expect_probe timeout 198.51.100.2 "$REAL4"
rdns_dns_start
pass "dnsmasq is back"
expect_probe refused 198.51.100.1 "$FAKE4"
check "mxallowd: whitelist renew addr=198.51.100.1 reason=fake-mx" \
	log_wait 'whitelist renew addr=198\.51\.100\.1 reason=fake-mx '
check "mxallowd: whitelist add addr=198.51.100.2 reason=rdns-sibling origin=198.51.100.1 name=sender.example.org" \
	log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling origin=198\.51\.100\.1 name=sender\.example\.org ' 20
expect_probe greeting 198.51.100.2 "$REAL4"
check "mxallowd: accept src=198.51.100.2 dst=192.0.2.20 reason=whitelisted" \
	log_wait 'accept src=198\.51\.100\.2 dst=192\.0\.2\.20 reason=whitelisted'
# The lookup ended: a third hit asks no more. 198.51.100.3's PTR query, asked after it, marks
# the point by which a query for 198.51.100.1 would have reached dnsmasq.
n_ptr=$(log_count 'query\[PTR\] 1\.100\.51\.198\.' "$MXA_TMP/dnsmasq.log")
expect_probe refused 198.51.100.1 "$FAKE4"
check "mxallowd: a third hit renews 198.51.100.1" \
	wait_for 10 count_above 'whitelist renew addr=198\.51\.100\.1 reason=fake-mx ' 1
expect_probe refused 198.51.100.3 "$FAKE4"
check "dnsmasq: the PTR query for 198.51.100.3 came" \
	log_wait 'query\[PTR\] 3\.100\.51\.198\.' 10 "$MXA_TMP/dnsmasq.log"
check "dnsmasq: no PTR query for 198.51.100.1 after its lookup ended" \
	test "$(log_count 'query\[PTR\] 1\.100\.51\.198\.' "$MXA_TMP/dnsmasq.log")" -eq "$n_ptr"

check "mxallowd stopped with SIGTERM (status 0)" stop_daemon
check "exit status was 0" test "$WAIT_STATUS" -eq 0

finish
