# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Three mail hosts sharing one whitelist through Redis (sourced after lib.sh by t-redis.sh).
#
#            NS_R: bridge br0, dnsmasq 192.0.2.53, redis-server 192.0.2.60:6379 (requirepass)
#        ______________|_____________________________________________
#       |                    |                    |                  |
#   A ($NS_SRV)          B ($NS_B)            C ($NS_C)          client ($NS_CLI)
#   192.0.2.10 fake MX   192.0.2.20 real MX   192.0.2.30 real MX   198.51.100.1..9
#   (nothing listens)    smtp-sink            smtp-sink            Postfix, socat probes
#                                             192.0.2.31: a fake MX of C's own (fault tests)
#   each: NFQUEUE rules and its own mxallowd (queue 23 in its namespace)
#
# DNS: example.test MX 10 mx1 (A), MX 20 mx2 (B), MX 30 mx3 (C).
# The lib.sh names stay what they mean there: NS_SRV is host A, NS_CLI the client.

REDIS_ADDR=192.0.2.60
REDIS_PASS="mxa-test-$$-pw"
MX3_4=192.0.2.30
C_FAKE4=192.0.2.31
NS_B=
NS_C=
NS_R=
REDIS_PID=
REDIS_DIR=
declare -A HOST_PID=()
declare -A HOST_LOG=()
declare -A HOST_NS=()

redis_cleanup() {
	local rc=$?
	[ "$BASHPID" = "$MXA_MAIN_PID" ] || return 0
	if [ "$MXA_CLEANED" != 1 ] && [ -n "$MXA_TMP" ] &&
		{ [ "$MXA_FAILED" -gt 0 ] || [ "$rc" -ne 0 ] || [ "${MXA_VERBOSE:-0}" = 1 ]; } &&
		[ "$rc" -ne 77 ]; then
		local f
		for f in "$MXA_TMP"/mxallowd-*.log "$MXA_TMP"/redis/redis.log; do
			[ -s "$f" ] || continue
			printf -- '--- %s (last 30 lines)\n' "${f#"$MXA_TMP"/}"
			tail -n 30 "$f"
		done
	fi
	# shellcheck disable=SC2086
	[ "$MXA_CLEANED" = 1 ] || netns_remove $NS_B $NS_C $NS_R
	(exit "$rc")
	mxa_cleanup
}

# redis_net_setup: the five namespaces, one bridge, addresses and /etc files.
redis_net_setup() {
	local ns i
	mxa_init
	need_daemon
	need_cmds redis-server redis-cli
	trap redis_cleanup EXIT
	NS_B="mxa-b-$$"
	NS_C="mxa-c-$$"
	NS_R="mxa-r-$$"
	for ns in "$NS_B" "$NS_C" "$NS_R"; do
		ip netns add "$ns" || die "ip netns add $ns"
	done
	for ns in "$NS_SRV" "$NS_B" "$NS_C" "$NS_R" "$NS_CLI"; do
		ip netns exec "$ns" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad' 2>/dev/null
		ip -n "$ns" link set lo up
		mxa_etc "$ns"
	done
	ip -n "$NS_R" link add br0 type bridge || die "cannot create the bridge"
	ip -n "$NS_R" link set br0 up
	for i in a:"$NS_SRV" b:"$NS_B" c:"$NS_C" cli:"$NS_CLI"; do
		ip -n "$NS_R" link add "p-${i%%:*}" type veth peer name eth0 netns "${i#*:}" ||
			die "veth for ${i#*:}"
		ip -n "$NS_R" link set "p-${i%%:*}" master br0 up
	done
	ip -n "$NS_R" addr add "$DNS4/24" dev br0
	ip -n "$NS_R" addr add "$REDIS_ADDR/24" dev br0
	ip -n "$NS_SRV" addr add "$FAKE4/24" dev eth0
	ip -n "$NS_B" addr add "$REAL4/24" dev eth0
	ip -n "$NS_C" addr add "$MX3_4/24" dev eth0
	ip -n "$NS_C" addr add "$C_FAKE4/24" dev eth0
	for i in 1 2 3 4 5 6 7 8 9; do
		ip -n "$NS_CLI" addr add "198.51.100.$i/24" dev eth0
	done
	for ns in "$NS_SRV" "$NS_B" "$NS_C" "$NS_CLI"; do
		ip -n "$ns" link set eth0 up
	done
	for ns in "$NS_SRV" "$NS_B" "$NS_C" "$NS_R"; do
		ip -n "$ns" route add 198.51.100.0/24 dev "$([ "$ns" = "$NS_R" ] && echo br0 || echo eth0)"
	done
	ip -n "$NS_CLI" route add 192.0.2.0/24 dev eth0
	HOST_NS[A]=$NS_SRV
	HOST_NS[B]=$NS_B
	HOST_NS[C]=$NS_C
}

redis_dns_answers() {
	ip netns exec "$NS_CLI" getent ahostsv4 mx3.example.test 2>/dev/null | grep -q "^$MX3_4 "
}

redis_dns_setup() {
	ip netns exec "$NS_R" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
		--no-hosts --no-poll --listen-address="$DNS4" --bind-interfaces --pid-file= --user=root \
		--log-facility="$MXA_TMP/dnsmasq.log" --local=/test/ --local=/org/ \
		--local=/in-addr.arpa/ \
		--mx-host=example.test,mx1.example.test,10 \
		--mx-host=example.test,mx2.example.test,20 \
		--mx-host=example.test,mx3.example.test,30 \
		--host-record=mx1.example.test,"$FAKE4" \
		--host-record=mx2.example.test,"$REAL4" \
		--host-record=mx3.example.test,"$MX3_4" \
		--host-record=redis.example.test,"$REDIS_ADDR" \
		>"$MXA_TMP/dnsmasq.out" 2>&1 &
	wait_for 10 redis_dns_answers || die "dnsmasq does not answer ($(tail -n3 "$MXA_TMP/dnsmasq.out"))"
}

