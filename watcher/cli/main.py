"""The ``watcher`` command line: a thin shell over the runner and the store.

Only this module (and the daemon) prints, exits, or handles signals. Heavy modules are
imported inside the commands so ``watcher --help`` stays fast.

Exit codes: ``check`` 0 every selected watch is ready, 1 some watch is not ready, 2
error (bad config, unreachable GitHub, rate limit, bad archive, ...: one line naming the
cause and a hint, never a traceback). ``run --once`` 0 when its cycle completed, whatever
the verdicts, 2 on error. An unexpected exception (a bug) is one line too, with where to
report it and the crash report file holding its traceback.

Every command takes ``--verbose`` (``-v``, = ``--log-level DEBUG``), ``--log-level`` and
``--log-format`` (or ``WATCHER_LOG_LEVEL`` / ``WATCHER_LOG_FORMAT``): logs go to stderr,
human on a TTY, JSON lines otherwise. Without them a one-shot command logs nothing
below WARNING; the daemon logs from INFO.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import click

from watcher.core.clock import OFFSET_KEY, parse_offset, skew_warning
from watcher.core.exit_codes import EXIT_ERROR

if TYPE_CHECKING:
    from watcher.config.model import Config
    from watcher.runner.act import Actor
    from watcher.runner.crash import Crash
    from watcher.runner.report import RunReport
    from watcher.service.stop import StopSignals
    from watcher.state.store import Store

P = ParamSpec("P")
R = TypeVar("R")

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    envvar="WATCHER_CONFIG",
    show_envvar=True,
    help="TOML config file (default: the built-in headscale peer-relay watch).",
)
db_option = click.option(
    "--db",
    "db_url",
    default=None,
    envvar="WATCHER_DB_URL",
    show_envvar=True,
    help="SQLAlchemy database URL (default: [database].url, else "
    "$XDG_STATE_HOME/watcher/INSTANCE.db).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
# The states a fleet's output can be narrowed to (cli/render.py SUMMARY_STATES: the verdict
# states, `none` for never evaluated, `error` for a failed last evaluation).
FLEET_STATES = ("waiting", "pending", "ready", "proposed", "done", "none", "error")


def fleet_filters(func: Callable[P, R]) -> Callable[P, R]:
    """``--state`` and ``--upstream`` (each repeatable): which watches a fleet shows."""
    func = click.option(
        "--upstream",
        "upstreams",
        multiple=True,
        metavar="OWNER/NAME",
        help="Only the watches of this upstream repository (repeatable).",
    )(func)
    return click.option(
        "--state",
        "states",
        multiple=True,
        type=click.Choice(FLEET_STATES),
        help="Only the watches in this state (repeatable; error: the last evaluation failed).",
    )(func)


def _in_states(state: str | None, failed: bool, states: tuple[str, ...]) -> bool:
    """Whether a watch with this state (None: never evaluated) passes ``--state``."""
    return not states or (state or "none") in states or (failed and "error" in states)


def _upstream_ids(
    config: Config, watch_ids: tuple[str, ...], upstreams: tuple[str, ...]
) -> tuple[str, ...]:
    """The watches named (all when none is) that follow one of ``upstreams`` (all when none)."""
    from watcher.core.errors import ConfigError

    selected = config.select(watch_ids)
    if not upstreams:
        return watch_ids
    wanted = {upstream.lower() for upstream in upstreams}
    ids = tuple(w.id for w in selected if w.repo.lower() in wanted)
    if not ids:
        known = sorted({w.repo for w in selected})
        raise ConfigError(
            f"no watch follows {', '.join(upstreams)}",
            hint=f"upstreams of the selected watches: {', '.join(known)}",
        )
    return ids


# Where the logging options' callbacks collect their values (ctx.meta), and the three.
LOG_META = "watcher.logging"
LOG_OPTIONS = ("verbose", "log_level", "log_format")


def _log_option_seen(ctx: click.Context, param: click.Parameter, value: object) -> None:
    """Collect a logging option; once all three are parsed, set up logging if asked.

    Click calls every parameter's callback before the command runs (with the default
    when not given), so logging is configured before any work starts. Nothing given:
    logging is left as Python has it (WARNING and up, bare, on stderr).
    """
    settings: dict[str, object] = ctx.meta.setdefault(LOG_META, {})
    settings[str(param.name)] = value
    if len(settings) < len(LOG_OPTIONS):
        return
    level = "DEBUG" if settings["verbose"] else settings["log_level"]
    if level is not None or settings["log_format"] is not None:
        _configure_logging(str(level or "WARNING"), settings["log_format"])


def _configure_logging(level: str, log_format: object) -> None:
    from watcher.service.logconfig import configure

    as_json = {"json": True, "console": False}.get(str(log_format))  # auto/None: by TTY
    configure(json=as_json, level=level.upper())


def log_options(func: Callable[P, R]) -> Callable[P, R]:
    """``--verbose``, ``--log-level`` and ``--log-format`` on a command (stderr logs)."""
    options = (
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            expose_value=False,
            callback=_log_option_seen,
            help="Debug logs on stderr (same as --log-level DEBUG).",
        ),
        click.option(
            "--log-level",
            type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
            envvar="WATCHER_LOG_LEVEL",
            show_envvar=True,
            default=None,
            expose_value=False,
            callback=_log_option_seen,
            help="Lowest level logged on stderr (default: WARNING; the daemon: INFO).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["auto", "json", "console"]),
            envvar="WATCHER_LOG_FORMAT",
            show_envvar=True,
            default=None,
            expose_value=False,
            callback=_log_option_seen,
            help="Logs on stderr; auto (default): console on a TTY, JSON lines otherwise.",
        ),
    )
    for option in reversed(options):
        func = option(func)
    return func


def _log_settings() -> dict[str, object]:
    """The logging options of the running command (as collected by _log_option_seen)."""
    meta: dict[str, object] = click.get_current_context().meta.get(LOG_META, {})
    return meta


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn WatcherErrors into one line + hint on stderr and exit code 2; the same for
    any unexpected exception (a bug), whose traceback goes to a crash report."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from watcher.core.errors import WatcherError

        try:
            return func(*args, **kwargs)
        except WatcherError as exc:
            click.echo(f"error: {exc.message}", err=True)
            click.echo(f"hint: {exc.hint}", err=True)
            sys.exit(EXIT_ERROR)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise  # click's own control flow (RuntimeError subclasses), not a crash
        except Exception as exc:  # noqa: BLE001 - a bug: one line, a report, exit 2
            from watcher.runner.crash import Crash

            crash = Crash.of(exc)
            click.echo(f"error: {crash.summary}", err=True)
            click.echo(f"hint: {_crash_hint([('command', crash)])}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def _crash_hint(crashes: list[tuple[str, Crash]]) -> str:
    """Save the tracebacks to a crash report; the hint saying where to send it."""
    from watcher.config.model import state_directory
    from watcher.runner.crash import report_hint, save_report

    try:
        path = save_report(crashes, state_directory())
    except OSError:
        # No writable state directory: the traceback goes to stderr instead.
        for _, crash in crashes:
            click.echo(crash.traceback, err=True, nl=False)
        return report_hint("printed above")
    return report_hint(f"saved in {path}")


class _UsageError(click.ClickException):
    """A usage error shown as every other error: ``error:`` and ``hint:``, exit 2."""

    exit_code = EXIT_ERROR

    def __init__(self, usage: click.UsageError, command_path: str) -> None:
        super().__init__(usage.format_message())
        # Click leaves ctx unset for some parse errors ("requires an argument").
        self.command_path = usage.ctx.command_path if usage.ctx else command_path

    def show(self, file: object = None) -> None:
        """Two lines on stderr instead of click's ``Usage:``/``Error:`` block."""
        click.echo(f"error: {self.message}", err=True)
        click.echo(f"hint: '{self.command_path} --help' shows the usage", err=True)


