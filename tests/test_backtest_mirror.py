"""Backtest on a real git history served from a clone (tests/standin/mirror.py).

The "upstream clone" here is the git repository the stand-in built for the synthetic
headscale history: real tags (annotated, dated), real commits, and every trap of
docs/architecture.md, «What support landed means». ``python -m tests.standin.real_headscale``
must find in it what
the history holds: the marker first in v0.29.0-beta.1, shipped in v0.29.0, the PR at
v0.29.0's tag date, while issue state alone says "not supported".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.standin import real_headscale
from tests.standin.headscale import REPO, load_headscale
from tests.standin.mirror import release_tags
from tests.standin.server import StandIn


@pytest.fixture
def upstream_clone(standin: StandIn) -> Path:
    """The git directory of the synthetic headscale history, up to v0.29.1."""
    load_headscale(standin, "patch")
    return standin.github.repo(REPO).git.path


def test_replay_of_a_clone_answers_from_the_source(
    upstream_clone: Path, standin: StandIn, capfd: pytest.CaptureFixture[str]
) -> None:
    git = standin.github.repo(REPO).git
    before = git.refs()
    code = real_headscale.main([str(upstream_clone), "--json"])
    out, err = capfd.readouterr()
    assert code == 0, err
    doc = json.loads(out)
    beta = git.tag_object(git.ref_sha("refs/tags/v0.29.0-beta.1") or "")
    shipped = git.tag_object(git.ref_sha("refs/tags/v0.29.0") or "")
    assert beta is not None and shipped is not None
    assert doc["first_in_code"]["tag"] == "v0.29.0-beta.1"
    assert doc["first_in_code"]["published_at"] == beta.tagger_date
    assert doc["shipped"]["tag"] == "v0.29.0"
    assert doc["shipped"]["published_at"] == shipped.tagger_date
    assert doc["pull_request"]["opened_at"] == doc["shipped"]["published_at"]
    assert [u["target"] for u in doc["pull_request"]["updates"]] == ["v0.29.1"]
    assert doc["issue_only"]["wrong"] is True
    assert "not supported" in doc["issue_only"]["said"]
    assert f"releases of {REPO}" in err
    assert git.refs() == before


def test_release_tags_are_the_version_tags_dated_and_ordered(
    upstream_clone: Path, standin: StandIn
) -> None:
    git = standin.github.repo(REPO).git
    found = release_tags(git)
    names = [name for name, _, _ in found]
    # Not versions: a branch backup, an experiment, an odd spelling, a docker test tag.
    for not_a_release in ("backup/main-2024-10", "tmp-grants-experiment", "v0.23-fix"):
        assert not_a_release not in names
    assert "v0.24.0-docker-ko-test1" not in names
    assert [when for _, _, when in found] == sorted(when for _, _, when in found)
    flags = {name: version.is_prerelease for name, version, _ in found}
    assert flags["v0.23.0-beta1"] and flags["v0.26.0-rc.1"] and not flags["v0.25.0"]


def test_not_a_git_directory_is_a_clear_error(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert real_headscale.main([str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert f"{tmp_path} is not a git repository" in err
    assert "clone https://github.com/juanfont/headscale" in err


def test_check_up_to_a_tag_shows_that_days_evidence(
    upstream_clone: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # The clone holds headscale's real files at v0.29.0 (tests/fixtures/headscale).
    code = real_headscale.main([str(upstream_clone), "--up-to", "v0.29.0", "check", "--plan"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "headscale-peer-relay: READY  target v0.29.0" in out
    assert "v0.29.1" not in out  # released after the tag: left out
    assert (
        "             hscontrol/policy/v2/compiled.go:611: "
        "if _, ok := cg.CapMap[tailcfg.PeerCapabilityRelay]; !ok {\n"
    ) in out
    assert "<details><summary>CHANGELOG.md > 0.29.0 > Grants</summary>" in out
    assert "<details><summary>docs/ref/policy.md</summary>" in out
    assert real_headscale.main([str(upstream_clone), "--up-to", "v9.9.9", "check"]) == 2
    assert "no version tag 'v9.9.9'" in capfd.readouterr().err
