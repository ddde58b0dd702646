"""A process tree read from /proc (Linux), for the bench scripts' memory and CPU figures.

Pool workers are children of multiprocessing's forkserver, not of the command measured, so a
plain ``wait4`` on the command misses their CPU time; a subreaper (``become_subreaper``) gets
them reparented when the command exits and ``reap_orphans`` collects their time.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class Process:
    parent: int
    command: str
    rss_kib: int
    cpu_seconds: float


def processes() -> dict[int, Process]:
    """Every live process: parent, command line (short), resident set, user + system time."""
    table: dict[int, Process] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:90]
        except OSError:  # the process ended meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        rss = next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        cpu = (int(fields[11]) + int(fields[12])) / TICK
        table[int(entry.name)] = Process(int(fields[1]), command, rss, cpu)
    return table


def descendants(root: int, table: dict[int, Process], *, include_root: bool = False) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, process in table.items():
        children.setdefault(process.parent, []).append(pid)
    found, todo = [], [root] if include_root else list(children.get(root, []))
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def tree_rss_mb(root: int, *, include_root: bool = True) -> float:
    """The summed resident set of ``root`` and its descendants, MB."""
    table = processes()
    return (
        sum(table[pid].rss_kib for pid in descendants(root, table, include_root=include_root))
        / 1024
    )


def become_subreaper() -> bool:
    """Have orphaned descendants reparented to this process (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def reap_orphans(timeout: float = 30.0) -> float:
    """Wait for the children left (orphans reparented here); their user + system seconds."""
    cpu, deadline = 0.0, time.monotonic() + timeout
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:  # none left
            return cpu
        if pid == 0:
            if time.monotonic() > deadline:
                return cpu
            time.sleep(0.05)
            continue
        cpu += usage.ru_utime + usage.ru_stime
