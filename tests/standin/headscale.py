"""A headscale-like upstream history that reproduces every trap of real upstream history.

The traps are listed in docs/architecture.md, «What support landed means».

``load_headscale(standin, stage)`` brings the stand-in to one of four stages, in order
and incrementally (a later stage only adds what changed, so ETags of untouched
resources stay the same):

- ``waiting``: stable releases up to v0.28.0 (and v0.27.2, cut later from a release
  branch); the feature only in the prerelease v0.29.0-beta.1 and on main; a draft
  v0.29.0 visible to push tokens;
- ``pending``: v0.29.0 published with the feature; its images not pushed yet;
- ``ready``: ``docker.io headscale/headscale:v0.29.0`` and ``ghcr.io juanfont/headscale:v0.29.0``
  pushed (and the unprefixed ``0.29.0``);
- ``patch``: v0.29.1 released from ``release/v0.29`` and pushed.

Traps on the way: prerelease spellings (``-alpha12``, ``-beta1``, ``-beta.4``,
``-rc.1``), an ``-rc`` never released, non-release tags (``backup/...``, ``tmp-...``,
``*-docker-ko-test1``, ``v0.23-fix``, ``upstream/v1.0``), a release edited after
publishing, tags dated out of version order, a changelog placeholder heading, DERP
"relay" in an old changelog, the marker in ``go.sum``, vendored code, a ``_test.go``
file, docs and testdata before (or beside) the real support, and the issue numbers in
unrelated text.

The feature itself is headscale's real text (``tests/fixtures/headscale``, excerpts with
provenance): the files that carry ``tailscale.com/cap/relay`` and
``tailcfg.PeerCapabilityRelay`` at v0.29.0-beta.1 and v0.29.0 (the literal only in
comments, the constant in code), the real changelog sections for 0.29.0 (placeholder,
then dated, with the date of this history) and the docs page ``docs/ref/policy.md``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.headscale_excerpts import excerpt_files, excerpt_text
from tests.standin.github_state import CrossRef, RepoState
from tests.standin.history import HistoryBuilder, at

if TYPE_CHECKING:
    from tests.standin.server import StandIn

REPO = "juanfont/headscale"
MARKER = "tailscale.com/cap/relay"
FEATURE_FILE = "hscontrol/policy/v2/types.go"
FEATURE_ISSUE = 2841
GRANTS_ISSUE = 2180
GRANTS_PR = 2862
CHART_REPO = "kapernikov/headscale-helm"
PUSH_TOKEN = "tok-headscale-push"
READ_TOKEN = "tok-headscale-read"
STAGES = ("waiting", "pending", "ready", "patch")
IMAGES = (("docker.io", "headscale/headscale"), ("ghcr.io", "juanfont/headscale"))
STAGE_KEY = "standin.headscale.stage"


@dataclass(frozen=True)
class LargeBlob:
    """A large file under ``hscontrol/policy/v2/testdata/`` for size tests (0: none)."""

    size: int = 0
    compressible: bool = False

    def content(self) -> bytes:
        """Deterministic bytes: random (incompressible) or repetitive JSON (compressible)."""
        if self.compressible:
            line = b'{"src":["tag:client"],"dst":["tag:relay"],"ip":["*"]},\n'
            return (line * (self.size // len(line) + 1))[: self.size]
        return random.Random(self.size).randbytes(self.size)


# -- file contents ---------------------------------------------------------------------

DERP_SECTION = (
    "## 0.22.0 (2023-04-20)\n\n"
    "- Add an embedded DERP relay server, so clients can relay traffic through headscale\n"
    "- Derive node keys from the relay map (commit a3f2841c9e2180bd7c1e)\n"
)


def changelog(*sections: str) -> str:
    """CHANGELOG.md with ``sections`` newest first."""
    return "# CHANGELOG\n\n" + "\n".join(sections)


def version_go(version: str) -> str:
    """hscontrol/version.go: changes with every release commit."""
    return f'package hscontrol\n\nconst Version = "{version}"\n'


def types_go(with_feature: bool) -> str:
    """Synthetic policy types, the marker in code when ``with_feature`` (for benchmarks).

    This history uses it only before the feature: headscale's real files replace it at
    v0.29.0-beta.1.
    """
    relay = (
        f'\n// CapRelay lets a node serve as a peer relay.\nconst CapRelay = "{MARKER}"\n'
        if with_feature
        else ""
    )
    return f"package v2\n\ntype Grant struct {{\n\tSrc []string\n\tDst []string\n}}\n{relay}"


GO_SUM_OLD = "golang.org/x/crypto v0.21.0 h1:X31++rzVUdKhX5sWmSOFZxx8UW/ldWx55cbf08iNAMA=\n"
GO_SUM_RELAY = (
    GO_SUM_OLD + f"{MARKER} v0.0.0-20250401 h1:deadbeef2841c0ffee2180aa=\n"
    "tailscale.com v1.84.0 h1:u2841bd2180f0000000000000000000000000000000=\n"
)
VENDOR_TAILCFG = f'package tailcfg\n\nconst PeerCapabilityRelay PeerCapability = "{MARKER}"\n'
TYPES_TEST = (
    f'package v2\n\nimport "testing"\n\nfunc TestRelayCap(t *testing.T) {{ _ = "{MARKER}" }}\n'
)
GRANTS_DOC = f"# Grants\n\nPlanned: `{MARKER}` once #{FEATURE_ISSUE} lands.\n"


def real_section(tag: str, heading: str, date: str | None = None) -> str:
    """The section under ``heading`` of headscale's real CHANGELOG.md at ``tag``.

    From the committed excerpts (tests/fixtures/headscale); ``date`` replaces the real
    date in the heading, as this history publishes v0.29.0 on another day.
    """
    text = excerpt_text(tag, "CHANGELOG.md")
    start = text.index(heading + "\n")
    end = text.find("\n## ", start + len(heading))
    section = text[start : end + 1 if end != -1 else len(text)]
    if date is not None:
        section = section.replace(heading, heading.split(" (", maxsplit=1)[0] + f" ({date})", 1)
    return section.rstrip("\n") + "\n"


def real_source(tag: str) -> dict[str, str | bytes | None]:
    """headscale's real files at ``tag`` that carry the markers (excerpts), and its docs page."""
    return {
        path: data
        for path, data in excerpt_files(tag).items()
        if path.startswith(("hscontrol/", "docs/"))
    }


