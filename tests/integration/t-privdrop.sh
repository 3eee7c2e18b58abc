#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Least privilege on Linux (src/daemon/sandbox-linux.c), with a system user mxallowd-test
# (created for the test when missing, removed afterwards only then):
#  (a) started as root with --user: /proc/PID/status shows the user's uid and gid, CapEff and
#      CapPrm exactly CAP_NET_ADMIN (0000000000001000), CapInh, CapAmb and CapBnd empty,
#      NoNewPrivs 1, no supplementary groups; Postfix still delivers through the fake MX then
#      the real one (accept verdicts sent as the user), a direct-to-second-MX client is
#      dropped; SIGHUP re-reads the config file as the user (`reload ok`, the new value in
#      effect); SIGTERM exits 0 and removes the pidfile from the user's directory. With a state
#      file and the control socket in that directory: the socket is the user's, mode 0600; the
#      state file is written by the user, mode 0600, while running and at exit, and the next
#      start (as root, then the switch) loads it.
#  (b) refused at start, with the fix in the message: a config file the user cannot read
#      (reloads would fail), a pidfile in a directory where the user cannot remove it.
#  (c) started as the user with ambient CAP_NET_ADMIN (systemd User= + AmbientCapabilities=),
#      `user` naming that user: no root needed, CapEff/CapPrm CAP_NET_ADMIN alone, CapAmb
#      cleared, NoNewPrivs 1, verdicts still work.
#  (d) table mode (NFLOG + ipset) as the user: a fake-MX hit gets the entry re-armed with the
#      daemon's whitelist time and the rDNS siblings written into the sets by the daemon, with
#      no table errors, also after a SIGHUP.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/table-lib.sh
. "$(dirname "$0")/table-lib.sh"

PRIV_USER=mxallowd-test
PRIV_CREATED=0

# shellcheck disable=SC2317 # the EXIT trap
privdrop_cleanup() {
	# $? is still the script's exit status here, for mxa_cleanup.
	mxa_cleanup
	[ "$BASHPID" = "$MXA_MAIN_PID" ] || return 0
	if [ "$PRIV_CREATED" = 1 ]; then
		userdel "$PRIV_USER" 2>/dev/null || say "  could not remove user $PRIV_USER"
	fi
}

mail_host_setup
trap privdrop_cleanup EXIT
need_cmds useradd userdel setpriv ipset
if ! id -u "$PRIV_USER" >/dev/null 2>&1; then
	useradd --system --no-create-home --shell /usr/sbin/nologin "$PRIV_USER" ||
		id -u "$PRIV_USER" >/dev/null 2>&1 || die "cannot create user $PRIV_USER"
	PRIV_CREATED=1
fi
PRIV_UID=$(id -u "$PRIV_USER")
PRIV_GID=$(id -g "$PRIV_USER")

# The config file in a folder the user can read, the pidfile in one the user owns.
CONF_DIR="$MXA_TMP/etc"
RUN_DIR="$MXA_TMP/run"
mkdir -p "$CONF_DIR" "$RUN_DIR"
chmod 755 "$CONF_DIR"
chown "$PRIV_USER:" "$RUN_DIR"
CONF="$CONF_DIR/mxallowd.conf"
write_conf() {
	cat >"$CONF.new"
	chmod 644 "$CONF.new"
	mv "$CONF.new" "$CONF"
}
write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	queue-num $QUEUE_NUM
	whitelist-time 3600
EOF

# timeout_at_most SET ADDR N: the entry's remaining timeout is at most N seconds.
# shellcheck disable=SC2317 # called through wait_for
timeout_at_most() {
	local t
	t=$(set_timeout "$1" "$2")
	[ -n "$t" ] && [ "$t" -le "$3" ]
}

# status_field PID NAME: the value of NAME: in /proc/PID/status, whitespace squeezed.
status_field() {
	awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' "/proc/$1/status"
}

