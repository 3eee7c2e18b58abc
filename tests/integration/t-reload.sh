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
#     keeping previous configuration`, and the daemon keeps working with the previous one;
#   - a reload that changes ipv4-prefix (restart-only: the whitelist and the kernel table are
#     keyed by it) names it in a warning and keeps /32, so entries made before still match;
#   - server names are resolved without blocking the loop: with the DNS server stopped, a
#     SIGHUP leaves verdicts flowing, and the reload completes once DNS answers again;
#   - a SIGHUP while the daemon is still starting (blocked resolving its servers) does not
#     kill it; a relative -c still works for reloads after the daemon detached (cwd /);
#   - a pidfile path that is a symbolic link is refused.
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

section "SIGHUP changing ipv4-prefix: restart-only, the running /32 is kept"
write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	fake-mailserver $FAKE6
	real-mailserver $REAL6
	whitelist-time 40
	ipv4-prefix 24
	no-rdns-whitelist
EOF
check "mxallowd: reload: ipv4-prefix: take effect on restart" \
	hup ': reload: ipv4-prefix: take effect on restart; running values kept'
check "mxallowd: reload ok (the rest applied)" log_wait ': reload ok' 5
check "an entry made before the reload still matches: 198.51.100.9 accepted at the real MX" \
	expect_probe greeting 198.51.100.9 "$REAL4"
check "its neighbour is not let in by a /24: 198.51.100.6 dropped" \
	expect_probe timeout 198.51.100.6 "$REAL4"
expect_probe refused 198.51.100.5 "$FAKE4"
check "new entries are still /32: whitelist add addr=198.51.100.5" \
	log_wait 'whitelist add addr=198\.51\.100\.5 reason=fake-mx '

section "SIGHUP resolving a name while the DNS server is stopped: verdicts go on"
write_conf <<-EOF
	fake-mailserver mx1.example.test
	real-mailserver mx2.example.test
	whitelist-time 50
	no-rdns-whitelist
EOF
kill -STOP "$DNSMASQ_PID"
n_ok=$(log_count ': reload ok')
daemon_signal HUP
check "while the names resolve, a whitelisted client is still accepted (198.51.100.5)" \
	expect_probe greeting 198.51.100.5 "$REAL4"
check "and a stranger still dropped (198.51.100.3)" expect_probe timeout 198.51.100.3 "$REAL4"
check "the reload has not completed yet (no new 'reload ok')" \
	not count_above ': reload ok' "$n_ok"
kill -CONT "$DNSMASQ_PID"
check "mxallowd: reload ok once DNS answers" wait_for 20 count_above ': reload ok' "$n_ok"
expect_probe refused 198.51.100.4 "$FAKE4"
check "the resolved configuration is in force: expires-in=50 (and mx1's IPv4 address)" \
	log_wait 'whitelist add addr=198\.51\.100\.4 reason=fake-mx dst=192\.0\.2\.10 expires-in=50( |$)'
stop_daemon

section "SIGHUP while the daemon is still starting (resolving its servers)"
restart_log
kill -STOP "$DNSMASQ_PID"
ip netns exec "$NS_SRV" "$MXALLOWD" -F -s -c "$conf" --pidfile "$DAEMON_PIDFILE" --state-file none --control-socket none \
	>>"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
# It blocks in getaddrinfo() before its loop exists; the signal must wait, not kill.
# signals_blocked: mxallowd itself runs (not `ip netns exec` before its exec) and holds
# SIGHUP (bit 0) and SIGUSR1 (bit 9) back, as it does from the top of main().
signals_blocked() {
	local blk
	[ "$(cat "/proc/$DAEMON_PID/comm" 2>/dev/null)" = mxallowd ] || return 1
	blk=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$DAEMON_PID/status" 2>/dev/null)
	[ -n "$blk" ] && (((0x$blk & 0x201) == 0x201))
}
check "the daemon runs, SIGHUP and SIGUSR1 held back while it resolves its servers" \
	wait_for 5 signals_blocked
daemon_signal HUP
daemon_signal USR1
check "it survived SIGHUP and SIGUSR1 sent before its handlers" proc_alive "$DAEMON_PID"
kill -CONT "$DNSMASQ_PID"
check "mxallowd: started" log_wait ': started ' 20
check "the early SIGUSR1 was answered: stats line" log_wait ': stats dropped=' 10
check "the early SIGHUP was answered: reload ok" log_wait ': reload ok' 20
stop_daemon

section "a relative -c keeps working for reloads after the daemon detached"
restart_log
mkdir -p "$MXA_TMP/rel"
cp "$conf" "$MXA_TMP/rel/mxallowd.conf"
(cd "$MXA_TMP" && ip netns exec "$NS_SRV" "$MXALLOWD" -s -c rel/mxallowd.conf --state-file none --control-socket none \
	--pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1)
check "detached: the pidfile names a running daemon" wait_for 10 test -s "$DAEMON_PIDFILE"
DAEMON_PID=$(cat "$DAEMON_PIDFILE")
check "mxallowd: started" log_wait ': started ' 10
check "after detaching (cwd /), SIGHUP reads rel/mxallowd.conf: reload ok" hup ': reload ok'
check "no 'cannot open config file'" not log_has 'cannot open config file'
kill -TERM "$DAEMON_PID"
check "the detached daemon ended" wait_for 10 not proc_alive "$DAEMON_PID"
DAEMON_PID=

section "a pidfile that is a symbolic link is refused"
restart_log
ln -s "$MXA_TMP/target" "$MXA_TMP/link.pid"
ip netns exec "$NS_SRV" "$MXALLOWD" -F -s -c "$conf" --pidfile "$MXA_TMP/link.pid" --state-file none --control-socket none \
	>>"$DAEMON_LOG" 2>&1 &
DAEMON_PID=$!
wait_pid "$DAEMON_PID" 20
check "the start failed (exit status $WAIT_STATUS)" test "$WAIT_STATUS" -eq 1
check "mxallowd: cannot write pidfile ...link.pid" log_has 'cannot write pidfile .*link\.pid'
check "the link's target was not created" not test -e "$MXA_TMP/target"
DAEMON_PID=

finish
