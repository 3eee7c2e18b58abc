#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Hybrid mode: the kernel accepts known senders by the nft sets, mxallowd judges strangers in
# NFQUEUE and writes every entry it makes into the sets (mxallowd --backend nfqueue
# --table-writer nft). contrib/nftables-hybrid.conf needs the nft queue expression: loaded
# where the kernel has it, else said and skipped; the test runs with its twin
# contrib/nftables-hybrid-xt.conf (the set accept, then the xt NFQUEUE target through
# iptables-nft). After the first MX walk a sender's SYNs no longer reach the queue (its
# id_sequence stays), the kernel counts them; after SIGKILL the kernel keeps admitting known
# senders, strangers follow --queue-bypass, entries expire; a missing set is the documented
# error. With renew-time, the ruleset's update rule renews a member on use in the kernel, out of
# the daemon's sight: the daemon follows it before it would expire the entry, and at a resync.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/nft-lib.sh"

mxa_init
need_daemon
need_cmds nft iptables ip6tables
net_setup
dns_setup
sink_setup
need_nft_writer

section "0. the pure-nft ruleset"
sed "s/timeout 1h }/timeout 20s }/" "$MXA_ROOT/contrib/nftables-hybrid.conf" >"$MXA_TMP/hybrid.conf"
if out=$(in_srv nft -c -f "$MXA_TMP/hybrid.conf" 2>&1); then
	pass "contrib/nftables-hybrid.conf is accepted by this kernel (nft -c)"
elif printf '%s\n' "$out" | grep -q 'queue num 23' &&
	printf '%s\n' "$out" | grep -q 'No such file or directory'; then
	say "  skipped: this kernel has no nft queue expression (CONFIG_NFT_QUEUE):" \
		"contrib/nftables-hybrid.conf cannot load here; testing contrib/nftables-hybrid-xt.conf"
else
	fail "contrib/nftables-hybrid.conf: $out"
fi

nft_rules_setup nftables-hybrid-xt.conf 20
for ipt in iptables ip6tables; do
	in_srv "$ipt" -A INPUT -p tcp --dport 25 --syn -m mark ! --mark 0x100000/0x100000 \
		-j NFQUEUE --queue-num "$QUEUE_NUM" --queue-bypass ||
		skip "$ipt NFQUEUE rule failed"
done

ARGS=(--backend nfqueue -n "$QUEUE_NUM" --table-writer nft -f "$FAKE4" -f "$FAKE6"
	-r "$REAL4" -r "$REAL6" --renew-time 0)

