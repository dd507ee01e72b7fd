"""A fleet of small upstreams for tests and ``benchmarks/fleet.py``: many watches, few repos.

Upstream ``fleet/upNNN`` has two releases: ``v1.0.0`` without any feature and ``v1.1.0``
with the features of its even-numbered watches; both images are pushed to ghcr.io, and
issue #1 is open. Watch ``wNNNN`` waits for its own marker in upstream
``NNNN % upstreams``, names that image and that issue, and keeps the default
``CHANGELOG.md``, which no upstream has (a 404 at every tag).
"""

from __future__ import annotations

from collections.abc import Collection

from tests.standin.history import HistoryBuilder
from tests.standin.server import StandIn

OWNER = "fleet"
REGISTRY = "ghcr.io"
FLEET_TOKEN = "tok-fleet-read"  # only this stand-in accepts it


def upstream(index: int) -> str:
    """The repository name of upstream ``index``."""
    return f"{OWNER}/up{index:03d}"


def marker(watch: int) -> str:
    """The feature marker watch ``watch`` waits for."""
    return f"FeatureW{watch:04d}"


def load_fleet(
    standin: StandIn, watches: int, upstreams: int, awaiting: Collection[int] = ()
) -> None:
    """Every upstream's history, images and issue; even watches' features ship in v1.1.0.

    The v1.1.0 images of the upstreams numbered in ``awaiting`` are not pushed yet.
    """
    standin.github.add_token(FLEET_TOKEN, limit=1_000_000)
    for index in range(upstreams):
        mine = range(index, watches, upstreams)
        shipped = "".join(f"const {marker(w)} = true\n" for w in mine if w % 2 == 0)
        history = HistoryBuilder(standin.github, upstream(index))
        files = {"pkg/flags.go": "package pkg\n", "README.md": "fleet\n"}
        history.commit("2026-01-01T10:00:00Z", "v1.0.0", files)
        history.release("v1.0.0", "2026-01-01T12:00:00Z")
        features = {"pkg/features.go": f"package pkg\n{shipped}"}
        history.commit("2026-02-01T10:00:00Z", "features", features)
        history.release("v1.1.0", "2026-02-01T12:00:00Z")
        standin.github.add_issue(upstream(index), 1, "Support the features")
        for tag in ("v1.0.0", "v1.1.0"):
            if tag == "v1.0.0" or index not in awaiting:
                standin.registry.push(REGISTRY, upstream(index), tag)


def fleet_config(
    standin: StandIn,
    watches: int,
    upstreams: int,
    extra_github: str = "",
    issues: bool = True,
    require_issue: Collection[int] = (),
) -> str:
    """A config of ``watches`` watches over ``upstreams`` upstreams, pointed at ``standin``.

    ``issues`` False: no watch names the issue. The watches numbered in
    ``require_issue`` require it (closed as completed) besides the release, feature and image.
    """
    lines = [
        'instance = "fleet"',
        "[github]",
        f'api_url = "{standin.api_url}"',
        "timeout_seconds = 20",
        "max_wait_seconds = 30",
        "quota_floor = 0",
        "retries = 1",
        extra_github,
        "[registries]",
        f'"{REGISTRY}" = "{standin.registry_url(REGISTRY)}"',
        "[notify]",
        "dashboard = false",
    ]
    for watch in range(watches):
        repo = upstream(watch % upstreams)
        lines += [
            "[[watch]]",
            f'id = "w{watch:04d}"',
            f'repo = "{repo}"',
            'tag_pattern = "^v(?P<version>\\\\d+\\\\.\\\\d+\\\\.\\\\d+)$"',
        ]
        if watch in require_issue:
            lines.append('required = ["release", "feature", "image", "issue"]')
        lines += [
            "[watch.feature]",
            f'markers = ["{marker(watch)}"]',
            'paths = ["pkg/**/*.go"]',
            "[watch.image]",
            f'references = ["{REGISTRY}/{repo}:{{tag}}"]',
        ]
        if issues:
            lines += ["[watch.issues]", "numbers = [1]"]
    return "\n".join(lines) + "\n"
