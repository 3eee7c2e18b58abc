# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Table mode helpers on top of lib.sh (source lib.sh first): the NFLOG + ipset rules from
# contrib/ loaded in the server namespace, and questions to the kernel's sets.

NFLOG_GROUP=5

# table_rules_setup [--no-renew | --renew SECONDS]: ipset sets and the contrib rules, inside
# the server namespace only. --no-renew leaves out the renewal-on-use rule, as the rules' comment
# says to do for a daemon with renew-time 0; --renew sets that rule's --timeout to SECONDS, as
# it says to do for a renew-time below 2147483 (the shipped value).
table_rules_setup() {
	local err="$MXA_TMP/table-rules.err" filter=(cat)
	case ${1:-} in
	--no-renew) filter=(grep -v -- '--match-set.*-j.SET.--add-set') ;;
	--renew) filter=(sed -e "/--match-set mx-white6\{0,1\} src -j SET --add-set/s/--timeout [0-9]*/--timeout $2/") ;;
	esac
	need_cmds ipset iptables-restore ip6tables-restore
	in_srv ipset create mx-white hash:net family inet timeout 3600 maxelem 131072 -exist 2>"$err" ||
		skip "ipset create failed: $(head -n1 "$err")"
	in_srv ipset create mx-white6 hash:net family inet6 timeout 3600 maxelem 131072 -exist 2>"$err" ||
		skip "ipset create failed: $(head -n1 "$err")"
	# The allow lists' sets, named by the rules (mxallowd fills them).
	in_srv ipset create mx-static hash:net family inet -exist 2>"$err" &&
		in_srv ipset create mx-static6 hash:net family inet6 -exist 2>"$err" ||
		skip "ipset create failed: $(head -n1 "$err")"
	"${filter[@]}" "$MXA_ROOT/contrib/nflog-ipset.rules" | in_srv iptables-restore --noflush 2>"$err" ||
		skip "iptables-restore of contrib/nflog-ipset.rules failed: $(head -n1 "$err")"
	"${filter[@]}" "$MXA_ROOT/contrib/nflog-ipset6.rules" | in_srv ip6tables-restore --noflush 2>"$err" ||
		skip "ip6tables-restore of contrib/nflog-ipset6.rules failed: $(head -n1 "$err")"
}

# in_set SET ADDR: the kernel's set holds ADDR now.
in_set() {
	in_srv ipset test "$1" "$2" >/dev/null 2>&1
}

not_in_set() { ! in_set "$@"; }

# set_timeout SET ADDR: the entry's remaining timeout in seconds (empty when absent).
set_timeout() {
	in_srv ipset list "$1" 2>/dev/null | awk -v a="$2" '$1 == a && $2 == "timeout" { print $3 }'
}

# drop_count: packets the kernel dropped on the real MX (IPv4 + IPv6 DROP rules).
drop_count() {
	local a b
	a=$(in_srv iptables -nvxL mxallowd 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')
	b=$(in_srv ip6tables -nvxL mxallowd 2>/dev/null | awk '$3 == "DROP" { s += $1 } END { print s + 0 }')
	echo $((a + b))
}

# set_maxelem SET: the set's maxelem (from its header), empty when it does not exist.
set_maxelem() {
	in_srv ipset list -t "$1" 2>/dev/null | sed -n 's/^Header:.* maxelem \([0-9]*\).*/\1/p'
}

# timeout_at_most SET ADDR SECONDS: ADDR is in SET with a remaining timeout of at most SECONDS.
timeout_at_most() {
	local t
	t=$(set_timeout "$1" "$2")
	[ -n "$t" ] && [ "$t" -le "$3" ]
}
