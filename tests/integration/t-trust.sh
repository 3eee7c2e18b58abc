#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Trusted sending domains and held verdicts, through the real kernel NFQUEUE path:
#  (a) a big sender's pool: mail-a.bigmail.test (.30) tries the fake MX; mail-b.bigmail.test
#      (.31), another address of the pool with its own PTR and one A record, connects straight
#      to the real MX and gets the greeting without a SYN retransmit (connect well under 1 s);
#  (b) host1.cust-a.co.uk on the fake MX does not let host2.cust-b.co.uk in (co.uk is a public
#      suffix: different registrable domains);
#  (c) a generic name (198-51-100-40.dyn.bigisp.test) neither trusts nor is trusted;
#  (d) an unconfirmed PTR is dropped (not whitelisted, no greeting);
#  (e) trust-domain lets a confirmed name in without any fake-MX visit, not a mere suffix match;
#  (f) with the DNS server stopped, strangers are dropped at the deadline (hold-expired) and a
#      whitelisted client still passes at once;
#  (g) a public suffix as trust-domain (com, co.uk) is refused: mxallowd does not start, and a
#      reload fails and keeps the running configuration, each with one line naming the origin.
# Connect times are measured from the client namespace: a SYN dropped once costs the sender
# its retransmit (1 s), so a connect under 900 ms means the first SYN got in.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mxa_init
need_daemon
need_cmds python3
net_setup
for i in $(seq 30 47); do
	ip -n "$NS_CLI" addr add "198.51.100.$i/24" dev vcli
done

# dnsmasq as in lib.sh, with the pools of this test (each --host-record also gives the PTR).
dns_answers_trust() {
	in_cli getent ahostsv4 mail-b.bigmail.test 2>/dev/null | grep -q '^198\.51\.100\.31 '
}
ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
	--no-poll --listen-address="$DNS4" --bind-interfaces --pid-file= --user=root \
	--log-facility="$MXA_TMP/dnsmasq.log" --log-queries \
	--local=/test/ --local=/uk/ --local=/in-addr.arpa/ --local=/ip6.arpa/ \
	--mx-host=example.test,mx1.example.test,10 --mx-host=example.test,mx2.example.test,20 \
	--host-record=mx1.example.test,"$FAKE4" --host-record=mx2.example.test,"$REAL4" \
	--host-record=mail-a.bigmail.test,198.51.100.30 \
	--host-record=mail-b.bigmail.test,198.51.100.31 \
	--host-record=host1.cust-a.co.uk,198.51.100.32 \
	--host-record=host2.cust-b.co.uk,198.51.100.33 \
	--host-record=198-51-100-40.dyn.bigisp.test,198.51.100.40 \
	--host-record=198-51-100-41.dyn.bigisp.test,198.51.100.41 \
	--host-record=mail.bigisp.test,198.51.100.36 \
	--ptr-record=42.100.51.198.in-addr.arpa,liar.bigmail.test \
	--address=/liar.bigmail.test/198.51.100.99 \
	--host-record=mx.partner.test,198.51.100.43 \
	--host-record=mx.evilpartner.test,198.51.100.44 \
	--host-record=mail-c.bigmail.test,198.51.100.45 \
	>"$MXA_TMP/dnsmasq.out" 2>&1 &
DNSMASQ_PID=$!
wait_for 10 dns_answers_trust || die "dnsmasq does not answer ($(tail -n3 "$MXA_TMP/dnsmasq.out"))"
sink_setup
rules_setup "$QUEUE_NUM"

# timed_connect SRC: one TCP connect from SRC to the real MX, at most 900 ms, no retry.
# Prints "greeting MS" when the 220 came, else "timeout MS" (or "error ...").
timed_connect() {
	in_cli python3 - "$1" "$REAL4" <<-'EOF'
		import socket, sys, time
		s = socket.socket()
		s.bind((sys.argv[1], 0))
		s.settimeout(0.9)
		t = time.monotonic()
		try:
		    s.connect((sys.argv[2], 25))
		    ms = (time.monotonic() - t) * 1000
		    s.settimeout(3)
		    print("greeting" if s.recv(512).startswith(b"220") else "error", "%.1f" % ms)
		except socket.timeout:
		    print("timeout", "%.0f" % ((time.monotonic() - t) * 1000))
		except OSError as e:
		    print("error", e.errno)
	EOF
}

