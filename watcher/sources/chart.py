"""Read the chart that a watch bumps: its files at the base branch and what they deploy.

The chart decides image references the `image` signal must always check: every one the
bump makes the chart deploy (each image the watch's ``image_keys`` name, with the tag
the bump writes or the appVersion it sets, at the registry the chart names), so a pull
request never points at an image that cannot be pulled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from watcher.chart.bump import BumpRequest, ImagePin, image_targets
from watcher.config.model import ChartConfig
from watcher.core.errors import REPOSITORY_NOT_FOUND_HINT, NotFoundError, PayloadError
from watcher.core.models import Release
from watcher.net.github_read import GitHubReader


@dataclass(frozen=True)
class ChartFiles:
    """The chart's two files at the head of its base branch."""

    repo: str
    base: str
    chart_dir: str
    chart_yaml: str
    values_yaml: str

    def path(self, name: str) -> str:
        """A file's path inside the chart repository."""
        return name if self.chart_dir in ("", ".") else f"{self.chart_dir.strip('/')}/{name}"


def base_branch(reader: GitHubReader, chart: ChartConfig, revalidate: bool = True) -> str:
    """The configured base branch, else the repository's default branch."""
    if chart.base:
        return chart.base
    data = chart_repository(reader, chart, revalidate)
    branch = data.get("default_branch") if isinstance(data, dict) else None
    if not isinstance(branch, str):
        raise PayloadError(f"{reader.url(f'/repos/{chart.repo}')}: no default_branch")
    return branch


def chart_repository(reader: GitHubReader, chart: ChartConfig, revalidate: bool = True) -> Any:
    """The chart repository's JSON; a 404 names the repository and the config key."""
    try:
        return reader.get_json(f"/repos/{chart.repo}", revalidate=revalidate).data
    except NotFoundError as exc:
        raise NotFoundError(
            f"chart repository {chart.repo} not found (404): check [watch.chart].repo",
            hint=f"{exc.message}; {REPOSITORY_NOT_FOUND_HINT}",
        ) from exc


def fetch_chart(reader: GitHubReader, chart: ChartConfig, revalidate: bool = True) -> ChartFiles:
    """Chart.yaml and values.yaml of ``chart`` at its base branch (conditional reads).

    ``revalidate=False`` reuses cached copies without asking (see GitHubReader.get_json).
    """
    branch = base_branch(reader, chart, revalidate)
    files = ChartFiles(chart.repo, branch, chart.path, "", "")
    texts: dict[str, str] = {}
    for name in ("Chart.yaml", "values.yaml"):
        path = files.path(name)
        text = reader.get_text(
            f"/repos/{chart.repo}/contents/{path}?ref={branch}", revalidate=revalidate
        )
        if text is None:
            chart_repository(reader, chart, revalidate)  # a missing repository says so
            raise NotFoundError(
                f"{chart.repo}@{branch}: chart file {path} not found",
                hint="check [watch.chart] repo, path and base in the config",
            )
        texts[name] = text
    return ChartFiles(chart.repo, branch, chart.path, texts["Chart.yaml"], texts["values.yaml"])


def bump_request(
    files: ChartFiles,
    chart: ChartConfig,
    release: Release,
    pins: tuple[ImagePin, ...] = (),
    digests: Mapping[str, str] | None = None,
) -> BumpRequest:
    """The bump of ``files`` to ``release`` that ``chart`` asks for."""
    return BumpRequest(
        chart_dir=files.chart_dir if files.chart_dir not in ("", ".") else "",
        chart_yaml=files.chart_yaml,
        values_yaml=files.values_yaml,
        target_tag=release.tag,
        target_version=release.version,
        version_bump=chart.version_bump,
        image_keys=chart.value_images,
        pins=pins,
        dependencies=chart.dependencies,
        digests=MappingProxyType(dict(digests or {})),
    )


def deployed_images(files: ChartFiles, chart: ChartConfig, release: Release) -> list[str]:
    """Every image reference the bump to ``release`` will make the chart deploy.

    A floating tag (``latest``) is not the bump's doing and is left out.
    """
    refs: list[str] = []
    for target in image_targets(bump_request(files, chart, release)):
        if target.site.repository is None:
            raise NotFoundError(
                f"{files.path('values.yaml')}: no {target.site.key}.repository",
                hint="set [watch.chart].image_keys to the values keys holding repository and tag",
            )
        if target.reference is not None:
            refs.append(target.reference)
    return list(dict.fromkeys(refs))
