"""`watcher init`: write a watch from an upstream pull request or issue and a chart.

The shell over :mod:`watcher.scaffold`: read what the reference and the chart say,
append the ``[[watch]]`` table to the config file (validated whole before anything is
written; created when missing), print it, then show the watch's first ``check``.
Exit 0 when the watch was written and its check completed (whatever the verdict), 2 on
error (nothing written when the error came before the write).
"""

from __future__ import annotations

from pathlib import Path

import click

from watcher.cli.main import _open_store, _print_report, db_option, log_options, reports_errors
from watcher.core.errors import ConfigError


@click.command("init")
@click.argument("reference")
@click.option("--chart", "chart_repo", required=True, help="The chart's repository, owner/name.")
@click.option("--chart-path", default=".", show_default=True, help="The chart's directory in it.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="WATCHER_CONFIG",
    required=True,
    help="The TOML file the watch is appended to (created if missing; its [github] is used).",
)
@db_option
@click.option("--id", "watch_id", default=None, help="The watch's id (default: from the title).")
@click.option("--marker", default=None, help="The feature marker, instead of the first suggestion.")
@click.option("--no-check", is_flag=True, help="Write the watch only; skip its first check.")
@log_options
@reports_errors
def init_command(
    reference: str,
    chart_repo: str,
    chart_path: str,
    config_path: Path,
    db_url: str | None,
    watch_id: str | None,
    marker: str | None,
    no_check: bool,
) -> None:
    """Write a watch for REFERENCE (owner/repo#N or the URL of a pull request or issue).

    The tag pattern comes from the upstream's tags, the marker from what the pull
    request adds to code (an issue: the pull requests that reference it), the image
    keys from the chart's values; the pull request is recorded beside the verdict.
    """
    from watcher.runner.cycle import run_once
    from watcher.runner.readers import open_readers
    from watcher.scaffold import config_file, draft, suggest

    ref = suggest.parse_reference(reference)
    chart = draft.chart_config(chart_repo, chart_path)
    text = config_file.read_text(config_path)
    settings = config_file.settings(config_path, text)
    with _open_store(settings, db_url) as store, open_readers(settings, store) as readers:
        drafted = draft.draft_watch(readers.github, ref, chart, watch_id=watch_id, marker=marker)
        if drafted.id in {w.id for w in settings.watch}:
            raise ConfigError(
                f"{config_path}: it already has a watch {drafted.id!r}; nothing was written",
                hint="pass --id with another name",
            )
        command = f"watcher init {ref} --chart {chart.repo} --chart-path {chart.path}"
        table = draft.watch_toml(drafted, command)
        config = config_file.append_watch(config_path, text, table)
        click.echo(f"appended watch {drafted.id!r} to {config_path}:\n{table}")
        if no_check:
            return
        click.echo(f"its first check (`watcher check --config {config_path} {drafted.id}`):")
        report = run_once(config, store, readers, (drafted.id,))
    _print_report(report, as_json=False, action=True)
