"""Run `watcher backtest` (or `check`) on a real upstream's git history served by the stand-in.

Shared by :mod:`tests.standin.real_headscale` and :mod:`tests.standin.real_node_exporter`:
the command line ``GIT_DIR [--up-to TAG] [check] [options]`` and the replay itself
(a stand-in loaded from the clone, see :mod:`tests.standin.mirror`, and the real CLI in a
subprocess on a fresh database).
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.standin.chart import load_chart
from tests.standin.demo import run_watcher
from tests.standin.mirror import KnownIssue, KnownPull, load_mirror
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.config.model import default_config_text


@dataclass(frozen=True)
class Upstream:
    """What to serve from a clone and how to watch it."""

    full_name: str
    images: tuple[tuple[str, str], ...]
    issues: tuple[KnownIssue, ...] = ()
    config_text: str | None = None  # None: the built-in default config
    pulls: tuple[KnownPull, ...] = ()
    token: str = "tok-real-replay"


def with_pulls(config_text: str, numbers: Sequence[int]) -> str:
    """``config_text`` whose first watch also names ``numbers`` in ``[watch.pulls]``."""
    if not numbers:
        return config_text
    table = f"\n[watch.pulls]\nnumbers = [{', '.join(map(str, numbers))}]\n"
    return config_text.replace("\n[watch.issues]\n", table + "\n[watch.issues]\n", 1)


def replay(upstream: Upstream, git_dir: Path, args: Sequence[str], up_to: str | None) -> int:
    """Serve ``git_dir`` as ``upstream`` and run ``watcher ARGS`` (default: backtest) on it."""
    with tempfile.TemporaryDirectory(prefix="watcher-real-replay-") as tmp, StandIn() as standin:
        workdir = Path(tmp)
        standin.github.add_token(upstream.token)
        load_chart(standin)
        repo = load_mirror(
            standin,
            upstream.full_name,
            git_dir,
            images=upstream.images,
            issues=upstream.issues,
            up_to=up_to,
            pulls=upstream.pulls,
        )
        print(
            f"replaying {len(repo.releases)} releases of {upstream.full_name} from {git_dir}",
            file=sys.stderr,
            flush=True,
        )
        text = with_pulls(
            upstream.config_text or default_config_text(),
            [pull.number for pull in upstream.pulls if pull.number in repo.pulls],
        )
        # Real history is large (a merged pull request's diff numbers are computed by git).
        config = standin_config(standin, {"timeout_seconds": "60"}, text=text)
        (workdir / "watcher.toml").write_text(config)
        command = list(args) if args[:1] == ["check"] else ["backtest", *args]
        return run_watcher(workdir, command, upstream.token)


def main_for(upstream: Upstream, argv: list[str], usage: str) -> int:
    """Parse ``GIT_DIR [--up-to TAG] [check] [options]`` and replay; exit code is watcher's."""
    if not argv or argv[0].startswith("-"):
        print(usage, file=sys.stderr)
        return 2
    git_dir, rest = Path(argv[0]), argv[1:]
    up_to = None
    if rest[:1] == ["--up-to"] and len(rest) > 1:
        up_to, rest = rest[1], rest[2:]
    if not (git_dir / "HEAD").exists() and not (git_dir / ".git").exists():
        print(f"error: {git_dir} is not a git repository", file=sys.stderr)
        print(f"hint: clone https://github.com/{upstream.full_name} first", file=sys.stderr)
        return 2
    try:
        return replay(upstream, git_dir, rest, up_to)
    except ValueError as exc:  # --up-to names no version tag
        print(f"error: {exc}", file=sys.stderr)
        return 2
