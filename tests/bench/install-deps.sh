#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# What tests/bench/run needs on Debian 12 (build tools and libraries come from contrib/install-deps.sh).
set -e
export DEBIAN_FRONTEND=noninteractive
pkgs="gnuplot-nox postfix dnsmasq-base iptables iproute2 util-linux procps gawk"
# shellcheck disable=SC2086
if ! dpkg -s $pkgs >/dev/null 2>&1; then
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $pkgs
fi
