#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# mxallowd live demo, in throwaway network namespaces (needs root; touches nothing outside them).
#
# A domain, example.test, publishes two MX records:
#     MX 10 mx1.example.test  192.0.2.10  2001:db8::10   the fake MX: nothing listens there
#     MX 20 mx2.example.test  192.0.2.20  2001:db8::20   the real MX (smtp-sink)
# mxallowd guards port 25 on the server through NFQUEUE. A Postfix on 198.51.100.1 sends a mail
# (it tries mx1 first, is refused, goes on to mx2: accepted), and a spam bot on 198.51.100.3
# goes straight to mx2 (dropped).
#
# Usage: contrib/demo.sh            (MXALLOWD=/path/to/mxallowd to use another binary)
# On a fresh Debian 12 it first installs what it needs (contrib/install-deps.sh, which does
# nothing when everything is there) and builds mxallowd.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: needs root (it creates network namespaces); run it as root" >&2
	exit 1
fi
"$ROOT/contrib/install-deps.sh" || {
	echo "demo: installing the Debian packages failed" >&2
	exit 1
}
given_binary=${MXALLOWD:-}
# shellcheck source=tests/integration/lib.sh
. "$ROOT/tests/integration/lib.sh"
MXA_NAME=demo

if [ -z "$given_binary" ]; then
	echo "demo: building mxallowd"
	(cd "$ROOT" && { [ -d build ] || meson setup build >/dev/null; } && meson compile -C build >/dev/null) ||
		{
			echo "demo: build failed" >&2
			exit 1
		}
fi

if [ -t 1 ]; then
	banner() { printf '\n\033[1m### %s\033[0m\n' "$*"; }
else
	banner() { printf '\n### %s\n' "$*"; }
fi
show() { sed 's/^/    /'; }

mxa_init

banner "1. A throwaway network"
net_setup
dns_setup
sink_setup
cat <<EOF
    server namespace $NS_SRV:
        192.0.2.10 / 2001:db8::10   mx1.example.test  (fake MX: nothing listens)
        192.0.2.20 / 2001:db8::20   mx2.example.test  (real MX: smtp-sink)
        192.0.2.53                  DNS (dnsmasq)
    client namespace $NS_CLI:
        198.51.100.1                Postfix (sender.example.org)
        198.51.100.3                a spam bot (no reverse DNS)
EOF
echo "    MX records of example.test, as the client sees them:"
in_cli getent ahostsv4 mx1.example.test | awk 'NR==1 { print "        mx1.example.test -> " $1 }'
in_cli getent ahostsv4 mx2.example.test | awk 'NR==1 { print "        mx2.example.test -> " $1 }'

banner "2. The firewall rule on the mail server (server namespace only)"
rules_setup "$QUEUE_NUM"
in_srv iptables -S INPUT | grep NFQUEUE | sed "s/^/iptables  /" | show
in_srv ip6tables -S INPUT | grep NFQUEUE | sed "s/^/ip6tables /" | show

banner "3. Start mxallowd"
start_daemon -f "$FAKE4" -f "$FAKE6" -r "$REAL4" -r "$REAL6" -n 23

banner "4. Postfix on 198.51.100.1 sends a mail to user@example.test"
postfix_setup demo ipv4
if send_mail demo; then
	echo "    -> mx1 refused the connection, Postfix moved on to mx2 and the mail was delivered."
else
	echo "    -> the mail was NOT delivered"
fi
wait_for 5 log_has 'accept src=198\.51\.100\.1 '

banner "5. A spam bot on 198.51.100.3 connects straight to mx2 (direct-to-second-MX)"
echo "    socat - TCP:192.0.2.20:25,bind=198.51.100.3  (3 s timeout)"
res=$(smtp_probe 198.51.100.3 "$REAL4")
case $res in
greeting) echo "    -> it got a 220 greeting (that should not happen!)" ;;
*) echo "    -> no greeting ($res): its SYN packets were dropped" ;;
esac
log_wait 'drop src=198\.51\.100\.3 ' 5 >/dev/null

banner "6. Another server of the same sender, 198.51.100.2, goes straight to mx2"
echo "    198.51.100.1 and 198.51.100.2 are both sender.example.org (forward-confirmed reverse DNS),"
echo "    so mxallowd whitelisted 198.51.100.2 as a sibling when 198.51.100.1 hit the fake MX."
log_wait 'whitelist add addr=198\.51\.100\.2 reason=rdns-sibling' 5 >/dev/null
res=$(smtp_probe 198.51.100.2 "$REAL4")
case $res in
greeting) echo "    -> it got the 220 greeting of mx2" ;;
*) echo "    -> no greeting ($res)" ;;
esac

banner "7. What mxallowd logged"
show <"$DAEMON_LOG"
echo "    Legend:"
cat <<'EOF2'
    whitelist add ... reason=fake-mx       a client touched the fake MX: allowed at the real MX
    whitelist add ... reason=rdns-sibling  another address of the same forward-confirmed name
    accept ... reason=whitelisted          a whitelisted client at the real MX
    drop ... reason=not-whitelisted        direct-to-second-MX: the SYN was dropped (the bot's
                                           kernel retried it, each retry was dropped too)
EOF2

banner "8. Statistics (kill -USR1)"
n=$(log_count ': stats ')
daemon_signal USR1
wait_for 5 count_above ': stats ' "$n"
grep ': stats ' "$DAEMON_LOG" | tail -n1 | show

banner "9. Stop mxallowd (kill -TERM) and clean up"
stop_daemon
echo "    mxallowd exited with status $WAIT_STATUS"
tail -n1 "$DAEMON_LOG" | show
echo "    removing namespaces $NS_SRV and $NS_CLI"