class _Group(click.Group):
    """Click's group, its usage errors (and its subcommands') in our two-line form."""

    group_class = type  # `config` and `db` are such groups too
    # ctx.meta key: the command line's path as far as it was resolved.
    PATH = "watcher.command_path"

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        ctx.meta[self.PATH] = f"{ctx.command_path} {name}"
        return name, command, rest

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: object,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            raise _UsageError(exc, info_name or "watcher") from exc

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _UsageError(exc, ctx.meta.get(self.PATH, ctx.command_path)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="watcher")
def main() -> None:
    """Watch upstream projects until a feature really ships (then bump a Helm chart)."""


@main.command()
@config_option
@db_option
@json_option
@click.option(
    "--plan",
    "--dry-run",
    "plan",
    is_flag=True,
    help="Also show, per ready watch, the branch, title, body and diff of the pull request "
    "it would open (reads only, writes nothing).",
)
@fleet_filters
@click.argument("watch_ids", nargs=-1)
@log_options
@reports_errors
def check(
    config_path: Path | None,
    db_url: str | None,
    as_json: bool,
    plan: bool,
    states: tuple[str, ...],
    upstreams: tuple[str, ...],
    watch_ids: tuple[str, ...],
) -> None:
    """Evaluate the watches once and show each verdict with its evidence.

    Never writes to GitHub. Exit 0 when every selected watch is ready, 1 when any is
    not, 2 on error. --upstream selects the watches evaluated, --state only what is
    shown; above 20 watches the text is one summary line per state.
    """
    from watcher.runner.cycle import run_once
    from watcher.runner.readers import open_readers

    _show_progress()
    config = _load(config_path)
    watch_ids = _upstream_ids(config, watch_ids, upstreams)
    with (
        _open_store(config, db_url) as store,
        open_readers(config, store) as readers,
        _start_up_done(),
    ):
        report = run_once(config, store, readers, watch_ids, plan=plan)
    _print_report(report, as_json, states=states)


