# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# nftables helpers on top of lib.sh (source lib.sh first): the contrib rulesets loaded in the
# server namespace, and questions to the kernel's nft sets, counter and queue.

NFLOG_GROUP=5

# nft_rules_setup FILE SECONDS [RENEW]: load contrib/FILE in the server namespace, with the
# kernel rule's own timeout for fake-MX clients set to SECONDS (the shipped files say 1h) and
# the renewal-on-use rules' timeout to RENEW seconds (the shipped files say 24d); without RENEW
# or with 0 the renewal rules are left out, as the files say to do for renew-time 0.
nft_rules_setup() {
	local err="$MXA_TMP/nft.err" renew=${3:-0}
	need_cmds nft
	if [ "$renew" -gt 0 ]; then
		sed -e "s/timeout 1h }/timeout ${2}s }/" -e "s/timeout 24d }/timeout ${renew}s }/" \
			"$MXA_ROOT/contrib/$1" >"$MXA_TMP/$1"
	else
		sed -e "s/timeout 1h }/timeout ${2}s }/" -e '/update @white[46] {/d' \
			"$MXA_ROOT/contrib/$1" >"$MXA_TMP/$1"
	fi
	grep -q 'timeout 1h }\|timeout 24d }' "$MXA_TMP/$1" && die "nft_rules_setup: contrib/$1 changed"
	in_srv nft -f "$MXA_TMP/$1" 2>"$err" || skip "nft -f contrib/$1 failed: $(head -n1 "$err")"
}

# nft_in_set SET ADDR: the set of table inet mxallowd holds ADDR now.
nft_in_set() {
	in_srv nft get element inet mxallowd "$1" "{ $2 }" >/dev/null 2>&1
}

nft_not_in_set() { ! nft_in_set "$@"; }

# nft_expires SET ADDR: the element's remaining seconds (rounded down), empty when absent.
nft_expires() {
	in_srv nft get element inet mxallowd "$1" "{ $2 }" 2>/dev/null | tr ',{}' '\n\n\n' |
		sed -n 's/.* expires \([0-9dhms]*\).*/\1/p' | head -n1 |
		awk '{ s = 0; n = ""; t = $0
			while (match(t, /^[0-9]+(d|h|ms|m|s)/)) {
				u = substr(t, 1, RLENGTH); t = substr(t, RLENGTH + 1)
				v = u + 0; if (u ~ /ms$/) v = 0; else if (u ~ /d$/) v *= 86400
				else if (u ~ /h$/) v *= 3600; else if (u ~ /m$/) v *= 60
				s += v
			}
			print s }'
}

# nft_counter: packets of the named counter kernel-accepted.
nft_counter() {
	in_srv nft list counter inet mxallowd kernel-accepted 2>/dev/null |
		sed -n 's/.*packets \([0-9]*\).*/\1/p'
}

# queue_seq [QNUM]: the id_sequence of the queue (8th field of nfnetlink_queue): one more for
# every packet the kernel queued, answered or not. Empty while nobody is bound to it.
queue_seq() {
	in_srv awk -v q="${1:-$QUEUE_NUM}" '$1 == q { print $8 }' /proc/net/netfilter/nfnetlink_queue
}

# nft_start_fails WANT ARGS...: mxallowd with ARGS exits with status 1 and an error matching
# the extended regular expression WANT.
nft_start_fails() {
	local want=$1 out st
	shift
	out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none --control-socket none \
		--control-socket none "$@" -f "$FAKE4" -r "$REAL4" 2>&1)
	st=$?
	check "exit status 1 (got $st)" test "$st" -eq 1
	check "the error says: $want (got: $out)" eval 'printf "%s\n" "$out" | grep -qE -- "$want"'
}

# need_nft_writer: skip (77) when this mxallowd was built without the nft table writer.
need_nft_writer() {
	local out
	out=$(in_srv timeout 10 "$MXALLOWD" -F -s -c "$MXA_TMP/empty.conf" --state-file none --control-socket none \
		--control-socket none --backend nfqueue -n 65000 --table-writer nft \
		--nft-table mxallowd-probe -f "$FAKE4" -r "$REAL4" 2>&1)
	case $out in
	*"built without libnftnl"*) skip "mxallowd was built without libnftnl (table-writer nft)" ;;
	esac
}
