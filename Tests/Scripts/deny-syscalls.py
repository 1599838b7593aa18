#!/usr/bin/env python3
"""Runs a command under a seccomp filter that fails the named system calls
with EPERM, as a unit's SystemCallFilter= without them would.

    deny-syscalls.py sched_setscheduler[,setpriority] -- COMMAND [ARG...]

Tests use it to see what the daemon does where a stricter filter than the
shipped unit's denies what it asks for. x86_64 and aarch64 only; exits 3
elsewhere (the caller skips)."""
import ctypes
import os
import platform
import sys

# System call numbers and the audit architecture seccomp reports.
TABLES = {
    "x86_64": (0xC000003E, {"sched_setscheduler": 144, "setpriority": 141}),
    "aarch64": (0xC00000B7, {"sched_setscheduler": 119, "setpriority": 140}),
}


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    table = TABLES.get(platform.machine())
    if table is None:
        sys.exit(3)
    arch, numbers = table
    denied = [numbers[name] for name in sys.argv[1].split(",")]

    class SockFilter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]

    LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
    ALLOW, EPERM = 0x7FFF0000, 0x00050000 | 1
    n = len(denied)
    prog = [SockFilter(LD_W_ABS, 0, 0, 4),          # seccomp_data.arch
            SockFilter(JEQ_K, 0, n + 1, arch),      # another architecture: allow
            SockFilter(LD_W_ABS, 0, 0, 0)]          # seccomp_data.nr
    for i, nr in enumerate(denied):
        prog.append(SockFilter(JEQ_K, n - i, 0, nr))  # to the EPERM return
    prog += [SockFilter(RET_K, 0, 0, ALLOW), SockFilter(RET_K, 0, 0, EPERM)]
    array = (SockFilter * len(prog))(*prog)
    fprog = SockFprog(len(prog), array)
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit("deny-syscalls: prctl: %s" % os.strerror(ctypes.get_errno()))
    os.execv(sys.argv[3], sys.argv[3:])


if __name__ == "__main__":
    main()
