# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Integration test harness for mxallowd: sourced by tests/integration/t-*.sh and contrib/demo.sh.
#
# Builds a throwaway two-namespace network (nothing leaves it, the host's firewall is never
# touched):
#
#   server namespace ($NS_SRV, interface vsrv)          client namespace ($NS_CLI, interface vcli)
#     192.0.2.10   2001:db8::10   fake MX (mx1), nothing listens
#     192.0.2.20   2001:db8::20   real MX (mx2), smtp-sink
#     192.0.2.53                  dnsmasq                 198.51.100.1..9   2001:db8:1::1..9
#     mxallowd + NFQUEUE rules                            Postfix (private instances), socat probes
#
# DNS (dnsmasq, both namespaces use it through /etc/netns/NAME/resolv.conf):
#   example.test        MX 10 mx1.example.test, MX 20 mx2.example.test
#   sender.example.org  198.51.100.1 198.51.100.2 2001:db8:1::1 2001:db8:1::2 (with PTRs: confirmed)
#   198.51.100.4, 2001:db8:1::4  PTR liar.example.org, whose A/AAAA are only .5 / ::5
#   198.51.100.3 (the spammer) and everything else: no PTR (NXDOMAIN)
#
# Use:   . "$(dirname "$0")/lib.sh"; mail_host_setup (or mxa_init; net_setup; ...); ...; finish
# Exit codes of the scripts: 0 pass, 1 fail, 77 skip (not root, no network namespaces).
# Environment: MXALLOWD (binary, default build/src/mxallowd under the repository root),
#   MXA_KEEP=1 keeps the temp folder, MXALLOWD_REQUIRE_INTEGRATION=1 turns a skip into a failure,
#   MXA_VERBOSE=1 prints the logs even when everything passed.

MXA_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MXA_ROOT=$(cd "$MXA_LIB_DIR/../.." && pwd)
# shellcheck source=tests/netns.sh
. "$MXA_LIB_DIR/../netns.sh"
: "${MXALLOWD:=$MXA_ROOT/build/src/mxallowd}"

# Addresses (see above).
FAKE4=192.0.2.10
FAKE6=2001:db8::10
REAL4=192.0.2.20
REAL6=2001:db8::20
DNS4=192.0.2.53
QUEUE_NUM=23

MXA_PASSED=0
MXA_FAILED=0
MXA_NAME=$(basename "${0%.sh}")
NS_SRV=
NS_CLI=
MXA_TMP=
DAEMON_PID=
DAEMON_LOG=
DAEMON_PIDFILE=
MXA_CLEANED=0
MXA_MAIN_PID=

# ---------------------------------------------------------------- reporting

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }

pass() {
	MXA_PASSED=$((MXA_PASSED + 1))
	printf 'ok:   %s\n' "$*"
}

fail() {
	MXA_FAILED=$((MXA_FAILED + 1))
	printf 'FAIL: %s\n' "$*"
}

# check DESCRIPTION CMD...: runs CMD, records pass/fail.
check() {
	local what=$1
	shift
	if "$@"; then
		pass "$what"
	else
		fail "$what"
		return 1
	fi
}

# not CMD...: negation usable with check.
not() { ! "$@"; }

# Fatal: records a failure and exits (cleanup runs from the EXIT trap).
die() {
	fail "$*"
	exit 1
}

skip() {
	if [ "${MXALLOWD_REQUIRE_INTEGRATION:-0}" = 1 ]; then
		printf 'FAIL: cannot run (MXALLOWD_REQUIRE_INTEGRATION=1): %s\n' "$*"
		exit 1
	fi
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# Prints the closing line and exits 0 (all passed) or 1.
finish() {
	printf '\n%s: %d passed, %d failed\n' "$MXA_NAME" "$MXA_PASSED" "$MXA_FAILED"
	[ "$MXA_FAILED" -eq 0 ] && exit 0
	exit 1
}

# ---------------------------------------------------------------- waiting

# wait_for TIMEOUT_SECONDS CMD...: polls CMD every 0.1 s until it succeeds; 1 on timeout.
wait_for() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	while :; do
		"$@" && return 0
		[ "$SECONDS" -ge "$deadline" ] && break
		sleep 0.1
	done
	"$@"
}

