"""`watcher init`'s reads: from an upstream PR or issue and a chart to a draft watch.

Reads only, through the same GitHub reader as a run (conditional GETs, the stand-in in
tests): the pull request (or, for an issue, the pull requests that reference it, from
its timeline) and its files with their patches, the upstream's tags, and the chart's
``values.yaml``. :func:`watch_toml` writes the draft as a ``[[watch]]`` table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from watcher.chart.image_sites import expand_image_keys, read_site
from watcher.config.model import ChartConfig
from watcher.core.errors import ChartError, ConfigError, NotFoundError, PayloadError
from watcher.net.github_read import GitHubReader
from watcher.scaffold.suggest import (
    Candidate,
    Reference,
    marker_candidates,
    pick_images,
    tag_pattern,
)
from watcher.sources.chart import fetch_chart
from watcher.sources.issue import referencing_pulls

MAX_PR_FILES = 300  # GitHub's first three pages: enough to see what a feature adds


@dataclass(frozen=True)
class Draft:
    """A watch as `watcher init` proposes it, with where each choice came from."""

    id: str
    reference: Reference
    title: str
    is_pull: bool
    pulls: tuple[int, ...]
    tag_pattern: str | None
    markers: tuple[Candidate, ...]
    chart: ChartConfig
    image_keys: tuple[str, ...]
    images: tuple[str, ...]


def draft_watch(
    reader: GitHubReader,
    reference: Reference,
    chart: ChartConfig,
    *,
    watch_id: str | None = None,
    marker: str | None = None,
) -> Draft:
    """Read the upstream and the chart; ``marker`` overrides the suggestions' first."""
    repo = reference.repo
    issue = _get(reader, f"/repos/{repo}/issues/{reference.number}", f"{reference}")
    title = str(issue.get("title") or "")
    if issue.get("pull_request"):
        pulls: tuple[int, ...] = (reference.number,)
    else:
        timeline = reader.get_paginated(
            f"/repos/{repo}/issues/{reference.number}/timeline", oldest_first=True
        ).data
        pulls = tuple(dict.fromkeys(referencing_pulls(timeline, repo)))
    patches: list[tuple[str, str]] = []
    for number in pulls:
        files = reader.get_paginated(f"/repos/{repo}/pulls/{number}/files").data
        patches += [
            (str(f.get("filename")), str(f.get("patch") or ""))
            for f in files[:MAX_PR_FILES]
            if isinstance(f, dict)
        ]
    markers = tuple(marker_candidates(patches))
    if marker:
        markers = (Candidate(marker, "--marker"), *(c for c in markers if c.text != marker))
    if not markers and not issue.get("pull_request") and not pulls:
        raise ConfigError(
            f"{reference}: no pull request references this issue, so there is no change "
            "to take a marker from or to check the releases for",
            hint="pass --marker TEXT (a string only the feature's code contains), "
            "or give the implementing pull request instead",
        )
    tags = reader.get_json(f"/repos/{repo}/tags?per_page=100").data
    names = (
        [str(t.get("name")) for t in tags if isinstance(t, dict)] if isinstance(tags, list) else []
    )
    files = fetch_chart(reader, chart)
    values = files.path("values.yaml")
    try:
        keys = expand_image_keys(files.values_yaml, ("**",), filename=values)
    except ChartError:  # no image in the values: nothing follows the release but appVersion
        keys = []
    sites = [read_site(files.values_yaml, key, filename=values) for key in keys]
    picked = pick_images(keys, [s.repository for s in sites], repo)
    images = tuple(
        ref for s in sites if s.key in picked and (ref := s.reference(s.tag or "")) is not None
    )
    return Draft(
        id=watch_id or default_id(repo, title or str(reference.number)),
        reference=reference,
        title=title,
        is_pull=bool(issue.get("pull_request")),
        pulls=pulls,
        tag_pattern=tag_pattern(names),
        markers=markers,
        chart=chart,
        image_keys=tuple(picked),
        images=images,
    )