@main.command()
@config_option
@db_option
@json_option
@click.option(
    "--once", is_flag=True, help="One full cycle (evaluate, PRs, notifications), then exit."
)
@click.option(
    "--bind",
    envvar="WATCHER_HEALTH_BIND",
    show_envvar=True,
    default=None,
    help="Address of /livez, /readyz and /metrics (default: [daemon].bind, 127.0.0.1).",
)
@click.option(
    "--health-port",
    type=click.IntRange(0, 65535),
    envvar="WATCHER_HEALTH_PORT",
    show_envvar=True,
    default=None,
    help="Port of /livez, /readyz and /metrics (default: [daemon].health_port, 9464).",
)
@log_options
@click.argument("watch_ids", nargs=-1)
@reports_errors
def run(
    config_path: Path | None,
    db_url: str | None,
    as_json: bool,
    once: bool,
    bind: str | None,
    health_port: int | None,
    watch_ids: tuple[str, ...],
) -> None:
    """Evaluate, then open/update chart-bump pull requests and notify through GitHub.

    Without --once this is the daemon: a cycle every [daemon].interval_seconds, /livez,
    /readyz and /metrics on [daemon].bind:health_port, JSON logs off a TTY; SIGTERM finishes the
    current cycle, then exits 0. Needs GITHUB_TOKEN (or GitHub App credentials) with
    write access to the chart repository. With --once: exit 0 when the cycle completed,
    whatever the verdicts, 2 on error.
    """
    from watcher.runner.act import Actor
    from watcher.runner.cycle import run_once
    from watcher.runner.readers import open_readers
    from watcher.state.leases import ActorLease

    stop = None if once else _daemon_start_up()
    config = _load(config_path)
    config.select(watch_ids)
    actor = Actor.build(config, os.environ)
    if stop is not None:
        try:
            code = _serve(config, db_url, actor, watch_ids, bind, health_port, stop)
        finally:
            actor.close()
        sys.exit(code)
    _show_progress()
    try:
        # One writer per database: without the lease (a daemon or another --once holds
        # it) this run only evaluates, like a daemon replica that does not lead.
        with (
            _open_store(config, db_url) as store,
            open_readers(config, store) as readers,
            closing(ActorLease(store, actor.holder, config.daemon)) as lease,
        ):
            leading = lease.take()
            if not leading:
                click.echo(_not_leading(store), err=True)
            with _start_up_done():
                report = run_once(
                    config, store, readers, watch_ids, actor=actor if leading else None
                )
            if leading:
                # A CronJob's storage is bounded like the daemon's (which prunes hourly).
                store.prune(timedelta(days=config.daemon.retention_days))
    finally:
        actor.close()
    _print_report(report, as_json, action=True)