# True while PID exists and is not a zombie.
proc_alive() {
	local st
	[ -r "/proc/$1/stat" ] || return 1
	st=$(sed 's/^.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

# wait_pid PID TIMEOUT: waits for a child of this shell to end, at most TIMEOUT seconds (then
# SIGKILL). Sets WAIT_STATUS to its exit status; returns 1 if it had to be killed.
# (A poll, not a watchdog subshell: signalling a freshly forked subshell can run this shell's
# traps, cleanup included, in that subshell.)
wait_pid() {
	local pid=$1 timeout=$2 killed=0
	if ! wait_for "$timeout" not proc_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		killed=1
	fi
	wait "$pid" 2>/dev/null
	WAIT_STATUS=$?
	return $killed
}

# log_has PATTERN [FILE]: extended regexp PATTERN is in FILE (default: the daemon's log).
log_has() {
	grep -Eq -- "$1" "${2:-$DAEMON_LOG}" 2>/dev/null
}

# log_count PATTERN [FILE]: number of matching lines.
log_count() {
	local n
	n=$(grep -Ec -- "$1" "${2:-$DAEMON_LOG}" 2>/dev/null) || true
	echo "${n:-0}"
}

# log_wait PATTERN [TIMEOUT [FILE]]: waits for a line matching the extended regexp PATTERN.
log_wait() {
	local pat=$1 timeout=${2:-10} file=${3:-$DAEMON_LOG}
	if wait_for "$timeout" log_has "$pat" "$file"; then
		return 0
	fi
	say "  (no line matching /$pat/ in $(basename "$file") within ${timeout}s)"
	return 1
}

# count_above PATTERN N [FILE]: more than N lines match PATTERN.
count_above() { [ "$(log_count "$1" "${3:-$DAEMON_LOG}")" -gt "$2" ]; }

# Escapes an address (or any text) for use inside an extended regexp.
# shellcheck disable=SC2016
re() { printf '%s' "$1" | sed 's/[].[\\*^$()+?{}|]/\\&/g'; }

# ---------------------------------------------------------------- setup

in_srv() { ip netns exec "$NS_SRV" "$@"; }
in_cli() { ip netns exec "$NS_CLI" "$@"; }

# need_cmds CMD...: skips when a tool is missing.
need_cmds() {
	local c missing=
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || missing="$missing $c"
	done
	[ -z "$missing" ] || skip "missing tools:$missing (contrib/install-deps.sh installs them)"
}

# mxa_init: root and namespace checks, temp folder, names, cleanup trap.
mxa_init() {
	export PATH="$PATH:/usr/sbin:/sbin"
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, NFQUEUE)"
	need_cmds ip iptables ip6tables socat dnsmasq postfix postconf sendmail smtp-sink ss timeout \
		awk
	MXA_MAIN_PID=$BASHPID
	NS_SRV="mxa-srv-$$"
	NS_CLI="mxa-cli-$$"
	MXA_TMP=$(mktemp -d /tmp/mxallowd-it.XXXXXX) || die "mktemp failed"
	chmod 755 "$MXA_TMP" # Postfix and smtp-sink (unprivileged) must traverse it
	trap mxa_cleanup EXIT
	trap 'exit 130' INT TERM HUP
	if ! ip netns add "$NS_SRV" 2>"$MXA_TMP/netns.err"; then
		NS_SRV=
		skip "ip netns add failed: $(head -n1 "$MXA_TMP/netns.err")"
	fi
	if ! ip netns add "$NS_CLI" 2>"$MXA_TMP/netns.err"; then
		NS_CLI=
		skip "ip netns add failed: $(head -n1 "$MXA_TMP/netns.err")"
	fi
	DAEMON_LOG="$MXA_TMP/mxallowd.log"
	DAEMON_PIDFILE="$MXA_TMP/mxallowd.pid"
	: >"$MXA_TMP/empty.conf"
}

# need_daemon: the mxallowd binary must exist (a missing build is a failure, not a skip).
need_daemon() {
	[ -x "$MXALLOWD" ] || die "mxallowd binary not found at $MXALLOWD (build it or set MXALLOWD)"
}

mxa_etc() {
	local ns=$1
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' "$DNS4" >"/etc/netns/$ns/resolv.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"/etc/netns/$ns/hosts"
	cat >"/etc/netns/$ns/nsswitch.conf" <<-'EOF'
		passwd: files
		group: files
		shadow: files
		hosts: files dns
		networks: files
		protocols: files
		services: files
		ethers: files
		rpc: files
	EOF
}

no_tentative() {
	! ip -n "$1" -6 addr show tentative | grep -q inet6
}

# net_setup: veth pair, addresses, routes, per-namespace /etc files.
net_setup() {
	local ns i
	for ns in "$NS_SRV" "$NS_CLI"; do
		# No duplicate address detection (per namespace: /proc/sys/net is the caller's netns).
		ip netns exec "$ns" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad &&
			echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad' || die "accept_dad in $ns"
		ip -n "$ns" link set lo up
		mxa_etc "$ns"
	done
	ip -n "$NS_SRV" link add vsrv type veth peer name vcli netns "$NS_CLI" ||
		die "cannot create the veth pair"
	ip -n "$NS_SRV" addr add "$FAKE4/24" dev vsrv
	ip -n "$NS_SRV" addr add "$REAL4/24" dev vsrv
	ip -n "$NS_SRV" addr add "$DNS4/24" dev vsrv
	ip -n "$NS_SRV" -6 addr add "$FAKE6/64" dev vsrv nodad
	ip -n "$NS_SRV" -6 addr add "$REAL6/64" dev vsrv nodad
	for i in 1 2 3 4 5 6 7 8 9; do
		ip -n "$NS_CLI" addr add "198.51.100.$i/24" dev vcli
		ip -n "$NS_CLI" -6 addr add "2001:db8:1::$i/64" dev vcli nodad
	done
	ip -n "$NS_SRV" link set vsrv up
	ip -n "$NS_CLI" link set vcli up
	ip -n "$NS_SRV" route add 198.51.100.0/24 dev vsrv
	ip -n "$NS_SRV" -6 route add 2001:db8:1::/64 dev vsrv
	ip -n "$NS_CLI" route add 192.0.2.0/24 dev vcli
	ip -n "$NS_CLI" -6 route add 2001:db8::/64 dev vcli
	if ! wait_for 5 no_tentative "$NS_SRV" || ! wait_for 5 no_tentative "$NS_CLI"; then
		die "IPv6 addresses still tentative"
	fi
}

dns_answers() {
	in_cli getent ahostsv4 mx2.example.test 2>/dev/null | grep -q "^$REAL4 "
}

# dns_setup: dnsmasq on 192.0.2.53 in the server namespace.
dns_setup() {
	ip netns exec "$NS_SRV" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
		--no-poll --listen-address="$DNS4" --bind-interfaces --pid-file= --user=root \
		--log-facility="$MXA_TMP/dnsmasq.log" --log-queries \
		--local=/test/ --local=/org/ --local=/in-addr.arpa/ --local=/ip6.arpa/ \
		--mx-host=example.test,mx1.example.test,10 \
		--mx-host=example.test,mx2.example.test,20 \
		--host-record=mx1.example.test,"$FAKE4","$FAKE6" \
		--host-record=mx2.example.test,"$REAL4","$REAL6" \
		--host-record=sender.example.org,198.51.100.1,2001:db8:1::1 \
		--host-record=sender.example.org,198.51.100.2,2001:db8:1::2 \
		--ptr-record=4.100.51.198.in-addr.arpa,liar.example.org \
		--ptr-record=4.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa,liar.example.org \
		--address=/liar.example.org/198.51.100.5 \
		--address=/liar.example.org/2001:db8:1::5 \
		>"$MXA_TMP/dnsmasq.out" 2>&1 &
	DNSMASQ_PID=$!
	wait_for 10 dns_answers || die "dnsmasq does not answer ($(tail -n3 "$MXA_TMP/dnsmasq.out"))"
}

listening() {
	in_srv ss -Hltn "sport = :25" | grep -qF "$1"
}

# sink_setup: smtp-sink as the real MX on 192.0.2.20:25 and [2001:db8::20]:25.
SINK_DIR=
sink_setup() {
	SINK_DIR="$MXA_TMP/sink"
	mkdir -p "$SINK_DIR"
	chmod 1777 "$SINK_DIR"
	ip netns exec "$NS_SRV" smtp-sink -u nobody -h mx2.example.test -d "$SINK_DIR/%Y%m%d%H%M%S." \
		"$REAL4:25" 50 >"$MXA_TMP/sink4.out" 2>&1 &
	ip netns exec "$NS_SRV" smtp-sink -6 -u nobody -h mx2.example.test -d "$SINK_DIR/%Y%m%d%H%M%S." \
		"[$REAL6]:25" 50 >"$MXA_TMP/sink6.out" 2>&1 &
	if ! wait_for 10 listening "$REAL4:25" || ! wait_for 10 listening "[$REAL6]:25"; then
		die "smtp-sink is not listening ($(cat "$MXA_TMP"/sink*.out))"
	fi
}

# sink_has TEXT: a message containing TEXT reached the smtp-sink.
sink_has() {
	grep -rqF -- "$1" "$SINK_DIR" 2>/dev/null
}

# rules_setup [QNUM]: the NFQUEUE rules, inside the server namespace only.
rules_setup() {
	local q=${1:-$QUEUE_NUM} err="$MXA_TMP/iptables.err"
	in_srv iptables -A INPUT -p tcp --syn --dport 25 -m state --state NEW -j NFQUEUE \
		--queue-num "$q" 2>"$err" || skip "iptables NFQUEUE rule failed: $(head -n1 "$err")"
	in_srv ip6tables -A INPUT -p tcp --syn --dport 25 -m state --state NEW -j NFQUEUE \
		--queue-num "$q" 2>"$err" || skip "ip6tables NFQUEUE rule failed: $(head -n1 "$err")"
}

rules_flush() {
	in_srv iptables -F INPUT
	in_srv ip6tables -F INPUT
}

# ---------------------------------------------------------------- Postfix

# postfix_setup NAME PROTOCOLS [BIND4 [BIND6]]: a private Postfix instance in the client
# namespace. PROTOCOLS: ipv4 or ipv6 (the inet_protocols value). Sets PF_DIR_<NAME>.
postfix_setup() {
	local name=$1 proto=$2 bind4=${3:-198.51.100.1} bind6=${4:-2001:db8:1::1}
	local d="$MXA_TMP/postfix-$name" bind
	# Queue and data outside the config directory: postfix check wants that one root-owned.
	mkdir -p "$d/etc" "$d/queue" "$d/data"
	chmod 755 "$d" "$d/etc"
	chown postfix "$d/data"
	case $proto in
	ipv4) bind="smtp_bind_address = $bind4" ;;
	ipv6) bind="smtp_bind_address6 = $bind6" ;;
	*) die "postfix_setup: protocols $proto" ;;
	esac
	cat >"$d/etc/main.cf" <<-EOF
		compatibility_level = 3.6
		queue_directory = $d/queue
		data_directory = $d/data
		maillog_file = $d/maillog
		maillog_file_prefixes = $MXA_TMP
		myhostname = client-$name.example.org
		mydomain = example.org
		myorigin = \$mydomain
		inet_interfaces = loopback-only
		inet_protocols = $proto
		mydestination =
		local_transport = error:local delivery disabled
		alias_maps =
		alias_database =
		$bind
		smtp_connect_timeout = 5s
		smtp_helo_timeout = 10s
		smtp_data_done_timeout = 10s
		smtp_tls_security_level = none
		smtp_connection_cache_on_demand = no
		smtp_address_preference = any
		notify_classes =
		biff = no
		smtputf8_enable = no
		queue_run_delay = 300s
		minimal_backoff_time = 300s
		maximal_backoff_time = 600s
		delay_warning_time = 0h
	EOF
	cat >"$d/etc/master.cf" <<-'EOF'
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
	printf -v "PF_DIR_$name" '%s' "$d"
	in_cli postfix -c "$d/etc" start >"$d/start.out" 2>&1 ||
		die "postfix ($name) did not start: $(tail -n3 "$d/start.out")"
	wait_for 10 log_has 'daemon started' "$d/maillog" ||
		die "postfix ($name) did not log 'daemon started'"
}

