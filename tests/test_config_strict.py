"""Every config mistake is found when the file is loaded, each on its own line.

Strict types (no "3" for 3, no "no" for false), bounded durations, templates rendered
with sample values, nearest-key suggestions, required signals that can be checked.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from watcher.cli.main import main
from watcher.config.model import default_config_text, parse_config
from watcher.core.errors import ConfigError

BASE = default_config_text()

# (line prefix in the default config, replacement line, key path, words in the message)
MISTAKES = [
    ("timeout_seconds = ", "timeout_seconds = 1e300", "github.timeout_seconds", "up to 3600"),
    ("retries = ", 'retries = "3"', "github.retries", "integer, not a string ('3')"),
    ("max_candidates = ", 'max_candidates = "3"', "watch[0].max_candidates", "integer"),
    ("numbers = ", 'numbers = ["2841", 2180]', "watch[0].issues.numbers[0]", "integer"),
    ("draft = ", 'draft = "no"', "watch[0].chart.draft", "boolean, not a string ('no')"),
    (
        "title = ",
        'title = "headscale: bump to {tag} ({feature_nam})"',
        "watch[0].chart.title",
        "unknown field {feature_nam}; the fields are {name}, {tag}, {version}, {feature}",
    ),
    ("interval_seconds = ", "interval_seconds = inf", "daemon.interval_seconds", "got inf"),
    ("all_evidence = ", "all_evidnce = false", "watch[0].feature.all_evidnce", "'all_evidence'"),
    (
        "required = ",
        'required = ["release", "feature", "image", "feature"]',
        "watch[0].required",
        "'feature' more than once",
    ),
    (
        "error_after_minutes = ",
        "error_after_minutes = 1e300",
        "notify.error_after_minutes",
        "525600",
    ),
    ("health_port = ", "health_port = 9464.0", "daemon.health_port", "integer, not a number"),
    ("dashboard = ", 'dashboard = "yes"', "notify.dashboard", "boolean"),
    (
        "references = ",
        'references = ["docker.io/headscale/headscale:{tagg}"]',
        "watch[0].image.references[0]",
        "unknown field {tagg}; the fields are {tag}, {version}",
    ),
]


def with_lines(replacements: dict[str, str]) -> str:
    """The default config with each line starting with a key replaced."""
    lines = BASE.splitlines()
    for prefix, new in replacements.items():
        (index,) = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        lines[index] = new
    return "\n".join(lines) + "\n"


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "m.toml")
    return str(info.value).splitlines()


@pytest.mark.parametrize(("prefix", "line", "path", "words"), MISTAKES)
def test_each_mistake_is_one_line_naming_its_key(
    prefix: str, line: str, path: str, words: str
) -> None:
    (found,) = problems(with_lines({prefix: line}))
    assert found.startswith(f"m.toml: {path}: ") and words in found, found


@settings(max_examples=60, deadline=None)
@given(st.sets(st.sampled_from(range(len(MISTAKES))), min_size=2))
def test_all_mistakes_are_reported_at_once(chosen: set[int]) -> None:
    picked = [MISTAKES[i] for i in sorted(chosen)]
    lines = problems(with_lines({prefix: line for prefix, line, _, _ in picked}))
    assert len(lines) == len(picked), lines  # no knock-on lines, no "(and N more)"
    for _, _, path, words in picked:
        (match,) = [line for line in lines if line.startswith(f"m.toml: {path}: ")]
        assert words in match


def test_a_broken_watch_does_not_also_report_an_empty_watch_list() -> None:
    lines = problems(with_lines({"id = ": 'id = "Not An Id"'}))
    assert len(lines) == 1 and lines[0].startswith("m.toml: watch[0].id: "), lines
    lines = problems(with_lines({"markers = ": 'markr = "tailscale.com/cap/relay"'}))
    assert "m.toml: watch[0].feature.markr: unknown key; did you mean 'marker'?" in lines
    assert not any(line.startswith("m.toml: watch: ") for line in lines), lines


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("[githb]\n" + BASE, "m.toml: githb: unknown key; did you mean 'github'?"),
        (
            BASE.replace("[daemon]\n", "[daemon]\nintervl_seconds = 3\n"),
            "m.toml: daemon.intervl_seconds: unknown key; did you mean 'interval_seconds'?",
        ),
        (
            BASE.replace("[[watch.chart.pins]]\n", "[[watch.chart.pins]]\nminimun = '1'\n"),
            "m.toml: watch[0].chart.pins[0].minimun: unknown key; did you mean 'minimum'?",
        ),
    ],
)
def test_unknown_keys_get_the_nearest_known_one(text: str, line: str) -> None:
    assert line in problems(text)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("timeout_seconds", "inf"),
        ("timeout_seconds", "1e300"),
        ("timeout_seconds", "0"),
        ("max_wait_seconds", "-1"),
        ("write_interval_seconds", "nan"),
        ("interval_seconds", "1e300"),
        ("jitter_seconds", "inf"),
        ("error_after_minutes", "inf"),
    ],
)
def test_durations_are_bounded_and_the_range_is_named(key: str, value: str) -> None:
    (line,) = problems(with_lines({f"{key} = ": f"{key} = {value}"}))
    assert f".{key}: must be a number of " in line and " up to " in line


def test_retention_days_is_bounded() -> None:
    text = BASE.replace("[daemon]\n", "[daemon]\nretention_days = 1e300\n")
    (line,) = problems(text)
    assert line.startswith("m.toml: daemon.retention_days: must be a number of days")


@pytest.mark.parametrize(
    ("title", "words"),
    [
        ("{0.__class__}", "{0.__class__}: only plain field names"),
        ("{tag.__class__.__mro__}", "only plain field names"),
        ("{tag[0]}", "only plain field names"),
        ("{}", "only plain field names"),
        ("{tag:d}", "cannot be rendered"),
        ("{tag:{version}}", "nested fields are not allowed"),
        ("bump {tag", "not a valid template"),
    ],
)
def test_titles_are_rendered_when_loaded(title: str, words: str) -> None:
    (line,) = problems(with_lines({"title = ": f"title = {title!r}"}))
    assert line.startswith("m.toml: watch[0].chart.title: ") and words in line, line
    assert "the fields are {name}, {tag}, {version}, {feature}, {watch}" in line


def test_every_title_field_renders() -> None:
    title = "{name} {tag} {version} {feature} {watch} {tag!r:>20}"
    config = parse_config(with_lines({"title = ": f"title = {title!r}"}), "m.toml")
    chart = config.watch[0].chart
    assert chart is not None and chart.title == title


def test_an_image_reference_that_renders_to_no_reference_is_an_error() -> None:
    (line,) = problems(with_lines({"references = ": 'references = ["ghcr.io/x/y@{tag}"]'}))
    assert line.startswith("m.toml: watch[0].image.references[0]: ") and "digest" in line


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        ({"references = ": "references = []", "[watch.chart]": "[watch.chartx]"}, "'image'"),
        (
            {"numbers = ": "numbers = []", "required = ": 'required = ["release", "issue"]'},
            "'issue'",
        ),
    ],
)
def test_a_required_signal_must_have_something_to_check(edit: dict[str, str], words: str) -> None:
    text = with_lines({k: v for k, v in edit.items() if not k.startswith("[")})
    if "[watch.chart]" in edit:  # drop the chart table and everything below it in [[watch]]
        head, _, tail = text.partition("[watch.chart]")
        text = head + "[daemon]" + tail.partition("[daemon]")[2]
    lines = problems(text)
    assert len(lines) == 1 and lines[0].startswith("m.toml: watch[0]: required lists " + words)
    assert "nothing to check" in lines[0]


def test_without_required_image_is_required_only_when_there_is_one() -> None:
    minimal = '[[watch]]\nid = "w"\nrepo = "o/r"\n[watch.feature]\nmarker = "m.m"\n'
    assert parse_config(minimal, "m.toml").watch[0].required == ("release", "feature")
    with_ref = minimal + '[watch.image]\nreferences = ["x/y:{tag}"]\n'
    assert "image" in parse_config(with_ref, "m.toml").watch[0].required


def test_config_check_prints_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(with_lines({p: line for p, line, _, _ in MISTAKES}))
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    for _, _, key, _ in MISTAKES:
        assert f"{path}: {key}: " in result.output
    assert "more problem" not in result.output and "at least 1 item" not in result.output


def test_repositories_named_in_the_config_are_reported_by_name(watcher: WatcherRun) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.edits = {'repo = "kapernikov/headscale-helm"': 'repo = "kapernikov/does-not-exist"'}
    result = watcher("check")
    assert result.exit_code == 2, result.output
    assert (
        "chart repository kapernikov/does-not-exist not found (404): check [watch.chart].repo"
        in result.output
    )
    watcher.edits = {'repo = "juanfont/headscale"': 'repo = "juanfont/does-not-exist"'}
    result = watcher("check")
    assert result.exit_code == 2
    assert (
        "upstream repository juanfont/does-not-exist not found (404): check [[watch]].repo"
        in result.output
    )


def test_a_title_using_every_checked_field_renders_in_the_proposal() -> None:
    # The fields checked at load are the ones the proposal fills in (TITLE_FIELDS).
    from watcher.actions.proposal import propose
    from watcher.chart.bump import BumpResult
    from watcher.config.model import TITLE_FIELDS
    from watcher.core.models import Release

    title = " ".join(f"{{{name}}}" for name in TITLE_FIELDS)
    config = parse_config(with_lines({"title = ": f"title = {title!r}"}), "m.toml")
    watch = config.watch[0]
    assert watch.chart is not None
    release = Release("v9.8.7", "9.8.7", False, False, "https://example.com/r", None)
    proposal = propose(watch, watch.chart, release, (), BumpResult({}, (), (), (), ""))
    assert proposal.title == f"headscale v9.8.7 9.8.7 {watch.chart.feature_name} {watch.id}"


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-10, 10**6))
def test_a_duration_is_accepted_exactly_within_its_range(value: float) -> None:
    literal = {math.inf: "inf", -math.inf: "-inf"}.get(value, repr(value))
    literal = "nan" if math.isnan(value) else literal
    text = with_lines({"max_wait_seconds = ": f"max_wait_seconds = {literal}"})
    if 0 <= value <= 86400:
        assert parse_config(text, "m.toml").github.max_wait_seconds == value
    else:
        (line,) = problems(text)
        assert line.startswith("m.toml: github.max_wait_seconds: must be a number of seconds")
        assert "from 0 up to 86400" in line
