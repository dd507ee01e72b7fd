"""`watcher init`'s shell: from the command line's words to the watch appended to the file.

The command itself is declared in :mod:`watcher.cli.main` (with every other command's
options); this module turns its arguments into the scaffold's calls: read what the
reference and the chart say (:mod:`watcher.scaffold`), append the ``[[watch]]`` table to
the config file (validated whole before anything is written; created when missing) and
print it. The first ``check`` is the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.core.errors import ConfigError

if TYPE_CHECKING:
    from watcher.config.model import Config
    from watcher.net.github_read import GitHubReader


@dataclass(frozen=True)
class Request:
    """What `watcher init` was asked for, as given on the command line."""

    reference: str
    chart_repo: str
    chart_path: str
    config_path: Path
    watch_id: str | None = None
    marker: str | None = None


def file_settings(path: Path) -> tuple[Config, str]:
    """The config file's settings (its watches, if any, included) and its text."""
    from watcher.scaffold import config_file

    text = config_file.read_text(path)
    return config_file.settings(path, text), text


def write_watch(
    github: GitHubReader, request: Request, settings: Config, text: str
) -> tuple[Config, str]:
    """Draft the watch, append it to the file, print it; the new config and the watch's id."""
    from watcher.scaffold import config_file, draft, suggest

    ref = suggest.parse_reference(request.reference)
    chart = draft.chart_config(request.chart_repo, request.chart_path)
    drafted = draft.draft_watch(
        github, ref, chart, watch_id=request.watch_id, marker=request.marker
    )
    path = request.config_path
    if drafted.id in {w.id for w in settings.watch}:
        raise ConfigError(
            f"{path}: it already has a watch {drafted.id!r}; nothing was written",
            hint="pass --id with another name",
        )
    command = f"watcher init {ref} --chart {chart.repo} --chart-path {chart.path}"
    table = draft.watch_toml(drafted, command)
    config = config_file.append_watch(path, text, table)
    click.echo(f"appended watch {drafted.id!r} to {path}:\n{table}")
    return config, drafted.id