def _not_leading(store: Store) -> str:
    """The note a `run --once` without the lease prints: who has it, what this run does."""
    from watcher.state.leases import ACTOR_LEASE

    held = store.lease_holder(ACTOR_LEASE)
    who = f" ({held[0]}, until {held[1]:%H:%M:%S} UTC)" if held else ""
    return (
        f"note: another watcher process{who} holds the write lease on this database; "
        "this run only evaluates (no pull request, dashboard or comment changes)"
    )


def _daemon_start_up() -> StopSignals:
    """The daemon's first steps: logging (INFO unless asked otherwise), the stop signals
    (so SIGTERM during start-up stops it as at any other time), the start-up line."""
    import structlog

    from watcher.service.metrics import VERSION
    from watcher.service.stop import StopSignals

    stop = StopSignals()
    stop.install()  # Daemon.run installs the same again; restored when it returns
    logs = _log_settings()
    level = "DEBUG" if logs.get("verbose") else logs.get("log_level")
    _configure_logging(str(level or "INFO"), logs.get("log_format"))
    structlog.stdlib.get_logger(__name__).info("watcher starting", version=VERSION, pid=os.getpid())
    return stop


def _serve(
    config: Config,
    db_url: str | None,
    actor: Actor,
    watch_ids: tuple[str, ...],
    bind: str | None,
    health_port: int | None,
    stop: StopSignals,
) -> int:
    """Run the daemon until a signal (``stop``, installed by _daemon_start_up)."""
    from watcher.service.daemon import serve

    overrides = {"bind": bind, "health_port": health_port}
    settings = config.daemon.model_copy(
        update={key: value for key, value in overrides.items() if value is not None}
    )
    return serve(
        config,
        _db_url(config, db_url),
        settings=settings,
        watch_ids=watch_ids,
        actor=actor,
        stop=stop,
    )


def _print_report(
    report: RunReport, as_json: bool, *, action: bool = False, states: tuple[str, ...] = ()
) -> None:
    """Print a run (table or JSON, plans included) and exit with its code.

    ``action`` (``run --once``): exit 0 when the cycle completed, 2 on error; otherwise
    (``check``) 0 ready, 1 not ready, 2 error. ``states``: show only the watches in
    these (the exit code still speaks for every watch of the run).
    """
    from dataclasses import replace

    from watcher.cli import render
    from watcher.runner.report import action_exit_code, exit_code

    code = action_exit_code(report) if action else exit_code(report)
    notify_hint = "notifications are retried on the next cycle"
    if report.crashes:
        crash_hint = _crash_hint(report.crashes)
        outcomes = tuple(replace(o, hint=crash_hint) if o.crash else o for o in report.outcomes)
        report = replace(report, outcomes=outcomes)
        notify_hint = crash_hint if report.notify_crash else notify_hint
    shown = [
        o
        for o in report.outcomes
        if _in_states(o.verdict.state.value if o.verdict else None, bool(o.error), states)
    ]
    if as_json:
        click.echo(render.check_json(report, code, shown))
        if report.notify_crash:
            click.echo(f"hint: {notify_hint}", err=True)  # the JSON has no field for it
    else:
        click.echo(render.check_text(report, shown), nl=False)
        for outcome in shown:
            if outcome.error:
                click.echo(f"error: {outcome.watch.id}: {outcome.error}", err=True)
                click.echo(f"hint: {outcome.hint or 'the last good verdict is kept'}", err=True)
        if report.notify_error:
            click.echo(f"error: {report.notify_error}", err=True)
            click.echo(f"hint: {notify_hint}", err=True)
    sys.exit(code)


