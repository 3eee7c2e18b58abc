#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A file system that can stop answering, for the tests of a hung state-file directory.

    hangfs.py MOUNTPOINT STATUSFILE

Mounts an in-memory directory (one level, regular files) at MOUNTPOINT through the kernel's
FUSE device, with no library: the protocol is read and written on /dev/fuse directly. Files
can be created, written, read, truncated, renamed, linked and removed, so a daemon's state
file works there as on a disk.

  SIGUSR1  from now on every fsync(2) of a file is read and never answered: the writer waits
           in the kernel, as on an NFS server that went away (a request the server has read
           is not ended by SIGKILL either).
  SIGUSR2  answers the held fsyncs with EIO and answers fsyncs again.
  SIGTERM  exits: the kernel ends every request still waiting (ENOTCONN).

STATUSFILE gets one line per event: "ready" once mounted, "held fsync pid=N" when a writer
is left waiting, "released N" after SIGUSR2.
"""
import ctypes
import errno
import os
import signal
import stat
import struct
import sys
import time

FOPEN_DIRECT_IO = 1
FUSE_BIG_WRITES = 1 << 5
MAX_WRITE = 65536
NO_REPLY = {2, 36, 42}  # FORGET, INTERRUPT, BATCH_FORGET


class Node:
    def __init__(self, ino, mode, uid, gid):
        self.ino, self.mode, self.uid, self.gid = ino, mode, uid, gid
        self.data = bytearray()
        self.nlink = 2 if stat.S_ISDIR(mode) else 1
        self.mtime = int(time.time())


class HangFS:
    def __init__(self, mountpoint, status):
        self.status = status
        self.nodes = {1: Node(1, stat.S_IFDIR | 0o755, 0, 0)}
        self.names = {}  # the root directory: name -> inode number
        self.next_ino = 2
        self.hang = False
        self.held = []
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        libc = ctypes.CDLL(None, use_errno=True)
        opts = "fd=%d,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other" % self.fd
        if libc.mount(b"hangfs", mountpoint.encode(), b"fuse", 2 | 4, opts.encode()) != 0:
            e = ctypes.get_errno()
            sys.exit("hangfs: mount %s: %s" % (mountpoint, os.strerror(e)))

    def note(self, line):
        with open(self.status, "a") as f:
            f.write(line + "\n")

    def reply(self, unique, err=0, data=b""):
        try:
            os.write(self.fd, struct.pack("<IiQ", 16 + len(data), -err, unique) + data)
        except OSError as e:  # ENOENT: the request was interrupted meanwhile
            if e.errno != errno.ENOENT:
                raise

    def attr(self, n):
        size = len(n.data)
        return struct.pack("<QQQQQQIIIIIIIIII", n.ino, size, (size + 511) // 512, n.mtime,
                           n.mtime, n.mtime, 0, 0, 0, n.mode, n.nlink, n.uid, n.gid, 0, 4096, 0)

    def entry(self, n):
        return struct.pack("<QQQQII", n.ino, 0, 0, 0, 0, 0) + self.attr(n)

    def attr_out(self, n):
        return struct.pack("<QII", 0, 0, 0) + self.attr(n)

    @staticmethod
    def names_in(body, count):
        parts = body.split(b"\0")
        return [p.decode("utf-8", "surrogateescape") for p in parts[:count]]

    def unlink_name(self, name):
        ino = self.names.pop(name)
        self.nodes[ino].nlink -= 1

    def on_usr1(self, *_):
        self.hang = True

    def on_usr2(self, *_):
        self.hang = False
        held, self.held = self.held, []
        for unique in held:
            self.reply(unique, errno.EIO)
        self.note("released %d" % len(held))

    def handle(self, op, unique, nodeid, uid, gid, pid, body):
        n = self.nodes.get(nodeid)
        if op == 26:  # INIT
            major, minor, readahead, flags = struct.unpack_from("<IIII", body)
            out = struct.pack("<IIIIHHIIHHI", 7, 31, readahead, flags & FUSE_BIG_WRITES, 16, 12,
                              MAX_WRITE, 1, 0, 0, 0) + bytes(28)
            self.reply(unique, 0, out)
            self.note("ready")
        elif op == 1:  # LOOKUP
            name = self.names_in(body, 1)[0]
            if nodeid != 1 or name not in self.names:
                self.reply(unique, errno.ENOENT)
            else:
                self.reply(unique, 0, self.entry(self.nodes[self.names[name]]))
        elif op == 3:  # GETATTR
            self.reply(unique, 0, self.attr_out(n)) if n else self.reply(unique, errno.ENOENT)
        elif op == 4:  # SETATTR
            valid, _, _, size = struct.unpack_from("<IIQQ", body)
            mode, _, fuid, fgid = struct.unpack_from("<IIII", body, 68)
            if valid & 1:
                n.mode = stat.S_IFMT(n.mode) | (mode & 0o7777)
            if valid & 2:
                n.uid = fuid
            if valid & 4:
                n.gid = fgid
            if valid & 8:
                del n.data[size:]
                n.data.extend(bytes(size - len(n.data)))
            n.mtime = int(time.time())
            self.reply(unique, 0, self.attr_out(n))
        elif op == 35:  # CREATE
            flags, mode, umask, _ = struct.unpack_from("<IIII", body)
            name = self.names_in(body[16:], 1)[0]
            if name in self.names:
                self.reply(unique, errno.EEXIST)
                return
            node = Node(self.next_ino, stat.S_IFREG | (mode & 0o7777), uid, gid)
            self.next_ino += 1
            self.nodes[node.ino] = node
            self.names[name] = node.ino
            self.reply(unique, 0, self.entry(node) + struct.pack("<QII", node.ino,
                                                                  FOPEN_DIRECT_IO, 0))
        elif op == 14:  # OPEN
            self.reply(unique, 0, struct.pack("<QII", nodeid, FOPEN_DIRECT_IO, 0))
        elif op == 27:  # OPENDIR
            self.reply(unique, 0, struct.pack("<QII", 1, 0, 0))
        elif op == 15:  # READ
            _, off, size = struct.unpack_from("<QQI", body)
            self.reply(unique, 0, bytes(n.data[off:off + size]))
        elif op == 16:  # WRITE
            _, off, size = struct.unpack_from("<QQI", body)
            data = body[40:40 + size]
            if len(n.data) < off:
                n.data.extend(bytes(off - len(n.data)))
            n.data[off:off + len(data)] = data
            n.mtime = int(time.time())
            self.reply(unique, 0, struct.pack("<II", len(data), 0))
        elif op == 28:  # READDIR
            _, off, size = struct.unpack_from("<QQI", body)
            items = [(1, ".", 4), (1, "..", 4)] + [(i, k, 8) for k, i in self.names.items()]
            out = b""
            for i, (ino, name, typ) in enumerate(items[off:], start=off + 1):
                raw = name.encode("utf-8", "surrogateescape")
                ent = struct.pack("<QQII", ino, i, len(raw), typ) + raw
                ent += bytes((8 - len(ent) % 8) % 8)
                if len(out) + len(ent) > size:
                    break
                out += ent
            self.reply(unique, 0, out)
        elif op == 10:  # UNLINK
            name = self.names_in(body, 1)[0]
            if name not in self.names:
                self.reply(unique, errno.ENOENT)
            else:
                self.unlink_name(name)
                self.reply(unique)
        elif op in (12, 45):  # RENAME, RENAME2
            skip = 8 if op == 12 else 16
            if op == 45 and struct.unpack_from("<QI", body)[1]:
                self.reply(unique, errno.EINVAL)
                return
            old, new = self.names_in(body[skip:], 2)
            if old not in self.names:
                self.reply(unique, errno.ENOENT)
                return
            if new in self.names and self.names[new] != self.names[old]:
                self.unlink_name(new)
            self.names[new] = self.names.pop(old)
            self.reply(unique)
        elif op == 13:  # LINK
            (old,) = struct.unpack_from("<Q", body)
            name = self.names_in(body[8:], 1)[0]
            if name in self.names:
                self.reply(unique, errno.EEXIST)
                return
            self.names[name] = old
            self.nodes[old].nlink += 1
            self.reply(unique, 0, self.entry(self.nodes[old]))
        elif op == 20:  # FSYNC
            if self.hang:
                self.held.append(unique)
                self.note("held fsync pid=%d" % pid)
            else:
                self.reply(unique)
        elif op == 17:  # STATFS
            self.reply(unique, 0, struct.pack("<QQQQQIIII", 1 << 20, 1 << 19, 1 << 19, 1 << 16,
                                              1 << 15, 4096, 255, 4096, 0) + bytes(24))
        elif op in (18, 25, 29, 30, 34):  # RELEASE, FLUSH, RELEASEDIR, FSYNCDIR, ACCESS
            self.reply(unique)
        elif op == 38:  # DESTROY
            self.reply(unique)
            sys.exit(0)
        elif op in (8, 9, 11):  # MKNOD, MKDIR, RMDIR: one level of regular files
            self.reply(unique, errno.EPERM)
        else:
            self.reply(unique, errno.ENOSYS)

    def run(self):
        signal.signal(signal.SIGUSR1, self.on_usr1)
        signal.signal(signal.SIGUSR2, self.on_usr2)
        while True:
            try:
                buf = os.read(self.fd, MAX_WRITE + 65536)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                    continue
                if e.errno == errno.ENODEV:  # unmounted
                    return
                raise
            size, op, unique, nodeid, uid, gid, pid = struct.unpack_from("<IIQQIII", buf)
            if op in NO_REPLY:
                continue
            self.handle(op, unique, nodeid, uid, gid, pid, bytes(buf[40:size]))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    HangFS(sys.argv[1], sys.argv[2]).run()