# The real 0.29.0 section: "peer relay" in its "### Grants" subsection and Grants list.
PLACEHOLDER_SECTION = real_section("v0.29.0-beta.1", "## 0.29.0 (202x-xx-xx)")
RELEASED_SECTION = real_section("v0.29.0", "## 0.29.0 (2026-06-17)", date="2026-01-28")


# -- stages ------------------------------------------------------------------------------


def _waiting(b: HistoryBuilder, standin: StandIn, blob: LargeBlob) -> None:
    gh = standin.github
    gh.add_token(PUSH_TOKEN, push_to=[REPO])
    gh.add_token(READ_TOKEN)
    base = {
        "README.md": "# headscale\n\nAn open source Tailscale control server.\n",
        "go.mod": "module github.com/juanfont/headscale\n\ngo 1.20\n",
        "go.sum": GO_SUM_OLD,
        "hscontrol/derp.go": "package hscontrol\n\n// DERP relay servers for clients.\n",
        FEATURE_FILE: types_go(False),
        "CHANGELOG.md": changelog(DERP_SECTION),
        "hscontrol/version.go": version_go("0.22.0"),
    }
    b.commit("2023-04-01T10:00:00Z", "Initial import", base)
    b.release("v0.22.0", "2023-04-20T10:00:00Z", body="DERP relay support.")
    b.tag("upstream/v1.0", "2023-04-21T10:00:00Z")
    _main_releases(
        b,
        [
            ("v0.23.0-alpha12", "2024-05-10", True, ""),
            ("v0.23.0-beta1", "2024-06-15", True, ""),
            ("v0.23.0-beta.4", "2024-08-01", True, ""),
            ("v0.23.0-rc.1", "2024-09-01", True, ""),
            ("v0.23.0", "2024-09-18", False, "Tailnet lock groundwork."),
        ],
    )
    b.commit("2024-09-25T10:00:00Z", "Hotfix for 0.23", {"hscontrol/fix.go": "package hscontrol\n"})
    b.tag("v0.23-fix", "2024-09-25T11:00:00Z")
    b.tag("backup/main-2024-10", "2024-10-01T10:00:00Z")
    gh.add_issue(
        REPO,
        GRANTS_ISSUE,
        "Support grants in the policy",
        labels=["enhancement"],
        created_at=at("2024-10-01T09:00:00Z"),
    )
    b.commit("2024-10-20T10:00:00Z", "Experiment", {"hscontrol/tmp.go": "package hscontrol\n"})
    b.tag("tmp-grants-experiment", "2024-10-20T11:00:00Z")
    b.commit("2024-10-21T10:00:00Z", "Drop experiment", {"hscontrol/tmp.go": None})
    _main_releases(
        b,
        [
            ("v0.24.0-docker-ko-test1", "2024-12-01", True, "Testing ko image builds."),
            ("v0.24.0", "2025-01-17", False, ""),
            ("v0.25.0", "2025-02-11", True, "Oops, marked as prerelease."),
        ],
    )
    b.edit("v0.25.0", "2025-02-12T08:00:00Z", prerelease=False)
    # The tailscale dependency now defines the marker: go.sum and vendored code match.
    b.commit(
        "2025-04-15T10:00:00Z",
        "Bump tailscale to v1.84",
        {"go.sum": GO_SUM_RELAY, "vendor/tailscale.com/tailcfg/tailcfg.go": VENDOR_TAILCFG},
    )
    _main_releases(
        b,
        [
            ("v0.26.0-rc.1", "2025-04-20", True, ""),
            ("v0.26.0", "2025-05-14", False, "Tailscale v1.84 (commit a3f2841c9e2180bd)."),
            ("v0.27.0", "2025-07-01", False, ""),
            ("v0.27.1", "2025-08-01", False, ""),
        ],
    )
    b.branch("release/v0.27", "v0.27.1")
    gh.add_issue(
        REPO,
        FEATURE_ISSUE,
        "Support Tailscale peer relays",
        labels=["enhancement"],
        created_at=at("2025-09-20T09:00:00Z"),
    )
    gh.add_event(
        REPO,
        FEATURE_ISSUE,
        "cross-referenced",
        at("2025-09-22T09:00:00Z"),
        source=CrossRef(CHART_REPO, 12, "Peer relays: wait for upstream"),
    )
    b.commit(
        "2025-10-01T10:00:00Z",
        "policy/v2: tests and docs ahead of relay support",
        {"hscontrol/policy/v2/types_test.go": TYPES_TEST, "docs/ref/grants.md": GRANTS_DOC},
    )
    _main_releases(b, [("v0.28.0", "2025-10-15", False, "")])
    # A patch cut from the release branch after the next minor: dates out of version order.
    _release_from_branch(
        b,
        "release/v0.27",
        "v0.27.2",
        "2025-11-05",
        "Fixes tailscale/tailscale#2841 regression in magicsock.",
    )
    _release_from_branch(b, "release/v0.27", "v0.27.3-rc.1", "2025-11-20", "", prerelease=True)
    # headscale's real source at v0.29.0-beta.1: the literal only in a comment
    # (matcher.go), the constant tailcfg.PeerCapabilityRelay in code (filter.go, types.go).
    feature = b.commit(
        "2025-12-01T10:00:00Z",
        f"policy/v2: grants and {MARKER} (#{GRANTS_PR})",
        {**real_source("v0.29.0-beta.1"), **_testdata(blob)},
    )
    _grants_pr_merged(b, feature)
    _main_releases(
        b,
        [("v0.29.0-beta.1", "2025-12-10", True, "Grants, peer relays.")],
        section=PLACEHOLDER_SECTION,
    )
    b.release("v0.29.0", "2026-01-20T10:00:00Z", body="Peer relays!", draft=True)
    _push_images(standin, [r.tag_name for r in b.repo.releases if not r.draft])


