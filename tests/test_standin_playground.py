"""`make standin` and the README: every command the README shows runs against it.

The playground (tests/standin/playground.py) is started as `make standin` starts it, in
a scratch directory; then the README's "Try every command offline" block and the
"Write your own watch" walkthrough run there in bash, each command checked for its exit
status (`set -e`), and the effects are checked on the stand-in: the PRs exist.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
STARTUP_DEADLINE = 60.0


def readme_block(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in README.md."""
    start = README.index(heading)
    match = re.compile(rf"^```{language}\n(.*?)^```", re.MULTILINE | re.DOTALL).search(
        README, start
    )
    assert match, f"no {language} block after {heading!r}"
    return match.group(1)


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[dict[str, str]]:
    """`make standin` running in ``tmp_path`` (its files in .standin/); its environment."""
    log = (tmp_path / "standin.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.standin.playground", "--dir", str(tmp_path / ".standin")],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    env_file = tmp_path / ".standin" / "env"
    deadline = time.monotonic() + STARTUP_DEADLINE
    while "Ctrl-C stops it" not in (tmp_path / "standin.log").read_text():
        assert process.poll() is None, (tmp_path / "standin.log").read_text()
        assert time.monotonic() < deadline, "the playground did not start"
        time.sleep(0.1)
    env = dict(re.findall(r"^export (\w+)=(\S+)$", env_file.read_text(), re.MULTILINE))
    try:
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        log.close()
        assert "stand-in stopped" in (tmp_path / "standin.log").read_text()


def bash(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a README block with bash -e in ``cwd``, the repository's venv on PATH."""
    venv_bin = Path(sys.executable).parent
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": str(cwd), "REPO": str(ROOT)}
    # The README says `.venv/bin` relative to the repository; here that is REPO/.venv.
    script = script.replace('"$PWD/.venv/bin', '"$REPO/.venv/bin')
    return subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def pulls(env: dict[str, str], repo: str) -> list[dict[str, object]]:
    reply = httpx.get(f"{env['STANDIN_API']}/repos/{repo}/pulls", timeout=10)
    reply.raise_for_status()
    found: list[dict[str, object]] = reply.json()
    return found


def test_every_readme_command_runs_against_the_standin(
    playground: dict[str, str], tmp_path: Path
) -> None:
    assert playground["GITHUB_TOKEN"] and playground["STANDIN_API"].startswith("http://127.0.0.1:")
    tried = readme_block("### Try every command offline", "sh")
    result = bash(tried, tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "headscale-peer-relay: READY" in result.stdout
    assert "wrote the timeline picture to timeline.svg" in result.stderr
    assert (tmp_path / "timeline.svg").read_text().startswith("<svg")
    (pr,) = pulls(playground, "kapernikov/headscale-helm")
    assert pr["title"] == "headscale: bump to v0.29.0 (peer relay support landed)"
    assert "ready -> proposed" in result.stdout  # history, after run --once
    assert f'"title":"{pr["title"]}"' in result.stdout  # the README's curl shows the PR

    # The walkthrough runs in the same shell: its environment lines come first.
    prelude = [line for line in tried.splitlines() if line.startswith((". ", "export "))]
    walkthrough = readme_block("## Write your own watch", "sh")
    result = bash("\n".join([*prelude, walkthrough]), tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (pr,) = pulls(playground, "example/charts")
    assert pr["title"] == "greeter: bump to v1.1.0 (Add --color landed)"
    assert "greeter-color: PROPOSED  target v1.1.0" in result.stdout
    assert f'"title":"{pr["title"]}"' in result.stdout
    # `watcher init` wrote what the README shows, and its first check said READY.
    written = (tmp_path / "greeter.toml").read_text()
    assert readme_block("What it wrote here", "toml") in written
    assert "greeter-color: READY  target v1.1.0" in result.stdout