# expect_status NAME VALUE: the daemon's /proc status line NAME has exactly VALUE.
expect_status() {
	local got
	got=$(status_field "$DAEMON_PID" "$1")
	if [ "$got" = "$2" ]; then
		pass "/proc/$DAEMON_PID/status $1: $got"
	else
		fail "/proc/$DAEMON_PID/status $1: expected '$2', got '$got'"
	fi
}

# expect_refused WHY PATTERN ARGS...: mxallowd exits with status 1 at start and says PATTERN.
expect_refused() {
	local why=$1 pat=$2 out st
	shift 2
	out=$(in_srv timeout 10 "$MXALLOWD" -F -s --state-file none --control-socket none "$@" 2>&1)
	st=$?
	check "$why: exit status 1 (got $st)" test "$st" -eq 1
	check "$why: says: $(printf '%s\n' "$out" | grep -E 'config file|allow-file|pidfile|user' | tail -n1)" \
		log_has "$pat" <(printf '%s\n' "$out")
	check "$why: it never reached 'started'" not log_has ': started ' <(printf '%s\n' "$out")
}

# launch CMD...: runs CMD (mxallowd, maybe behind setpriv) in the server namespace, logging to
# $DAEMON_LOG; 0 once it logged `started`, 1 when it exited or had not within 10 s.
launch() {
	: >>"$DAEMON_LOG"
	say "  starting: ip netns exec $NS_SRV $*"
	ip netns exec "$NS_SRV" "$@" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	wait_for 10 daemon_ready
	proc_alive "$DAEMON_PID" && log_has ': started '
}

section "(a) started as root with --user $PRIV_USER (uid $PRIV_UID, gid $PRIV_GID)"
postfix_setup v4 ipv4
STATE="$RUN_DIR/whitelist.state"
SOCK="$RUN_DIR/control"
PRIV_FILES=(--state-file "$STATE" --save-interval 1 --control-socket "$SOCK")
start_daemon -c "$CONF" --pidfile "$RUN_DIR/mxallowd.pid" --user "$PRIV_USER" "${PRIV_FILES[@]}"
check "the control socket is the user's, mode 0600 ($(stat -c '%a %U %F' "$SOCK" 2>&1))" \
	test "$(stat -c '%a %U %F' "$SOCK" 2>/dev/null)" = "600 $PRIV_USER socket"
expect_status Uid "$PRIV_UID $PRIV_UID $PRIV_UID $PRIV_UID"
expect_status Gid "$PRIV_GID $PRIV_GID $PRIV_GID $PRIV_GID"
expect_status Groups ""
expect_status CapEff 0000000000001000
expect_status CapPrm 0000000000001000
expect_status CapInh 0000000000000000
expect_status CapAmb 0000000000000000
expect_status CapBnd 0000000000000000
expect_status NoNewPrivs 1
check "Postfix delivered the mail: status=sent on the first attempt" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "smtp-sink received the message ($MAIL_TOKEN)" wait_for 5 sink_has "$MAIL_TOKEN"
check "mxallowd: whitelist add addr=198.51.100.1 reason=fake-mx" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 expires-in=3600'
check "mxallowd: accept src=198.51.100.1 dst=192.0.2.20 reason=whitelisted" \
	log_wait 'accept src=198\.51\.100\.1 dst=192\.0\.2\.20 reason=whitelisted'
# state_file_ok: the state file is there, the user's, mode 0600, one link.
state_file_ok() { test "$(stat -c '%a %U %h' "$STATE" 2>/dev/null)" = "600 $PRIV_USER 1"; }
check "a save while running wrote the state file as the user, mode 0600" wait_for 10 state_file_ok
expect_probe timeout 198.51.100.3 "$REAL4"
check "mxallowd: drop src=198.51.100.3 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted'

write_conf <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	queue-num $QUEUE_NUM
	whitelist-time 1800
EOF
daemon_signal HUP
check "SIGHUP as the user: reload ok" log_wait 'reload ok' 10
check "and no reload failed" not log_has 'reload failed'
expect_probe refused 198.51.100.6 "$FAKE4"
check "the re-read whitelist-time is in effect (expires-in=1800)" \
	log_wait 'whitelist add addr=198\.51\.100\.6 reason=fake-mx dst=192\.0\.2\.10 expires-in=1800'
