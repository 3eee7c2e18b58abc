#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install what mxallowd needs to build and to run its tests, on Debian 12 or
# a Debian-like system, as root. Idempotent: when every package is already
# installed it does nothing, without touching apt.
#
#   sudo ./contrib/install-deps.sh

set -euo pipefail

packages=(
	# build
	build-essential meson ninja-build pkg-config
	libnetfilter-queue-dev libmnl-dev libevent-dev
	libpcap-dev libipset-dev libcap-ng-dev
	libnftnl-dev nftables # table-writer nft, hybrid mode
	# trusted sending domains: the Public Suffix List (meson option psl)
	libpsl-dev publicsuffix
	# unit tests, memory checks, formatting
	libcmocka-dev valgrind clang-format
	# fuzz targets (tests/fuzz/run)
	clang libclang-rt-14-dev
	# BSD cross build (tests/bsd-check)
	clang-16 llvm-16
	# Debian package (tests/pkg/run: dpkg-buildpackage, lintian)
	dpkg-dev debhelper lintian
	# integration tests and contrib/demo.sh
	ipset iptables iproute2 dnsmasq-base postfix swaks socat tcpdump
	strace # t-control.sh holds the daemon at a system call (the socket race)
	# metrics test (t-metrics.sh): curl, and promtool from the Prometheus package
	curl prometheus
	libhiredis-dev redis-server # the shared whitelist (meson option redis; t-redis.sh)
)

missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
	echo "install-deps: all ${#packages[@]} packages are installed"
	exit 0
fi

if ((EUID != 0)); then
	echo "install-deps: missing: ${missing[*]}" >&2
	echo "install-deps: run as root to install them" >&2
	exit 1
fi

echo "install-deps: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Postfix is only a test client here: install it unconfigured, so that it does
# not start a mail server on the host. The tests run private instances with
# their own main.cf and master.cf inside network namespaces.
if [[ " ${missing[*]} " == *" postfix "* ]]; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
apt-get update
# Packages such as redis-server and prometheus would start their services on install:
# the tests run their own private instances, so nothing is started on the host.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=1
fi
status=0
apt-get install -y "${missing[@]}" || status=$?
((own_policy)) && rm -f "$policy"
exit "$status"
