#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The whitelist survives restarts (state-file, save-interval):
#  (a) Postfix is whitelisted through the fake MX (with its rDNS siblings); after SIGTERM and a
#      restart the same clients reach the real MX directly, without a new fake-MX visit, and a
#      stranger is still dropped; the restart logs no fake-MX hit and loads every entry;
#  (b) SIGKILL: an entry older than the last save survives; one added after it (save-interval
#      raised by a reload, so no save can follow) is lost, and nothing else; no torn file;
#  (c) a damaged file (truncated, garbage) never stops the start: one line naming the file and
#      the problem, the file kept as PATH.corrupt, the daemon up with what validated (the
#      whole block before the cut), which is saved at once (save-interval 86400) and survives
#      a SIGKILL right after; a state file in a missing directory is an error;
#  (d) a hung file system (tests/integration/hangfs.py, a FUSE directory whose fsync stops
#      answering): the save's process is killed at its deadline (60 s), counted and logged once;
#      the daemon's verdicts go on; SIGTERM ends the daemon at once; the stuck process holds
#      none of the daemon's sockets, so a new daemon binds the same queue;
#  (e) SIGKILL of the daemon in the middle of a save: the previous file stays whole and loads,
#      the PATH.tmp left over is not loaded and does not stop the next save;
#  (f) PATH.tmp planted as a hard link, a symbolic link or a FIFO is never written through nor
#      waited on; the file is mode 0600 with one link; a directory others may write is
#      refused, and a file planted by another user in a sticky directory is not loaded;
#  (g) an entry renewed on use (renew-time, 36 days) keeps its deadline across a restart; with
#      renew-time off it is shortened to the longest lifetime, and the load line says so;
#  (h) table mode: entries loaded at start go into the kernel's ipset (emptied meanwhile, as
#      after a reboot) and the kernel lets those clients in.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/integration/table-lib.sh
. "$(dirname "$0")/table-lib.sh"

mail_host_setup

