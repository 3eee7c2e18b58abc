#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Raw clients of mxallowd's control socket for t-control.sh: what mxallowctl never sends.

  control-client.py SOCK lines LINE...    one connection: the banner, then each LINE (+ LF) sent
                                          at once; prints every line received until the daemon
                                          closes (we shut down our side after sending)
  control-client.py SOCK bytes TEXT       sends TEXT as it is (\\n, \\x.. escapes), no shutdown;
                                          prints the lines received until the daemon closes
  control-client.py SOCK eof TEXT         like bytes, then shuts down our side
  control-client.py SOCK fill N PREFIX    pipelines N "add PREFIXi 600" (hex i) in batches,
                                          reading the answers; prints "ok=K other=L"
  control-client.py SOCK stuck FLAG MAX    sends "list", reads only the banner, then reads
                                          nothing until the file FLAG exists (at most MAX s),
                                          then what is left; prints
                                          "received=BYTES final=0|1 eof=0|1"
  control-client.py SOCK idle SECONDS     connects, sends nothing; prints "closed-after=S" (or
                                          "still-open") within SECONDS
  control-client.py SOCK flood FLAG MAX N DEAF
                                          N clients pipeline requests as fast as the daemon
                                          takes them (each a batch of 20 "show 198.51.100.3"
                                          and one "add 2001:db8:fe:K::I 600", I cycling over
                                          256) and read the answers in a thread of their own;
                                          DEAF more clients send the same and never read.
                                          Creates FLAG.ready once every reading client has had
                                          an answer; stops at FLAG (at most MAX s); prints
                                          "answers=A min=M deaf-sent=S errors=E"
  control-client.py SOCK hold N           opens N connections (banner each) then one more;
                                          prints the extra connection's first line; then closes
                                          one of the N and connects again until it is served
                                          (at most 5 s): prints its first line
Exit status 0 unless the connection itself fails.
"""
import os
import socket
import sys
import threading
import time


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(path)
    return s


def read_line(s, buf):
    while b"\n" not in buf[0]:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:  # closed with our bytes unread: what it sent came first
            chunk = b""
        if not chunk:
            return None
        buf[0] += chunk
    line, _, rest = buf[0].partition(b"\n")
    buf[0] = rest
    return line.decode("ascii", "replace")


def read_all_lines(s, buf):
    out = []
    while True:
        try:
            line = read_line(s, buf)
        except socket.timeout:
            out.append("(timeout)")
            break
        if line is None:
            break
        out.append(line)
    if buf[0]:
        out.append("(partial) " + buf[0].decode("ascii", "replace"))
    return out


def flood(path, flag, limit, n, deaf):
    deadline = time.monotonic() + limit
    answers = [0] * n
    sent = [0] * deaf
    errors = []

    def done():
        return os.path.exists(flag) or time.monotonic() > deadline

    def batch(k, i):
        shows = b"show 198.51.100.3\n" * 20
        return shows + ("add 2001:db8:fe:%x::%x 600\n" % (k, i % 256)).encode()

    def reader(s, k):
        buf = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
            lines = buf.split(b"\n")
            buf = lines.pop()
            answers[k] += sum(1 for x in lines if x.startswith((b"ok", b"no", b"error")))
            errors.extend(x for x in lines if x.startswith(b"error"))

    def writer(s, k, is_deaf):
        i, data = 0, b""
        while not done():
            if not data:
                data, i = batch(k, i), i + 1
                if is_deaf:
                    sent[k - n] += 21
            try:
                data = data[s.send(data):]
            except socket.timeout:
                continue  # its buffers are full: try again until the flag
            except OSError:
                break  # the daemon dropped it

    threads = []
    for k in range(n + deaf):
        s = connect(path)
        read_line(s, [b""])
        s.settimeout(0.5)
        if k < n:
            threads.append(threading.Thread(target=reader, args=(s, k), daemon=True))
        threads.append(threading.Thread(target=writer, args=(s, k, k >= n), daemon=True))
    for t in threads:
        t.start()
    while not done() and min(answers) == 0:
        time.sleep(0.05)
    if min(answers) > 0:
        open(flag + ".ready", "w").close()
    while not done():
        time.sleep(0.05)
    print("answers=%d min=%d deaf-sent=%d errors=%d"
          % (sum(answers), min(answers), sum(sent), len(errors)))
    sys.stdout.flush()
    os._exit(0)  # the threads may sit in send() on a full socket


def main():
    path, mode, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    buf = [b""]
    if mode == "lines":
        s = connect(path)
        print(read_line(s, buf))
        s.sendall(b"".join(a.encode("latin-1") + b"\n" for a in args))
        s.shutdown(socket.SHUT_WR)
        print("\n".join(read_all_lines(s, buf)))
    elif mode in ("bytes", "eof"):
        s = connect(path)
        print(read_line(s, buf))
        data = args[0].encode("latin-1").decode("unicode_escape").encode("latin-1")
        s.sendall(data)
        if mode == "eof":
            s.shutdown(socket.SHUT_WR)
        print("\n".join(read_all_lines(s, buf)))
    elif mode == "fill":
        n, prefix = int(args[0]), args[1]
        s = connect(path)
        read_line(s, buf)
        ok = other = 0
        for start in range(0, n, 500):
            batch = range(start, min(n, start + 500))
            s.sendall(b"".join(("add %s%x 600\n" % (prefix, i)).encode() for i in batch))
            for _ in batch:
                line = read_line(s, buf)
                if line is not None and line.startswith("ok added"):
                    ok += 1
                else:
                    other += 1
        print("ok=%d other=%d" % (ok, other))
    elif mode == "stuck":
        s = connect(path)
        read_line(s, buf)
        s.sendall(b"list\n")
        deadline = time.monotonic() + float(args[1])
        while not os.path.exists(args[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        s.settimeout(5)
        got, final, eof = 0, 0, 0
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                eof = 1
                break
            got += len(chunk)
            data = (data + chunk)[-200:]
        if b"\nok " in data:
            final = 1
        print("received=%d final=%d eof=%d" % (got, final, eof))
    elif mode == "idle":
        s = connect(path)
        read_line(s, buf)
        s.settimeout(float(args[0]))
        t0 = time.monotonic()
        try:
            chunk = s.recv(100)
            print("closed-after=%d" % round(time.monotonic() - t0) if not chunk else "data")
        except socket.timeout:
            print("still-open")
    elif mode == "flood":
        flood(path, args[0], float(args[1]), int(args[2]), int(args[3]))
    elif mode == "hold":
        n = int(args[0])
        held = []
        for _ in range(n):
            s = connect(path)
            held.append((s, read_line(s, [b""])))
        print("held=%d first=%s" % (len(held), held[0][1]))
        extra = connect(path)
        print("extra: %s" % read_line(extra, [b""]))
        held[0][0].close()
        deadline = time.monotonic() + 5
        while True:
            again = connect(path)
            line = read_line(again, [b""])
            if not (line or "").startswith("error busy") or time.monotonic() > deadline:
                break
            again.close()
            time.sleep(0.1)
        print("again: %s" % line)
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
