"""The allocator settings of a validating command."""

from __future__ import annotations

import subprocess
import sys


def test_keep_freed_memory_puts_arrow_on_the_c_allocator() -> None:
    # in a child process: the setting is process-wide and the test process must keep its own
    code = (
        "import pyarrow as pa; from tipstats.allocator import keep_freed_memory; "
        "before = pa.default_memory_pool().backend_name; keep_freed_memory(); "
        "print(before, pa.default_memory_pool().backend_name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = out.stdout.split()
    assert after == "system"
    assert before != "system" or sys.platform != "linux"  # the default there is mimalloc/jemalloc