STATE_DIR="$MXA_TMP/state"
mkdir -p "$STATE_DIR"
SERVERS=(-f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6")
: "${MXALLOWCTL:=$(dirname "$MXALLOWD")/mxallowctl}"
HANGFS_PID=
HUNG=

# shellcheck disable=SC2317 # the EXIT trap
state_cleanup() {
	# $? is still the script's exit status here, for mxa_cleanup.
	local rc=$?
	if [ -n "$HANGFS_PID" ] && [ "$BASHPID" = "$MXA_MAIN_PID" ]; then
		# Its exit ends every request still waiting: stuck writers die, the mount can go.
		kill -TERM "$HANGFS_PID" 2>/dev/null
		wait "$HANGFS_PID" 2>/dev/null
		umount -l "$HUNG" 2>/dev/null
	fi
	(exit "$rc")
	mxa_cleanup
}
trap state_cleanup EXIT

# stat_value NAME: asks for a stats line (SIGUSR1) and prints the counter NAME from it.
stat_value() {
	local n
	n=$(log_count ': stats ')
	daemon_signal USR1
	wait_for 5 count_above ': stats ' "$n" || return 1
	grep ': stats ' "$DAEMON_LOG" | tail -n1 | sed -n "s/.* $1=\([0-9]*\).*/\1/p"
}

# stat_is NAME N: the counter NAME is N now.
stat_is() { [ "$(stat_value "$1")" = "$2" ]; }

# stat_at_least NAME N: the counter NAME is at least N now.
stat_at_least() {
	local v
	v=$(stat_value "$1")
	[ -n "$v" ] && [ "$v" -ge "$2" ]
}

section "(a) SIGTERM and restart keep the whitelist"
STATE="$STATE_DIR/whitelist.state"
start_daemon "${SERVERS[@]}" --state-file "$STATE"
check "no file yet: logged, starting empty" log_has "state: no file $(re "$STATE") yet"
postfix_setup v4 ipv4 198.51.100.1
check "Postfix delivered through the fake then the real MX" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "198.51.100.1 whitelisted by its fake-MX hit" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 '
for sib in 198.51.100.2 2001:db8:1::1 2001:db8:1::2; do
	check "rDNS sibling $sib whitelisted" \
		log_wait "whitelist add addr=$(re "$sib") reason=rdns-sibling origin=198\.51\.100\.1 " 10
done
stop_daemon
check "SIGTERM: exit status 0" test "$WAIT_STATUS" -eq 0
check "exit: state: saved 4 entries to $STATE" log_has "state: saved 4 entries to $(re "$STATE")$"
check "the state file exists, mode 0600" test "$(stat -c %a "$STATE" 2>/dev/null)" = 600
check "no temporary file left" not test -e "$STATE.tmp"

restart_log
start_daemon "${SERVERS[@]}" --state-file "$STATE"
check "start: state: loaded 4 entries from $STATE" \
	log_has "state: loaded 4 entries from $(re "$STATE") \(saved [0-9]+ s ago; dropped: 0 expired"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 198.51.100.2 "$REAL4"
expect_probe greeting 2001:db8:1::2 "$REAL6"
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "no fake-MX hit since the restart (stats fake-hits=0)" test "$(stat_value fake-hits)" = 0
check "stats: entries-loaded=4" test "$(stat_value entries-loaded)" = 4
check "stats: accepted=3" test "$(stat_value accepted)" = 3
check "the restart logged no whitelist add line" not log_has 'whitelist add '
stop_daemon

section "(b) SIGKILL loses at most save-interval seconds of new entries, none older"
STATE="$STATE_DIR/kill.state"
conf="$MXA_TMP/state.conf"
write_conf() {
	printf '%s\n' "fake-mailserver $FAKE4" "real-mailserver $REAL4" no-rdns-whitelist \
		"save-interval $1" >"$conf.new"
	mv "$conf.new" "$conf"
}
write_conf 1
restart_log
start_daemon -c "$conf" --state-file "$STATE"
expect_probe refused 198.51.100.7 "$FAKE4"
check "198.51.100.7 whitelisted" log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx ' 5
check "a save followed within save-interval (stats state-saves >= 1)" \
	wait_for 10 stat_at_least state-saves 1
check "no save failed (state-save-errors=0)" test "$(stat_value state-save-errors)" = 0
check "the file holds the whitelist (state-age=0)" wait_for 5 stat_is state-age 0
write_conf 86400
n=$(log_count 'reload ok')
daemon_signal HUP
check "reload: save-interval 86400" wait_for 10 count_above 'reload ok' "$n"
expect_probe refused 198.51.100.8 "$FAKE4"
check "198.51.100.8 whitelisted after the last save" \
	log_wait 'whitelist add addr=198\.51\.100\.8 reason=fake-mx ' 5
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
check "no torn file: the state file is there, no .corrupt" \
	eval "test -s '$STATE' && ! test -e '$STATE.corrupt'"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
check "start after SIGKILL: loaded 1 entries, no error" \
	eval "log_has 'state: loaded 1 entries from' && ! log_has 'error: state'"
expect_probe greeting 198.51.100.7 "$REAL4"
expect_probe timeout 198.51.100.8 "$REAL4" 2
stop_daemon

section "(c) a damaged state file is set aside, never fatal; what loaded is saved at once"
STATE="$STATE_DIR/kill.state"
size=$(stat -c %s "$STATE")
truncate -s $((size - 10)) "$STATE"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
# The cut is in the end block: the block holding 198.51.100.7 is whole and its checksum holds.
check "one error line naming the file, the truncation, what loaded and where the file went" \
	test "$(log_count "error: state: $(re "$STATE"): truncated at byte $((size - 10)) .*; 1 entries loaded, 0 unreadable; the file is renamed to $(re "$STATE")\.corrupt$")" = 1
check "the damaged file is kept as $STATE.corrupt" test -s "$STATE.corrupt"
check "what loaded is saved at once, save-interval 86400 notwithstanding (state-saves=1)" \
	wait_for 5 stat_is state-saves 1
check "a new $STATE, not the damaged file" \
	eval "test -s '$STATE' && ! cmp -s '$STATE' '$STATE.corrupt'"
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
restart_log
start_daemon -c "$conf" --state-file "$STATE"
check "SIGKILL right after: the entry that loaded is loaded again, no error" \
	eval "log_has 'state: loaded 1 entries from' && ! log_has 'error: state'"
check "the evidence is untouched" test "$(stat -c %s "$STATE.corrupt")" = $((size - 10))
expect_probe greeting 198.51.100.7 "$REAL4"
stop_daemon
printf 'fake-mailserver 192.0.2.10\n' >"$STATE"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
check "a foreign file: 'not an mxallowd state file', renamed" \
	log_has "error: state: $(re "$STATE"): not an mxallowd state file .*renamed to "
check "the evidence is the foreign file" grep -q '^fake-mailserver' "$STATE.corrupt"
stop_daemon
restart_log
if ip netns exec "$NS_SRV" "$MXALLOWD" -F -s -c "$conf" --state-file "$STATE_DIR/no/such/dir/x.state" \
	--control-socket none --pidfile "$MXA_TMP/nodir.pid" >"$DAEMON_LOG" 2>&1; then
	fail "a state-file in a missing directory (not the default) was accepted"
else
	check "a state-file in a missing directory is an error naming it" \
		log_has "state-file $(re "$STATE_DIR")/no/such/dir/x\.state: directory .*: No such file"
fi

section "(d) a hung file system: the save is killed at its deadline, the exit and the queue are free"
HUNG="$MXA_TMP/hung"
HANGFS_STATUS="$MXA_TMP/hangfs.status"
mkdir -p "$HUNG"
: >"$HANGFS_STATUS"
python3 "$MXA_LIB_DIR/hangfs.py" "$HUNG" "$HANGFS_STATUS" >"$MXA_TMP/hangfs.out" 2>&1 &
HANGFS_PID=$!
wait_for 10 log_has '^ready$' "$HANGFS_STATUS" ||
	die "the FUSE file system did not mount: $(cat "$MXA_TMP/hangfs.out")"

# held_pid: the process whose fsync hangfs holds last.
held_pid() { sed -n 's/^held fsync pid=//p' "$HANGFS_STATUS" | tail -n1; }
# sockets_of PID: how many sockets the process holds.
sockets_of() { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null | wc -l; }
# try_start ARGS...: start_daemon without dying: 0 once `started` is logged.
try_start() {
	: >>"$DAEMON_LOG"
	ip netns exec "$NS_SRV" "$MXALLOWD" -F -s --pidfile "$DAEMON_PIDFILE" "$@" >>"$DAEMON_LOG" 2>&1 &
	DAEMON_PID=$!
	wait_for 10 daemon_ready
	proc_alive "$DAEMON_PID" && log_has ': started '
}

STATE="$HUNG/whitelist.state"
write_conf 1
restart_log
start_daemon -c "$conf" --state-file "$STATE"
expect_probe refused 198.51.100.7 "$FAKE4"
check "a first save reaches the file (state-saves >= 1)" wait_for 10 stat_at_least state-saves 1
kill -USR1 "$HANGFS_PID" # from now on no fsync is answered
n=$(log_count '^held' "$HANGFS_STATUS")
expect_probe refused 198.51.100.8 "$FAKE4"
check "the next save's process is left waiting in fsync" \
	wait_for 10 count_above '^held' "$n" "$HANGFS_STATUS"
child=$(held_pid)
check "it holds no socket of the daemon's (queue, control): $(sockets_of "$child") sockets" \
	test "$(sockets_of "$child")" = 0
check "within its deadline (60 s) one line says the save did not finish and was killed" \
	log_wait "error: state: cannot save $(re "$STATE"): the writing process did not finish within 60 s" 75
check "state-save-errors=1" test "$(stat_value state-save-errors)" = 1
check "logged once" test "$(log_count 'did not finish within')" = 1
expect_probe greeting 198.51.100.7 "$REAL4"
t0=$SECONDS
stop_daemon
check "SIGTERM: the daemon ended within 10 s (it took $((SECONDS - t0)) s), status 0" \
	test "$WAIT_STATUS" -eq 0
check "the stuck process ($child) outlived it: a hung file system" proc_alive "$child"
restart_log
if try_start -c "$conf" --state-file none --control-socket none; then
	pass "a new daemon bound queue $QUEUE_NUM meanwhile"
	expect_probe refused 198.51.100.9 "$FAKE4"
	expect_probe greeting 198.51.100.9 "$REAL4"
else
	fail "a new daemon could not bind queue $QUEUE_NUM: $(grep -m1 -E 'queue|error' "$DAEMON_LOG")"
fi
stop_daemon
kill -USR2 "$HANGFS_PID" # answers the held fsyncs: the stuck process ends
check "once the file system answers, the stuck process is gone" wait_for 10 not proc_alive "$child"

section "(e) SIGKILL in the middle of a save: the previous file stays, PATH.tmp is not loaded"
STATE="$HUNG/kill.state"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
expect_probe refused 198.51.100.7 "$FAKE4"
check "a first save (state-saves >= 1)" wait_for 10 stat_at_least state-saves 1
before=$(cksum <"$STATE")
kill -USR1 "$HANGFS_PID"
n=$(log_count '^held' "$HANGFS_STATUS")
expect_probe refused 198.51.100.8 "$FAKE4"
check "the next save is in the middle: written, its fsync held" \
	wait_for 10 count_above '^held' "$n" "$HANGFS_STATUS"
child=$(held_pid)
check "$STATE.tmp is there meanwhile" test -s "$STATE.tmp"
kill -KILL "$DAEMON_PID" "$child"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
kill -USR2 "$HANGFS_PID"
check "the killed writer is gone" wait_for 10 not proc_alive "$child"
check "the state file is the previous save, byte for byte" test "$(cksum <"$STATE")" = "$before"
check "$STATE.tmp is left over" test -e "$STATE.tmp"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
check "start: loaded 1 entries (the last whole save), no error" \
	eval "log_has 'state: loaded 1 entries from' && ! log_has 'error: state'"
expect_probe greeting 198.51.100.7 "$REAL4"
expect_probe timeout 198.51.100.8 "$REAL4" 2
expect_probe refused 198.51.100.9 "$FAKE4"
check "the next save works (state-saves >= 1)" wait_for 10 stat_at_least state-saves 1
check "no save failed (state-save-errors=0)" test "$(stat_value state-save-errors)" = 0
check "the leftover $STATE.tmp is gone" not test -e "$STATE.tmp"
stop_daemon

section "(f) what is planted at PATH.tmp is never written through; directories are checked"
STATE="$STATE_DIR/planted.state"
(
	umask 022
	echo precious >"$STATE_DIR/victim"
)
ln "$STATE_DIR/victim" "$STATE.tmp"
restart_log
start_daemon -c "$conf" --state-file "$STATE"
expect_probe refused 198.51.100.7 "$FAKE4"
check "a save over a hard link at PATH.tmp (state-saves >= 1)" wait_for 10 stat_at_least state-saves 1
check "the linked file is untouched" test "$(cat "$STATE_DIR/victim")" = precious
check "the state file: mode 0600, one link ($(stat -c '%a links=%h' "$STATE"))" \
	test "$(stat -c '%a %h' "$STATE")" = "600 1"
ln -s "$STATE_DIR/victim" "$STATE.tmp"
n=$(stat_value state-saves)
expect_probe refused 198.51.100.8 "$FAKE4"
check "a save over a symbolic link at PATH.tmp" wait_for 10 stat_at_least state-saves $((n + 1))
check "the file it named is untouched" test "$(cat "$STATE_DIR/victim")" = precious
mkfifo "$STATE.tmp"
expect_probe refused 198.51.100.9 "$FAKE4"
check "a save over a FIFO at PATH.tmp, not waited on" wait_for 10 stat_at_least state-saves $((n + 2))
check "no save failed (state-save-errors=0)" test "$(stat_value state-save-errors)" = 0
stop_daemon
check "no PATH.tmp left" not test -e "$STATE.tmp"
mkdir "$STATE_DIR/ww"
chmod 0777 "$STATE_DIR/ww"
restart_log
if try_start -c "$conf" --state-file "$STATE_DIR/ww/x.state" --control-socket none; then
	fail "a state directory everyone may write was accepted"
	stop_daemon
else
	check "a state directory everyone may write is refused, in one line naming it" \
		log_has "state-file $(re "$STATE_DIR")/ww/x\.state: directory .*/ww is writable by everyone"
fi
chmod 0755 "$STATE_DIR/ww"
chown nobody "$STATE_DIR/ww"
restart_log
if try_start -c "$conf" --state-file "$STATE_DIR/ww/x.state" --control-socket none; then
	fail "a state directory of another user was accepted"
	stop_daemon
else
	check "a state directory of another user is refused" \
		log_has "directory .*/ww belongs to uid $(id -u nobody), neither root nor the daemon's user"
fi
# Sticky: others may create files, never replace ours; a file of theirs is not loaded.
chown root "$STATE_DIR/ww"
chmod 1777 "$STATE_DIR/ww"
cp "$STATE" "$STATE_DIR/ww/x.state"
chown nobody "$STATE_DIR/ww/x.state"
restart_log
start_daemon -c "$conf" --state-file "$STATE_DIR/ww/x.state"
check "a state file of another user is not loaded, in one line" \
	log_has "error: state: .*/ww/x\.state: belongs to uid $(id -u nobody), neither root nor the daemon's user: 0 entries loaded"
expect_probe timeout 198.51.100.7 "$REAL4" 2
stop_daemon

section "(g) an entry renewed on use keeps its deadline across a restart"
STATE="$STATE_DIR/renew.state"
SOCK="$MXA_TMP/state.ctl"
# expires_in ADDR: the entry's remaining lifetime in seconds, as mxallowctl lists it.
expires_in() {
	in_srv "$MXALLOWCTL" -s "$SOCK" list --json 2>/dev/null | grep -F "\"address\":\"$1\"" |
		sed -n 's/.*"expires_in":\([0-9]*\).*/\1/p'
}
restart_log
start_daemon -c "$conf" --state-file "$STATE" --control-socket "$SOCK" --renew-time 3110400
expect_probe refused 198.51.100.7 "$FAKE4"
expect_probe greeting 198.51.100.7 "$REAL4"
t=$(expires_in 198.51.100.7)
check "renewed on use: 36 days (expires-in=$t)" test "${t:-0}" -gt 3110000
stop_daemon
restart_log
start_daemon -c "$conf" --state-file "$STATE" --control-socket "$SOCK" --renew-time 3110400
check "the load line: none shortened, the longest lifetime is renew-time's" \
	log_has 'state: loaded 1 entries .*; 0 deadlines shortened to the longest lifetime, 3110400 s\)$'
t=$(expires_in 198.51.100.7)
check "after the restart still 36 days, not 24.8 (expires-in=$t)" test "${t:-0}" -gt 3110000
stop_daemon
restart_log
start_daemon -c "$conf" --state-file "$STATE" --control-socket "$SOCK" --renew-time 0
check "renew-time off: the load line says 1 shortened to 2147483 s" \
	log_has 'state: loaded 1 entries .*; 1 deadlines shortened to the longest lifetime, 2147483 s\)$'
t=$(expires_in 198.51.100.7)
check "and the entry lives 2147483 s at most (expires-in=$t)" \
	test "${t:-0}" -gt 2147000 -a "${t:-0}" -le 2147483
stop_daemon

section "(h) table mode: loaded entries go into the kernel's set"
# Table mode needs libpcap in the build (replay says so) and the ipset tool.
if ! command -v ipset >/dev/null 2>&1 ||
	"$MXALLOWD" -f "$FAKE4" -r "$REAL4" --replay /dev/null 2>&1 | grep -q "built without"; then
	say "  (skipped: this build has no table mode, or ipset is missing)"
else
	rules_flush
	table_rules_setup
	STATE="$STATE_DIR/table.state"
	TABLE_ARGS=(--backend pflog -p "nflog:$NFLOG_GROUP" -f "$FAKE4" -r "$REAL4" -b --state-file "$STATE")
	restart_log
	start_daemon "${TABLE_ARGS[@]}"
	expect_probe refused 198.51.100.9 "$FAKE4"
	check "198.51.100.9 whitelisted" log_wait 'whitelist add addr=198\.51\.100\.9 reason=fake-mx ' 5
	stop_daemon
	check "exit: saved 1 entries" log_has "state: saved 1 entries to $(re "$STATE")$"
	in_srv ipset flush mx-white
	check "the kernel set is empty (as after a reboot)" not_in_set mx-white 198.51.100.9
	restart_log
	start_daemon "${TABLE_ARGS[@]}"
	check "loaded 1 entries" log_has "state: loaded 1 entries from $(re "$STATE")"
	check "198.51.100.9 is back in the kernel set mx-white" wait_for 5 in_set mx-white 198.51.100.9
	t=$(set_timeout mx-white 198.51.100.9)
	check "with the rest of its lifetime as timeout (got ${t:-none})" \
		test "${t:-0}" -gt 3500 -a "${t:-0}" -le 3600
	expect_probe greeting 198.51.100.9 "$REAL4"
	expect_probe timeout 198.51.100.3 "$REAL4" 2
	stop_daemon
fi

finish
