"""release_free_memory: freed heap pages really leave the resident set on glibc."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from watcher.service.allocator import release_free_memory

GLIBC = sys.platform == "linux" and platform.libc_ver()[0] == "glibc"
MiB = 1024 * 1024


def anonymous_rss() -> int:
    """RssAnon of this process in bytes (heap pages actually resident)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no RssAnon in /proc/self/status")


def test_freed_pages_pinned_by_live_blocks_go_back_to_the_os() -> None:
    # 48 MiB in 8 KiB blocks (malloc'ed from the heap, below the mmap threshold); every
    # 64th stays alive, so the heap cannot shrink from the top: only malloc_trim can
    # give the free pages in between back.
    blocks = [bytes(8 * 1024) for _ in range(6 * 1024)]
    keep = blocks[::64]
    del blocks
    before = anonymous_rss()
    assert release_free_memory() is True
    after = anonymous_rss()
    assert before - after > 24 * MiB, (before / MiB, after / MiB)
    assert len(keep) == 96


def test_it_says_whether_it_could_trim() -> None:
    # The suite runs on glibc (Debian, like the image); elsewhere the trimmer is a no-op
    # that says so, and the RSS test above is the one that fails there.
    assert release_free_memory() is GLIBC