section "1. Postfix walks the MX once; then its SYNs stay in the kernel (IPv4)"
start_daemon "${ARGS[@]}" -t 20
check "start-up line says hybrid and names the sets" \
	log_has "started .*backend=nfqueue queue=$QUEUE_NUM hybrid table=nft:inet/mxallowd:white4,white6"
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "the daemon dropped the stranger" log_wait 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20 reason=not-whitelisted' 5
check "the stranger is not in white4" nft_not_in_set white4 198.51.100.3
# Another ruleset sets mxallowd's mark bit on incoming packets (VPN, CNI and routing tools use
# fwmarks): the hybrid ruleset clears it first, so the stranger is still queued, not let in.
in_srv nft -f - <<'NFT'
table ip mxa_other {
	chain pre { type filter hook prerouting priority mangle; meta mark set meta mark | 0x00100000; }
}
NFT
n=$(log_count 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20')
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "a stranger whose packets carry the mark bit from another table is still dropped" \
	wait_for 5 count_above 'drop src=198\.51\.100\.3 dst=192\.0\.2\.20' "$n"
in_srv nft delete table ip mxa_other
postfix_setup v4 ipv4 198.51.100.1
check "Postfix delivers through fake then real MX" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "the message reached the real MX" sink_has "$MAIL_TOKEN"
check "the daemon saw the fake-MX SYN" log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx' 5
check "198.51.100.1 is in white4" nft_in_set white4 198.51.100.1
check "rDNS sibling 198.51.100.2 written into white4" wait_for 10 nft_in_set white4 198.51.100.2
check "rDNS sibling 2001:db8:1::2 written into white6" wait_for 5 nft_in_set white6 2001:db8:1::2
seq0=$(queue_seq)
k0=$(nft_counter)
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 198.51.100.2 "$REAL4"
seq1=$(queue_seq)
check "none of those SYNs reached the queue (id_sequence $seq0 -> $seq1)" test "$seq0" = "$seq1"
check "Postfix sends a second message" send_mail v4
seq2=$(queue_seq)
# Postfix tries mx1 again: that SYN is queued (the daemon sees every fake-MX hit), not the
# real-MX one.
check "of its SYNs only the fake-MX one was queued (id_sequence $seq1 -> $seq2)" \
	test "$((seq2 - seq1))" -le 1
k1=$(nft_counter)
check "the kernel counted the rest (kernel-accepted $k0 -> $k1)" test "$((k1 - k0))" -ge 4
seq1=$seq2
expect_probe timeout 198.51.100.3 "$REAL4" 2
check "a stranger's SYN still reaches the queue ($seq1 -> $(queue_seq))" test "$(queue_seq)" -gt "$seq1"

section "2. IPv6"
expect_probe refused 2001:db8:1::7 "$FAKE6"
check "2001:db8:1::7 is in white6" nft_in_set white6 2001:db8:1::7
s6=$(queue_seq)
expect_probe greeting 2001:db8:1::7 "$REAL6"
expect_probe greeting 2001:db8:1::2 "$REAL6"
check "no queueing for known IPv6 senders ($s6 -> $(queue_seq))" test "$s6" = "$(queue_seq)"
daemon_signal USR1
check "the stats line: accepted by the daemon, kernel-accepted by the sets" \
	log_wait 'accepted=[0-9]+ .*kernel-accepted=[1-9]' 5

section "3. SIGKILL: known senders pass, strangers follow --queue-bypass, entries expire"
kill -KILL "$DAEMON_PID"
wait_pid "$DAEMON_PID" 5
DAEMON_PID=
check "nobody is bound to the queue any more" test -z "$(queue_seq)"
expect_probe greeting 198.51.100.1 "$REAL4"
expect_probe greeting 2001:db8:1::7 "$REAL6"
expect_probe greeting 198.51.100.3 "$REAL4"
pass "(the stranger passes: --queue-bypass accepts while nobody listens)"
check "sibling 198.51.100.2 (never used) is still in white4" nft_in_set white4 198.51.100.2
say "  it expires in $(nft_expires white4 198.51.100.2) s"
check "the kernel expires it without the daemon" wait_for 25 nft_not_in_set white4 198.51.100.2
check "and 2001:db8:1::2" wait_for 25 nft_not_in_set white6 2001:db8:1::2

section "4. documented errors"
nft_start_fails "table inet mxallowd has no set nosuch: declare it in the ruleset" \
	--backend nfqueue -n "$QUEUE_NUM" --table-writer nft --nft-set6 nosuch
in_srv nft add table inet other
in_srv nft add set inet other white4 '{ type ipv6_addr; flags timeout; }'
in_srv nft add set inet other white6 '{ type ipv6_addr; flags timeout; }'
nft_start_fails "set inet other white4 has the wrong type .*: it must be ipv4_addr" \
	--backend nfqueue -n "$QUEUE_NUM" --table-writer nft --nft-table other
in_srv nft delete table inet other

# past T: the clock is at or beyond T (seconds since the epoch).
past() { [ "$(date +%s)" -ge "$1" ]; }

section "5. renewal on use in the kernel: -t 3 --renew-time 60, the rules' update timeout 60s"
# The sender's real-MX SYNs stay in the kernel, so the daemon never sees its uses: the ruleset
# renews the element itself and the daemon follows the kernel before it would expire the entry.
nft_rules_setup nftables-hybrid-xt.conf 3 60
in_srv nft flush set inet mxallowd white4
in_srv nft flush set inet mxallowd white6
check "the ruleset renews members on use (update ... timeout 1m)" \
	eval 'in_srv nft list chain inet mxallowd smtp_syn | grep -q "update @white4 { ip saddr timeout 1m }"'
restart_log
start_daemon --backend nfqueue -n "$QUEUE_NUM" --table-writer nft -f "$FAKE4" -r "$REAL4" \
	-t 3 --renew-time 60 --no-rdns-whitelist
t0=$(date +%s)
check "Postfix delivers through fake then real MX" send_mail v4
check "Postfix was refused by mx1 before mx2 took it" \
	mail_order 'connect to mx1\.example\.test.*refused' 'relay=mx2\.example\.test.*status=sent'
check "the daemon whitelisted it for whitelist-time (3 s)" \
	log_wait 'whitelist add addr=198\.51\.100\.1 reason=fake-mx dst=192\.0\.2\.10 expires-in=3( |$)' 5
t=$(nft_expires white4 198.51.100.1)
check "the kernel renewed the element at the real MX: it expires in ${t:-none} s (> 30)" \
	test "${t:-0}" -gt 30
seq0=$(queue_seq)
check "whitelist-time has passed (bounded wait)" wait_for 10 past $((t0 + 5))
check "the daemon followed the kernel: whitelist renew ... use=accepted expires-in=5x" \
	log_wait 'whitelist renew addr=198\.51\.100\.1 reason=fake-mx use=accepted expires-in=(4[5-9]|5[0-9]|60)( |$)' 5
check "no expiry of the sender" not log_has 'whitelist del addr=198\.51\.100\.1 '
check "198.51.100.1 is still in white4" nft_in_set white4 198.51.100.1
expect_probe greeting 198.51.100.1 "$REAL4"
check "the returning sender stayed in the kernel (id_sequence $seq0 -> $(queue_seq))" \
	test "$(queue_seq)" = "$seq0"
check "no drop line for it" not log_has 'drop src=198\.51\.100\.1 '
daemon_signal USR1
check "the stats line counts the renewal learnt from the kernel (table-renewed=1)" \
	log_wait 'table-renewed=1( |$)' 5
# A client that only touched the fake MX is not renewed: whitelist-time governs it.
expect_probe refused 198.51.100.6 "$FAKE4"
check "the fake-MX-only client expires after whitelist-time" \
	log_wait 'whitelist del addr=198\.51\.100\.6 reason=expired' 10
check "and leaves white4" wait_for 5 nft_not_in_set white4 198.51.100.6
stop_daemon

section "6. a table resync (here: SIGHUP) learns a kernel renewal before the entry is due"
nft_rules_setup nftables-hybrid-xt.conf 30 60
restart_log
start_daemon --backend nfqueue -n "$QUEUE_NUM" --table-writer nft -f "$FAKE4" -r "$REAL4" \
	-t 30 --renew-time 60 --no-rdns-whitelist
expect_probe refused 198.51.100.7 "$FAKE4"
check "whitelisted for 30 s" log_wait 'whitelist add addr=198\.51\.100\.7 reason=fake-mx .*expires-in=30( |$)' 5
seq0=$(queue_seq)
expect_probe greeting 198.51.100.7 "$REAL4"
check "accepted by the kernel alone (id_sequence $seq0 -> $(queue_seq))" test "$(queue_seq)" = "$seq0"
t=$(nft_expires white4 198.51.100.7)
check "the kernel renewed it: ${t:-none} s (> 30)" test "${t:-0}" -gt 30
daemon_signal HUP
check "reload ok" log_wait 'reload ok' 10
check "the resync learnt the renewal long before whitelist-time: whitelist renew ... use=accepted" \
	log_wait 'whitelist renew addr=198\.51\.100\.7 reason=fake-mx use=accepted expires-in=(5[0-9]|60)( |$)' 5
stop_daemon

section "7. a restart with a state file keeps the renewals the kernel made meanwhile"
STATE="$MXA_TMP/hybrid.state"
HYBRID_RENEW=(--backend nfqueue -n "$QUEUE_NUM" --table-writer nft -f "$FAKE4" -r "$REAL4"
	-t 30 --renew-time 60 --no-rdns-whitelist --state-file "$STATE")
restart_log
start_daemon "${HYBRID_RENEW[@]}"
expect_probe refused 198.51.100.9 "$FAKE4"
check "whitelisted for 30 s" log_wait 'whitelist add addr=198\.51\.100\.9 reason=fake-mx .*expires-in=30( |$)' 5
stop_daemon
check "the state file has it" log_has "state: saved [1-9][0-9]* entries to $(re "$STATE")$"
# Stopped: the kernel still accepts the member and renews it (queue bypass for the others).
expect_probe greeting 198.51.100.9 "$REAL4"
t=$(nft_expires white4 198.51.100.9)
check "the kernel renewed it while mxallowd was stopped: ${t:-none} s (> 40)" test "${t:-0}" -gt 40
# A few seconds on, the saved deadline is a timeout other than the element's own (the kernel
# ignores a re-add with an unchanged timeout): written back alone, it would cut the renewal.
t0=$(date +%s)
check "3 s later (bounded wait)" wait_for 10 past $((t0 + 3))
restart_log
start_daemon "${HYBRID_RENEW[@]}"
check "the daemon followed the kernel at start: whitelist renew ... use=accepted" \
	log_wait 'whitelist renew addr=198\.51\.100\.9 reason=fake-mx use=accepted expires-in=(4[0-9]|5[0-9]|60)( |$)' 5
t=$(nft_expires white4 198.51.100.9)
check "the restored (shorter) deadline did not cut the element back: ${t:-none} s (> 40)" \
	test "${t:-0}" -gt 40
stop_daemon

finish
