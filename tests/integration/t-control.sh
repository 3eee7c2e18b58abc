#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The control socket and mxallowctl, against a running daemon in the namespaces:
#  (a) the socket: mode 0600, root's; mxallowctl finds it through -c FILE (control-socket);
#      stats, list (table and --json) and show (exit 0 / 1);
#  (b) NFQUEUE mode: `add` lets a direct client in at the real MX (IPv4 and IPv6, --ttl),
#      `del` drops it again, also a fake-MX entry; prefixes other than the whitelist's are
#      refused with the reason, and change nothing;
#  (b2) an address of a static allow network: `show` names the allow rule (FILE:LINE); `del`
#      answers "no" (exit 1) saying that the allow list still lets it in, with or without an
#      entry to delete, and the client still gets in;
#  (c) reload reports its result: ok (with restart-only keys kept), or the error with
#      FILE:LINE (exit 2) and the previous configuration stays;
#  (d) malformed requests get one error line each and the connection goes on; an oversized
#      line gets an error and the connection is closed; a request without its newline at EOF;
#      pipelined requests are answered in order;
#  (e) with 20000 entries, a client that sends `list` and never reads: verdicts and other
#      control clients go on, the daemon's memory does not grow with the list, the client is
#      dropped after its write timeout; an idle client after the idle timeout; a reading
#      client gets the whole list;
#  (e2) clients that pipeline add/show requests as fast as the daemon takes them, and two that
#      write without ever reading: probes to the fake and real MX still get their answers,
#      another client is answered, and the writers are served meanwhile;
#  (f) at most 16 clients: the 17th gets "error busy", a freed slot serves again;
#  (g) a uid that is not allowed: refused by the socket's mode, and by the peer check when
#      the mode lets it connect; control-group: mode 0660, a member gets in, others do not;
#  (g2) the socket is born with its mode: a link swapped in while the daemon sets the owner
#      (strace holds it there) does not pass a mode on to the file behind it;
#  (h) a second daemon on the same socket is refused at start; a stale socket (SIGKILL) is
#      replaced; a file that is not a socket, a world-writable directory are refused; a
#      missing directory is made and removed; SIGTERM removes the socket; with the default
#      path a problem is a warning (here: a user who may not create it);
#  (i) table mode (NFLOG + ipset): `add` puts the client into the kernel set (`ipset list`)
#      and the kernel lets it in, `del` takes it out and the kernel drops it again.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/table-lib.sh
. "$(dirname "$0")/table-lib.sh"

: "${MXALLOWCTL:=$(dirname "$MXALLOWD")/mxallowctl}"
RAW="$MXA_LIB_DIR/control-client.py"

mail_host_setup
need_cmds python3 setpriv stat
[ -x "$MXALLOWCTL" ] || die "mxallowctl not found at $MXALLOWCTL (build it or set MXALLOWCTL)"

RUN="$MXA_TMP/run"
mkdir -p "$RUN"
chmod 755 "$RUN"
SOCK="$RUN/control"
CONF="$MXA_TMP/mxallowd.conf"
write_conf() {
	cat >"$CONF.new"
	chmod 644 "$CONF.new"
	mv "$CONF.new" "$CONF"
}
base_conf() {
	cat <<-EOF
		fake-mailserver $FAKE4
		fake-mailserver $FAKE6
		real-mailserver $REAL4
		real-mailserver $REAL6
		queue-num $QUEUE_NUM
		whitelist-time 3600
		no-rdns-whitelist
		renew-time 0
		control-socket $SOCK
		allow 198.51.100.8/31
	EOF
}
base_conf | write_conf
ALLOW_AT="$(re "$CONF"):$(base_conf | grep -n '^allow ' | cut -d: -f1)"

# ctl ARGS...: mxallowctl in the server namespace; sets OUT, ERR, RC.
ctl() {
	OUT=$(in_srv "$MXALLOWCTL" "$@" 2>"$MXA_TMP/ctl.err")
	RC=$?
	ERR=$(cat "$MXA_TMP/ctl.err")
	printf '  $ mxallowctl %s   (exit %d)\n' "$*" "$RC"
	[ -z "$OUT" ] || printf '%s\n' "$OUT" | head -n 12 | sed 's/^/  | /'
	[ -z "$ERR" ] || printf '%s\n' "$ERR" | sed 's/^/  ! /'
}

