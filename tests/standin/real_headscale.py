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
from datetime import datetime

from tests.standin.github_state import CrossRef
from tests.standin.headscale import IMAGES, READ_TOKEN, REPO
from tests.standin.mirror import KnownIssue, KnownPull
from tests.standin.real_replay import Upstream, main_for

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
# https://github.com/juanfont/headscale/pull/3102 ("Fixes #2180", opened 2026-02-23,
# merged 2026-04-01: see GRANTS_PR below).
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
                merged_at=datetime.fromisoformat("2026-04-01T13:10:42+00:00"),
            ),
        ),
    ),
)


# https://github.com/juanfont/headscale/pull/3102 was merged by rebase on 2026-04-01 (the
# committer date of its commits on main); GitHub's merge_commit_sha for a rebase merge is
# the last rebased commit, "testdata: strip unused fields from all test data files".
# Ground truth: it is in v0.29.0-beta.1 and v0.29.0, not in v0.28.0.
GRANTS_PR = KnownPull(
    3102,
    "hscontrol/policy/v2: add Grant policy support",
    "835db974b5cd69028b6dca0c441acde25005469b",
    datetime.fromisoformat("2026-04-01T13:10:42+00:00"),
)
# The built-in watch; the replay names #3102 as commit-graph evidence (reported beside the
# marker) when the clone has its commit (see real_replay.with_pulls).
HEADSCALE = Upstream(
    REPO,
    images=IMAGES,
    issues=(PEER_RELAY_ISSUE, GRANTS_ISSUE),
    token=READ_TOKEN,
    pulls=(GRANTS_PR,),
)


def main(argv: list[str]) -> int:
    """Entry point: ``GIT_DIR [--up-to TAG] [check] [options]``; the exit code is watcher's."""
    return main_for(HEADSCALE, argv, __doc__.strip().splitlines()[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
