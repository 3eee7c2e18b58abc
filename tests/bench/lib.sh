# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Benchmark harness, sourced by tests/bench/run. A throwaway two-namespace network; nothing
# leaves it and the host's firewall is never touched. Benchmark addresses only:
#
#   server namespace ($NS_SRV, vsrv)                  client namespace ($NS_CLI, vcli)
#     198.19.255.10  2001:2:0:ffff::10  fake MX         synflood on vcli (packet socket), sources
#     198.19.255.20  2001:2:0:ffff::20  real MX           198.18.0.0 .. 198.19.253.255 (IPv4)
#     198.19.255.53  dnsmasq                              2001:2::/64 (IPv6, for > 2^17 sources)
#     mxallowd or nfq-ceiling, rules                    198.19.254.1  Postfix (delivery benchmark)
#
# Rules in the server namespace (all traffic above is to port 25):
#   mangle INPUT  -p tcp --syn --dport 25 -m state --state NEW -j NFQUEUE --queue-num 23
#   filter INPUT  -p tcp --dport 25 ! -s <client /24 and /64 of real clients> -j DROP
# The second rule discards synthetic SYNs after the verdict, whatever it was, so the kernel does
# the same work after an accept and after a drop (no RSTs, no conntrack entries confirmed).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
: "${BUILD_DIR:=$ROOT/build-bench}"
MXALLOWD="$BUILD_DIR/src/mxallowd"
SYNFLOOD="$BUILD_DIR/tests/bench/synflood"
CEILING="$BUILD_DIR/tests/bench/nfq-ceiling"
BENCH_CORE="$BUILD_DIR/tests/bench/bench-core"

FAKE4=198.19.255.10
REAL4=198.19.255.20
DNS4=198.19.255.53
CLIENT4=198.19.254.1
FAKE6=2001:2:0:ffff::10
REAL6=2001:2:0:ffff::20
CLIENT6=2001:2:0:fffe::1
SRC4_PREFIX=198.18.0.0/15
SRC4_SPAN=130560 # 198.18.0.0 .. 198.19.253.255: the /15 minus the two /24 above
SRC6_PREFIX=2001:2::/64
QNUM=23
# CPU placement on a 2-CPU machine: generator (and the kernel's receive path, which runs in its
# context) on one CPU, the verdict loop on the other.
GEN_CPU=${GEN_CPU:-0}
CONS_CPU=${CONS_CPU:-1}

NS_SRV=
NS_CLI=
TMP=
SRV_MAC=
CLEANED=0

# shellcheck source=tests/netns.sh
. "$(dirname "${BASH_SOURCE[0]}")/../netns.sh"

say() { printf '%s\n' "$*" >&2; }
section() { printf '\n== %s\n' "$*" >&2; }
die() {
	say "bench: $*"
	exit 1
}

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

wait_for() {
	local timeout=$1 deadline
	shift
	deadline=$((SECONDS + timeout))
	while ! "$@"; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05
	done
}

proc_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