def _pending(b: HistoryBuilder, standin: StandIn, blob: LargeBlob) -> None:
    b.commit(
        "2026-01-28T10:00:00Z",
        "Release 0.29.0",
        {
            "CHANGELOG.md": changelog(RELEASED_SECTION, *_old_sections(b.repo)),
            "hscontrol/version.go": version_go("0.29.0"),
            **real_source("v0.29.0"),
        },
    )
    b.publish("v0.29.0", "2026-01-28T12:00:00Z")
    b.commit(
        "2026-01-29T10:00:00Z",
        "Start 0.30.0",
        {
            "CHANGELOG.md": changelog(
                "## 0.30.0 (202x-xx-xx)\n\n- Nothing yet\n", *_old_sections(b.repo)
            ),
        },
    )
    b.release("v0.30.0", "2026-01-30T10:00:00Z", body="Next.", draft=True)


def _ready(b: HistoryBuilder, standin: StandIn, blob: LargeBlob) -> None:
    _push_images(standin, ["v0.29.0"])


def _patch(b: HistoryBuilder, standin: StandIn, blob: LargeBlob) -> None:
    b.branch("release/v0.29", "v0.29.0")
    _release_from_branch(b, "release/v0.29", "v0.29.1", "2026-02-10", "Bug fixes.")
    _push_images(standin, ["v0.29.1"])


Step = Callable[[HistoryBuilder, "StandIn", LargeBlob], None]
STEPS: dict[str, Step] = {
    "waiting": _waiting,
    "pending": _pending,
    "ready": _ready,
    "patch": _patch,
}


# -- helpers -----------------------------------------------------------------------------


def _section(tag: str, day: str) -> str:
    """The changelog section of a stable release: a special text, or a generic line."""
    special = {"v0.22.0": DERP_SECTION, "v0.29.0": RELEASED_SECTION}
    return special.get(tag) or f"## {tag.lstrip('v')} ({day})\n\n- Release {tag}\n"


