#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Verdict pauses from a capture on the server's interface (tests/bench/state.sh).

    pcap-pauses.py CAPTURE

CAPTURE: a pcap file (Ethernet, IPv4) of SYNs to port 25 and the RSTs answering them. For each
RST that answers a SYN seen before (matched by the client's address and port), prints
"PAUSE_MS WAIT_MS": the time from the later of the previous RST and the SYN's arrival to the
RST (a time in which a SYN waited and no verdict came), and the time the SYN waited. Reads the
file directly, in one pass: tcpdump -r slows down with the number of connections in a capture.
"""
import struct
import sys


def main(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit("%s: not a pcap file (too short)" % path)
        magic = struct.unpack("<I", head[:4])[0]
        if magic not in (0xA1B2C3D4, 0xA1B23C4D):
            sys.exit("%s: not a little-endian pcap file (magic %08x)" % (path, magic))
        scale = 1e-9 if magic == 0xA1B23C4D else 1e-6
        syn, prev = {}, 0.0
        out = sys.stdout
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            sec, frac, incl, _ = struct.unpack("<IIII", h)
            d = f.read(incl)
            t = sec + frac * scale
            if len(d) < 34 or d[12:14] != b"\x08\x00":
                continue
            tcp = 14 + (d[14] & 15) * 4
            if len(d) < tcp + 14:
                continue
            sport, dport = struct.unpack(">HH", d[tcp:tcp + 4])
            flags = d[tcp + 13]
            if dport == 25 and flags & 0x02 and not flags & 0x10:
                syn[(d[26:30], sport)] = t
            elif sport == 25 and flags & 0x04:
                s = syn.pop((d[30:34], dport), None)
                if s is not None:
                    out.write("%.6f %.6f\n" % ((t - max(s, prev)) * 1e3, (t - s) * 1e3))
                prev = t


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: pcap-pauses.py CAPTURE")
    main(sys.argv[1])