# send_mail NAME [RCPT]: submits a message through Postfix instance NAME and waits for the
# final status of its first delivery attempt. This delivery's log lines (the connection
# attempts included) go to the file $MAIL_LINES and are printed indented. Sets MAIL_TOKEN
# (unique text in the subject and body) and MAIL_QID. Returns 0 when the status was sent.
MAIL_LINES=
send_mail() {
	local name=$1 rcpt=${2:-user@example.test} var="PF_DIR_$1" d maillog start qid smtp_pid
	d=${!var}
	maillog="$d/maillog"
	MAIL_LINES="$MXA_TMP/mail.lines"
	: >"$MAIL_LINES"
	MAIL_TOKEN="mxa-$$-$name-$RANDOM$RANDOM"
	MAIL_QID=
	start=$(($(wc -l <"$maillog") + 1))
	say "  sendmail -C $d/etc -f sender@example.org $rcpt   (Subject: $MAIL_TOKEN)"
	printf 'From: <sender@example.org>\nTo: <%s>\nSubject: %s\nMessage-ID: <%s@example.org>\n\nTest body %s\n' \
		"$rcpt" "$MAIL_TOKEN" "$MAIL_TOKEN" "$MAIL_TOKEN" |
		in_cli sendmail -C "$d/etc" -f sender@example.org -- "$rcpt" ||
		{
			say "  sendmail failed"
			return 1
		}
	if ! wait_for 15 log_has "message-id=<$MAIL_TOKEN@" "$maillog"; then
		say "  Postfix did not pick the message up"
		return 1
	fi
	qid=$(sed -n "s/.*: \([0-9A-Za-z]*\): message-id=<$MAIL_TOKEN@.*/\1/p" "$maillog" | head -n1)
	MAIL_QID=$qid
	if ! wait_for 30 log_has "$qid: to=<.*status=(sent|deferred|bounced)" "$maillog"; then
		say "  no delivery status for $qid within 30 s"
		tail -n +"$start" "$maillog" | sed 's/^/  | /'
		return 1
	fi
	smtp_pid=$(grep -E "$qid: to=<.*status=" "$maillog" | head -n1 |
		sed -n 's/.*postfix[^[]*\/smtp\[\([0-9]*\)\].*/\1/p')
	# The queue id's lines and those of the smtp process that delivered it (its "connect to
	# ... refused" lines carry no queue id), from the submission to the first status.
	tail -n +"$start" "$maillog" |
		awk -v q="$qid: " -v p="/smtp[${smtp_pid:-none}]: " \
			'index($0, q) || index($0, p) { print } index($0, q) && /status=/ { exit }' \
			>"$MAIL_LINES"
	sed 's/^/  | /' "$MAIL_LINES"
	log_has "$qid: to=<.*status=sent" "$MAIL_LINES"
}