# expect_fast SRC WHAT: the first SYN of SRC got in: greeting within 900 ms.
expect_fast() {
	local r
	r=$(timed_connect "$1")
	say "  $1 -> $REAL4:25: $r"
	set -- "$1" "$2" $r
	check "$2: greeting after ${4:-?} ms, no SYN retransmit" test "$3" = greeting
}
# expect_refused SRC WHAT: no greeting for the first SYN.
expect_refused() {
	local r
	r=$(timed_connect "$1")
	say "  $1 -> $REAL4:25: $r"
	set -- "$1" "$2" $r
	check "$2: no greeting (${3:-?} after ${4:-?} ms)" test "$3" = timeout
}
stat_of() {
	local n
	n=$(log_count ': stats ')
	daemon_signal USR1
	wait_for 5 count_above ': stats ' "$n" || return 1
	grep ': stats ' "$DAEMON_LOG" | tail -n1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}

section "mxallowd with held verdicts (hold-time 800), domain trust, trust-domain partner.test"
CONF="$MXA_TMP/trust.conf"
printf 'trust-domain partner.test\n' >"$CONF"
start_daemon -c "$CONF" -f "$FAKE4" -r "$REAL4" --log-rate 0

section "(a) a big sender's pool: .30 on the fake MX, .31 straight to the real MX"
expect_probe refused 198.51.100.30 "$FAKE4"
check "mail-a.bigmail.test became a member of bigmail.test" \
	log_wait 'trust member addr=198\.51\.100\.30 name=mail-a\.bigmail\.test domain=bigmail\.test'
expect_fast 198.51.100.31 "mail-b.bigmail.test (.31), never on the fake MX"
check "logged: whitelist add ... reason=rdns-domain origin=.30 name=mail-b.bigmail.test" \
	log_has 'whitelist add addr=198\.51\.100\.31 reason=rdns-domain origin=198\.51\.100\.30 name=mail-b\.bigmail\.test expires-in=[0-9]+'
check "logged: accept src=.31 ... reason=whitelisted held-ms=N" \
	log_has 'accept src=198\.51\.100\.31 dst=192\.0\.2\.20 reason=whitelisted held-ms=[0-9]+'

section "(b) host1.cust-a.co.uk does not open host2.cust-b.co.uk"
expect_probe refused 198.51.100.32 "$FAKE4"
check "cust-a.co.uk became a member domain" \
	log_wait 'trust member addr=198\.51\.100\.32 name=host1\.cust-a\.co\.uk domain=cust-a\.co\.uk'
expect_refused 198.51.100.33 "host2.cust-b.co.uk (.33)"
check "logged: trust refuse addr=.33 name=host2.cust-b.co.uk reason=no-member" \
	log_wait 'trust refuse addr=198\.51\.100\.33 name=host2\.cust-b\.co\.uk reason=no-member'

section "(c) a generic name neither trusts nor is trusted"
expect_probe refused 198.51.100.40 "$FAKE4"
check "198-51-100-40.dyn.bigisp.test is no member (generic-name)" \
	log_wait 'trust member-refused addr=198\.51\.100\.40 name=198-51-100-40\.dyn\.bigisp\.test reason=generic-name'
expect_refused 198.51.100.36 "mail.bigisp.test (.36): the generic member opened nothing"
check "logged: refused .36 no-member" \
	log_wait 'trust refuse addr=198\.51\.100\.36 name=mail\.bigisp\.test reason=no-member'
# bigmail.test has a member: a generic name in it is still refused.
expect_refused 198.51.100.41 "198-51-100-41.dyn.bigisp.test (.41), generic"
check "logged: refused .41 generic-name" \
	log_wait 'trust refuse addr=198\.51\.100\.41 name=198-51-100-41\.dyn\.bigisp\.test reason=generic-name'

