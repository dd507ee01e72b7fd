"""Benchmark sanitize: seconds against input size on adversarial inputs.

Each input family is sanitized whole (``limit`` = its length, so the length cap does not
hide the algorithm) at sizes doubling from 100,000 to 800,000 characters; best of three,
in CPU seconds of this process (the machine may be shared).
Linear time shows as a seconds/size ratio that stays flat while the size doubles. The
old closing-keyword pattern took 26 s on ``"fix" + " " * 32000 + "x"`` alone and grew
with the square of the size.

Usage: ``python -m benchmarks.sanitize``. Goal: the ratio between the largest and the
smallest size's seconds-per-character below 2 for every family.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from watcher.core.sanitize import sanitize


def _repeat(block: str, size: int) -> str:
    return (block * (size // len(block) + 1))[:size]


FAMILIES: dict[str, Callable[[int], str]] = {
    "fix + spaces + x": lambda n: "fix" + " " * n + "x",
    "fix: repeated": lambda n: "fix:" * (n // 4),
    "fix.fix-fix.": lambda n: "fix.fix-" * (n // 8),
    "unmatched backtick runs": lambda n: "`" * 1000 + " `" * (n // 2),
    "backtick runs of every length": lambda n: _repeat(" ".join("`" * k for k in range(1, 400)), n),
    "mentions and refs": lambda n: "@a #1 " * (n // 6),
    "html": lambda n: "<!--<img>" * (n // 9),
    "url with keywords": lambda n: "https://x.io/" + "fix/" * (n // 4),
    "url GitHub would not link": lambda n: "https://" + "a_" * (n // 2),
    "keyword, separators, no ref": lambda n: "fixes" + " *_:(" * (n // 5) + "x",
    "release-note prose": lambda n: (
        (
            "* Fixes #2841: peer relay (@kradalby) in `hscontrol/relay.go` see "
            "https://github.com/juanfont/headscale/pull/2841\n"
        )
        * (n // 130)
    ),
}
SIZES = [100_000, 200_000, 400_000, 800_000]


def best_of(repeat: int, text: str) -> float:
    """The fastest of ``repeat`` runs of sanitize over ``text``, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        sanitize(text, "juanfont/headscale", limit=len(text))
        best = min(best, time.process_time() - began)
    return best


def main() -> None:
    """Print one line per family and size, then the per-character growth per family."""
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    print(f"{'input':32} {'chars':>9} {'seconds':>9} {'µs/char':>8}")
    worst = 0.0
    for name, make in FAMILIES.items():
        rates = []
        for size in SIZES:
            text = make(size)
            seconds = best_of(3, text)
            rates.append(seconds / len(text))
            print(f"{name:32} {len(text):9} {seconds:9.3f} {rates[-1] * 1e6:8.3f}")
        growth = rates[-1] / rates[0]
        worst = max(worst, growth)
        print(f"{name:32} per-char time, largest/smallest: {growth:.2f}")
    print(f"worst growth {worst:.2f} (goal < 2: linear; quadratic would be 8)")


if __name__ == "__main__":
    main()