expect_probe greeting 198.51.100.6 "$REAL4"
check "still the user after the reload" test "$(status_field "$DAEMON_PID" CapEff)" = 0000000000001000
stop_daemon
check "SIGTERM: exit status 0 (got $WAIT_STATUS)" test "$WAIT_STATUS" -eq 0
check "the user removed its pidfile at exit" test ! -e "$RUN_DIR/mxallowd.pid"
check "the state file after the exit: the user's, mode 0600 ($(stat -c '%a %U' "$STATE" 2>&1))" \
	state_file_ok
check "no PATH.tmp left" test ! -e "$STATE.tmp"
restart_log
start_daemon -c "$CONF" --pidfile "$RUN_DIR/mxallowd.pid" --user "$PRIV_USER" "${PRIV_FILES[@]}"
check "the next start loads the user's file, no error: $(grep -o 'loaded [0-9]* entries' "$DAEMON_LOG")" \
	eval "log_has 'state: loaded [1-9][0-9]* entries from $(re "$STATE")' && ! log_has 'error: state'"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 198.51.100.6 "$REAL4"
stop_daemon
check "SIGTERM: exit status 0 (got $WAIT_STATUS)" test "$WAIT_STATUS" -eq 0

section "(b) refused at start when the user could not do its later work"
SECRET_DIR="$MXA_TMP/secret"
mkdir -p "$SECRET_DIR"
chmod 700 "$SECRET_DIR"
cp "$CONF" "$SECRET_DIR/mxallowd.conf"
expect_refused "config file in a folder only root can enter" \
	"config file $(re "$SECRET_DIR/mxallowd.conf") is not readable by user $PRIV_USER: reloads would fail" \
	-c "$SECRET_DIR/mxallowd.conf" --pidfile "$RUN_DIR/refused.pid" --user "$PRIV_USER"
cp "$CONF" "$CONF_DIR/root-only.conf"
chmod 600 "$CONF_DIR/root-only.conf"
expect_refused "config file mode 600 owned by root" \
	"config file $(re "$CONF_DIR/root-only.conf") is not readable by user $PRIV_USER: reloads would fail" \
	-c "$CONF_DIR/root-only.conf" --pidfile "$RUN_DIR/refused.pid" --user "$PRIV_USER"
printf '198.51.100.0/24\n' >"$CONF_DIR/root-only.allow"
chmod 600 "$CONF_DIR/root-only.allow"
expect_refused "allow-file mode 600 owned by root" \
	"allow-file $(re "$CONF_DIR/root-only.allow") is not readable by user $PRIV_USER: reloads would fail" \
	-c "$CONF" --allow-file "$CONF_DIR/root-only.allow" --pidfile "$RUN_DIR/refused.pid" \
	--user "$PRIV_USER"
expect_refused "pidfile in a root-owned folder" \
	"pidfile $(re "$MXA_TMP/root.pid") could not be removed at exit by user $PRIV_USER" \
	-c "$CONF" --pidfile "$MXA_TMP/root.pid" --user "$PRIV_USER"
expect_refused "an unknown user" "user mxallowd-no-such-user does not exist" \
	-c "$CONF" --pidfile "$RUN_DIR/refused.pid" --user mxallowd-no-such-user

