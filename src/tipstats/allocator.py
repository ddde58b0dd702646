"""How a process uses the C library's allocator (glibc), where memory behaviour matters.

A short command that allocates and frees a gigabyte of arrays (``tipstats validate`` of a
million rows) gains from keeping freed memory; a long-lived worker that sits idle after a heavy
step (the export's disclosure chunks) should give it back. Elsewhere than glibc both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import gc
import sys

# mallopt's parameter numbers (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - musl has a libc.so.6 too, without glibc's tuning calls
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def keep_freed_memory() -> None:
    """Keep freed memory in the process for the next allocation instead of handing it back.

    Validating a file of a million rows allocates and frees about a gigabyte in arrays of a few
    megabytes. Arrow's default allocator (mimalloc) and the C library's thresholds give such
    blocks back to the system at once; taking them again costs page faults and, with pyarrow's
    threads alive, TLB shootdowns: on that file 1.3-1.7 s of the command in the kernel, against
    about 0.6 s with memory kept (measured in bench/notes_validation_1m.md). A command that
    validates one file and exits has no use for memory handed back early.
    """
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())  # arrow's buffers from malloc, tuned below
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)  # never shrink the heap while the command runs
    libc.mallopt(_M_TOP_PAD, 256 * 2**20)  # grow it in large steps
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 2**20)  # blocks up to 32 MB (the most glibc allows)


def give_freed_memory_back() -> None:
    """Return freed working memory to the system (glibc keeps it in the heap otherwise)."""
    libc = _glibc()
    if libc is not None:
        gc.collect()
        libc.malloc_trim(0)
