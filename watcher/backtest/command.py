"""The shell behind ``watcher backtest``: gather the history, replay it, render it.

Like the runner, this module knows every layer: it reaches the feature-scan cache in the
store (the same cache and key as ``watcher check``) and hands it to the source as
callables. A backtest writes nothing but caches (feature scans, HTTP validators): no
run, verdict, event or outbox row, and nothing to GitHub.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from watcher.backtest.gather import (
    DOCKER_HUB_API,
    DockerHubPushTimes,
    gather_history,
)
from watcher.backtest.replay import Backtest, backtest
from watcher.backtest.svg import backtest_svg
from watcher.backtest.text import backtest_json, backtest_text
from watcher.config.model import Config, WatchConfig
from watcher.core import progress
from watcher.core.errors import ConfigError
from watcher.core.exit_codes import EXIT_NOT_READY, EXIT_READY
from watcher.core.image_ref import DOCKER_HUB
from watcher.core.models import READY_STATES
from watcher.net.registry import DEFAULT_REGISTRIES
from watcher.runner.caches import store_graph_cache, store_scan_cache
from watcher.runner.readers import Readers
from watcher.state.store import Store

FORMATS = ("text", "json", "svg")


def backtest_command(
    config: Config,
    store: Store,
    readers: Readers,
    *,
    watch_id: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    plot: Path | None = None,
    scan_all: bool = False,
    docker_hub_api: str | None = None,
) -> tuple[str, int]:
    """Run a backtest and render it as ``fmt``; exit 0 when it ends ready, 1 otherwise.

    ``since``/``until`` without a timezone are UTC; an ``until`` at midnight includes
    that whole day. ``plot`` also writes the SVG there. WatcherErrors propagate (exit 2).
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    result = run_backtest(
        config,
        store,
        readers,
        select_watch(config, watch_id),
        since=_utc(since),
        until=_inclusive_end(_utc(until)),
        scan_all=scan_all,
        docker_hub_api=docker_hub_api,
    )
    # The picture runs to the day of the run: the final state shows for as long as it has
    # lasted. A day, not the second, so two runs on one day draw the same picture.
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    svg = backtest_svg(result, end=today) if plot is not None or fmt == "svg" else ""
    if plot is not None:
        plot.write_text(svg, "utf-8")
    final = result.final
    code = EXIT_READY if final is not None and final.state in READY_STATES else EXIT_NOT_READY
    if fmt == "svg":
        return svg, code
    return (backtest_json if fmt == "json" else backtest_text)(result), code


def run_backtest(
    config: Config,
    store: Store,
    readers: Readers,
    watch: WatchConfig,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    scan_all: bool = False,
    docker_hub_api: str | None = None,
) -> Backtest:
    """Gather ``watch``'s history through ``readers`` and the store's scan cache, and replay it."""
    push_times = _push_times(readers, docker_hub_api)
    progress.step(f"backtest {watch.id}: reading the history of {watch.repo}")
    history = gather_history(
        watch,
        readers.github,
        readers.registry,
        store_scan_cache(store, watch.repo, watch.feature) if watch.feature else None,
        graph_cache=store_graph_cache(store),
        push_time=push_times,
        scan_all=scan_all,
    )
    if push_times is not None and push_times.failures:
        note = (
            f"Docker Hub push times unavailable, assumed = release time ({push_times.failures[0]})"
        )
        history = replace(history, notes=(*history.notes, note))
    progress.step(f"backtest {watch.id}: replaying {len(history.releases)} release(s)")
    try:
        return backtest(history, since, until)
    finally:
        progress.clear()


def select_watch(config: Config, watch_id: str | None) -> WatchConfig:
    """The named watch, or the only one; a ConfigError when the choice is ambiguous."""
    if watch_id is not None:
        return config.select((watch_id,))[0]
    if len(config.watch) == 1:
        return config.watch[0]
    raise ConfigError(
        "several watches are configured: name the one to backtest",
        hint=f"known watches: {', '.join(w.id for w in config.watch)}",
    )


def _push_times(readers: Readers, api: str | None) -> DockerHubPushTimes | None:
    # Docker Hub's API only describes Docker Hub itself: with docker.io pointed at a
    # mirror or a stand-in its answers would be about other images, so it is not asked.
    if api is None:
        real_hub = readers.registry.base_url(DOCKER_HUB) == DEFAULT_REGISTRIES[DOCKER_HUB]
        api = DOCKER_HUB_API if real_hub else None
    return DockerHubPushTimes(readers.http, api) if api else None


def _utc(at: datetime | None) -> datetime | None:
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)


def _inclusive_end(at: datetime | None) -> datetime | None:
    # ``--to 2025-10-01`` means "up to the end of that day", not its first second.
    if at is None or at.timetz().replace(tzinfo=None) != time(0):
        return at
    return at + timedelta(days=1) - timedelta(microseconds=1)
