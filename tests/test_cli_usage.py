"""The command line's own edges: usage errors in our ``error:``/``hint:`` form, and every
option an environment variable can set says which one in ``--help``."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.cli.main import main


def commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the CLI (``("check",)``, ``("config", "check")``, ...)."""
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = commands(main)
# What a hurried operator types wrong: an unknown option, then more of the same or values
# out of place (never a valid command line: nothing here may run or open a database).
UNKNOWN = ["--bogus", "-Z", "--jsn"]
MISTAKES = [*UNKNOWN, "--limit", "0", "--format", "pdf", "--health-port", "x", "zzz"]


@settings(max_examples=60, deadline=None)
@given(
    path=st.sampled_from([(), ("config",), ("db",), *COMMANDS]),
    first=st.sampled_from(UNKNOWN),
    extra=st.lists(st.sampled_from(MISTAKES), max_size=3),
)
def test_a_usage_error_is_one_error_line_and_a_hint(
    path: tuple[str, ...], first: str, extra: list[str]
) -> None:
    result = CliRunner().invoke(
        main, [*path, first, *extra], env={"WATCHER_CONFIG": None}, prog_name="watcher"
    )
    lines = result.stderr.splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: ")
    assert "Usage:" not in result.stderr and "Traceback" not in result.output
    assert lines[1] == f"hint: '{' '.join(('watcher', *path))} --help' shows the usage"


@pytest.mark.parametrize(
    ("command", "rest", "error"),
    [
        (
            "history",
            ["--limit", "0", "w"],
            "Invalid value for '--limit': 0 is not in the range x>=1.",
        ),
        ("status", ["--db"], "Option '--db' requires an argument."),  # click gives no ctx
        ("db upgrade", ["--config"], "Option '--config' requires an argument."),
    ],
)
def test_a_usage_error_hint_names_the_command(command: str, rest: list[str], error: str) -> None:
    result = CliRunner().invoke(main, [*command.split(), *rest], prog_name="watcher")
    assert result.stderr.splitlines() == [
        f"error: {error}",
        f"hint: 'watcher {command} --help' shows the usage",
    ]


def test_help_names_the_environment_variable_of_every_option_that_has_one() -> None:
    for path in COMMANDS:
        command: click.Command = main
        for name in path:
            assert isinstance(command, click.Group)
            command = command.commands[name]
        text = " ".join(CliRunner().invoke(main, [*path, "--help"]).stdout.split())
        for param in command.params:
            envvar = getattr(param, "envvar", None)
            if envvar:
                assert f"[env var: {envvar}" in text, (path, param.name)
    config_help = " ".join(CliRunner().invoke(main, ["check", "--help"]).stdout.split())
    assert "[env var: WATCHER_CONFIG]" in config_help