# mail_order PATTERN1 PATTERN2: both are in $MAIL_LINES, the first one earlier.
mail_order() {
	local a b
	a=$(grep -nE -- "$1" "$MAIL_LINES" | head -n1 | cut -d: -f1)
	b=$(grep -nE -- "$2" "$MAIL_LINES" | head -n1 | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]
}

# ---------------------------------------------------------------- probes

# smtp_probe SRC DST [TIMEOUT]: a direct SMTP connection from client address SRC to DST:25.
# Prints one word: greeting (a 220 came), refused, timeout or error. Returns 0 for greeting.
smtp_probe() {
	local src=$1 dst=$2 t=${3:-3} addr out err res
	case $dst in
	*:*) addr="TCP6:[$dst]:25,bind=[$src],connect-timeout=$t" ;;
	*) addr="TCP4:$dst:25,bind=$src,connect-timeout=$t" ;;
	esac
	err="$MXA_TMP/probe.err"
	out=$(printf 'QUIT\r\n' | timeout $((t + 5)) ip netns exec "$NS_CLI" \
		socat -T "$t" -t 2 STDIO "$addr" 2>"$err")
	if printf '%s\n' "$out" | grep -q '^220[ -]'; then
		res=greeting
	elif grep -q 'refused' "$err"; then
		res=refused
	elif grep -qiE 'timed out|timeout' "$err" || [ -z "$out" ]; then
		res=timeout
	else
		res=error
	fi
	echo "$res"
	[ "$res" = greeting ]
}