@main.command()
@config_option
@db_option
@json_option
@fleet_filters
@log_options
@reports_errors
def status(
    config_path: Path | None,
    db_url: str | None,
    as_json: bool,
    states: tuple[str, ...],
    upstreams: tuple[str, ...],
) -> None:
    """Show the last recorded verdict of every watch (database only, no network).

    Above 20 watches the text is one summary line per state; --state and --upstream
    select watches.
    """
    from watcher.cli import render

    config = _load(config_path)
    watches = config.select(_upstream_ids(config, (), upstreams))
    with _open_store(config, db_url) as store:
        stored = [(w, store.get_verdict(w.id)) for w in watches]
        stored = [
            (w, s)
            for w, s in stored
            if _in_states(
                s.verdict.state.value if s and s.verdict else None, bool(s and s.error), states
            )
        ]
        rows = [(w, s, store.error_hint(w.id) if s and s.error else None) for w, s in stored]
        targets = store.target_statuses(config.notify.apprise_undeliverable_after)
        skew = skew_warning(parse_offset(store.get_value(OFFSET_KEY)))
    if as_json:
        click.echo(render.status_json(rows, targets, skew))
    else:
        click.echo(render.status_text(rows, targets, skew))


@main.command()
@config_option
@db_option
@json_option
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the last N events.")
@click.argument("watch_id")
@log_options
@reports_errors
def history(
    config_path: Path | None, db_url: str | None, as_json: bool, limit: int | None, watch_id: str
) -> None:
    """Show the recorded transitions of one watch, oldest first (database only)."""
    from watcher.cli import render

    config = _load(config_path)
    config.select((watch_id,))
    with _open_store(config, db_url) as store:
        events = store.history(watch_id, limit)
    click.echo(render.history_json(events) if as_json else render.history_text(watch_id, events))


DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])


@main.command()
@config_option
@db_option
@json_option
@click.option("--from", "since", type=DATE, default=None, help="Show rows from this date (UTC).")
@click.option(
    "--to",
    "until",
    type=DATE,
    default=None,
    help="Replay up to this date (UTC; a bare date includes that day).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "svg"]),
    default="text",
    help="Output format (--json = --format json).",
)
@click.option(
    "--plot",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the timeline as an SVG image to this file.",
)
@click.option("--scan-all", is_flag=True, help="Scan every release's tarball instead of bisecting.")
@click.argument("watch_id", required=False)
@log_options
@reports_errors
def backtest(
    config_path: Path | None,
    db_url: str | None,
    as_json: bool,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    plot: Path | None,
    scan_all: bool,
    watch_id: str | None,
) -> None:
    """Replay upstream history and show when the watch would have opened its PR.

    Reads only (caches aside). Exit 0 when the replay ends ready, 1 when not, 2 on error.
    """
    from watcher.backtest.command import backtest_command
    from watcher.runner.readers import open_readers

    if as_json and fmt not in ("text", "json"):
        raise click.UsageError(f"--json and --format {fmt} ask for two outputs; give one")
    _show_progress()
    config = _load(config_path)
    with (
        _open_store(config, db_url) as store,
        open_readers(config, store) as readers,
        _start_up_done(),
    ):
        out, code = backtest_command(
            config,
            store,
            readers,
            watch_id=watch_id,
            since=since,
            until=until,
            fmt="json" if as_json else fmt,
            plot=plot,
            scan_all=scan_all,
        )
    click.echo(out, nl=False)
    if plot is not None:
        click.echo(f"wrote the timeline picture to {plot}", err=True)
    sys.exit(code)


