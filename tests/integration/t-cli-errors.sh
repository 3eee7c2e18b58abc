#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# (j) Command line and config file errors: exit status 1 and exactly one line on stderr,
# `mxallowd: command line: ...` or `mxallowd: FILE:LINE: ...`. Valid input passes
# --check-config. No root needed; nothing here starts a daemon (every run has --check-config
# and -F, is bounded by timeout, and, as root, runs in a fresh empty network namespace) and
# nothing resolves a host name.
set -u
MXA_LIB_DIR=$(cd "$(dirname "$0")" && pwd)
MXA_ROOT=$(cd "$MXA_LIB_DIR/../.." && pwd)
: "${MXALLOWD:=$MXA_ROOT/build/src/mxallowd}"
NAME=$(basename "${0%.sh}")
PASSED=0
FAILED=0

pass() {
	PASSED=$((PASSED + 1))
	printf 'ok:   %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL: %s\n' "$*"
}

if [ ! -x "$MXALLOWD" ]; then
	printf 'FAIL: mxallowd binary not found at %s (build it or set MXALLOWD)\n' "$MXALLOWD"
	exit 1
fi

T=$(mktemp -d /tmp/mxallowd-cli.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
: >"$T/empty.conf"

RUN=()
if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null && unshare -n true 2>/dev/null; then
	RUN=(unshare -n)
fi

# run ARGS...: runs mxallowd; sets RC, OUT, ERR (files' contents).
run() {
	timeout 10 "${RUN[@]}" "$MXALLOWD" "$@" >"$T/out" 2>"$T/err" </dev/null
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# bad DESCRIPTION REGEX ARGS...: exit status 1, one stderr line matching ^mxallowd: REGEX.
bad() {
	local what=$1 regex=$2 lines
	shift 2
	run "$@"
	lines=$(grep -c '' "$T/err")
	if [ "$RC" -eq 1 ] && [ "$lines" -eq 1 ] && grep -Eq -- "^mxallowd: $regex" "$T/err"; then
		pass "$what: status 1, '$ERR'"
	else
		fail "$what: wanted status 1 and one line /^mxallowd: $regex/ on stderr;" \
			"got status $RC, $lines line(s): $(head -c 600 "$T/err")"
	fi
}

# good DESCRIPTION ARGS...: exit status 0.
good() {
	local what=$1
	shift
	run "$@"
	if [ "$RC" -eq 0 ]; then
		pass "$what: status 0"
	else
		fail "$what: wanted status 0, got $RC: $(head -c 600 "$T/err")"
	fi
}

# Every run: --check-config so that no daemon starts, an empty config file unless the case
# provides its own, foreground and stdout logging in case anything does start anyway.
CC=(--check-config -F -s)
C0=(-c "$T/empty.conf")
SERVERS=(-f 192.0.2.10 -r 192.0.2.20)

echo "== command line errors"
bad "unknown option" "" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" --no-such-option
bad "missing argument of -n" "" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -n
bad "queue number 70000" "command line: .*70000" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -n 70000
bad "queue number abc" "command line: .*abc" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -n abc
bad "whitelist time 0" "command line: " "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -t 0
bad "whitelist time -5" "command line: " "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -t -5
bad "whitelist time 10x" "command line: .*10x" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" -t 10x
bad "ipv4 prefix 33" "command line: .*33" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" --ipv4-prefix 33
bad "ipv6 prefix 129" "command line: .*129" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}" --ipv6-prefix 129
bad "fake MX that is no address nor host name" "command line: .*bad!host" \
	"${CC[@]}" "${C0[@]}" -f 'bad!host' -r 192.0.2.20
bad "relative pidfile" "command line: .*relative/pid" \
	"${CC[@]}" "${C0[@]}" "${SERVERS[@]}" --pidfile relative/pid
bad "no real MX" "" "${CC[@]}" "${C0[@]}" -f 192.0.2.10
bad "no fake MX" "" "${CC[@]}" "${C0[@]}" -r 192.0.2.20
bad "an address both fake and real" "" "${CC[@]}" "${C0[@]}" -f 192.0.2.10 -r 192.0.2.10
bad "missing named config file" ".*$T/missing\.conf" "${CC[@]}" -c "$T/missing.conf" "${SERVERS[@]}"

echo "== config file errors"
cat >"$T/bad-key.conf" <<'EOF'
# comment
fake-mailserver 192.0.2.10
no-such-key 1
real-mailserver 192.0.2.20
EOF
bad "unknown key on line 3" "$T/bad-key\.conf:3: .*no-such-key" "${CC[@]}" -c "$T/bad-key.conf"

cat >"$T/bad-num.conf" <<'EOF'
fake-mailserver 192.0.2.10

real-mailserver 192.0.2.20
queue-num 99999
EOF
bad "queue-num 99999 on line 4" "$T/bad-num\.conf:4: .*99999" "${CC[@]}" -c "$T/bad-num.conf"

cat >"$T/bad-bool.conf" <<'EOF'
fake-mailserver 192.0.2.10
real-mailserver 192.0.2.20
fail-open maybe
EOF
bad "fail-open maybe on line 3" "$T/bad-bool\.conf:3: .*maybe" "${CC[@]}" -c "$T/bad-bool.conf"

cat >"$T/no-value.conf" <<'EOF'
fake-mailserver 192.0.2.10
real-mailserver 192.0.2.20
whitelist-time
EOF
bad "whitelist-time without a value on line 3" "$T/no-value\.conf:3: " "${CC[@]}" -c "$T/no-value.conf"

cat >"$T/same.conf" <<'EOF'
fake-mailserver 192.0.2.10
real-mailserver 192.0.2.20
real-mailserver 192.0.2.10
EOF
bad "an address both fake and real (file)" "" "${CC[@]}" -c "$T/same.conf"

echo "== valid input"
cat >"$T/good.conf" <<'EOF'
# a complete configuration file
fake-mailserver 192.0.2.10
fake-mailserver 2001:db8::10

real-mailserver 192.0.2.20
real-mailserver 2001:db8::20
queue-num 42
whitelist-time 100
no-rdns-whitelist
fail-open yes
quiet off
stdout true
max-entries 1000
queue-maxlen 2048
ipv4-prefix 24
ipv6-prefix 64
rdns-max 8
EOF
good "--check-config with a complete config file" "${CC[@]}" -c "$T/good.conf"
good "--check-config: the command line overrides and extends it" \
	"${CC[@]}" -c "$T/good.conf" -t 200 -f 192.0.2.11
printf '%s\n' "$OUT" >"$T/effective.conf"
if grep -qx 'whitelist-time 200' "$T/effective.conf" &&
	! grep -q '^whitelist-time 100' "$T/effective.conf" &&
	grep -q '^fake-mailserver 192\.0\.2\.10\b' "$T/effective.conf" &&
	grep -q '^fake-mailserver 192\.0\.2\.11\b' "$T/effective.conf" &&
	grep -q '^real-mailserver 2001:db8::20\b' "$T/effective.conf" &&
	grep -qx 'queue-num 42' "$T/effective.conf"; then
	pass "effective config: whitelist-time 200 (the command line wins), queue-num 42, all servers"
else
	fail "effective config: expected whitelist-time 200, queue-num 42, fake 192.0.2.10 and 192.0.2.11, real 2001:db8::20 in:"
	sed 's/^/  | /' "$T/effective.conf"
fi
good "the printed effective config is itself a valid config file" "${CC[@]}" -c "$T/effective.conf"
good "--check-config on the command line alone" "${CC[@]}" "${C0[@]}" "${SERVERS[@]}"
if [ -e /etc/mxallowd.conf ]; then
	echo "skip: /etc/mxallowd.conf exists, not checking that a missing default file is fine"
else
	good "missing default config file is fine" "${CC[@]}" "${SERVERS[@]}"
fi
good "-h" -h
if printf '%s\n' "$OUT" | grep -qi 'usage'; then pass "-h prints a usage"; else fail "-h: no usage in: $OUT"; fi
good "-V" -V
if printf '%s\n' "$OUT" | grep -Eq '[0-9]+\.[0-9]+'; then pass "-V prints a version: $OUT"; else fail "-V: no version in: $OUT"; fi

printf '\n%s: %d passed, %d failed\n' "$NAME" "$PASSED" "$FAILED"
[ "$FAILED" -eq 0 ]