section "(c) started as $PRIV_USER with ambient CAP_NET_ADMIN (systemd User= + AmbientCapabilities=)"
restart_log
if launch setpriv --reuid="$PRIV_UID" --regid="$PRIV_GID" --clear-groups --inh-caps=+net_admin \
	--ambient-caps=+net_admin --bounding-set=-all,+net_admin \
	"$MXALLOWD" -F -s -c "$CONF" --state-file none --control-socket none --pidfile "$RUN_DIR/ambient.pid" \
	--user "$PRIV_USER"; then
	pass "mxallowd started without root: $(grep ': started ' "$DAEMON_LOG" | tail -n1)"
	expect_status Uid "$PRIV_UID $PRIV_UID $PRIV_UID $PRIV_UID"
	expect_status CapEff 0000000000001000
	expect_status CapPrm 0000000000001000
	expect_status CapInh 0000000000000000
	expect_status CapAmb 0000000000000000
	expect_status CapBnd 0000000000001000
	expect_status NoNewPrivs 1
	expect_probe refused 198.51.100.7 "$FAKE4"
	check "whitelisted by its fake-MX hit" \
		log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx dst=192\.0\.2\.10'
	expect_probe greeting 198.51.100.7 "$REAL4"
	expect_probe timeout 198.51.100.3 "$REAL4" 2
	daemon_signal HUP
	check "SIGHUP: reload ok" log_wait 'reload ok' 10
	stop_daemon
	check "SIGTERM: exit status 0 (got $WAIT_STATUS)" test "$WAIT_STATUS" -eq 0
	check "pidfile removed" test ! -e "$RUN_DIR/ambient.pid"
else
	sed 's/^/  | /' "$DAEMON_LOG"
	fail "mxallowd did not start as $PRIV_USER with ambient CAP_NET_ADMIN"
	DAEMON_PID=
fi
out=$(in_srv timeout 10 setpriv --reuid="$PRIV_UID" --regid="$PRIV_GID" --clear-groups \
	--inh-caps=+net_admin --ambient-caps=+net_admin \
	"$MXALLOWD" -F -s -c "$CONF" --state-file none --control-socket none --pidfile "$RUN_DIR/root.pid" --user root 2>&1)
check "as the user, --user root is refused: $(printf '%s\n' "$out" | tail -n1)" \
	log_has 'user root is root: name an unprivileged user' <(printf '%s\n' "$out")

section "(d) table mode (NFLOG + ipset) as $PRIV_USER"
rules_flush
table_rules_setup
restart_log
: >"$CONF_DIR/table.conf"
chmod 644 "$CONF_DIR/table.conf"
if launch "$MXALLOWD" -F -s --state-file none --control-socket none --backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -f "$FAKE6" \
	-r "$REAL4" -r "$REAL6" -t 77 -c "$CONF_DIR/table.conf" --pidfile "$RUN_DIR/table.pid" \
	--user "$PRIV_USER"; then
	pass "mxallowd started: $(grep ': started ' "$DAEMON_LOG" | tail -n1)"
	expect_status Uid "$PRIV_UID $PRIV_UID $PRIV_UID $PRIV_UID"
	expect_status CapEff 0000000000001000
	expect_status NoNewPrivs 1
	expect_probe refused 198.51.100.1 "$FAKE4"
	check "fake-MX hit logged" \
		log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 expires-in=77' 5
	check "198.51.100.1 is in mx-white" wait_for 5 in_set mx-white 198.51.100.1
	check "the daemon re-armed it with its whitelist time 77 (the kernel rule's is 3600)" \
		wait_for 5 timeout_at_most mx-white 198.51.100.1 77
	check "rDNS sibling 198.51.100.2 written into mx-white by the daemon" \
		wait_for 10 in_set mx-white 198.51.100.2
	check "rDNS sibling 2001:db8:1::2 written into mx-white6 by the daemon" \
		wait_for 10 in_set mx-white6 2001:db8:1::2
	expect_probe greeting 198.51.100.2 "$REAL4"
	daemon_signal HUP # re-reads the config and, once wired, resyncs the sets: as the user
	check "SIGHUP: reload ok" log_wait 'reload ok' 10
	daemon_signal USR1
	check "stats line: no table errors" log_wait 'table-errors=0( |$)' 5
	stop_daemon
	check "SIGTERM: exit status 0 (got $WAIT_STATUS)" test "$WAIT_STATUS" -eq 0
elif log_has 'built without libpcap|table: not supported in this build'; then
	say "  SKIP: this mxallowd has no table mode with ipset ($(tail -n1 "$DAEMON_LOG"))"
else
	sed 's/^/  | /' "$DAEMON_LOG"
	fail "mxallowd did not start in table mode as $PRIV_USER"
	DAEMON_PID=
fi

finish
