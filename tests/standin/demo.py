"""`make demo`: the whole check, offline, against the stand-in and a synthetic history.

Starts the local GitHub + registry stand-in, loads a small headscale-like history and
moves it through its stages, running the real `watcher` command at each one, so a
newcomer sees waiting -> pending -> ready (and a newer patch release) without a token.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

STAGES = (
    ("waiting", "headscale has the feature only in a prerelease (v0.29.0-beta.1)"),
    ("pending", "v0.29.0 is released with the feature, its images are not pushed yet"),
    ("ready", "the v0.29.0 images are pushed to Docker Hub and ghcr.io"),
    ("patch", "v0.29.1 is released and pushed"),
)


def watcher(workdir: Path, *args: str) -> int:
    """Run the real CLI in a subprocess (no token: anonymous, as a newcomer would)."""
    command = [sys.executable, "-m", "watcher", *args]
    if args[0] in ("check", "status", "history"):
        command += [
            "--config",
            str(workdir / "watcher.toml"),
            "--db",
            f"sqlite:///{workdir / 'demo.db'}",
        ]
    print(f"$ watcher {' '.join(args)}", flush=True)
    env = {"PATH": "/usr/bin:/bin", "GITHUB_TOKEN": "", "HOME": str(workdir)}
    return subprocess.run(command, env=env, check=False).returncode


def main() -> int:
    """Run the demo; exit non-zero only if watcher misbehaves."""
    with tempfile.TemporaryDirectory(prefix="watcher-demo-") as tmp, StandIn() as standin:
        workdir = Path(tmp)
        (workdir / "watcher.toml").write_text(standin_config(standin))
        print(f"stand-in GitHub at {standin.api_url}\n")
        for stage, story in STAGES:
            load_headscale(standin, stage)
            print(f"=== {stage}: {story}", flush=True)
            code = watcher(workdir, "check")
            print(f"(exit code {code})\n", flush=True)
            if code == 2:
                return 1
        watcher(workdir, "history", "headscale-peer-relay")
    return 0


if __name__ == "__main__":
    sys.exit(main())
