"""The actor lease: which of several watcher processes on one database writes to GitHub.

Daemons renew it every cycle; `watcher run --once` takes it for its one cycle and gives
it back. A process that does not get it only evaluates (docs/architecture.md, «State»).
The lease lasts three regular cycle gaps, so a brief hiccup does not hand the pull
requests to another process, while a dead holder is replaced within minutes. The lease
rows themselves are :class:`~watcher.state.leases.LeaseStore`'s; this module names
holders, judges whether one has died, and sets the actor lease's length.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watcher.config.model import DaemonConfig
    from watcher.state.leases import LeaseStore

ACTOR_LEASE = "actor"


def process_holder(pid: int | None = None) -> str:
    """A process's name in lease rows and claims: ``hostname:pid@pidns`` (this one's default).

    The pid namespace (Linux: the inode of ``/proc/self/ns/pid``) tells apart processes
    that share a host name but not a process table (containers with the host's UTS
    namespace), so that :func:`holder_is_gone` only ever judges a pid it can see.
    """
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}@{_pid_namespace()}"


def holder_is_gone(holder: str) -> bool:
    """Whether ``holder`` names a process of this machine's process table that has ended.

    A process killed outright (SIGKILL, OOM, a CronJob pod evicted) cannot give back its
    lease or claims; waiting for them to expire would keep every other process from
    writing for minutes, and a transition comment waiting that long. A holder of another
    host or pid namespace (or of unknown form) is judged by expiry alone, and so is one
    whose pid is taken again (it looks alive: the safe side).
    """
    host, _, rest = holder.rpartition(":")
    pid, _, namespace = rest.partition("@")
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    if namespace == "unknown":
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, under another user
        return False
    return False


def _pid_namespace() -> str:
    """This process's pid namespace id, or ``unknown`` where the system does not tell."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:").strip("[]")
    except OSError:
        return "unknown"


def lease_ttl(settings: DaemonConfig) -> timedelta:
    """How long a taken lease lasts without renewal: three cycle gaps."""
    return timedelta(seconds=3 * (settings.interval_seconds + settings.jitter_seconds))


@contextmanager
def actor_lease(store: LeaseStore, holder: str, settings: DaemonConfig) -> Iterator[bool]:
    """Take the actor lease for one cycle; yields whether it was taken, gives it back after."""
    leading = store.acquire_lease(ACTOR_LEASE, holder, lease_ttl(settings))
    try:
        yield leading
    finally:
        if leading:
            store.release_lease(ACTOR_LEASE, holder)
