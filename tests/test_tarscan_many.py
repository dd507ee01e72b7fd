"""One download, several rules: ``scan_tarball_many`` finds for each rule what its own scan finds.

A fleet's watches of one upstream wait for different markers in the same commits; each
commit is downloaded once and searched for all of them (docs/architecture.md,
«Talking to GitHub»). The invariant, checked on random archives, rules, caps and
truncations: a rule's outcome is its own :func:`scan_tarball`'s found, hits and commit
SHA (the whole scan when nothing was found), or the same error.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.test_tarscan import URL, Archive, build
from watcher.config.model import FeatureConfig, ScanCaps
from watcher.core.models import FeatureScan
from watcher.sources.tarscan import WHOLE_MEMBER_BYTES, scan_tarball, scan_tarball_many

MARKERS = ("FeatAlpha", "FeatBeta", "tailscale.com/cap/relay", "FeatAlphaBeta")
PATHS = ("hscontrol/app.go", "hscontrol/x/y.go", "cmd/main.py", "hscontrol/a_test.go", "docs/d.md")
GLOBS = (("**",), ("hscontrol/**",), ("**/*.go",), ("cmd/**", "docs/**"))


def line(kind: int, marker: str) -> str:
    """A line of source: filler, the marker in code, in a comment, or glued into a word."""
    return (
        "x := compute(1)",
        f'c := "{marker}"',
        f"// see {marker}",
        f"v := {marker}Suffix",
        f"/* {marker} */ y := {MARKERS[0]}",
    )[kind]


@st.composite
def sources(draw: st.DrawFn) -> dict[str, bytes]:
    """A few files of random lines, one of them possibly bigger than a whole-read member."""
    files: dict[str, bytes] = {}
    for path in draw(st.lists(st.sampled_from(PATHS), max_size=5, unique=True)):
        lines = draw(st.lists(st.tuples(st.integers(0, 4), st.sampled_from(MARKERS)), max_size=12))
        files[path] = "\n".join(line(kind, marker) for kind, marker in lines).encode()
    if draw(st.booleans()) and files:
        # Streamed in chunks, each handed to every search still running.
        path = draw(st.sampled_from(sorted(files)))
        files[path] = b"// filler\n" * (WHOLE_MEMBER_BYTES // 10 + 1) + files[path]
    return files


rules = st.builds(
    lambda markers, paths, every: FeatureConfig(
        markers=tuple(markers), paths=paths, all_evidence=every
    ),
    st.lists(st.sampled_from(MARKERS), min_size=1, max_size=2, unique=True),
    st.sampled_from(GLOBS),
    st.booleans(),
)


def outcome(archive: bytes, chunk: int, rule: FeatureConfig) -> FeatureScan | Exception:
    """What ``rule``'s own scan of ``archive`` comes to."""
    try:
        return scan_tarball(Archive(archive, 0, 0).chunks(chunk), rule, source=URL)
    except Exception as exc:  # the outcome compared
        return exc


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=sources(),
    several=st.lists(rules, min_size=1, max_size=4),
    max_members=st.one_of(st.none(), st.integers(2, 9)),
    cut=st.one_of(st.none(), st.floats(0.0, 1.0)),
    chunk=st.sampled_from([512, 65536]),
)
def test_each_rule_gets_what_its_own_scan_gets(
    files: dict[str, bytes],
    several: list[FeatureConfig],
    max_members: int | None,
    cut: float | None,
    chunk: int,
) -> None:
    caps = ScanCaps() if max_members is None else ScanCaps(max_members=max_members)
    several = [rule.model_copy(update={"caps": caps}) for rule in several]
    blob = build(files).blob
    if cut is not None:
        blob = blob[: int(len(blob) * cut)]
    together = scan_tarball_many(Archive(blob, 0, 0).chunks(chunk), several, source=URL)
    assert len(together) == len(several)
    for rule, got in zip(several, together, strict=True):
        alone = outcome(blob, chunk, rule)
        if isinstance(alone, Exception):
            assert isinstance(got, type(alone)) and str(got) == str(alone), (got, alone)
            continue
        assert isinstance(got, FeatureScan), got
        assert (got.found, got.hits, got.commit_sha) == (alone.found, alone.hits, alone.commit_sha)
        if not alone.found:
            assert got == alone  # the whole archive read either way


def test_a_rule_that_stopped_keeps_its_scan_when_the_download_breaks_later() -> None:
    files = {
        "hscontrol/app.go": b'c := "FeatAlpha"\n',
        **{f"hscontrol/f{n}.go": b"x := 1\n" * 2000 for n in range(40)},
    }
    blob = build(files).blob
    cut = blob[: len(blob) * 3 // 4]
    first, rest = FeatureConfig(marker="FeatAlpha"), FeatureConfig(marker="FeatBeta")
    found, failed = scan_tarball_many(Archive(cut, 0, 0).chunks(4096), [first, rest], source=URL)
    assert isinstance(found, FeatureScan) and found.found
    assert [hit.path for hit in found.hits] == ["hscontrol/app.go"]
    assert isinstance(failed, Exception) and "truncated" in str(failed)
    assert URL in str(failed)


def test_rules_of_one_download_share_their_caps() -> None:
    small = FeatureConfig(marker="FeatAlpha", caps=ScanCaps(max_members=3))
    with pytest.raises(ValueError, match="share their caps"):
        scan_tarball_many(iter([b""]), [small, FeatureConfig(marker="FeatBeta")], source=URL)
