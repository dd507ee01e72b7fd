"""Backtest (or check) the node_exporter `swap` collector watch on its *real* git history.

Usage: ``python -m tests.standin.real_node_exporter GIT_DIR [--up-to TAG] [check] [options]``,
where ``GIT_DIR`` is a clone or mirror of https://github.com/prometheus/node_exporter.
``make real-backtest-node-exporter NODE_EXPORTER_GIT=DIR`` does the same. The watch is
``examples/node-exporter-swap.toml``; release times are the tags' dates and every
release's images are taken as pushed (see :mod:`tests.standin.mirror`). The answer to
compare with is the release notes': "## 1.10.0 / 2025-10-24 ... swaps: Add new collector".
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.standin.real_replay import Upstream, main_for

CONFIG = Path(__file__).resolve().parents[2] / "examples" / "node-exporter-swap.toml"
NODE_EXPORTER = Upstream(
    "prometheus/node_exporter",
    images=(("quay.io", "prometheus/node-exporter"), ("docker.io", "prom/node-exporter")),
    config_text=CONFIG.read_text("utf-8"),
)


def main(argv: list[str]) -> int:
    """Entry point: ``GIT_DIR [--up-to TAG] [check] [options]``; the exit code is watcher's."""
    return main_for(NODE_EXPORTER, argv, __doc__.strip().splitlines()[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