# expect_ctl STATUS REGEX ARGS...: mxallowctl -s SOCK ARGS exits STATUS, its stdout or stderr
# matching the extended REGEX.
expect_ctl() {
	local want=$1 pat=$2
	shift 2
	ctl -s "$SOCK" "$@"
	if [ "$RC" = "$want" ] && printf '%s\n%s\n' "$OUT" "$ERR" | grep -Eq -- "$pat"; then
		pass "mxallowctl $*: exit $RC, /$pat/"
	else
		fail "mxallowctl $*: exit $RC (want $want), output not matching /$pat/"
	fi
}

raw() { python3 "$RAW" "$SOCK" "$@"; }

# list_count: the entry count of `mxallowctl list`.
list_count() {
	in_srv "$MXALLOWCTL" -s "$SOCK" list 2>/dev/null | tail -n1 | awk '{ print $1 }'
}

stat_value() {
	in_srv "$MXALLOWCTL" -s "$SOCK" stats 2>/dev/null | awk -v k="$1" '$1 == k { print $2 }'
}

rss_kb() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$DAEMON_PID/status"; }

section "(a) the socket, stats, list, show"
start_daemon -c "$CONF" --control-socket "$SOCK"
check "the socket exists: mode 600, owner root ($(stat -c '%a %U' "$SOCK" 2>&1))" \
	test "$(stat -c '%a %U %F' "$SOCK" 2>/dev/null)" = "600 root socket"
ctl -c "$CONF" stats
check "mxallowctl -c FILE finds the socket (control-socket): stats, exit 0" test "$RC" = 0
check "stats: the counters by name (dropped 0, entries 0)" \
	eval 'printf "%s\n" "$OUT" | grep -Eq "^dropped +0$" && printf "%s\n" "$OUT" | grep -Eq "^entries +0$"'
expect_ctl 0 '^0 entries$' list
expect_ctl 0 '^\{"entries":\[$' list --json
check "list --json of nothing: valid JSON, count 0" \
	eval 'printf "%s\n" "$OUT" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(d != {\"entries\": [], \"count\": 0})"'
expect_ctl 1 '^198\.51\.100\.3 is not let in: no live whitelist entry for 198\.51\.100\.3' \
	show 198.51.100.3
expect_ctl 2 'is not an address' show mx.example.test
expect_ctl 2 'unknown command' frobnicate

section "(b) add lets a client in at the real MX, del drops it again (NFQUEUE)"
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "mxallowd: drop src=198.51.100.3 (not whitelisted)" \
	log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted'
expect_ctl 0 '^added 198\.51\.100\.3 reason=manual expires-in=3600$' add 198.51.100.3
check "mxallowd: whitelist add addr=198.51.100.3 reason=manual expires-in=3600" \
	log_wait 'whitelist add addr=198\.51\.100\.3 reason=manual expires-in=3600$'
check "mxallowd: control uid=0 add 198.51.100.3 ...: added" \
	log_wait 'control uid=0 add 198\.51\.100\.3 expires-in=3600: added'
expect_probe greeting 198.51.100.3 "$REAL4"
expect_ctl 0 '^198\.51\.100\.3 is let in by whitelist entry 198\.51\.100\.3 \(manual\)' \
	show 198.51.100.3
check "show: the entry, used just now (last use 0s ago or 1s ago)" \
	eval 'printf "%s\n" "$OUT" | grep -Eq "entry 198\.51\.100\.3: reason manual, origin -, expires in (59m5[0-9]s|1h00m00s), last use [01]s ago"'
expect_ctl 0 '^added 2001:db8:1::3 reason=manual expires-in=120$' add 2001:db8:1::3 --ttl 120
expect_probe greeting 2001:db8:1::3 "$REAL6"
expect_probe refused 198.51.100.7 "$FAKE4"
check "fake-MX hit: whitelist add addr=198.51.100.7" log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx'
expect_ctl 0 '^3 entries$' list
check "list: a row per entry (address, reason, origin, expires in, last use)" \
	eval 'printf "%s\n" "$OUT" | grep -Eq "^198\.51\.100\.3 +manual +- +(59m5[0-9]s|1h00m00s) +[0-9]+s ago$" &&
		printf "%s\n" "$OUT" | grep -Eq "^2001:db8:1::3 +manual +- +1m5[0-9]s|^2001:db8:1::3 +manual +- +2m00s" &&
		printf "%s\n" "$OUT" | grep -Eq "^198\.51\.100\.7 +fake-mx +192\.0\.2\.10 +(59m5[0-9]s|1h00m00s) +never$"'
