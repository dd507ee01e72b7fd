"""Logging for the daemon: structlog, human on a TTY, JSON lines otherwise, secrets redacted.

Everything goes through the standard :mod:`logging` machinery with one handler on the
root logger whose :class:`structlog.stdlib.ProcessorFormatter` renders both our own
structlog events and "foreign" records (APScheduler, httpx, alembic) the same way, so
a log collector sees one format and the redaction covers every line.

Redaction runs last before rendering, over every field of every event (nested dicts and
lists included, exception tracebacks after formatting) with the pure rules of
:mod:`watcher.core.redact`: a token must never reach a log even when it sneaks into an
error message or a URL.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any, TextIO

import structlog

from watcher.core.redact import redact_field

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor

    from watcher.runner.report import WatchOutcome

# Libraries that log at INFO on every poll or start (Alembic's "Context impl SQLiteImpl",
# "Will assume non-transactional DDL"); their news is already in our own lines (one per
# watch evaluation, `watcher db upgrade`'s answer) and in /metrics.
QUIET_LOGGERS = ("apscheduler", "httpx", "httpcore", "alembic.runtime")
# Libraries that name an Apprise target's host and path in their lines (Apprise's own
# DEBUG lines, urllib3's connection and request lines under requests): WARNING and up
# only, even with --verbose, since those URLs are secrets (README «Notifications»).
URL_LOGGERS = ("apprise", "urllib3", "requests")

# The format string APScheduler logs when a run falls due while the job still runs.
SKIPPED_RUN_PREFIX = 'Execution of job "%s" skipped: maximum number of running instances'

_handler: logging.Handler | None = None


class _SkippedRunFilter(logging.Filter):
    """Demote APScheduler's "skipped: maximum number of running instances" to DEBUG.

    The daemon's job has ``max_instances=1`` and ``coalesce=True`` on purpose: a cycle
    longer than the interval (a cold tarball scan) makes the scheduler skip the runs that
    fall due meanwhile, which is the design, not a fault. As a WARNING it would be
    logged once per missed interval; the daemon's own ``cycle finished`` line already
    carries the long duration.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every other record; keep this one only when DEBUG is enabled."""
        if not str(record.msg).startswith(SKIPPED_RUN_PREFIX):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        # Loggers check levels before filters run, so the demoted record must be dropped
        # here unless the root level lets DEBUG through.
        return logging.getLogger().isEnabledFor(logging.DEBUG)


_skipped_run_filter = _SkippedRunFilter()


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: redact secrets from every field of the event."""
    return {k: redact_field(k, v) for k, v in event_dict.items()}


def configure(
    json: bool | None = None, level: int | str = logging.INFO, stream: TextIO | None = None
) -> None:
    """Set up structlog and stdlib logging for the process (idempotent).

    ``json=None`` chooses by the stream: JSON lines unless it is a TTY. Logs go to
    ``stream`` (default stderr, so command output on stdout stays clean).
    """
    global _handler  # noqa: PLW0603 - one handler per process, replaced on reconfigure
    out = stream if stream is not None else sys.stderr
    tty = out.isatty()
    as_json = not tty if json is None else json
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(sort_keys=False)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=tty)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, so a token in an exception
            # message is scrubbed too (at the price of ConsoleRenderer's pretty ones).
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    # At DEBUG (`--verbose`) the libraries speak too: httpx's line per request is what
    # one wants to see then. httpcore's per-socket chatter stays off.
    verbose = root.getEffectiveLevel() <= logging.DEBUG
    for name in (*QUIET_LOGGERS, *URL_LOGGERS):
        quiet = not verbose or name == "httpcore" or name in URL_LOGGERS
        logging.getLogger(name).setLevel(logging.WARNING if quiet else logging.NOTSET)
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    if _skipped_run_filter not in scheduler_log.filters:
        scheduler_log.addFilter(_skipped_run_filter)
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Not cached: configure() may run again (tests, `--log-format`) and module-level
        # loggers must follow.
        cache_logger_on_first_use=False,
    )


def log_evaluation(logger: structlog.stdlib.BoundLogger, outcome: WatchOutcome) -> None:
    """Emit the one line per watch evaluation: verdict, target, duration, requests, 304s."""
    verdict = outcome.verdict
    fields: dict[str, Any] = {
        "watch": outcome.watch.id,
        "verdict": verdict.state.value if verdict is not None else None,
        "target": verdict.target.tag if verdict is not None and verdict.target else None,
        "duration": round(outcome.seconds, 3),
        "requests": outcome.requests,
        "not_modified": outcome.not_modified,
    }
    if outcome.event is not None:
        # The first verdict of a watch has no previous state: "-" as `watcher history`
        # shows it, not Python's "None".
        fields["transition"] = f"{outcome.event.from_state or '-'} -> {outcome.event.to_state}"
    if outcome.crash is not None:
        # A bug: the traceback (already scrubbed) is what the hint asks to report.
        fields["exception"] = outcome.crash.traceback
        logger.error("watch evaluated", error=outcome.error, hint=outcome.hint, **fields)
    elif outcome.error:
        logger.warning("watch evaluated", error=outcome.error, hint=outcome.hint, **fields)
    else:
        logger.info("watch evaluated", **fields)