redis_listening() {
	ip netns exec "$1" ss -Hltn "sport = :25" | grep -qF "$2:25"
}

# redis_sinks_setup: smtp-sink as the real MX on B and on C.
redis_sinks_setup() {
	SINK_DIR="$MXA_TMP/sink"
	mkdir -p "$SINK_DIR"
	chmod 1777 "$SINK_DIR"
	ip netns exec "$NS_B" smtp-sink -u nobody -h mx2.example.test -d "$SINK_DIR/%Y%m%d%H%M%S." \
		"$REAL4:25" 50 >"$MXA_TMP/sink-b.out" 2>&1 &
	ip netns exec "$NS_C" smtp-sink -u nobody -h mx3.example.test -d "$SINK_DIR/%Y%m%d%H%M%S." \
		"$MX3_4:25" 50 >"$MXA_TMP/sink-c.out" 2>&1 &
	if ! wait_for 10 redis_listening "$NS_B" "$REAL4" ||
		! wait_for 10 redis_listening "$NS_C" "$MX3_4"; then
		die "smtp-sink is not listening"
	fi
}

redis_rules_setup() {
	local ns err="$MXA_TMP/iptables.err"
	for ns in "$NS_SRV" "$NS_B" "$NS_C"; do
		ip netns exec "$ns" iptables -A INPUT -p tcp --syn --dport 25 -m state --state NEW \
			-j NFQUEUE --queue-num "$QUEUE_NUM" 2>"$err" ||
			skip "iptables NFQUEUE rule failed: $(head -n1 "$err")"
	done
}

redis_cli() {
	ip netns exec "$NS_R" redis-cli -h "$REDIS_ADDR" -a "$REDIS_PASS" --no-auth-warning "$@"
}

redis_answers() { [ "$(redis_cli ping 2>/dev/null)" = PONG ]; }

# redis_start: redis-server in NS_R, by hand: its own directory, bind, password, no
# persistence (a restart comes back empty, as after a crash without a dump).
redis_start() {
	REDIS_DIR="$MXA_TMP/redis"
	mkdir -p "$REDIS_DIR"
	cat >"$REDIS_DIR/redis.conf" <<-EOF
		daemonize no
		bind $REDIS_ADDR
		port 6379
		dir $REDIS_DIR
		requirepass $REDIS_PASS
		save ""
		appendonly no
		logfile $REDIS_DIR/redis.log
	EOF
	ip netns exec "$NS_R" redis-server "$REDIS_DIR/redis.conf" >/dev/null 2>&1 &
	REDIS_PID=$!
	wait_for 10 redis_answers || die "redis-server does not answer ($(tail -n3 "$REDIS_DIR/redis.log"))"
}

redis_stop() {
	[ -n "$REDIS_PID" ] || return 0
	kill -TERM "$REDIS_PID" 2>/dev/null
	wait_pid "$REDIS_PID" 10
	REDIS_PID=
}

# host_start NAME ARGS...: mxallowd in host NAME's namespace (A, B or C), logging to
# $MXA_TMP/mxallowd-NAME.log (appended), with node-name NAME; waits for `started`.
host_start() {
	local name=$1 ns log
	shift
	ns=${HOST_NS[$name]}
	log="$MXA_TMP/mxallowd-$name.log"
	HOST_LOG[$name]=$log
	: >>"$log"
	say "  starting $name: mxallowd -F -s --node-name $name $*"
	ip netns exec "$ns" "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none \
		--log-rate 0 --control-socket "$MXA_TMP/control-$name" --node-name "$name" "$@" \
		>>"$log" 2>&1 &
	HOST_PID[$name]=$!
	if ! wait_for 10 host_started "$name"; then
		tail -n 20 "$log" | sed 's/^/  | /'
		die "mxallowd on $name did not start"
	fi
}

host_started() {
	[ "$(grep -c ': started ' "${HOST_LOG[$1]}")" -gt "${HOST_STARTS[$1]:-0}" ] &&
		HOST_STARTS[$1]=$(grep -c ': started ' "${HOST_LOG[$1]}")
}
declare -A HOST_STARTS=()

host_stop() {
	local pid=${HOST_PID[$1]}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait_pid "$pid" 10
	HOST_PID[$1]=
}

host_alive() { proc_alive "${HOST_PID[$1]}"; }

# host_has NAME PATTERN: NAME's log has a line matching PATTERN.
host_has() { log_has "$2" "${HOST_LOG[$1]}"; }
host_wait() { log_wait "$2" "${3:-10}" "${HOST_LOG[$1]}"; }

# host_stats NAME: asks for the stats line (SIGUSR1) and prints it.
host_stats() {
	local n
	n=$(grep -c ': stats ' "${HOST_LOG[$1]}")
	kill -USR1 "${HOST_PID[$1]}"
	wait_for 5 count_above ': stats ' "$n" "${HOST_LOG[$1]}"
	grep ': stats ' "${HOST_LOG[$1]}" | tail -n1
}

# stat_of NAME COUNTER: the counter's value in NAME's next stats line.
stat_of() {
	host_stats "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

now_ms() { date +%s%3N; }