# expect_probe RESULT SRC DST [TIMEOUT]: check that smtp_probe gives RESULT.
expect_probe() {
	local want=$1 got
	shift
	got=$(smtp_probe "$@")
	if [ "$got" = "$want" ]; then
		pass "$1 -> $2:25: $got"
	else
		fail "$1 -> $2:25: expected $want, got $got"
		return 1
	fi
}

# ---------------------------------------------------------------- daemon

daemon_ready() {
	log_has ': started ' "$DAEMON_LOG" || ! proc_alive "$DAEMON_PID"
}

# start_daemon ARGS...: runs mxallowd in the foreground in the server namespace, logging to
# $DAEMON_LOG; waits for its `started` line. Adds --pidfile, an empty -c, --state-file none and
# --control-socket none unless given.
start_daemon() {
	local a extra=() have_c=0 have_pid=0 have_state=0 have_ctl=0
	for a in "$@"; do
		case $a in
		-c | --config | --config=*) have_c=1 ;;
		--pidfile | --pidfile=*) have_pid=1 ;;
		--state-file | --state-file=*) have_state=1 ;;
		--control-socket | --control-socket=*) have_ctl=1 ;;
		esac
	done
	[ $have_c = 1 ] || extra+=(-c "$MXA_TMP/empty.conf")
	[ $have_pid = 1 ] || extra+=(--pidfile "$DAEMON_PIDFILE")
	# Never the default /var/lib/mxallowd: a test that wants a state file names it here
	# (on the command line: it wins over a config file's state-file).
	[ $have_state = 1 ] || extra+=(--state-file none)
	# Never the default /run/mxallowd/control either: t-control.sh names its own.
	[ $have_ctl = 1 ] || extra+=(--control-socket none)
	DAEMON_ARGS="-F -s ${extra[*]} $*"
	: >>"$DAEMON_LOG"
	say "  starting: ip netns exec $NS_SRV $MXALLOWD $DAEMON_ARGS"
	ip netns exec "$NS_SRV" "$MXALLOWD" -F -s "${extra[@]}" "$@" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	wait_for 10 daemon_ready
	if ! proc_alive "$DAEMON_PID" || ! log_has ': started ' "$DAEMON_LOG"; then
		sed 's/^/  | /' "$DAEMON_LOG"
		die "mxallowd did not start"
	fi
	pass "mxallowd started (pid $DAEMON_PID): $(grep ': started ' "$DAEMON_LOG" | tail -n1)"
}

