"""Hand memory freed by a cycle back to the operating system (glibc's ``malloc_trim``).

A cycle parses JSON bodies, scans release tarballs and builds SQL statements; when it
ends, almost all of that is garbage. Python gives the objects back to the C allocator,
but glibc keeps the freed pages of its heaps mapped for reuse, in the main heap and in
the arena of the worker thread that ran the cycle, so an idle daemon's resident set
stays at the high-water mark of its busiest cycle. ``malloc_trim(0)`` returns every
whole free page of every arena (glibc >= 2.8) and costs about a millisecond here, so it
runs after each cycle (docs/architecture.md, «Bird's-eye view»).

Only glibc has it: on musl (Alpine), macOS and Windows the trimmer is a no-op.
"""

from __future__ import annotations

import ctypes
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """``malloc_trim`` of the C library this interpreter runs on, or None without one."""
    if sys.platform != "linux":
        return None
    # dlopen(NULL): the symbols already loaded into this process, libc's among them. Not
    # ctypes.util.find_library, which runs ldconfig: no subprocess in a cycle's thread.
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is None:
        return None  # musl
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


def release_free_memory() -> bool:
    """Return the allocator's free pages to the OS; True when that was possible here."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
