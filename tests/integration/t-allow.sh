#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Static allow lists (NFQUEUE mode): `allow NETWORK` and `allow-file PATH`.
#   - a client inside an allowed network gets the real MX's greeting without a fake-MX visit,
#     logged as `accept ... reason=static net=NETWORK`, with no whitelist entry made for it;
#     IPv4 and IPv6, networks from the config file and from an allow-file;
#   - its neighbour just outside the network is dropped;
#   - the stats line counts static-hits and static-networks;
#   - SIGHUP with a broken allow-file: `reload failed: FILE:LINE: ...`, the running list is kept
#     (an added network does not get in, a removed one still does); a fixed file then applies;
#   - at start, a broken allow-file, a missing one and `allow 0.0.0.0/0` are refused with the
#     place named; --check-config reads the lists too.
# shellcheck source=tests/integration/lib.sh
. "$(dirname "$0")/lib.sh"

mail_host_setup

conf="$MXA_TMP/mxallowd.conf"
list="$MXA_TMP/providers.allow"
write_list() {
	cat >"$list.new"
	mv "$list.new" "$list"
}

cat >"$conf" <<-EOF
	fake-mailserver $FAKE4
	real-mailserver $REAL4
	fake-mailserver $FAKE6
	real-mailserver $REAL6
	no-rdns-whitelist
	allow 198.51.100.4/31   # .4 and .5
	allow-file $list
EOF
write_list <<-EOF
	# a provider's sending networks
	198.51.100.8          # one host
	2001:db8:1::/125      # ::0 to ::7
EOF

# hup PATTERN: SIGHUP, then wait for one more line matching PATTERN.
# shellcheck disable=SC2317 # called through check
hup() {
	local n
	n=$(log_count "$1")
	daemon_signal HUP
	wait_for 10 count_above "$1" "$n"
}

section "--check-config reads the allow lists"
out=$(in_srv "$MXALLOWD" --check-config -c "$conf" --state-file none --control-socket none 2>&1)
check "--check-config: # allow lists: 3 networks" grep -q '^# allow lists: 3 networks$' <<<"$out"

section "clients of allowed networks reach the real MX without a fake-MX visit"
start_daemon -c "$conf"
check "mxallowd: allow lists: 3 networks" log_wait ': allow lists: 3 networks'
expect_probe greeting 198.51.100.4 "$REAL4"
check "mxallowd: accept src=198.51.100.4 dst=192.0.2.20 reason=static net=198.51.100.4/31" \
	log_wait 'accept src=198\.51\.100\.4 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.4/31$'
expect_probe greeting 198.51.100.5 "$REAL4"
expect_probe greeting 198.51.100.8 "$REAL4"
check "mxallowd: accept src=198.51.100.8 ... reason=static net=198.51.100.8/32 (allow-file)" \
	log_wait 'accept src=198\.51\.100\.8 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.8/32$'
expect_probe greeting 2001:db8:1::3 "$REAL6"
check "mxallowd: accept src=2001:db8:1::3 dst=2001:db8::20 reason=static net=2001:db8:1::/125" \
	log_wait 'accept src=2001:db8:1::3 dst=2001:db8::20 reason=static net=2001:db8:1::/125$'

section "neighbours outside the networks are dropped"
expect_probe timeout 198.51.100.6 "$REAL4"
check "mxallowd: drop src=198.51.100.6 dst=192.0.2.20 reason=not-whitelisted" \
	log_wait 'drop src=198\.51\.100\.6 dst=192\.0\.2\.20 reason=not-whitelisted'
expect_probe timeout 198.51.100.9 "$REAL4"
expect_probe timeout 2001:db8:1::9 "$REAL6"
check "mxallowd: drop src=2001:db8:1::9 dst=2001:db8::20" \
	log_wait 'drop src=2001:db8:1::9 dst=2001:db8::20 reason=not-whitelisted'
check "no whitelist entry was made for a static client" not log_has 'whitelist add '

section "the stats line counts them"
n=$(log_count ': stats ')
daemon_signal USR1
check "mxallowd: stats line" wait_for 5 count_above ': stats ' "$n"
check "stats: static-hits=4 static-networks=3 accepted=4" \
	grep -Eq ': stats .*accepted=4 .*static-hits=4 static-networks=3( |$)' "$DAEMON_LOG"

section "SIGHUP with a broken allow-file keeps the running list"
write_list <<-EOF
	# a provider's sending networks
	198.51.100.9          # added
	198.51.100.0/40       # a typo
EOF
check "mxallowd: reload failed: .../providers.allow:3: ...; keeping previous configuration" \
	hup ": reload failed: $(re "$list"):3: '198\.51\.100\.0/40': the prefix length is not a number from 1 to 32; keeping previous configuration"
check "mxallowd is still running" proc_alive "$DAEMON_PID"
check "the running list is kept: 198.51.100.8 (not in the new file) still gets in" \
	expect_probe greeting 198.51.100.8 "$REAL4"
check "the running list is kept: 198.51.100.9 (line 2 of the new file) is still dropped" \
	expect_probe timeout 198.51.100.9 "$REAL4"

section "SIGHUP with the file fixed"
write_list <<-EOF
	198.51.100.9
EOF
check "mxallowd: reload ok" hup ': reload ok'
check "mxallowd: reload: allow lists: 2 networks (were 3)" \
	log_has 'reload: allow lists: 2 networks \(were 3\)'
expect_probe greeting 198.51.100.9 "$REAL4"
check "mxallowd: accept src=198.51.100.9 ... reason=static net=198.51.100.9/32" \
	log_wait 'accept src=198\.51\.100\.9 dst=192\.0\.2\.20 reason=static net=198\.51\.100\.9/32$'
check "198.51.100.8 left the list: dropped" expect_probe timeout 198.51.100.8 "$REAL4"
check "the allow key is still in force: 198.51.100.5" expect_probe greeting 198.51.100.5 "$REAL4"
stop_daemon

section "a broken allow list stops the start, naming the place"
restart_log
NO_STATE=(--state-file none --control-socket none)
write_list <<-EOF
	198.51.100.9
	mx.example.org
EOF
in_srv "$MXALLOWD" -F -s -c "$conf" "${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: .../providers.allow:2: 'mx.example.org' is not an address or network" \
	log_has "^mxallowd: $(re "$list"):2: 'mx\.example\.org' is not an address or network \(ADDR or ADDR/BITS\)$"
rm -f "$list"
in_srv "$MXALLOWD" -F -s -c "$conf" "${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "a missing allow-file: exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: .../mxallowd.conf:7: allow-file ...: cannot open: No such file or directory" \
	log_has "^mxallowd: $(re "$conf"):7: allow-file $(re "$list"): cannot open: No such file or directory$"
in_srv "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" -f "$FAKE4" -r "$REAL4" --allow 0.0.0.0/0 \
	"${NO_STATE[@]}" --pidfile "$DAEMON_PIDFILE" >>"$DAEMON_LOG" 2>&1
rc=$?
check "--allow 0.0.0.0/0: exit status 1 (got $rc)" test "$rc" -eq 1
check "mxallowd: command line: allow: '0.0.0.0/0': a /0 would let every IPv4 client in" \
	log_has "^mxallowd: command line: allow: '0\.0\.0\.0/0': a /0 would let every IPv4 client in$"

finish
