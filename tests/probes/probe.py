#!/usr/bin/env python3
"""Attempts operations from inside the sandbox and prints what each one got.

Usage: probe.py OP [OP ...], where each OP is `name:arg1:arg2...` (the last argument may
contain ':'). For each OP one line is printed: `OP = RESULT`, RESULT being `OK`,
`OK <detail>` or the errno name (`EACCES`, ...).
The integration tests parse these lines and assert on the errno names, so a probe never
decides what is allowed: it only reports what the kernel answered.
"""

import ctypes
import errno
import os
import socket
import sys

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

SYS_IO_URING_SETUP = 425
SYS_IOCTL = 16
SYS_PTRACE = 101
PTRACE_ATTACH = 16
TIOCSTI = 0x5412
CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def errname(e):
    return errno.errorcode.get(e, "E%d" % e)


def raw(call):
    """Runs a libc call returning -1/errno and turns it into a result string."""
    ctypes.set_errno(0)
    rc = call()
    if rc == -1:
        return errname(ctypes.get_errno())
    return "OK"


def op_read(path):
    with open(path, "rb") as f:
        data = f.read(200)
    return "OK " + data.decode("utf-8", "replace").strip().replace("\n", "\\n")


def op_write(path, text="probe"):
    with open(path, "w") as f:
        f.write(text + "\n")
    return "OK"


def op_append(path, text="probe"):
    with open(path, "a") as f:
        f.write(text + "\n")
    return "OK"


def op_mkdir(path):
    os.mkdir(path)
    return "OK"


def op_rename(src, dst):
    os.rename(src, dst)
    return "OK"


def op_unlink(path):
    os.unlink(path)
    return "OK"


def op_rmdir(path):
    os.rmdir(path)
    return "OK"


def op_symlink(target, link):
    os.symlink(target, link)
    return "OK"


def op_chmod(path, mode="755"):
    os.chmod(path, int(mode, 8))
    return "OK"


def op_list(path):
    return "OK " + ",".join(sorted(os.listdir(path)))


def op_stat(path):
    st = os.lstat(path)
    return "OK mode=%o" % st.st_mode


