"""Hostile upstream files as a user meets them: a newline or a terminal escape in a file's
name never splits or recolours `check`'s evidence line, a tarball served as several
concatenated gzip members is read to its end (never taken as complete early), and
markup in changelog text is escaped once in the pull request, not twice."""

from __future__ import annotations

import gzip

import httpx

from tests.conftest import WatcherRun
from tests.prs import pulls
from tests.standin.headscale import READ_TOKEN, load_headscale
from tests.standin.history import HistoryBuilder

NAME = "cmd/evil\nline\x1b[31mred.go"
WATCH = (
    '[[watch]]\nid = "widget"\nrepo = "acme/widget"\nrequired = ["release", "feature"]\n'
    '[watch.feature]\nmarker = "widget-feature"\n'
)


def widget(watcher: WatcherRun, files: dict[str, str]) -> None:
    history = HistoryBuilder(watcher.standin.github, "acme/widget")
    history.commit("2025-01-01T10:00:00Z", "start", files)
    history.release("v1.0.0", "2025-01-02T12:00:00Z")
    watcher.config_text = WATCH


def test_control_characters_in_a_file_name_stay_on_the_evidence_line(
    watcher: WatcherRun,
) -> None:
    widget(watcher, {NAME: 'package main\n\nconst f = "widget-feature"\n'})
    result = watcher("check")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    evidence = [line for line in result.output.splitlines() if ":3: const f" in line]
    assert len(evidence) == 1, result.output
    assert 'cmd/evil\\nline\\x1b[31mred.go:3: const f = "widget-feature"' in evidence[0]


def test_a_tarball_in_two_gzip_members_is_read_to_its_end(watcher: WatcherRun) -> None:
    # The marker is in the last file: only reading the second member finds it.
    files = {f"a/f{n}.go": f"package a\n// {n:04d}\n" * 200 for n in range(5)}
    widget(watcher, {**files, "z/last.go": 'package z\n\nconst f = "widget-feature"\n'})
    url = f"{watcher.standin.url}/codeload/acme/widget/legacy.tar.gz/v1.0.0"
    tar = gzip.decompress(httpx.get(url).raise_for_status().content)
    half = len(tar) // 2
    body = gzip.compress(tar[:half]) + gzip.compress(tar[half:])
    watcher.standin.faults.add(method="GET", path=r"/codeload/", status=200, body=body)
    result = watcher("check")
    assert result.exit_code == 0, result.output
    assert "z/last.go:3:" in result.output


def test_changelog_markup_is_escaped_once_in_the_pull_request(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    url = f"{acting.standin.api_url}/repos/juanfont/headscale/contents/CHANGELOG.md?ref=v0.29.0"
    raw = {"Accept": "application/vnd.github.raw", "Authorization": f"Bearer {READ_TOKEN}"}
    changelog = httpx.get(url, headers=raw).raise_for_status().text
    assert "peer relay" in changelog
    edited = changelog.replace("peer relay", "peer relay (clients < 1.90 & servers)", 1)
    acting.standin.faults.add(
        method="GET", path=r"/contents/CHANGELOG\.md$", status=200, body=edited.encode(), times=None
    )
    result = acting("run", "--once")
    assert result.exit_code == 0, result.output
    (pr,) = pulls(acting.standin)
    assert "clients &lt; 1.90 &amp; servers" in pr["body"]
    assert "&amp;lt;" not in pr["body"] and "&amp;amp;" not in pr["body"]