def default_id(repo: str, title: str) -> str:
    """``<upstream name>-<title words>``, a valid watch id of at most 40 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{repo.rsplit('/', maxsplit=1)[-1]}-{title}".lower()).strip(
        "-"
    )
    return slug[:40].rstrip("-") or "watch"


def watch_toml(draft: Draft, command: str) -> str:
    """The ``[[watch]]`` table of ``draft``, commented, to append to a config file.

    The pull request is commit-graph evidence (``[watch.pulls]``): required beside the
    marker when the reference is the pull request itself, the evidence alone when no
    marker was found; an issue is reported, and the pull requests that close it count.
    """
    ref, chart = draft.reference, draft.chart
    required = ["release", *(["feature"] if draft.markers else [])]
    if draft.is_pull or not draft.markers:
        required.append("pulls")
    lines = [
        "",
        _comment(f"# Written by `{command}`: check the marker, then `watcher check`."),
        "[[watch]]",
        f"id = {_str(draft.id)}",
        f"repo = {_str(ref.repo)}",
        f"description = {_str(f'{draft.title} ({ref})')}",
    ]
    if draft.tag_pattern:
        pattern = draft.tag_pattern
        # A literal string reads as the regex it is, unless it holds what one cannot.
        text = f"'{pattern}'" if not re.search(r"['\x00-\x1f\x7f]", pattern) else _str(pattern)
        lines.append(f"tag_pattern = {text}   # the form of {ref.repo}'s tags")
    lines.append(f"required = [{', '.join(_str(r) for r in [*required, 'image'])}]")
    if draft.markers:
        first, *others = draft.markers
        lines += [
            "",
            "[watch.feature]",
            f"marker = {_str(first.text)}   " + _comment(f"# added by {ref.repo} in {first.path}"),
        ]
        if others:
            listed = ", ".join(f"{_str(c.text)} ({c.path})" for c in others)
            lines.append(_comment(f"# other text the pull request adds: {listed}"))
    if draft.is_pull:
        lines += ["", "[watch.pulls]", f"numbers = [{ref.number}]   # merged into the release"]
    else:
        lines += [
            "",
            "[watch.issues]",
            f"numbers = [{ref.number}]",
            "",
            "[watch.pulls]",
            "closing = true   # the pull request that closes the issue must be in the release",
        ]
        if draft.pulls:
            lines.append(f"# pull requests that reference it today: {_numbers(draft.pulls)}")
    lines += [
        "",
        "[watch.chart]",
        f"repo = {_str(chart.repo)}",
        f"path = {_str(chart.path)}",
        f"feature_name = {_str(draft.title or str(ref))}",
    ]
    if draft.image_keys != ("image",):
        keys = ", ".join(_str(k) for k in draft.image_keys)
        lines.append(f"image_keys = [{keys}]")
    if draft.images:
        images = ", ".join(draft.images)
        lines.append(_comment(f"# images it moves, as the chart has them now: {images}"))
    return "\n".join(lines) + "\n"


def _str(text: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (non-ASCII kept as is).

    TOML also refuses DEL unescaped; a lone surrogate (JSON allows one) is no text.
    """
    text = text.encode("utf-8", "replace").decode("utf-8")
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    """A TOML comment: one line, no control characters (TOML refuses them there)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f]", "?", text)


def chart_config(repo: str, path: str) -> ChartConfig:
    """The chart named on the command line, checked like the config file's."""
    try:
        return ChartConfig(repo=repo, path=path)
    except ValidationError as exc:
        raise ConfigError(
            f"--chart {repo!r} --chart-path {path!r}: {exc.errors()[0]['msg']}",
            hint="give the chart repository as owner/name and its directory inside it",
        ) from exc


def _numbers(pulls: tuple[int, ...]) -> str:
    return ", ".join(f"#{n}" for n in pulls) or "(none found)"


def _get(reader: GitHubReader, path: str, what: str) -> dict[str, Any]:
    try:
        data = reader.get_json(path).data
    except NotFoundError as exc:
        raise NotFoundError(
            f"{what}: no such pull request or issue", hint="check the reference"
        ) from exc
    if not isinstance(data, dict):
        raise PayloadError(f"{reader.url(path)}: not an issue")
    return data
