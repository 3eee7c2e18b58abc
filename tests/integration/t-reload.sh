#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# (g) SIGHUP re-reads the config file:
#   - first the file lists only the IPv4 servers (whitelist-time 3600, no rDNS): IPv6 port-25
#     traffic is not mxallowd's business (a fake-MX hit over IPv6 whitelists nobody, the IPv6
#     real MX answers anyone);
#   - then the file adds the IPv6 fake and real MX and whitelist-time 30: `reload ok`, IPv6 hits
#     are whitelisted with expires-in=30, direct IPv6 clients are dropped, and the whitelist
#     made before the reload is kept;
#   - then invalid files (a bad value; an address both fake and real): `reload failed ...;
#     keeping previous configuration`, and the daemon keeps working with the previous one.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup

conf="$MXA_TMP/mxallowd.conf"
write_conf() {
	cat >"$conf.new"
	mv "$conf.new" "$conf"
}

write_conf <<-EOF
	# mxallowd test configuration: IPv4 only
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	queue-num 23
	whitelist-time 3600
	no-rdns-whitelist
EOF

# hup PATTERN: SIGHUP, then wait for one more line matching PATTERN.
# shellcheck disable=SC2317 # called through check
hup() {
	local n
	n=$(log_count "$1")
	daemon_signal HUP
	wait_for 10 count_above "$1" "$n"
}

section "start with an IPv4-only config file"
start_daemon -c "$conf"
check "started line: fake=192.0.2.10 real=192.0.2.20 whitelist-time=3600 rdns=off" \
	log_has ': started .*fake=192\.0\.2\.10 real=192\.0\.2\.20 whitelist-time=3600 rdns=off'
expect_probe refused 198.51.100.1 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx ... expires-in=3600" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 expires-in=3600( |$)'
expect_probe refused 2001:db8:1::1 "$FAKE6"
# Packets are handled in order: once the later IPv4 hit is logged, the IPv6 one was judged.
expect_probe refused 198.51.100.7 "$FAKE4"
check "mxallowd: whitelist add addr=198.51.100.7 (a later marker)" \
	log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx '
check "the IPv6 fake MX is unknown: 2001:db8:1::1 was not whitelisted" \
	not log_has 'addr=2001:db8:1::1 '
expect_probe greeting 2001:db8:1::3 "$REAL6"

section "SIGHUP with the IPv6 servers added and whitelist-time 30"
write_conf <<-EOF
	# mxallowd test configuration: IPv4 and IPv6
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	fake-mailserver $FAKE6
	real-mailserver $REAL6
	queue-num 23
	whitelist-time 30
	no-rdns-whitelist
EOF
check "mxallowd: reload ok" hup ': reload ok'
expect_probe refused 2001:db8:1::1 "$FAKE6"
check "mxallowd: whitelist add addr=2001:db8:1::1 reason=fake-mx dst=2001:db8::10 expires-in=30" \
	log_wait 'whitelist add addr=2001:db8:1::1 reason=fake-mx dst=2001:db8::10 expires-in=30( |$)'
expect_probe greeting 2001:db8:1::1 "$REAL6"
check "mxallowd: accept src=2001:db8:1::1 dst=2001:db8::20 reason=whitelisted" \
	log_wait 'accept src=2001:db8:1::1 dst=2001:db8::20 reason=whitelisted'
expect_probe timeout 2001:db8:1::3 "$REAL6"
check "mxallowd: drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted" \
	log_wait 'drop src=2001:db8:1::3 dst=2001:db8::20 reason=not-whitelisted'
expect_probe greeting 198.51.100.1 "$REAL4"
check "the whitelist survived the reload: accept src=198.51.100.1 dst=192.0.2.20" \
	log_wait 'accept src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=whitelisted'
check "no whitelist entry was removed" not log_has 'whitelist del '

section "SIGHUP with an invalid value"
write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	whitelist-time forever
EOF
check "mxallowd: reload failed: ...; keeping previous configuration" \
	hup ': reload failed: .*; keeping previous configuration'
check "the error names the file and line (mxallowd.conf:3)" \
	log_has 'reload failed: .*mxallowd\.conf:3'
check "mxallowd is still running" proc_alive "$DAEMON_PID"
n=$(log_count 'drop src=2001:db8:1::3 dst=2001:db8::20 ')
expect_probe timeout 2001:db8:1::3 "$REAL6"
check "previous config still in force: 2001:db8:1::3 dropped again at the IPv6 real MX" \
	wait_for 5 count_above 'drop src=2001:db8:1::3 dst=2001:db8::20 ' "$n"
expect_probe refused 2001:db8:1::4 "$FAKE6"
check "previous whitelist-time still in force: addr=2001:db8:1::4 ... expires-in=30" \
	log_wait 'whitelist add addr=2001:db8:1::4 reason=fake-mx dst=2001:db8::10 expires-in=30( |$)'

section "SIGHUP with an address both fake and real"
write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	real-mailserver $FAKE4
	whitelist-time 60
EOF
check "mxallowd: reload failed: ...; keeping previous configuration" \
	hup ': reload failed: .*; keeping previous configuration'
check "mxallowd is still running" proc_alive "$DAEMON_PID"
expect_probe refused 198.51.100.8 "$FAKE4"
check "192.0.2.10 is still the fake MX, whitelist-time still 30" \
	log_wait 'whitelist add addr=198\.51\.100\.8 reason=fake-mx dst=192\.0\.2\.10 expires-in=30( |$)'
expect_probe greeting 198.51.100.8 "$REAL4"

section "SIGHUP with the valid file again"
write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	fake-mailserver $FAKE6
	real-mailserver $REAL6
	whitelist-time 40
	no-rdns-whitelist
EOF
check "mxallowd: reload ok" hup ': reload ok'
expect_probe refused 198.51.100.9 "$FAKE4"
check "new whitelist-time in force: addr=198.51.100.9 ... expires-in=40" \
	log_wait 'whitelist add addr=198\.51\.100\.9 reason=fake-mx dst=192\.0\.2\.10 expires-in=40( |$)'

finish