@main.command("init")
@click.argument("reference")
@click.option("--chart", "chart_repo", required=True, help="The chart's repository, owner/name.")
@click.option("--chart-path", default=".", show_default=True, help="The chart's directory in it.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="WATCHER_CONFIG",
    show_envvar=True,
    required=True,
    help="The TOML file the watch is appended to (created if missing; its [github] is used).",
)
@db_option
@click.option("--id", "watch_id", default=None, help="The watch's id (default: from the title).")
@click.option("--marker", default=None, help="The feature marker, instead of the first suggestion.")
@click.option("--no-check", is_flag=True, help="Write the watch only; skip its first check.")
@log_options
@reports_errors
def init(
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
    keys from the chart's values; the pull request is commit-graph evidence. The watch
    is appended to --config (never clobbered), then its first check is shown. Exit 0
    when the watch was written and checked (whatever the verdict), 2 on error.
    """
    from watcher.cli.init import Request, file_settings, write_watch
    from watcher.runner.cycle import run_once
    from watcher.runner.readers import open_readers

    request = Request(reference, chart_repo, chart_path, config_path, watch_id, marker)
    settings, text = file_settings(config_path)
    with _open_store(settings, db_url) as store, open_readers(settings, store) as readers:
        config, written = write_watch(readers.github, request, settings, text)
        if no_check:
            return
        click.echo(f"its first check (`watcher check --config {config_path} {written}`):")
        report = run_once(config, store, readers, (written,))
    _print_report(report, as_json=False, action=True)


@main.group("config")
def config_group() -> None:
    """Configuration commands."""


@config_group.command("check")
@config_option
@log_options
@reports_errors
def config_check(config_path: Path | None) -> None:
    """Validate the configuration file and list its watches."""
    config = _load(config_path)
    source = str(config_path) if config_path else "<built-in default>"
    click.echo(f"{source}: ok, {len(config.watch)} watch(es)")
    for watch in config.watch:
        evidence = (
            f"markers {list(watch.feature.all_markers)!r}"
            if watch.feature
            else f"pull requests {', '.join(f'#{n}' for n in watch.pulls.numbers) or 'closing'}"
            if watch.pulls
            else "no evidence"
        )
        click.echo(f"  {watch.id}: {watch.repo}, {evidence}, requires {', '.join(watch.required)}")


@config_group.command("schema")
@log_options
@reports_errors
def config_schema() -> None:
    """Print the JSON Schema of the configuration file (for editors: completion, checks)."""
    import json

    from watcher.config.model import Config

    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **Config.model_json_schema(),
    }
    click.echo(json.dumps(schema, indent=2, sort_keys=True))


@main.group("db")
def db_group() -> None:
    """Database commands."""


@db_group.command("upgrade")
@config_option
@db_option
@log_options
@reports_errors
def db_upgrade(config_path: Path | None, db_url: str | None) -> None:
    """Create the database if needed and migrate it to the newest schema."""
    with _open_store(_load(config_path), db_url) as store:
        click.echo(f"database at {store.url} is at the newest schema")


@contextmanager
def _start_up_done() -> Iterator[None]:
    """Spare what start-up built from the garbage collector's passes during the work.

    Modules, classes, validators and the engine live until the command ends, yet every
    collection of the oldest generation the evaluation triggers (tarball scans allocate
    a lot) would walk them all again. ``gc.freeze`` moves every object tracked so far
    out of the collector's sight until ``gc.unfreeze`` at the end (so an in-process
    caller, such as a test, gets them back): a warm ``watcher check`` takes about 15%
    less time (benchmarks/startup.py --compare). The daemon does not use this.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _show_progress() -> None:
    """Long work (tarball scans, backtest steps) shows a progress line on a terminal."""
    from watcher.cli import progress_line

    progress_line.enable(sys.stderr)


def _load(config_path: Path | None) -> Config:
    from watcher.config.model import load_config

    return load_config(config_path)


def _db_url(config: Config, db_url: str | None) -> str:
    """Flag or environment (click's ``db_url``), then the file, then the instance's file."""
    from watcher.config.model import default_database_url

    return db_url or config.database.url or default_database_url(config.instance)


def _open_store(config: Config, db_url: str | None) -> Store:
    """The command's store (created and migrated on first use); use it in ``with``."""
    from watcher.state.store import Store

    return Store.open(_db_url(config, db_url))