def _old_sections(repo: RepoState) -> list[str]:
    """Sections of the stable releases made from the default branch so far, newest first."""
    stable = [
        r for r in repo.releases if r.stable_published and r.target_commitish == repo.default_branch
    ]
    stable.sort(key=lambda r: r.created_at, reverse=True)
    return [_section(r.tag_name, r.created_at.date().isoformat()) for r in stable]


def _main_releases(
    b: HistoryBuilder, releases: list[tuple[str, str, bool, str]], section: str | None = None
) -> None:
    """One release commit (version bump, changelog) and release per entry, on main.

    A stable release adds its dated section; ``section`` (e.g. a placeholder heading)
    is put on top instead when given.
    """
    for tag, day, prerelease, body in releases:
        version = tag.lstrip("v")
        files = {"hscontrol/version.go": version_go(version)}
        if section is not None:
            files["CHANGELOG.md"] = changelog(section, *_old_sections(b.repo))
        elif not prerelease:
            files["CHANGELOG.md"] = changelog(_section(tag, day), *_old_sections(b.repo))
        b.commit(f"{day}T10:00:00Z", f"Release {version}", files)
        b.release(tag, f"{day}T12:00:00Z", body=body, prerelease=prerelease)


def _release_from_branch(
    b: HistoryBuilder, branch: str, tag: str, day: str, body: str, prerelease: bool = False
) -> None:
    version = tag.lstrip("v")
    files = {"hscontrol/version.go": version_go(version)}
    b.commit(f"{day}T10:00:00Z", f"Release {version}", files, branch=branch)
    b.release(tag, f"{day}T12:00:00Z", body=body, prerelease=prerelease, ref=branch)


def _testdata(blob: LargeBlob) -> dict[str, str | bytes | None]:
    files: dict[str, str | bytes | None] = {
        "hscontrol/policy/v2/testdata/grant_results/relay.json": f'{{"app": {{"{MARKER}": []}}}}\n'
    }
    if blob.size:
        name = "big.json" if blob.compressible else "big.bin"
        files[f"hscontrol/policy/v2/testdata/grant_results/{name}"] = blob.content()
    return files


def _grants_pr_merged(b: HistoryBuilder, merge_sha: str) -> None:
    """PR #2862 closes #2180 (completed) and mentions #2841 without closing it."""
    gh = b.github
    when = at("2025-12-01T10:05:00Z")
    # Merged by squash: the feature commit itself is its merge commit.
    gh.record_merged_pull(
        REPO,
        GRANTS_PR,
        f"policy/v2: grants and {MARKER}",
        merge_sha,
        when,
        created_at=at("2025-11-15T09:00:00Z"),
    )
    pr = CrossRef(REPO, GRANTS_PR, f"policy/v2: grants and {MARKER}", True, "closed", when)
    gh.add_event(REPO, GRANTS_ISSUE, "cross-referenced", at("2025-11-15T09:00:00Z"), source=pr)
    gh.add_event(REPO, GRANTS_ISSUE, "connected", at("2025-11-15T09:01:00Z"))
    gh.add_event(REPO, GRANTS_ISSUE, "referenced", when, commit_id=merge_sha)
    gh.close_issue(REPO, GRANTS_ISSUE, when, "completed", commit_id=merge_sha)
    gh.add_event(REPO, FEATURE_ISSUE, "cross-referenced", at("2025-11-15T09:02:00Z"), source=pr)


def _push_images(standin: StandIn, tags: list[str]) -> None:
    for tag in tags:
        for host, name in IMAGES:
            standin.registry.push(host, name, tag)
            standin.registry.push(host, name, tag.lstrip("v"))


# -- entry point -------------------------------------------------------------------------


def load_headscale(
    standin: StandIn, stage: str = "waiting", testdata: LargeBlob | None = None
) -> RepoState:
    """Bring the stand-in to ``stage``, applying only the steps not applied yet.

    ``testdata`` only matters for the first load (the blob is part of the v0.29.0-beta.1
    commit). Going back to an earlier stage is an error.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {', '.join(STAGES)}")
    builder = HistoryBuilder(
        standin.github, REPO, description="An open source Tailscale control server"
    )
    done = builder.repo.meta.get(STAGE_KEY)
    start = STAGES.index(done) + 1 if done else 0
    if STAGES.index(stage) < start - 1:
        raise ValueError(f"stand-in is already at stage {done!r}; cannot go back to {stage!r}")
    for name in STAGES[start : STAGES.index(stage) + 1]:
        STEPS[name](builder, standin, testdata or LargeBlob())
        builder.repo.meta[STAGE_KEY] = name
    return builder.repo
