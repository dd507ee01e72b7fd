"""From a ready verdict to the chart-bump proposal: read the chart, resolve pins, plan the bump.

Reads only (GitHub contents, registry tags); no database, no writes. Used by
``watcher check --plan`` to show what would be pushed, and by ``watcher run`` before
reconciling the pull request.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from watcher.actions.grouping import (
    ChartProposal,
    Member,
    chart_branch,
    chart_dir,
    chart_key,
    compose,
    group_body,
)
from watcher.actions.helm_check import HelmCheck, check_chart, helm_binary
from watcher.actions.proposal import Proposal, propose
from watcher.chart.bump import (
    BumpRequest,
    BumpResult,
    ImageTarget,
    image_targets,
    plan_bump,
    plan_bumps,
)
from watcher.config.model import ChartConfig, PinConfig, WatchConfig
from watcher.core.errors import NotFoundError
from watcher.core.image_ref import parse_image_ref
from watcher.core.models import Signal, UpgradePath, Verdict
from watcher.net.github_read import GitHubReader
from watcher.net.registry import RegistryReader
from watcher.sources.chart import ChartFiles, bump_request, fetch_chart
from watcher.sources.chart_tree import chart_tree
from watcher.sources.pins import PinSite, ResolvedPin, pin_site, resolve_pin
from watcher.sources.release_notes import deployed_version, upgrade_path


@dataclass(frozen=True)
class Plan:
    """The proposal for one ready watch, with what it was computed from."""

    watch: WatchConfig
    chart: ChartConfig
    files: ChartFiles
    request: BumpRequest
    bump: BumpResult
    pins: tuple[ResolvedPin, ...]
    signals: tuple[Signal, ...]
    proposal: Proposal
    checks: HelmCheck | None = None
    upgrade: UpgradePath | None = None

    @property
    def branch(self) -> str:
        """The branch of the chart's pull request, which this watch's bump goes to."""
        return chart_branch(self.chart)

    def body(self, extra: tuple[str, ...] | list[str] = ()) -> str:
        """The PR body with all notes."""
        notes = (*pin_notes(self.pins), *extra)
        checks = self.checks.body_lines() if self.checks else ()
        target = self.proposal.target
        return propose(
            self.watch, self.chart, target, self.signals, self.bump, notes, checks, self.upgrade
        ).body


def chart_proposal(plans: Sequence[Plan], notes: Sequence[str] = ()) -> ChartProposal:
    """The one pull request of a chart for the ready watches ``plans`` (config order).

    The bumps are composed (:func:`~watcher.chart.bump.plan_bumps`); each watch's body,
    with ``notes`` (what reconciliation found, e.g. the maintainer branch merged), is one
    section. The pull request's options are the first watch's.
    """
    bump = plan_bumps([p.request for p in plans])
    members = [
        Member(
            p.watch.id,
            p.proposal.target,
            p.proposal.title,
            p.body(tuple(notes)),
            p.proposal.commit_message.split("\n", 1)[0],
        )
        for p in plans
    ]
    chart = plans[0].chart
    name = chart_dir(chart).rsplit("/", 1)[-1] or chart.repo.split("/")[-1]
    return compose(chart, name, members, bump)


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
    request = bump_request(files, chart, verdict.target, tuple(p.pin for p in pins))
    targets = image_targets(request)
    digests = resolve_digests(registry, targets)
    request = replace(request, digests=MappingProxyType(digests))
    bump = plan_bump(request)
    checks = helm_checks(github, files, bump)
    current = deployed_version(targets, watch, files.chart_yaml)
    upgrade = upgrade_path(github, watch, verdict.target, current)
    notes = pin_notes(pins)
    lines = checks.body_lines()
    proposal = propose(watch, chart, verdict.target, verdict.signals, bump, notes, lines, upgrade)
    # The pull request is the chart's, shared with its other watches: so are the branch
    # and the marker. Alone on its chart, the watch's PR says exactly this body.
    alone = [Member(watch.id, verdict.target, proposal.title, proposal.body)]
    body = group_body(chart_key(chart), alone, bump)
    proposal = replace(proposal, body=body)
    return Plan(
        watch, chart, files, request, bump, pins, verdict.signals, proposal, checks, upgrade
    )


def helm_checks(github: GitHubReader, files: ChartFiles, bump: BumpResult) -> HelmCheck:
    """``helm lint`` and ``helm template`` on the bumped chart; a ChartError if it fails.

    The chart directory is read whole at the base branch only when a helm binary is
    there to use it (:mod:`watcher.actions.helm_check`).
    """
    helm = helm_binary()
    if helm is None:
        return check_chart(None, {}, files.chart_dir)
    tree = chart_tree(github, files.repo, files.base, files.chart_dir)
    inside = files.path("")
    tree |= {path.removeprefix(inside): text.encode() for path, text in bump.files.items()}
    name = files.chart_dir.strip("/").rsplit("/", 1)[-1]
    result = check_chart(helm, tree, name if name not in ("", ".") else files.repo.split("/")[1])
    result.raise_if_failed(f"{files.repo}/{files.chart_dir}@{files.base}")
    return result


def resolve_digests(registry: RegistryReader, targets: tuple[ImageTarget, ...]) -> dict[str, str]:
    """The new digest of every image whose values pin a digest and whose reference moves.

    A digest pinned beside a tag is kept pinned: the bump writes the digest the registry
    serves for the new reference (the same HEAD the image check makes), rather than
    dropping the pin the maintainer chose.
    """
    digests: dict[str, str] = {}
    for target in targets:
        ref = target.reference
        if target.site.digest is None or not target.moves or ref is None:
            continue
        info = registry.manifest(parse_image_ref(ref))
        if info is None or not info.digest:
            raise NotFoundError(
                f"{ref}: no manifest digest in its registry, so {target.site.key}.digest "
                "cannot follow the new tag",
                hint="wait until the image is published, or clear the digest in the chart",
            )
        digests[target.site.key] = info.digest
    return digests