ctl -s "$SOCK" list --json
check "list --json: valid JSON with the three entries and their fields" \
	eval 'printf "%s\n" "$OUT" | python3 -c "
import json, sys
d = json.load(sys.stdin)
e = {x[\"address\"]: x for x in d[\"entries\"]}
assert d[\"count\"] == 3 and len(e) == 3, d
assert e[\"198.51.100.3\"][\"reason\"] == \"manual\" and e[\"198.51.100.3\"][\"origin\"] is None
assert e[\"198.51.100.3\"][\"last_use\"] is not None and e[\"198.51.100.3\"][\"prefix\"] == 32
assert 100 < e[\"2001:db8:1::3\"][\"expires_in\"] <= 120 and e[\"2001:db8:1::3\"][\"prefix\"] == 128
assert e[\"198.51.100.7\"][\"reason\"] == \"fake-mx\" and e[\"198.51.100.7\"][\"origin\"] == \"192.0.2.10\"
assert e[\"198.51.100.7\"][\"last_use\"] is None
"'
expect_ctl 0 '^deleted 198\.51\.100\.3 \(was manual\)$' del 198.51.100.3
check "mxallowd: whitelist del addr=198.51.100.3 reason=deleted" \
	log_wait 'whitelist del addr=198\.51\.100\.3 reason=deleted'
expect_probe timeout 198.51.100.3 "$REAL4" 2
expect_ctl 1 '^198\.51\.100\.3 has no whitelist entry$' del 198.51.100.3
expect_ctl 0 '^deleted 198\.51\.100\.7 \(was fake-mx\)$' del 198.51.100.7
expect_probe timeout 198.51.100.7 "$REAL4" 2
expect_ctl 0 '^deleted 2001:db8:1::3 \(was manual\)$' del 2001:db8:1::3/128
expect_probe timeout 2001:db8:1::3 "$REAL6" 2
expect_ctl 2 '198\.51\.100\.0/24: the whitelist holds one /32 network per entry \(ipv4-prefix 32\)' \
	add 198.51.100.0/24
expect_ctl 2 "TTL '0' is not a whole number of seconds from 1 to 2147483" add 198.51.100.5 --ttl 0
expect_ctl 2 'usage: mxallowctl add' add 198.51.100.5 --ttl
check "nothing was added by the refused requests" test "$(list_count)" = 0

section "(b2) an address of the allow list: show names the rule, del does not pretend"
expect_probe greeting 198.51.100.8 "$REAL4"
expect_ctl 0 "^198\.51\.100\.8 is let in by the allow list: 198\.51\.100\.8/31 \($ALLOW_AT\)$" \
	show 198.51.100.8
expect_ctl 1 "^198\.51\.100\.8 is still let in by the allow list: 198\.51\.100\.8/31 \($ALLOW_AT\); it has no whitelist entry$" \
	del 198.51.100.8
expect_ctl 0 '^added 198\.51\.100\.9 reason=manual expires-in=3600$' add 198.51.100.9
expect_ctl 1 "^198\.51\.100\.9 is still let in by the allow list: 198\.51\.100\.8/31 \($ALLOW_AT\); deleted 198\.51\.100\.9 \(was manual\)$" \
	del 198.51.100.9
check "mxallowd: control uid=0 del 198.51.100.9: deleted (was manual)" \
	log_wait 'control uid=0 del 198\.51\.100\.9: deleted \(was manual\)'
ctl -s "$SOCK" show 198.51.100.9
check "the entry is gone all the same: show names no entry" \
	eval '[ "$RC" = 0 ] && ! printf "%s\n" "$OUT" | grep -q "entry 198\.51\.100\.9:"'
expect_probe greeting 198.51.100.9 "$REAL4"
check "still no entries" test "$(list_count)" = 0

section "(c) reload reports its result"
ctl -c "$CONF" reload
check "reload: exit 0, 'reload ok' (got '$OUT')" test "$RC" = 0 -a "$OUT" = "reload ok"
{
	base_conf
	echo 'whitelist-time forever'
} | write_conf
ctl -c "$CONF" reload
check "a file that does not load: exit 2" test "$RC" = 2
check "and the error names FILE:LINE: $ERR" \
	eval 'printf "%s\n" "$ERR" | grep -q "^mxallowctl: reload failed: $CONF:$(($(base_conf | wc -l) + 1)): whitelist-time: .forever. is not a whole number.*; keeping previous configuration$"'
expect_ctl 0 'expires-in=3600$' add 198.51.100.5
{
	base_conf | sed 's/^whitelist-time 3600$/whitelist-time 1800/'
	echo 'ipv4-prefix 24'
} | write_conf
ctl -c "$CONF" reload
check "reload ok, naming the restart-only key it kept: $OUT" \
	test "$RC" = 0 -a "$OUT" = "reload ok; ipv4-prefix: take effect on restart, running values kept"
expect_ctl 0 '^added 198\.51\.100\.6 reason=manual expires-in=1800$' add 198.51.100.6
base_conf | write_conf
ctl -c "$CONF" reload
check "reload ok again" test "$RC" = 0

section "(d) malformed requests: one error line each, nothing changes"
n_before=$(list_count)
out=$(raw lines 'hello' 'show' 'add 198.51.100.0/33' 'show  198.51.100.7' 'add 198.51.100.9 0' \
	"$(printf 'del 198.51.100.5\001')" 'LIST' 'list')
printf '%s\n' "$out" | sed 's/^/  | /'
check "banner first: mxallowd-control 1" eval '[ "$(printf "%s\n" "$out" | head -n1)" = "mxallowd-control 1" ]'
check "7 bad requests, 7 error lines" test "$(printf '%s\n' "$out" | grep -c '^error ')" = 7
check "errors say what is wrong" \
	eval 'printf "%s\n" "$out" | grep -q "^error unknown command .hello." &&
		printf "%s\n" "$out" | grep -q "^error usage: show ADDR$" &&
		printf "%s\n" "$out" | grep -q "^error extra space at column 6" &&
		printf "%s\n" "$out" | grep -q "^error byte 0x01 at column 17"'
check "the connection went on: the last request (list) was answered" \
	eval 'printf "%s\n" "$out" | tail -n1 | grep -q "^ok $n_before entries$"'
check "nothing changed: $n_before entries, 198.51.100.5 still there" \
	eval '[ "$(list_count)" = "$n_before" ] && in_srv "$MXALLOWCTL" -s "$SOCK" show 198.51.100.5 >/dev/null'
out=$(raw bytes "$(head -c 5000 /dev/zero | tr '\0' a)")
check "5000 bytes without a newline: one error line, then the daemon closes: $(printf '%s' "$out" | tail -n1)" \
	eval '[ "$(printf "%s\n" "$out" | tail -n +2)" = "error request longer than 1023 bytes: closing" ]'
out=$(raw bytes "show $(head -c 1100 /dev/zero | tr '\0' 1)\n")
check "an 1105-byte line: the same error" \
	eval '[ "$(printf "%s\n" "$out" | tail -n +2)" = "error request longer than 1023 bytes: closing" ]'
out=$(raw eof 'stats')
check "a request without its newline before EOF: error, closed" \
	eval '[ "$(printf "%s\n" "$out" | tail -n +2)" = "error request without a newline at the end" ]'
out=$(raw eof 'show 198.51.100.5\nshow 198.51.100.3\nlist\n')
check "pipelined requests answered in order (ok, no, the list)" \
	eval 'printf "%s\n" "$out" | grep -E "^(ok|no|error)" | sed "s/ .*//" | tr "\n" " " | grep -qx "ok no ok "'
check "the daemon still runs" proc_alive "$DAEMON_PID"

section "(e) 20000 entries; a client that never reads, an idle one"
out=$(raw fill 20000 2001:db8:ff::)
check "20000 manual entries added over one connection ($out)" test "$out" = "ok=20000 other=0"
entries=$(stat_value entries)
check "stats: entries=$entries" test "$entries" -ge 20000
rss0=$(rss_kb)
flag="$MXA_TMP/stuck.flag"
raw stuck "$flag" 60 >"$MXA_TMP/stuck.out" 2>&1 &
stuck_pid=$!
raw idle 60 >"$MXA_TMP/idle.out" 2>&1 &
idle_pid=$!
expect_probe greeting 198.51.100.5 "$REAL4"
check "while it stalls: a stranger is still dropped" expect_probe timeout 198.51.100.3 "$REAL4" 2
expect_ctl 0 '^dropped ' stats
n=$(list_count)
check "while it stalls: another client reads the whole list ($n entries)" test "$n" = "$entries"
rss1=$(rss_kb)
check "the daemon's memory did not grow with the stalled list (VmRSS ${rss0} kB -> ${rss1} kB)" \
	test $((rss1 - rss0)) -lt 1024
check "mxallowd: control client ... not reading for 15 s: closed" \
	log_wait 'control client=[0-9]+ uid=0: not reading for 15 s: closed' 30
touch "$flag"
wait "$stuck_pid"
check "the stalled client got part of the list, no final line, then EOF: $(cat "$MXA_TMP/stuck.out")" \
	grep -Eq '^received=[0-9]+ final=0 eof=1$' "$MXA_TMP/stuck.out"
check "mxallowd: control client ... idle for 30 s: closed" \
	log_wait 'control client=[0-9]+ uid=0: idle for 30 s: closed' 30
wait "$idle_pid"
check "the idle client saw the daemon close (after about 30 s): $(cat "$MXA_TMP/idle.out")" \
	grep -Eq '^closed-after=(29|30|31)$' "$MXA_TMP/idle.out"

section "(e2) pipelining writers: verdicts and other clients go on"
flag="$MXA_TMP/flood.flag"
raw flood "$flag" 120 6 2 >"$MXA_TMP/flood.out" 2>&1 &
flood_pid=$!
check "6 clients pipeline requests and get answers, 2 more write without reading" \
	wait_for 20 test -e "$flag.ready"
adds0=$(log_count 'control uid=0 add 2001:db8:fe:')
expect_probe refused 198.51.100.2 "$FAKE4"
expect_probe greeting 198.51.100.2 "$REAL4"
check "while they write: a stranger is still dropped" expect_probe timeout 198.51.100.4 "$REAL4" 2
expect_probe greeting 198.51.100.8 "$REAL4"
expect_probe refused 2001:db8:1::2 "$FAKE6"
expect_probe greeting 2001:db8:1::2 "$REAL6"
expect_ctl 0 '^198\.51\.100\.2 is let in by whitelist entry 198\.51\.100\.2 \(fake-mx\)$' \
	show 198.51.100.2
expect_ctl 0 '^dropped ' stats
adds1=$(log_count 'control uid=0 add 2001:db8:fe:')
check "the writers were served meanwhile (their adds logged: $adds0, then $adds1)" \
	test "$adds1" -gt "$adds0"
touch "$flag"
wait_pid "$flood_pid" 10
check "every pipelining client had answers, none an error: $(cat "$MXA_TMP/flood.out")" \
	grep -Eq '^answers=[1-9][0-9]* min=[1-9][0-9]* deaf-sent=[1-9][0-9]* errors=0$' \
	"$MXA_TMP/flood.out"
check "the daemon still runs" proc_alive "$DAEMON_PID"

section "(f) at most 16 clients"
out=$(raw hold 16)
printf '%s\n' "$out" | sed 's/^/  | /'
check "16 clients served (banner)" eval 'printf "%s\n" "$out" | grep -q "^held=16 first=mxallowd-control 1$"'
check "the 17th: error busy" eval 'printf "%s\n" "$out" | grep -q "^extra: error busy: too many control clients"'
check "once one left, a new client is served" eval 'printf "%s\n" "$out" | grep -q "^again: mxallowd-control 1$"'
check "mxallowd: control: ... refused: 16 clients connected" log_has 'control: uid=0 pid=[0-9]+ refused: 16 clients connected'

section "(g) a uid that is not allowed"
NOBODY_UID=$(id -u nobody)
NOGROUP=$(id -gn nobody)
as_nobody() { in_srv setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups "$@"; }
out=$(as_nobody "$MXALLOWCTL" -s "$SOCK" stats 2>&1)
st=$?
check "nobody, mode 0600: exit 2 ($out)" test "$st" = 2
check "the message says who may" eval 'printf "%s\n" "$out" | grep -q "Permission denied (root, mxallowd.s user and control-group only)"'
chmod 0666 "$SOCK" # as if a mode were wrong: the daemon's own check still stands
out=$(as_nobody "$MXALLOWCTL" -s "$SOCK" add 198.51.100.3 2>&1)
st=$?
chmod 0600 "$SOCK"
check "nobody connecting through a mode 0666 socket: exit 2 ($out)" test "$st" = 2
check "refused by the peer check: permission denied" \
	eval 'printf "%s\n" "$out" | grep -q "^mxallowctl: permission denied: only root, mxallowd.s user and control-group may use this socket$"'
check "mxallowd: control: uid=$NOBODY_UID ... refused" \
	log_wait "control: uid=$NOBODY_UID gid=[0-9]+ pid=[0-9]+ refused: not root, mxallowd's user or in control-group"
check "and nothing was added" not in_srv "$MXALLOWCTL" -s "$SOCK" show 198.51.100.3
stop_daemon
restart_log
start_daemon -c "$CONF" --control-socket "$SOCK" --control-group "$NOGROUP"
check "control-group $NOGROUP: mode 660, group $NOGROUP ($(stat -c '%a %U %G' "$SOCK"))" \
	test "$(stat -c '%a %U %G' "$SOCK")" = "660 root $NOGROUP"
out=$(as_nobody "$MXALLOWCTL" -s "$SOCK" stats 2>&1)
check "nobody, group $NOGROUP: stats works" eval 'printf "%s\n" "$out" | grep -Eq "^dropped +[0-9]+$"'
out=$(in_srv setpriv --reuid=daemon --regid=daemon --clear-groups "$MXALLOWCTL" -s "$SOCK" stats 2>&1)
st=$?
check "daemon:daemon, not in the group: exit 2 ($out)" test "$st" = 2

section "(g2) the socket is born with its mode: a link swapped in gets none"
if command -v strace >/dev/null 2>&1; then
	victim="$MXA_TMP/victim"
	sock2="$RUN/race"
	rlog="$MXA_TMP/race.log"
	echo "not the daemon's" >"$victim"
	chmod 600 "$victim"
	# strace holds the daemon for 3 s as it sets its new socket's owner (fchownat); meanwhile
	# the socket is swapped for a link to another file, as someone who may write the directory
	# could do.
	ip netns exec "$NS_SRV" strace -f -o /dev/null -e trace=fchownat \
		-e inject=fchownat:delay_enter=3000000 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" \
		--state-file none --pidfile "$MXA_TMP/race.pid" -b -f "$FAKE4" -r "$REAL4" \
		--queue-num 26 --control-socket "$sock2" --control-group "$NOGROUP" >"$rlog" 2>&1 &
	race_pid=$!
	check "the daemon made its socket" wait_for 10 test -S "$sock2"
	ln -s "$victim" "$sock2.link" && mv -T "$sock2.link" "$sock2"
	check "the link is in place before the daemon went on" not log_has ': started ' "$rlog"
	# shellcheck disable=SC2317 # called through wait_for
	race_over() { log_has ': started ' "$rlog" || ! proc_alive "$race_pid"; }
	wait_for 15 race_over
	sed 's/^/  | /' "$rlog"
	check "the file behind the link kept mode 600 and group root: $(stat -c '%a %U %G' "$victim")" \
		test "$(stat -c '%a %U %G' "$victim")" = "600 root root"
	[ -s "$MXA_TMP/race.pid" ] && kill -TERM "$(cat "$MXA_TMP/race.pid")"
	wait_pid "$race_pid" 10
	rm -f "$sock2"
else
	say "  (no strace: the swap is not tried)"
fi

section "(h) one daemon per socket; stale sockets; the socket's directory"
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none -b \
	-f "$FAKE4" -r "$REAL4" --queue-num 24 --control-socket "$SOCK" 2>&1)
st=$?
check "a second daemon on the same socket: exit 1 (got $st)" test "$st" = 1
check "it says why: $out" eval 'printf "%s\n" "$out" | grep -q "control-socket $SOCK: another mxallowd answers on it"'
expect_ctl 0 '^dropped ' stats
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
check "after SIGKILL the socket file stays" test -S "$SOCK"
expect_ctl 2 "cannot connect to $SOCK: Connection refused" stats
restart_log
start_daemon -c "$CONF" --control-socket "$SOCK"
check "a new daemon replaced the stale socket" log_has "control-socket $SOCK: removed a stale socket"
expect_ctl 0 '^dropped ' stats
stop_daemon
check "SIGTERM removed the socket" not test -e "$SOCK"
: >"$SOCK"
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$CONF" --state-file none 2>&1)
check "a file that is not a socket is refused: $out" \
	eval 'printf "%s\n" "$out" | grep -q "control-socket $SOCK: exists and is not a socket: remove it or choose another control-socket"'
rm -f "$SOCK"
mkdir -m 1777 "$MXA_TMP/ww"
out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$CONF" --state-file none --control-socket "$MXA_TMP/ww/c" 2>&1)
check "a world-writable directory is refused: $out" \
	eval 'printf "%s\n" "$out" | grep -q "directory $MXA_TMP/ww is writable by everyone"'
restart_log
start_daemon -c "$CONF" --control-socket "$RUN/new/control"
check "a missing directory is made (mode 755): $(stat -c %a "$RUN/new" 2>&1)" \
	test "$(stat -c %a "$RUN/new" 2>/dev/null)" = 755
ctl -s "$RUN/new/control" stats
check "and the socket in it answers" test "$RC" = 0
stop_daemon
check "at exit the socket and the directory it made are gone" not test -e "$RUN/new"
printf 'control-socket none\n' >"$MXA_TMP/none.conf"
ctl -c "$MXA_TMP/none.conf" stats
check "mxallowctl with control-socket none: exit 2, says so ($ERR)" \
	eval '[ "$RC" = 2 ] && printf "%s\n" "$ERR" | grep -q "control-socket is none"'
# The default path, for a daemon started as a user who may not make it (systemd without
# RuntimeDirectory=), or while another daemon holds it: a warning, and the daemon runs without
# a control socket. As nobody, this daemon cannot change anything under /run.
dlog="$MXA_TMP/default.log"
ip netns exec "$NS_SRV" setpriv --reuid=nobody --regid="$NOGROUP" --clear-groups \
	--inh-caps=+net_admin --ambient-caps=+net_admin "$MXALLOWD" -F -s \
	-c "$MXA_TMP/empty.conf" --state-file none -b -f "$FAKE4" -r "$REAL4" --queue-num 25 \
	>"$dlog" 2>&1 &
dpid=$!
check "the default path, as nobody: the daemon starts" wait_for 10 log_has ': started ' "$dlog"
check "with a warning: $(grep -m1 'control socket' "$dlog")" \
	log_has 'warning: control-socket /run/mxallowd/control: .*: running without a control socket' "$dlog"
kill -TERM "$dpid"
wait_pid "$dpid" 10

section "(i) table mode: add and del write the kernel set"
rules_flush
table_rules_setup
restart_log
start_daemon --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" \
	-b --control-socket "$SOCK"
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "198.51.100.3 is not in mx-white" not_in_set mx-white 198.51.100.3
expect_ctl 0 '^added 198\.51\.100\.3 reason=manual expires-in=300$' add 198.51.100.3 --ttl 300
check "ipset list mx-white: 198.51.100.3 with a timeout of at most 300 s" \
	wait_for 5 eval 't=$(set_timeout mx-white 198.51.100.3); [ -n "$t" ] && [ "$t" -le 300 ] && [ "$t" -gt 250 ]'
in_srv ipset list mx-white | grep -F 198.51.100.3 | sed 's/^/  | /'
expect_probe greeting 198.51.100.3 "$REAL4"
check "the daemon saw the kernel pass it: accept src=198.51.100.3" \
	log_wait 'accept src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=whitelisted'
expect_ctl 0 '^added 2001:db8:1::3 reason=manual expires-in=3600$' add 2001:db8:1::3
check "ipset list mx-white6: 2001:db8:1::3" wait_for 5 in_set mx-white6 2001:db8:1::3
expect_probe greeting 2001:db8:1::3 "$REAL6"
expect_ctl 0 '^deleted 198\.51\.100\.3 \(was manual\)$' del 198.51.100.3
check "198.51.100.3 left mx-white" wait_for 5 not_in_set mx-white 198.51.100.3
expect_probe timeout 198.51.100.3 "$REAL4" 2
expect_ctl 0 '^deleted 2001:db8:1::3 \(was manual\)$' del 2001:db8:1::3
check "2001:db8:1::3 left mx-white6" wait_for 5 not_in_set mx-white6 2001:db8:1::3
expect_ctl 0 'table-errors +0$' stats
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0

finish
