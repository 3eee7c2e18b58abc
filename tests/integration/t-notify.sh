#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The service manager's notifications (sd_notify protocol, as systemd's Type=notify and
# WatchdogSec= use them), received on a datagram socket standing in for systemd's:
#   - READY=1 with MAINPID once the daemon is started, not before;
#   - WATCHDOG=1 heartbeats from the loop while WATCHDOG_USEC asks for them, and none while
#     the loop is stopped (so a wedged loop gets the daemon restarted);
#   - RELOADING=1 then READY=1 around a SIGHUP; STOPPING=1 at SIGTERM;
#   - without NOTIFY_SOCKET nothing is sent and the daemon runs as before.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup

sock="$MXA_TMP/notify.sock"
got="$MXA_TMP/notify.txt"
: >"$got"
socat -u "UNIX-RECV:$sock" "OPEN:$got,append" 2>"$MXA_TMP/socat.err" &
SOCAT_PID=$!
check "a notification socket listens" wait_for 5 test -S "$sock"

# notes PATTERN: how many received lines match PATTERN.
notes() { log_count "$1" "$got"; }

section "READY=1 at start, heartbeats while the loop runs"
NOTIFY_SOCKET=$sock WATCHDOG_USEC=2000000 start_daemon -f "$FAKE4" -r "$REAL4"
check "READY=1 received" wait_for 5 log_has '^READY=1$' "$got"
check "MAINPID=$DAEMON_PID received" log_has "^MAINPID=$DAEMON_PID\$" "$got"
check "at least two WATCHDOG=1 heartbeats" wait_for 5 count_above '^WATCHDOG=1$' 1 "$got"

section "a stopped loop sends no heartbeat"
kill -STOP "$DAEMON_PID"
n=$(notes '^WATCHDOG=1$')
# Three ticks' time with the process stopped: the count must not move.
wait_for 3 count_above '^WATCHDOG=1$' "$n" "$got"
check "no WATCHDOG=1 while stopped ($n before, $(notes '^WATCHDOG=1$') after)" \
	test "$(notes '^WATCHDOG=1$')" -eq "$n"
kill -CONT "$DAEMON_PID"
check "heartbeats again once it runs" wait_for 5 count_above '^WATCHDOG=1$' "$n" "$got"

section "RELOADING=1 then READY=1 around SIGHUP"
ready=$(notes '^READY=1$')
daemon_signal HUP
check "mxallowd: reload ok" log_wait ': reload ok' 10
check "RELOADING=1 received" wait_for 5 log_has '^RELOADING=1$' "$got"
check "READY=1 again after the reload" wait_for 5 count_above '^READY=1$' "$ready" "$got"
check "RELOADING=1 came with MONOTONIC_USEC" log_has '^MONOTONIC_USEC=[0-9]+$' "$got"

section "STOPPING=1 at SIGTERM"
stop_daemon
check "mxallowd ended with status 0" test "$WAIT_STATUS" -eq 0
check "STOPPING=1 received" wait_for 5 log_has '^STOPPING=1$' "$got"

section "without NOTIFY_SOCKET: nothing is sent"
restart_log
before=$(wc -l <"$got")
start_daemon -f "$FAKE4" -r "$REAL4"
daemon_signal USR1
check "mxallowd answers SIGUSR1" log_wait ': stats ' 5
check "nothing more arrived on the socket" test "$(wc -l <"$got")" -eq "$before"
stop_daemon
kill "$SOCAT_PID" 2>/dev/null

finish
