"""Backtest (or check) the peer-relay watch on headscale's *real* git history, offline.

Usage: ``python -m tests.standin.real_headscale GIT_DIR [--up-to TAG] [check] [options]``,
where ``GIT_DIR`` is a clone or mirror of https://github.com/juanfont/headscale (any form
``git clone`` accepts). Without a command it runs ``watcher backtest``; ``check`` runs
``watcher check`` (``check --plan`` also shows the pull request it would open);
``--up-to v0.29.0`` leaves out the releases published after that tag, to see what the
watch said on that day. ``make real-backtest HEADSCALE_GIT=DIR ARGS=...`` does the same.

The stand-in serves that history (see :mod:`tests.standin.mirror`): real tags, real
tarballs, so the feature scans and the answer "from which release" are the real ones.
Release times are the tags' dates, as git has no ``published_at``. Issue states are
those of GitHub's pages as read on 2026-12-01 (cited below): the real #2841 is still open
and the grants issue #2180 too, though the grants PR that says "Fixes #2180" is merged.
With a token and the internet, ``watcher backtest`` against api.github.com reads all of
this live instead.
"""

from __future__ import annotations

import sys
import tempfile
from datetime import datetime
from pathlib import Path

from tests.standin.chart import load_chart
from tests.standin.demo import run_watcher
from tests.standin.github_state import CrossRef
from tests.standin.headscale import IMAGES, MARKER, READ_TOKEN, REPO
from tests.standin.mirror import KnownIssue, load_mirror
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

# https://github.com/juanfont/headscale/issues/2841 (open; labels as shown there) and
# https://github.com/juanfont/headscale/pull/3192, a PR saying "Close: #2841" that was
# closed without being merged: a closing keyword that closed nothing.
PEER_RELAY_ISSUE = KnownIssue(
    2841,
    "[Feature] Track for supporting Tailscale Peer Relays",
    datetime.fromisoformat("2025-10-30T00:00:00+00:00"),
    ("enhancement", "grants", "no-stale-bot", "tailscale-feature-gap"),
    mentioned_by=(
        (
            datetime.fromisoformat("2026-04-15T00:00:00+00:00"),
            CrossRef(
                REPO,
                3192,
                "policy: include CapGrant destinations for peer relay capabilities",
                is_pull_request=True,
                state="closed",
            ),
        ),
    ),
)
# https://github.com/juanfont/headscale/issues/2180 (open) and
# https://github.com/juanfont/headscale/pull/3102 ("Fixes #2180", merged; opened
# 2026-02-23, its merge date is not on the page read, so the opening date is used).
GRANTS_ISSUE = KnownIssue(
    2180,
    '[Feature] "grants" feature support',
    datetime.fromisoformat("2024-10-08T00:00:00+00:00"),
    ("enhancement",),
    mentioned_by=(
        (
            datetime.fromisoformat("2026-02-23T00:00:00+00:00"),
            CrossRef(
                REPO,
                3102,
                "hscontrol/policy/v2: add Grant policy support",
                is_pull_request=True,
                state="closed",
                merged_at=datetime.fromisoformat("2026-02-23T00:00:00+00:00"),
            ),
        ),
    ),
)


def replay(git_dir: Path, args: list[str], workdir: Path, up_to: str | None = None) -> int:
    """Serve headscale's history from ``git_dir`` and run ``watcher ARGS`` on it."""
    with StandIn() as standin:
        standin.github.add_token(READ_TOKEN)
        load_chart(standin)
        repo = load_mirror(
            standin,
            REPO,
            git_dir,
            images=IMAGES,
            issues=(PEER_RELAY_ISSUE, GRANTS_ISSUE),
            up_to=up_to,
        )
        print(
            f"replaying {len(repo.releases)} releases of {REPO} from {git_dir} (marker {MARKER})",
            file=sys.stderr,
            flush=True,
        )
        (workdir / "watcher.toml").write_text(standin_config(standin))
        command = args if args[:1] == ["check"] else ["backtest", *args]
        return run_watcher(workdir, command, READ_TOKEN)


def main(argv: list[str]) -> int:
    """Entry point: ``GIT_DIR [--up-to TAG] [check] [options]``; the exit code is watcher's."""
    if not argv or argv[0].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    git_dir, rest = Path(argv[0]), argv[1:]
    up_to = None
    if rest[:1] == ["--up-to"] and len(rest) > 1:
        up_to, rest = rest[1], rest[2:]
    if not (git_dir / "HEAD").exists() and not (git_dir / ".git").exists():
        print(f"error: {git_dir} is not a git repository", file=sys.stderr)
        print("hint: clone https://github.com/juanfont/headscale first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="watcher-real-headscale-") as tmp:
        try:
            return replay(git_dir, rest, Path(tmp), up_to)
        except ValueError as exc:  # --up-to names no version tag
            print(f"error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
