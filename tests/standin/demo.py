"""`make demo`: the whole thing, offline, against the stand-in and a synthetic history.

Starts the local GitHub + registry stand-in, loads a small headscale-like history and a
copy of the real kapernikov chart, and moves upstream through its stages, running the
real `watcher` command at each one: waiting -> pending -> ready, the PR it would open
(`check --plan`), the PR it does open and the dashboard (`run --once`), a newer patch
release moving the same PR, and finally the backtest of the whole history.
No token and no network: the stand-in's tokens only exist on 127.0.0.1.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx

from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

CHART = "kapernikov/headscale-helm"
STAGES = (
    ("waiting", "headscale has the feature only in a prerelease (v0.29.0-beta.1)"),
    ("pending", "v0.29.0 is released with the feature, its images are not pushed yet"),
    ("ready", "the v0.29.0 images are pushed to Docker Hub and ghcr.io"),
)


def run_watcher(workdir: Path, args: Sequence[str], token: str) -> int:
    """Run the real `watcher ARGS` CLI in a subprocess on ``workdir``'s config and database.

    The config is ``workdir/watcher.toml``, the database ``workdir/watcher.db``; only the
    given token is in the environment (``""``: anonymous).
    """
    command = [sys.executable, "-m", "watcher", *args]
    command += ["--config", str(workdir / "watcher.toml")]
    command += ["--db", f"sqlite:///{workdir / 'watcher.db'}"]
    env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": token, "HOME": str(workdir)}
    return subprocess.run(command, env=env, check=False).returncode


class Demo:
    """Runs the real CLI in subprocesses against one stand-in and one database."""

    def __init__(self, standin: StandIn, workdir: Path) -> None:
        self.standin = standin
        self.workdir = workdir
        (workdir / "watcher.toml").write_text(
            standin_config(standin, {"write_interval_seconds": "0"})
        )

    def watcher(self, *args: str, token: str = "") -> int:
        """Run `watcher ARGS` (anonymous unless a stand-in token is given)."""
        print(f"$ watcher {' '.join(args)}", flush=True)
        code = run_watcher(self.workdir, args, token)
        print(f"(exit code {code})\n", flush=True)
        return code

    def show_chart_repo(self) -> None:
        """Print the PR and the dashboard issue as GitHub (the stand-in) now has them."""
        headers = {"Authorization": f"Bearer {CHART_TOKEN}"}
        base = f"{self.standin.api_url}/repos/{CHART}"
        issues = httpx.get(f"{base}/issues?state=all", headers=headers).json()
        for issue in issues:
            kind = "pull request" if "pull_request" in issue else "issue"
            print(f"--- {CHART} {kind} #{issue['number']}: {issue['title']} ---")
            if kind == "issue":
                print(issue["body"])
                comments = httpx.get(issue["comments_url"], headers=headers).json()
                for comment in comments:
                    print(f"  comment: {comment['body'].splitlines()[1]}")
        print()


def main() -> int:
    """Run the demo; exit non-zero only if watcher misbehaves."""
    with tempfile.TemporaryDirectory(prefix="watcher-demo-") as tmp, StandIn() as standin:
        load_chart(standin)
        standin.registry.push("docker.io", "tailscale/tailscale", "stable")
        demo = Demo(standin, Path(tmp))
        print(f"stand-in GitHub at {standin.api_url}\n")
        for stage, story in STAGES:
            load_headscale(standin, stage)
            print(f"=== {stage}: {story}", flush=True)
            if demo.watcher("check") == 2:
                return 1
        print("=== what `watcher run` would do (nothing is written)")
        demo.watcher("check", "--plan")
        print("=== `watcher run --once` opens the PR and the dashboard issue")
        # The checks above ran anonymously (GitHub's 60 requests/hour); from here on a
        # token's 5000/hour applies, hence the jump of "quota left".
        print("(with the stand-in's chart token from here on: 5000 requests/hour, not 60)")
        if demo.watcher("run", "--once", token=CHART_TOKEN) == 2:
            return 1
        load_headscale(standin, "patch")
        print("=== patch: v0.29.1 is released and pushed; the same PR moves")
        demo.watcher("run", "--once", token=CHART_TOKEN)
        demo.show_chart_repo()
        demo.watcher("history", "headscale-peer-relay")
        print("=== backtest: when would the watch have fired on this history?")
        demo.watcher("backtest", token=CHART_TOKEN)
    return 0


if __name__ == "__main__":
    sys.exit(main())
