#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A TCP connection over IPv6 whose every packet, the SYN included, carries one
destination options header of LEN bytes (default 256) holding a single option
of type 0x1e: unknown, and "skip over this option" (RFC 8200 4.2), so the
receiver accepts the packet. The kernel adds the header (IPV6_DSTOPTS, needs
CAP_NET_RAW); the connection shows whether a SYN-ACK came back.

    v6-dstopts-connect.py SRC DST [TIMEOUT [LEN]]

Prints one word: greeting (connected, a 220 came), connected (no 220),
refused, timeout or error; exits 0 for greeting.
"""
import socket
import sys

IPV6_DSTOPTS = getattr(socket, "IPV6_DSTOPTS", 59)
OPT_TYPE = 0x1E


def dstopts(length):
    """The header as setsockopt takes it: next header (the kernel fills it),
    length in 8-byte units after the first 8, then one option filling it."""
    if length % 8 or not 8 <= length <= 2048:
        raise ValueError("length must be a multiple of 8 in 8..2048")
    data = length - 4
    if data > 255:
        raise ValueError("one option holds at most 255 bytes: length <= 256")
    return bytes([0, length // 8 - 1, OPT_TYPE, data]) + bytes(data)


def main():
    src, dst = sys.argv[1], sys.argv[2]
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    length = int(sys.argv[4]) if len(sys.argv) > 4 else 256
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, dstopts(length))
    s.bind((src, 0))
    s.settimeout(timeout)
    try:
        s.connect((dst, 25))
    except socket.timeout:
        print("timeout")
        return 1
    except ConnectionRefusedError:
        print("refused")
        return 1
    except OSError as e:
        print("error", e)
        return 1
    try:
        banner = s.recv(512)
        s.sendall(b"QUIT\r\n")
    except OSError:
        banner = b""
    s.close()
    if banner.startswith(b"220"):
        print("greeting")
        return 0
    print("connected")
    return 1


if __name__ == "__main__":
    sys.exit(main())