def op_tcp(host, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        s.connect((host, int(port)))
    finally:
        s.close()
    return "OK"


def op_unix(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(3)
    try:
        # A leading '@' names an abstract socket.
        s.connect("\0" + path[1:] if path.startswith("@") else path)
    finally:
        s.close()
    return "OK"


def op_fds():
    """Open descriptors, without the one the listing itself used (closed by the time its
    link is read, so it reads as ENOENT)."""
    out = []
    for n in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink("/proc/self/fd/" + n)
        except FileNotFoundError:
            continue
        out.append("%s->%s" % (n, target))
    return "OK " + ",".join(out)


def op_status(field):
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key == field:
                return "OK " + value.strip()
    return "ENOENT"


def op_unshare(what):
    flag = {"user": CLONE_NEWUSER, "mount": CLONE_NEWNS, "net": CLONE_NEWNET}[what]
    return raw(lambda: LIBC.unshare(flag))


def op_io_uring():
    params = ctypes.create_string_buffer(120)
    rc = LIBC.syscall(SYS_IO_URING_SETUP, 4, params)
    if rc >= 0:
        os.close(rc)
        return "OK"
    return errname(ctypes.get_errno())


def op_ptrace(pid):
    ctypes.set_errno(0)
    rc = LIBC.syscall(SYS_PTRACE, PTRACE_ATTACH, int(pid), 0, 0)
    return "OK" if rc == 0 else errname(ctypes.get_errno())


def op_tiocsti(high_bits="0"):
    """TIOCSTI on a fresh pty; `high_bits=1` sets bit 32 of the command, which the kernel
    ignores, to check that a filter compares only the low 32 bits."""
    master, slave = os.openpty()
    try:
        ch = ctypes.c_char(b"x")
        cmd = TIOCSTI | (1 << 32 if high_bits == "1" else 0)
        ctypes.set_errno(0)
        rc = LIBC.syscall(SYS_IOCTL, slave, ctypes.c_ulong(cmd), ctypes.byref(ch))
        return "OK" if rc == 0 else errname(ctypes.get_errno())
    finally:
        os.close(master)
        os.close(slave)


def op_env(name):
    value = os.environ.get(name)
    return "ENOENT" if value is None else "OK " + value


def op_pty():
    master, slave = os.openpty()
    try:
        return "OK " + os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def op_link(target, link):
    os.link(target, link)
    return "OK"


def op_mkfifo(path):
    os.mkfifo(path)
    return "OK"


def op_openat(dirpath, name):
    """Creates `name` relative to a descriptor of `dirpath` (openat with a real dirfd)."""
    dfd = os.open(dirpath, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dfd)
        os.close(fd)
    finally:
        os.close(dfd)
    return "OK"


# Raw x86_64 syscalls, so the legacy entry points (which libc and python no longer use)
# are tried too.
RAW = {
    "open": 2,
    "rename": 82,
    "mkdir": 83,
    "creat": 85,
    "link": 86,
    "symlink": 88,
    "mknod": 133,
    "openat2": 437,
}


def op_raw(name, a, b=""):
    """`raw:NAME:PATH[:PATH2]`: one raw syscall by its x86_64 number."""
    if os.uname().machine != "x86_64":
        return "SKIPPED"
    pa, pb = a.encode(), b.encode()
    nr = RAW[name]
    ctypes.set_errno(0)
    if name == "open":
        rc = LIBC.syscall(nr, pa, os.O_WRONLY | os.O_CREAT, 0o644)
    elif name in ("rename", "link", "symlink"):
        rc = LIBC.syscall(nr, pa, pb)
    elif name == "mkdir":
        rc = LIBC.syscall(nr, pa, 0o755)
    elif name == "creat":
        rc = LIBC.syscall(nr, pa, 0o644)
    elif name == "mknod":
        rc = LIBC.syscall(nr, pa, 0o010644, 0)  # S_IFIFO
    else:  # openat2 with struct open_how {flags, mode, resolve}
        how = (ctypes.c_uint64 * 3)(os.O_WRONLY | os.O_CREAT, 0o644, 0)
        rc = LIBC.syscall(nr, -100, pa, ctypes.byref(how), 24)
    if rc < 0:
        return errname(ctypes.get_errno())
    if name in ("open", "creat", "openat2"):
        os.close(rc)
    return "OK"


OPS = {
    "link": op_link,
    "mkfifo": op_mkfifo,
    "openat": op_openat,
    "raw": op_raw,
    "read": op_read,
    "write": op_write,
    "append": op_append,
    "mkdir": op_mkdir,
    "rename": op_rename,
    "unlink": op_unlink,
    "rmdir": op_rmdir,
    "symlink": op_symlink,
    "chmod": op_chmod,
    "list": op_list,
    "stat": op_stat,
    "tcp": op_tcp,
    "unix": op_unix,
    "fds": op_fds,
    "status": op_status,
    "unshare": op_unshare,
    "io_uring": op_io_uring,
    "ptrace": op_ptrace,
    "tiocsti": op_tiocsti,
    "env": op_env,
    "pty": op_pty,
}


def main(argv):
    for spec in argv:
        name, _, rest = spec.partition(":")
        try:
            func = OPS[name]
            # The last argument keeps any further ':' (file contents, JSON).
            nargs = func.__code__.co_argcount
            args = rest.split(":", nargs - 1) if rest and nargs else []
            result = func(*args)
        except OSError as e:
            result = errname(e.errno) if e.errno else "ERROR " + str(e)
        except Exception as e:  # noqa: BLE001 - reported, not hidden
            result = "ERROR %s: %s" % (type(e).__name__, e)
        print("%s = %s" % (spec, result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
