"""Deliver outbox rows (transitions, error episodes) to Apprise targets: Slack, Matrix, ...

Each row goes to each target configured when it was written, once: the row is claimed
for the target in the database before sending (so two processes never both send it),
marked sent after, and on failure retried with exponential backoff
(``[notify].apprise_retry_seconds``, doubled per attempt, at most :data:`MAX_BACKOFF`).
A target that fails stops for this cycle, so a dead endpoint costs one timeout per
cycle, and its rows stay in order.

A process that dies between sending and marking leaves a claim that expires after
:data:`CLAIM_LEASE`; the row is then sent again: a webhook cannot be asked whether it
already received something, so delivery is at least once in that window only. Each
message ends with ``watcher event N`` (the outbox id) for a receiver that deduplicates.

Apprise is imported here only, and this module only when targets are configured:
importing it and loading its plugins costs about half a second.

Apprise logs through the ``apprise`` logger, sometimes with the URL (a webhook's token
is in its path). That logger is cut off from ours; its warnings about one send are
captured, masked (:func:`watcher.notify.targets.mask`) and stored as that delivery's
error instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from watcher.core.errors import ConfigError
from watcher.notify.message import plain
from watcher.notify.targets import AppriseTarget, mask
from watcher.state.deliveries import PendingDelivery
from watcher.state.store import Store

#: A claim outlives any one send (Apprise's own connect + read timeouts are seconds).
CLAIM_LEASE = timedelta(minutes=2)
#: The longest wait between two attempts, however many failed.
MAX_BACKOFF = timedelta(hours=1)
#: Rows sent per target and cycle; the rest wait for the next cycle.
BATCH = 50

_APPRISE_LOGGER = "apprise"
_capture_lock = threading.Lock()


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery pass did: rows sent and the failures (masked, one per target)."""

    sent: int
    failures: tuple[str, ...]


def validate(targets: Sequence[AppriseTarget]) -> None:
    """Raise a ConfigError naming the first target whose URL Apprise cannot use."""
    import apprise

    for target in targets:
        if apprise.Apprise.instantiate(target.url, suppress_exceptions=True) is None:
            raise ConfigError(
                f"{target.key}: not an Apprise URL this Apprise can send to "
                f"(service {target.scheme!r})",
                hint="see https://github.com/caronc/apprise/wiki for the URL of each service",
            )


def deliver(
    store: Store,
    targets: Sequence[AppriseTarget],
    *,
    holder: str,
    retry: timedelta,
) -> DeliveryReport:
    """Send every due outbox row to every target it is for (see the module docstring)."""
    sent, failures = 0, []
    for target in targets:
        for item in store.pending_deliveries(target.key, limit=BATCH):
            attempt = store.claim_delivery(item.outbox_id, target.key, holder, CLAIM_LEASE)
            if attempt is None:
                break  # sent meanwhile, claimed by another process, or waiting to retry
            title, body = render(item)
            error = _send(target, title, body)
            if error is None:
                store.delivery_sent(item.outbox_id, target.key)
                sent += 1
                continue
            error = mask(error, targets)
            store.delivery_failed(item.outbox_id, target.key, error, backoff(retry, attempt))
            failures.append(f"{target.label}: {error}")
            break
    return DeliveryReport(sent, tuple(failures))


def backoff(base: timedelta, attempt: int) -> timedelta:
    """The wait after failed attempt number ``attempt``: doubling, at most MAX_BACKOFF."""
    return min(base * (1 << min(attempt - 1, 20)), MAX_BACKOFF)


def render(item: PendingDelivery) -> tuple[str, str]:
    """The title and plain-text body of one outbox row, ending with its event number."""
    title, lines = plain(item.notice)
    return title, "\n".join([*lines, f"watcher event {item.outbox_id}"])


def _send(target: AppriseTarget, title: str, body: str) -> str | None:
    """Send one message to one target; None on success, else what went wrong (unmasked)."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(target.url):
        return f"Apprise cannot use this URL (service {target.scheme!r})"
    with _captured_warnings() as warnings:
        try:
            ok = bool(sender.notify(body=body, title=title, body_format="text"))
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the cycle
            return f"{type(exc).__name__}: {exc}"
    if ok:
        return None
    return "; ".join(warnings[-2:]) or "the service refused the notification"


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """Collect the ``apprise`` logger's warnings while sending; keep them out of our logs."""
    logger = logging.getLogger(_APPRISE_LOGGER)
    found: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            found.append(record.getMessage())

    handler = _Collect(logging.WARNING)
    with _capture_lock:
        logger.propagate = False  # its lines may quote a URL: never into our logs
        logger.addHandler(handler)
        try:
            yield found
        finally:
            logger.removeHandler(handler)
