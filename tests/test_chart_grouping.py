"""Randomized invariants of one pull request per chart (Hypothesis, pure).

Any set of watches with any targets on the real kapernikov chart composes into one
bump: whatever the watches' order, the same texts; a key several watches move takes the
newest target (never a downgrade); the chart version is bumped once, by the largest bump
asked. The body's marker names every watch with its target, survives upstream text, and
a PR watcher closed itself no longer reads as one of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from tests.standin.chart import chart_file
from tests.test_chart_bump import _request
from watcher.actions.grouping import (
    BODY_LIMIT,
    Member,
    chart_branch,
    chart_key,
    closed_body,
    group_body,
    parse_chart_marker,
)
from watcher.chart.bump import BumpRequest, VersionBump, plan_bumps
from watcher.chart.yaml_edit import find_scalar
from watcher.config.model import ChartConfig
from watcher.core.models import Release

CHART_YAML = chart_file("kapernikov", "Chart.yaml")
VALUES_YAML = chart_file("kapernikov", "values.yaml")
BUMPS: tuple[VersionBump, ...] = ("none", "patch", "minor", "major")

versions = st.builds(
    lambda minor, patch: f"0.{minor}.{patch}", st.integers(25, 31), st.integers(0, 3)
)
watches = st.lists(st.tuples(versions, st.sampled_from(BUMPS)), min_size=1, max_size=6)


def request(version: str, bump: VersionBump) -> BumpRequest:
    return _request(CHART_YAML, VALUES_YAML, version, version_bump=bump)


def value(text: str, key: str, name: str) -> str | None:
    ref = find_scalar(text, key, filename=name)
    return ref.value if ref else None


@settings(deadline=None, max_examples=40)
@given(watches, st.randoms(use_true_random=False))
def test_any_watches_on_one_chart_compose_into_one_bump(
    wanted: list[tuple[str, VersionBump]], rnd: object
) -> None:
    requests = [request(v, b) for v, b in wanted]
    shuffled = list(requests)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    result = plan_bumps(requests)
    assert plan_bumps(shuffled).files == result.files  # the order of watches does not matter
    newest = max((v for v, _ in wanted), key=Version)
    values = result.files.get("headscale/values.yaml", VALUES_YAML)
    chart = result.files.get("headscale/Chart.yaml", CHART_YAML)
    moved = Version(newest) > Version("0.28.0")
    assert value(values, "image.tag", "values.yaml") == (f"v{newest}" if moved else "v0.28.0")
    assert value(chart, "appVersion", "Chart.yaml") == (newest if moved else "0.28.0")
    largest = max((b for _, b in wanted), key=BUMPS.index)
    expected = {"none": "0.2.0", "patch": "0.2.1", "minor": "0.3.0", "major": "1.0.0"}
    assert value(chart, "version", "Chart.yaml") == (expected[largest] if moved else "0.2.0")
    # One diff: every changed line appears once, so no two watches change the same line.
    changed = [line for line in result.diff.splitlines() if line.startswith("+ ")]
    assert len(changed) == len(set(changed))


ids = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True)


@settings(deadline=None, max_examples=40)
@given(
    st.dictionaries(ids, versions, min_size=1, max_size=8),
    st.text(max_size=200),
    st.sampled_from(["headscale", ".", "charts/headscale/", ""]),
)
def test_the_marker_names_every_watch_and_target(
    targets: dict[str, str], upstream: str, path: str
) -> None:
    chart = ChartConfig(repo="kapernikov/headscale-helm", path=path)
    when = datetime(2026, 1, 1, tzinfo=UTC)
    members = [
        Member(w, Release(f"v{v}", v, False, False, "https://example.invalid/r", when), w, upstream)
        for w, v in targets.items()
    ]
    result = plan_bumps([request(v, "minor") for v in targets.values()])
    body = group_body(chart_key(chart), members, result)
    assert len(body) <= BODY_LIMIT
    tags = {w: f"v{v}" for w, v in targets.items()}
    assert parse_chart_marker(body) == (chart_key(chart), tags)
    assert parse_chart_marker(closed_body(body)) is None
    assert chart_branch(chart).startswith("watcher-chart/")


BLOCKS = tuple(
    f"### {name}\n\n{text}\n"
    for name, text in (
        ("Breaking changes and upgrade steps since v0.28.0", "> - `randomize_client_port` removed"),
        ("Release notes since v0.28.0", "<details><summary>v0.29.0</summary>notes</details>"),
        ("Release notes since v0.27.0", "<details><summary>v0.28.0</summary>older</details>"),
        ("What this pull request changes", "- `image.tag`: v0.28.0 -> v0.29.0"),
        ("Remaining checklist", "- [ ] helm lint"),
    )
)


@settings(deadline=None, max_examples=60)
@given(st.lists(st.lists(st.sampled_from(BLOCKS), unique=True), min_size=1, max_size=5))
def test_a_block_several_watches_share_is_shown_once_and_pointed_to(
    sections: list[list[str]],
) -> None:
    """Watches of one upstream and target have the same breaking changes, release notes and
    checklist: the grouped body shows each once, the later sections point to the first."""
    chart = ChartConfig(repo="kapernikov/headscale-helm", path="headscale")
    when = datetime(2026, 1, 1, tzinfo=UTC)
    release = Release("v0.29.0", "0.29.0", False, False, "https://example.invalid/r", when)
    members = [
        Member(f"w{i}", release, f"w{i}", f"## w{i} landed\n\n" + "".join(blocks))
        for i, blocks in enumerate(sections)
    ]
    body = group_body(chart_key(chart), members, plan_bumps([request("0.29.0", "minor")]))
    for block in BLOCKS:
        owners = [i for i, blocks in enumerate(sections) if block in blocks]
        assert body.count(block.rstrip("\n")) == (1 if owners else 0)
        if owners:
            # Every later section keeps the heading, pointing to the first that shows it.
            heading = block.splitlines()[0]
            pointer = f"{heading}\n\nThe same as in the section of `w{owners[0]}` above."
            assert body.count(pointer) == len(owners) - 1
    for i in range(len(sections)):
        assert f"## w{i} landed" in body
