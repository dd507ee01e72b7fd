"""The real headscale excerpts of ``tests/fixtures/headscale`` (see its README.md), by tag.

Shared by the evidence tests and the stand-in headscale history, so both show the
upstream's own text. Paths are the real ones; files keep their real line numbers.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).parent / "fixtures" / "headscale"
TAGS = ("v0.28.0", "v0.29.0-beta.1", "v0.29.0")
# The markers and changelog phrases of the headscale watch (config.example.toml).
MARKERS = ("tailscale.com/cap/relay", "tailcfg.PeerCapabilityRelay")
MENTIONS = ("peer relay", "cap/relay")


def excerpt_files(tag: str) -> dict[str, bytes]:
    """Every excerpt of ``tag``, by its path in the repository, in git's tree order."""
    base = ROOT / tag
    if not base.is_dir():
        raise ValueError(f"no headscale excerpts for {tag!r}; known: {', '.join(TAGS)}")
    files = {p.relative_to(base).as_posix(): p.read_bytes() for p in base.rglob("*") if p.is_file()}
    return dict(sorted(files.items()))


def excerpt_text(tag: str, path: str) -> str:
    """One excerpt of ``tag`` as text."""
    return excerpt_files(tag)[path].decode("utf-8")