# stop_daemon: SIGTERM, bounded wait; sets WAIT_STATUS.
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null
	wait_pid "$DAEMON_PID" 10
	local r=$?
	DAEMON_PID=
	return $r
}

# restart_log: a fresh daemon log file (the previous one is kept with a suffix).
restart_log() {
	[ -s "$DAEMON_LOG" ] && mv "$DAEMON_LOG" "$DAEMON_LOG.$SECONDS.$RANDOM"
	: >"$DAEMON_LOG"
}

# daemon_signal SIG: sends SIG to the daemon.
daemon_signal() {
	kill -"$1" "$DAEMON_PID"
}

# mail_host_setup: what every NFQUEUE test starts from: namespaces and addresses, dnsmasq,
# smtp-sink as the real MX and the NFQUEUE rules (skips when root or netns are missing).
mail_host_setup() {
	mxa_init
	need_daemon
	net_setup
	dns_setup
	sink_setup
	rules_setup "$QUEUE_NUM"
}

# ---------------------------------------------------------------- teardown

show_logs() {
	local f
	for f in "$DAEMON_LOG" "$MXA_TMP"/postfix-*/maillog "$MXA_TMP/dnsmasq.out"; do
		[ -s "$f" ] || continue
		printf -- '--- %s (last 40 lines)\n' "${f#"$MXA_TMP"/}"
		tail -n 40 "$f"
	done
}

mxa_cleanup() {
	local rc=$?
	# Only the test's own shell cleans up, never a subshell that inherited the trap.
	[ "$BASHPID" = "$MXA_MAIN_PID" ] || return 0
	[ "$MXA_CLEANED" = 1 ] && return
	MXA_CLEANED=1
	trap - INT TERM HUP
	if [ -n "$MXA_TMP" ] && { [ "$MXA_FAILED" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${MXA_VERBOSE:-0}" = 1 ]; } &&
		[ "$rc" -ne 77 ]; then
		show_logs
	fi
	# shellcheck disable=SC2086
	netns_remove $NS_SRV $NS_CLI
	if [ -n "$MXA_TMP" ] && [ -d "$MXA_TMP" ]; then
		if [ "${MXA_KEEP:-0}" = 1 ]; then
			say "kept $MXA_TMP"
		else
			rm -rf "$MXA_TMP"
		fi
	fi
}
