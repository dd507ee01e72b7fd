"""Stop requests: the first SIGTERM/SIGINT asks the daemon to stop, a second ends it now.

Installed by `watcher run` as the first thing it does (before the configuration, the
credentials, the database and its migration), so a signal during start-up stops the
daemon as at any other time, with exit 0, instead of Python's default death (143). The
handler only sets an Event (it runs between bytecodes of the main thread, which may hold
any lock); :class:`watcher.service.daemon.Daemon` watches that Event. Why a second signal
may exit at once: «Daemon» in watcher.service.daemon.
"""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopSignals:
    """The stop request of the process and the handlers that raise it."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def install(self) -> dict[int, Any]:
        """Handle SIGTERM and SIGINT (main thread only); the handlers they replace."""
        return {signum: signal.signal(signum, self._on_signal) for signum in SIGNALS}

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested.is_set():
            # Second signal: the operator means it; os.write because logging is not
            # safe inside a signal handler.
            os.write(2, f"watcher: signal {signum} again, exiting now\n".encode())
            os._exit(128 + signum)
        self.requested.set()