bench_cleanup() {
	[ "$CLEANED" = 1 ] && return
	CLEANED=1
	# shellcheck disable=SC2086
	netns_remove $NS_SRV $NS_CLI
	if [ -n "$TMP" ] && [ -d "$TMP" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $TMP"; else rm -rf "$TMP"; fi
	fi
}

etc_setup() {
	mkdir -p "/etc/netns/$1"
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$DNS4" >"/etc/netns/$1/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$1/hosts"
	printf 'hosts: files dns\npasswd: files\ngroup: files\nservices: files\nprotocols: files\n' \
		>"/etc/netns/$1/nsswitch.conf"
}

# net_setup: namespaces, veth pair, addresses, routes, rules.
net_setup() {
	local ns
	NS_SRV="mxb-srv-$$"
	NS_CLI="mxb-cli-$$"
	ip netns add "$NS_SRV" || die "ip netns add failed"
	ip netns add "$NS_CLI" || die "ip netns add failed"
	for ns in "$NS_SRV" "$NS_CLI"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
			net.ipv6.conf.default.accept_dad=0 >/dev/null
		ip -n "$ns" link set lo up
		etc_setup "$ns"
	done
	ip -n "$NS_SRV" link add vsrv type veth peer name vcli netns "$NS_CLI" ||
		die "cannot create the veth pair"
	ip -n "$NS_SRV" addr add "$FAKE4/24" dev vsrv
	ip -n "$NS_SRV" addr add "$REAL4/24" dev vsrv
	ip -n "$NS_SRV" addr add "$DNS4/24" dev vsrv
	ip -n "$NS_SRV" -6 addr add "$FAKE6/64" dev vsrv nodad
	ip -n "$NS_SRV" -6 addr add "$REAL6/64" dev vsrv nodad
	ip -n "$NS_CLI" addr add "$CLIENT4/24" dev vcli
	ip -n "$NS_CLI" -6 addr add "$CLIENT6/64" dev vcli nodad
	ip -n "$NS_SRV" link set vsrv up
	ip -n "$NS_CLI" link set vcli up
	ip -n "$NS_SRV" route add 198.18.0.0/15 dev vsrv
	ip -n "$NS_SRV" -6 route add 2001:2::/48 dev vsrv
	ip -n "$NS_CLI" route add 198.19.255.0/24 dev vcli
	ip -n "$NS_CLI" -6 route add 2001:2:0:ffff::/64 dev vcli
	SRV_MAC=$(ip -n "$NS_SRV" -o link show vsrv | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p')
	[ -n "$SRV_MAC" ] || die "no MAC address on vsrv"
	rules_setup
}

rules_setup() {
	local t
	for t in iptables ip6tables; do
		in_srv "$t" -t mangle -A INPUT -p tcp --syn --dport 25 -m state --state NEW \
			-j NFQUEUE --queue-num "$QNUM" || die "$t NFQUEUE rule failed"
	done
	in_srv iptables -A INPUT -p tcp --dport 25 ! -s "$CLIENT4/24" -j DROP
	in_srv ip6tables -A INPUT -p tcp --dport 25 ! -s "$CLIENT6/64" -j DROP
}

# Without the NFQUEUE rules (the "no rule" baseline of the delivery benchmark).
rules_queue_off() {
	in_srv iptables -t mangle -F INPUT
	in_srv ip6tables -t mangle -F INPUT
}
rules_queue_on() {
	rules_queue_off
	in_srv iptables -t mangle -A INPUT -p tcp --syn --dport 25 -m state --state NEW \
		-j NFQUEUE --queue-num "$QNUM"
	in_srv ip6tables -t mangle -A INPUT -p tcp --syn --dport 25 -m state --state NEW \
		-j NFQUEUE --queue-num "$QNUM"
}

# nfq_counters: "total dropped user_dropped id_sequence" of our queue (0s when not bound).
nfq_counters() {
	in_srv cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null |
		awk -v q="$QNUM" '$1 == q { print $3, $6, $7, $8; found = 1 }
			END { if (!found) print 0, 0, 0, 0 }'
}

queue_empty() { [ "$(nfq_counters | cut -d' ' -f1)" = 0 ]; }

# synflood ARGS...: the generator in the client namespace on vcli, pinned to GEN_CPU.
synflood() {
	in_cli taskset -c "$GEN_CPU" "$SYNFLOOD" -i vcli -m "$SRV_MAC" "$@"
}

# Resident set size of PID in KiB (VmRSS), and its peak (VmHWM).
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }

need_net() {
	[ -n "$NS_SRV" ] || net_setup
}

# ------------------------------------------------------------------ delivery harness
# Shared by tests/bench/run (part delivery and others) and tests/bench/hybrid (part delivery):
# dnsmasq (MX records mx1 = fake MX, mx2 = real MX), smtp-sink on the real MX, and a private
# Postfix instance in the client namespace bound to $CLIENT4. Needs $TMP.
dns_answers() { in_srv getent ahostsv4 mx2.example.test 2>/dev/null | grep -q "^$REAL4 "; }
listening() { in_srv ss -Hltn "sport = :25" | grep -qF "$1"; }

# sink_start: smtp-sink on the real MX (once).
sink_start() {
	need_net
	listening "$REAL4:25" && return 0
	mkdir -p "$TMP/sink"
	chmod 1777 "$TMP/sink"
	in_srv smtp-sink -u nobody -h mx2.example.test "$REAL4:25" 100 >"$TMP/sink.out" 2>&1 &
	wait_for 10 listening "$REAL4:25" || die "smtp-sink is not listening"
}

delivery_setup() {
	need_net
	[ -n "${DELIVERY_READY:-}" ] && return 0
	in_srv dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
		--listen-address="$DNS4" --bind-interfaces --pid-file= --user=root \
		--local=/test/ --local=/in-addr.arpa/ --local=/ip6.arpa/ \
		--mx-host=example.test,mx1.example.test,10 --mx-host=example.test,mx2.example.test,20 \
		--host-record=mx1.example.test,"$FAKE4" --host-record=mx2.example.test,"$REAL4" \
		--host-record=client.example.test,"$CLIENT4" >"$TMP/dnsmasq.out" 2>&1 &
	wait_for 10 dns_answers || die "dnsmasq does not answer: $(tail -n3 "$TMP/dnsmasq.out")"
	sink_start
	PF="$TMP/postfix"
	mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
	chmod 755 "$PF" "$PF/etc"
	chown postfix "$PF/data"
	cat >"$PF/etc/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $PF/queue
		data_directory = $PF/data
		maillog_file = $PF/maillog
		maillog_file_prefixes = $TMP
		myhostname = client.example.test
		mydomain = example.test
		inet_interfaces = loopback-only
		inet_protocols = ipv4
		mydestination =
		local_transport = error:local delivery disabled
		alias_maps =
		alias_database =
		smtp_bind_address = $CLIENT4
		smtp_connect_timeout = 30s
		smtp_tls_security_level = none
		smtp_connection_cache_on_demand = no
		delay_logging_resolution_limit = 6
		notify_classes =
		biff = no
		smtputf8_enable = no
		queue_run_delay = 300s
		minimal_backoff_time = 300s
		maximal_backoff_time = 600s
		delay_warning_time = 0h
	EOF
	cat >"$PF/etc/master.cf" <<-'EOF'
		pickup    unix  n       -       n       60      1       pickup
		cleanup   unix  n       -       n       -       0       cleanup
		qmgr      unix  n       -       n       300     1       qmgr
		rewrite   unix  -       -       n       -       -       trivial-rewrite
		bounce    unix  -       -       n       -       0       bounce
		defer     unix  -       -       n       -       0       bounce
		trace     unix  -       -       n       -       0       bounce
		verify    unix  -       -       n       -       1       verify
		flush     unix  n       -       n       1000?   0       flush
		proxymap  unix  -       -       n       -       -       proxymap
		smtp      unix  -       -       n       -       -       smtp
		relay     unix  -       -       n       -       -       smtp
		showq     unix  n       -       n       -       -       showq
		error     unix  -       -       n       -       -       error
		retry     unix  -       -       n       -       -       error
		discard   unix  -       -       n       -       -       discard
		anvil     unix  -       -       n       -       1       anvil
		scache    unix  -       -       n       -       1       scache
		postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
	in_cli postfix -c "$PF/etc" start >"$TMP/postfix-start.out" 2>&1 ||
		die "postfix did not start: $(tail -n3 "$TMP/postfix-start.out")"
	wait_for 10 grep -q 'daemon started' "$PF/maillog" || die "postfix did not start"
	DELIVERY_READY=1
}

# send_batch MODE N [CSV]: submits N messages one after the other (each waits for its status
# line) and appends "MODE,i,delay,a,b,c,d" rows (Postfix's delay= and delays=) to CSV (default
# $OUT/delivery.csv).
send_batch() {
	local mode=$1 n=$2 csv=${3:-$OUT/delivery.csv} i tok qid line
	for i in $(seq 1 "$n"); do
		tok="bench-$mode-$i-$RANDOM$RANDOM"
		printf 'From: <sender@example.test>\nTo: <user@example.test>\nSubject: %s\nMessage-ID: <%s@example.test>\n\n%s\n' \
			"$tok" "$tok" "$tok" | in_cli sendmail -C "$PF/etc" -f sender@example.test -- user@example.test
		wait_for 15 grep -q "message-id=<$tok@" "$PF/maillog" || die "postfix did not pick up $tok"
		qid=$(sed -n "s/.*: \([0-9A-Za-z]*\): message-id=<$tok@.*/\1/p" "$PF/maillog" | head -n1)
		wait_for 30 grep -qE "$qid: to=<.*status=(sent|deferred|bounced)" "$PF/maillog" ||
			die "no delivery status for $qid"
		line=$(grep -E "$qid: to=<.*status=" "$PF/maillog" | head -n1)
		grep -q 'status=sent' <<<"$line" || die "not delivered: $line"
		sed -n 's/.* delay=\([0-9.]*\), delays=\([0-9.]*\)\/\([0-9.]*\)\/\([0-9.]*\)\/\([0-9.]*\),.*/\1,\2,\3,\4,\5/p' \
			<<<"$line" | sed "s/^/$mode,$i,/" >>"$csv"
	done
}
