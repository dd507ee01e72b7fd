"""From a ready verdict to the chart-bump proposal: read the chart, resolve pins, plan the bump.

Reads only (GitHub contents, registry tags); no database, no writes. Used by
``watcher check --plan`` to show what would be pushed, and by ``watcher run`` before
reconciling the pull request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from watcher.actions.chart import BumpRequest, BumpResult, plan_bump
from watcher.actions.proposal import Proposal, propose
from watcher.config import ChartConfig, PinConfig, WatchConfig
from watcher.github.client import GitHubReader
from watcher.models import Signal, Verdict
from watcher.registry import RegistryReader
from watcher.sources.chart import ChartFiles, fetch_chart
from watcher.sources.pins import PinSite, ResolvedPin, pin_site, resolve_pin


@dataclass(frozen=True)
class Plan:
    """The proposal for one ready watch, with what it was computed from."""

    watch: WatchConfig
    chart: ChartConfig
    files: ChartFiles
    bump: BumpResult
    pins: tuple[ResolvedPin, ...]
    signals: tuple[Signal, ...]
    proposal: Proposal

    def body(self, extra: tuple[str, ...] | list[str] = ()) -> str:
        """The PR body with all notes."""
        notes = (*pin_notes(self.pins), *extra)
        return propose(
            self.watch, self.chart, self.proposal.target, self.signals, self.bump, notes
        ).body


PinResolver = Callable[[RegistryReader, PinSite, PinConfig], ResolvedPin]


def pin_notes(pins: tuple[ResolvedPin, ...]) -> tuple[str, ...]:
    """PR body notes on floating pins: what each resolves to today."""
    return tuple(
        f"`{p.pin.key}` stays on the floating tag `{p.current}` of {p.image}, which is "
        f"{p.floating_resolves_to or 'not resolvable to a release'} today"
        for p in pins
        if p.floating
    )


def plan_for(
    watch: WatchConfig,
    verdict: Verdict,
    github: GitHubReader,
    registry: RegistryReader,
    resolve: PinResolver = resolve_pin,
) -> Plan | None:
    """The plan for a verdict with a target and a chart; None when there is nothing to plan.

    ``resolve`` looks up extra image pins; the runner passes a cached one so an idle
    cycle with a PR open asks the registry nothing.
    """
    chart = watch.chart
    if chart is None or verdict.target is None:
        return None
    files = fetch_chart(github, chart)
    values_path = files.path("values.yaml")
    pins = tuple(
        resolve(registry, pin_site(files.values_yaml, values_path, pin), pin) for pin in chart.pins
    )
    bump = plan_bump(
        BumpRequest(
            chart_dir=files.chart_dir if files.chart_dir not in ("", ".") else "",
            chart_yaml=files.chart_yaml,
            values_yaml=files.values_yaml,
            target_tag=verdict.target.tag,
            target_version=verdict.target.version,
            version_bump=chart.version_bump,
            image_tag_key=f"{chart.image_key}.tag",
            pins=tuple(p.pin for p in pins),
        )
    )
    proposal = propose(watch, chart, verdict.target, verdict.signals, bump, pin_notes(pins))
    return Plan(watch, chart, files, bump, pins, verdict.signals, proposal)