section "(d) an unconfirmed PTR (liar.bigmail.test resolves elsewhere)"
expect_refused 198.51.100.42 "liar.bigmail.test (.42)"
check "logged: refused .42 not-confirmed" \
	log_wait 'trust refuse addr=198\.51\.100\.42 name=liar\.bigmail\.test reason=not-confirmed'
check "dropped, not whitelisted" not log_has 'whitelist add addr=198\.51\.100\.42 '

section "(e) trust-domain partner.test: no fake-MX visit needed; evilpartner.test is not under it"
expect_fast 198.51.100.43 "mx.partner.test (.43)"
check "logged: whitelist add ... reason=trusted-domain name=mx.partner.test" \
	log_has 'whitelist add addr=198\.51\.100\.43 reason=trusted-domain origin=198\.51\.100\.43 name=mx\.partner\.test'
expect_refused 198.51.100.44 "mx.evilpartner.test (.44)"
check "logged: refused .44 no-member" \
	log_wait 'trust refuse addr=198\.51\.100\.44 name=mx\.evilpartner\.test reason=no-member'

section "(f) the DNS server stopped: strangers wait for the deadline, the rest is unchanged"
kill "$DNSMASQ_PID"
wait_pid "$DNSMASQ_PID" 5
expired0=$(stat_of hold-expired)
expect_refused 198.51.100.45 "mail-c.bigmail.test (.45), no answer"
check "logged: drop src=.45 ... reason=hold-expired held-ms=N (800 and more: a late timer is allowed)" \
	log_wait 'drop src=198\.51\.100\.45 dst=192\.0\.2\.20 reason=hold-expired held-ms=(8[0-9][0-9]|9[0-9][0-9]|1[0-9][0-9][0-9])'
expired1=$(stat_of hold-expired)
check "hold-expired counted ($expired0 -> $expired1)" test "$expired1" -gt "$expired0"
expect_fast 198.51.100.31 "the whitelisted .31 still passes at once"
expect_probe greeting 198.51.100.30 "$REAL4"
s=$(grep ': stats ' "$DAEMON_LOG" | tail -n1)
say "  $s"
check "held is back to 0" test "$(stat_of held)" = 0
check "held-peak and hold-expired are in the stats line" log_has ': stats .* held=0 held-peak=[1-9][0-9]* hold-expired=[1-9]'

section "(g) a public suffix as trust-domain is refused"
printf 'trust-domain partner.test\ntrust-domain co.uk\n' >"$CONF"
daemon_signal HUP
check "reload: refused with the file and line" \
	log_wait "reload failed: $(re "$CONF"):2: trust-domain: 'co\\.uk' is a public suffix"
check "mxallowd still runs" proc_alive "$DAEMON_PID"
n=$(log_count ': reload ok')
printf 'trust-domain partner.test\n' >"$CONF"
daemon_signal HUP
check "the file fixed, the next reload is ok" wait_for 5 count_above ': reload ok' "$n"
in_srv timeout 10 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --pidfile "$MXA_TMP/other.pid" \
	--state-file none --control-socket none --queue-num 4711 -f "$FAKE4" -r "$REAL4" \
	--trust-domain com >"$MXA_TMP/start-com.out" 2>&1
st=$?
say "  $(cat "$MXA_TMP/start-com.out")"
check "start with trust-domain com: refused (status $st)" test "$st" -eq 1
check "one line naming the origin" grep -qx \
	"mxallowd: command line: trust-domain: 'com' is a public suffix: it would trust every domain under it; name a registered domain (such as example.com)" \
	"$MXA_TMP/start-com.out"
check "and nothing else" test "$(wc -l <"$MXA_TMP/start-com.out")" -eq 1

section "shutdown"
stop_daemon
check "mxallowd ended with status 0" test "$WAIT_STATUS" -eq 0
check "no error was logged but the refused reload" \
	test "$(grep ': error: ' "$DAEMON_LOG" | grep -vc "'co\.uk' is a public suffix")" = 0

finish
