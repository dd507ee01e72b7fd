"""Read the chart that a watch bumps: its files at the base branch and what they deploy.

The chart decides one image reference the `image` signal must always check: the one the
bump will write (``image.repository`` with the new tag in the chart's own style), so a
pull request never points at an image that cannot be pulled.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.actions.chart import in_style
from watcher.actions.yaml_edit import find_scalar
from watcher.config import ChartConfig
from watcher.errors import NotFoundError, PayloadError
from watcher.github.client import GitHubReader
from watcher.models import Release


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
    data = reader.get_json(f"/repos/{chart.repo}", revalidate=revalidate).data
    branch = data.get("default_branch") if isinstance(data, dict) else None
    if not isinstance(branch, str):
        raise PayloadError(f"{reader.url(f'/repos/{chart.repo}')}: no default_branch")
    return branch


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
            raise NotFoundError(
                f"{chart.repo}@{branch}: chart file {path} not found",
                hint="check [watch.chart] repo, path and base in the config",
            )
        texts[name] = text
    return ChartFiles(chart.repo, branch, chart.path, texts["Chart.yaml"], texts["values.yaml"])


def deployed_image(files: ChartFiles, chart: ChartConfig, release: Release) -> str:
    """The image reference the bump to ``release`` will make the chart deploy."""
    values_name, chart_name = files.path("values.yaml"), files.path("Chart.yaml")
    repository = find_scalar(
        files.values_yaml, f"{chart.image_key}.repository", filename=values_name
    )
    if repository is None or not repository.value:
        raise NotFoundError(
            f"{values_name}: no {chart.image_key}.repository",
            hint="set [watch.chart].image_key to the values key holding repository and tag",
        )
    tag = find_scalar(files.values_yaml, f"{chart.image_key}.tag", filename=values_name)
    if tag is not None and tag.value:
        written = in_style(tag.value, release.tag, release.version)
    else:
        # An empty tag means the templates use appVersion verbatim as the tag.
        app = find_scalar(files.chart_yaml, "appVersion", filename=chart_name)
        written = in_style(
            app.value if app and app.value else release.tag, release.tag, release.version
        )
    return f"{repository.value}:{written}"
