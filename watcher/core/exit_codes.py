"""The documented exit codes of `check`, `run --once` and `backtest` (README, "Exit codes").

Numbers only: the runner and the backtest compute a code, and only the CLI and the
service exit with it (docs/architecture.md, «Invariants»).
"""

from __future__ import annotations

EXIT_READY, EXIT_NOT_READY, EXIT_ERROR = 0, 1, 2
