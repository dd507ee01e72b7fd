"""`watcher init`: a watch from an upstream pull request or issue and a chart.

End to end on the stand-in (the greeter of the README's walkthrough, and headscale's real
policy code as a pull request), with the request log showing that init only reads; then
the pure suggestions with randomized inputs: references, tag patterns, markers, and the
TOML table that must load back to what was drafted.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.chart import CHART_TOKEN
from tests.standin.github_state import CrossRef
from tests.standin.history import HistoryBuilder, at
from tests.standin.playground import EXAMPLE_UPSTREAM, connection_toml, load_example
from watcher.cli.main import main
from watcher.config.model import ChartConfig, parse_config
from watcher.core.errors import ConfigError
from watcher.scaffold.config_file import append_watch
from watcher.scaffold.draft import Draft, watch_toml
from watcher.scaffold.suggest import (
    SKIPPED,
    VERSION,
    Candidate,
    Reference,
    marker_candidates,
    parse_reference,
    tag_pattern,
)

HEADSCALE = Path(__file__).parent / "fixtures" / "headscale"
GREETER_CHART = ["--chart", "example/charts", "--chart-path", "charts/greeter"]


def init(watcher: WatcherRun, config: Path, *args: str) -> Result:
    argv = ["init", *args, "--config", str(config), "--db", watcher.db_url]
    env = {"GITHUB_TOKEN": CHART_TOKEN, "GITHUB_TOKEN_FILE": ""}
    return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)


@pytest.fixture
def greeter(watcher: WatcherRun) -> WatcherRun:
    load_example(watcher.standin)
    return watcher


def test_init_appends_a_watch_that_loads_and_shows_its_first_check(
    greeter: WatcherRun, tmp_path: Path
) -> None:
    config = tmp_path / "mine.toml"
    settings = connection_toml(greeter.standin)
    config.write_text(settings)
    result = init(greeter, config, "example/greeter#1", *GREETER_CHART)
    assert result.exit_code == 0, result.output
    text = config.read_text()
    assert text.startswith(settings)  # appended, the settings kept byte for byte
    (watch,) = parse_config(text, "mine.toml").watch
    assert watch.feature is not None and watch.pulls is not None
    assert (watch.id, watch.repo, watch.feature.all_markers) == (
        "greeter-add-color",
        EXAMPLE_UPSTREAM,
        ("--color",),
    )
    # The pull request is commit-graph evidence, required beside the marker.
    assert watch.pulls.numbers == (1,) and watch.required == (
        "release",
        "feature",
        "pulls",
        "image",
    )
    assert watch.chart is not None and watch.chart.value_images == ("image",)
    assert text[len(settings) :] in result.stdout  # what it wrote, shown
    assert "greeter-add-color: READY  target v1.1.0" in result.stdout
    # init reads only: not one write to the stand-in.
    assert {r.method for r in greeter.standin.log.records()} <= {"GET", "HEAD"}
    checked = CliRunner().invoke(main, ["config", "check", "--config", str(config)])
    assert checked.exit_code == 0, checked.output


def test_an_issue_leads_to_the_pull_requests_that_reference_it(
    greeter: WatcherRun, tmp_path: Path
) -> None:
    gh = greeter.standin.github
    gh.add_issue(EXAMPLE_UPSTREAM, 2, "Coloured greetings", created_at=at("2026-03-05T00:00:00Z"))
    pr = CrossRef(EXAMPLE_UPSTREAM, 1, "Add --color", True, "closed", at("2026-04-01T11:00:00Z"))
    gh.add_event(EXAMPLE_UPSTREAM, 2, "cross-referenced", at("2026-04-01T10:00:00Z"), source=pr)
    config = tmp_path / "mine.toml"
    config.write_text(connection_toml(greeter.standin))
    url = f"https://github.com/{EXAMPLE_UPSTREAM}/issues/2"
    result = init(greeter, config, url, *GREETER_CHART, "--no-check")
    assert result.exit_code == 0, result.output
    (watch,) = parse_config(config.read_text(), "mine.toml").watch
    assert watch.id == "greeter-coloured-greetings"
    assert watch.feature is not None and watch.pulls is not None
    assert watch.feature.all_markers == ("--color",) and watch.issues.numbers == (2,)
    assert watch.pulls.closing and "pulls" not in watch.required  # reported, not required


def test_a_pull_request_without_code_to_quote_is_the_evidence_alone(
    greeter: WatcherRun, tmp_path: Path
) -> None:
    b = HistoryBuilder(greeter.standin.github, EXAMPLE_UPSTREAM)
    b.branch("docs", "main")
    b.commit(
        "2026-04-03T00:00:00Z", "Document --color", {"docs/color.md": "Use --color.\n"}, "docs"
    )
    pull = greeter.standin.github.open_pull(EXAMPLE_UPSTREAM, "docs", "main", "Document it")
    config = tmp_path / "mine.toml"
    config.write_text(connection_toml(greeter.standin))
    result = init(
        greeter, config, f"{EXAMPLE_UPSTREAM}#{pull.number}", *GREETER_CHART, "--no-check"
    )
    assert result.exit_code == 0, result.output
    (watch,) = parse_config(config.read_text(), "mine.toml").watch
    assert watch.feature is None and watch.pulls is not None
    assert watch.pulls.numbers == (pull.number,)
    assert watch.required == ("release", "pulls", "image")


def test_init_never_clobbers_or_half_writes(greeter: WatcherRun, tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text(connection_toml(greeter.standin))
    first = init(greeter, config, "example/greeter#1", *GREETER_CHART, "--no-check")
    assert first.exit_code == 0, first.output
    before = config.read_bytes()
    again = init(greeter, config, "example/greeter#1", *GREETER_CHART, "--no-check")
    assert again.exit_code == 2
    assert "it already has a watch 'greeter-add-color'; nothing was written" in again.stderr
    short = init(
        greeter, config, "example/greeter#1", *GREETER_CHART, "--id", "b", "--marker", "ab"
    )
    assert short.exit_code == 2
    assert "watch[1].feature.marker" in short.stderr
    missing = init(greeter, config, "example/greeter#7", *GREETER_CHART, "--id", "c")
    assert missing.exit_code == 2
    assert "example/greeter#7: no such pull request or issue" in missing.stderr
    assert config.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".mine")] == []


def test_on_headscale_real_policy_code_the_built_in_marker_is_suggested(
    watcher: WatcherRun, tmp_path: Path
) -> None:
    """v0.28.0's filter.go on main, v0.29.0's in a pull request: the real change."""
    repo = "juanfont/headscale"
    path = "hscontrol/policy/v2/filter.go"
    b = HistoryBuilder(watcher.standin.github, repo)
    b.commit("2026-01-01T00:00:00Z", "v0.28.0", {path: (HEADSCALE / "v0.28.0" / path).read_text()})
    b.release("v0.28.0", "2026-01-02T00:00:00Z")
    b.branch("grants", "main")
    b.commit(
        "2026-02-01T00:00:00Z",
        "grants",
        {path: (HEADSCALE / "v0.29.0" / path).read_text()},
        "grants",
    )
    pull = watcher.standin.github.open_pull(repo, "grants", "main", "policy/v2: grants")
    config = tmp_path / "hs.toml"
    config.write_text(connection_toml(watcher.standin))
    chart = ["--chart", "kapernikov/headscale-helm", "--chart-path", "headscale"]
    result = init(watcher, config, f"{repo}#{pull.number}", *chart, "--no-check")
    assert result.exit_code == 0, result.output
    text = config.read_text()
    built_in = "tailcfg.PeerCapabilityRelay"  # config.example.toml's marker
    assert re.search(rf'(marker = |other text .*)"{built_in}" ', text), text
    old = (HEADSCALE / "v0.28.0" / path).read_text()
    for suggested in re.findall(r'"(tailcfg\.\w+)"', text):
        assert suggested not in old and suggested in (HEADSCALE / "v0.29.0" / path).read_text()
    (watch,) = parse_config(text, "hs.toml").watch
    assert watch.tag_regex.fullmatch("v0.28.0") and watch.chart is not None


# -- the pure suggestions ----------------------------------------------------------------

NAME = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(NAME, NAME, st.integers(1, 10**7), st.sampled_from(["pull", "pulls", "issues"]))
def test_a_reference_reads_the_same_short_or_as_url(
    owner: str, name: str, number: int, kind: str
) -> None:
    expected = Reference(f"{owner}/{name}", number)
    assert parse_reference(f"{owner}/{name}#{number}") == expected
    assert parse_reference(f"https://github.com/{owner}/{name}/{kind}/{number}/files") == expected
    with pytest.raises(ConfigError, match="not a pull request or issue reference"):
        parse_reference(f"{owner}/{name}")


VERSIONS = st.from_regex(r"\d{1,3}\.\d{1,3}\.\d{1,3}(-rc\.\d)?", fullmatch=True)


@given(
    st.sampled_from(["", "v", "app-v", "chart/"]),
    st.lists(VERSIONS, min_size=1, max_size=8, unique=True),
    st.lists(st.sampled_from(["latest", "nightly", "v1.2", "old-1.0"]), max_size=3),
)
def test_the_tag_pattern_takes_the_versions_in_the_tags_own_form(
    prefix: str, versions: list[str], noise: list[str]
) -> None:
    pattern = tag_pattern([*(f"{prefix}{v}" for v in versions), *noise])
    assert pattern is not None
    for version in versions:
        found = re.fullmatch(pattern, f"{prefix}{version}")
        assert found is not None and found["version"] == version
    assert not any(re.fullmatch(pattern, n) for n in noise)


WORD = st.sampled_from(["Relay", "RelayTarget", "relay", "Flags", "color"])
CODE_LINE = st.builds(
    lambda kind, word, text: {
        0: f'x := "{text}"',
        1: f"const {word} = 1",
        2: f"return pkg.{word.capitalize()}",
        3: f"// {word}",
    }[kind],
    st.integers(0, 3),
    WORD,
    st.sampled_from(["--color", "-v", "a.io/cap/x", "a.io/cap/xy", "key.name"]),
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cmd/main.go", "pkg/a.go", "pkg/a_test.go", "docs/x.md", "b.py"]),
            st.lists(st.tuples(st.sampled_from("+- "), CODE_LINE), max_size=6),
        ),
        max_size=3,
    )
)
def test_every_suggested_marker_is_new_code_of_a_file_that_counts(
    files: list[tuple[str, list[tuple[str, str]]]],
) -> None:
    patches = [(path, "\n".join(f"{sign}{line}" for sign, line in lines)) for path, lines in files]
    for candidate in marker_candidates(patches):
        assert not any(Path(candidate.path).match(g) for g in SKIPPED if "**" not in g)
        own = [lines for path, lines in files if path == candidate.path]
        added = [ln for lines in own for sign, ln in lines if sign == "+"]
        old = [ln for lines in own for sign, ln in lines if sign != "+"]
        assert any(candidate.text in ln for ln in added)
        assert not any(candidate.text in ln for ln in old)


@given(
    st.text(max_size=60),
    st.text(min_size=3, max_size=40),
    st.text(max_size=30),
    st.lists(st.text(max_size=20), max_size=2),
)
def test_the_written_table_loads_back_to_the_draft(
    title: str, marker: str, path: str, images: list[str]
) -> None:
    """Whatever upstream and the chart say (titles, paths, image names), the file loads."""
    ref = Reference("example/greeter", 1)
    chart = ChartConfig(repo="example/charts", path=path or ".")
    draft = Draft(
        id="w",
        reference=ref,
        title=title,
        is_pull=True,
        pulls=(1,),
        tag_pattern=rf"^v(?P<version>{VERSION})$",
        markers=(Candidate(marker, path or "x"), Candidate("other", "y")),
        chart=chart,
        image_keys=("image",),
        images=tuple(images),
    )
    (watch,) = parse_config(watch_toml(draft, "watcher init example/greeter#1"), "t").watch
    clean = {s: s.encode("utf-8", "replace").decode() for s in (title, marker, chart.path)}
    assert watch.description == f"{clean[title]} ({ref})"
    assert watch.feature is not None and watch.feature.all_markers == (clean[marker],)
    assert watch.chart is not None and watch.chart.path == clean[chart.path]
    assert watch.tag_pattern == draft.tag_pattern


def test_a_missing_file_is_created_and_a_bad_one_left_as_it_was(tmp_path: Path) -> None:
    table = '[[watch]]\nid = "a"\nrepo = "o/r"\n[watch.feature]\nmarker = "abc"\n'
    created = tmp_path / "new.toml"
    assert append_watch(created, "", table).watch[0].id == "a"
    assert created.read_text() == table
    broken = tmp_path / "broken.toml"
    broken.write_text("[github]\napi_url = 3\n")
    with pytest.raises(ConfigError, match=r"github\.api_url"):
        append_watch(broken, broken.read_text(), table)
    assert broken.read_text() == "[github]\napi_url = 3\n"
