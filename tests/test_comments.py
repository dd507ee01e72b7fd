"""Code versus comments by file type, and the ranking of feature hits it drives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.test_tarscan import build
from watcher.config.model import FeatureConfig
from watcher.sources.comments import code_part
from watcher.sources.feature import rule_key
from watcher.sources.tarscan import MAX_HITS, scan_tarball

MARKER = "tailcfg.PeerCapabilityRelay"
LITERAL = "tailscale.com/cap/relay"


@pytest.mark.parametrize(
    ("path", "line", "in_code"),
    [
        ("a.go", f"\t{MARKER}: true, // {LITERAL}", MARKER),
        ("a.go", f"// {MARKER}", None),
        ("a.go", f'x := "https://{LITERAL}" // {MARKER}', LITERAL),
        ("a.go", f"x := `//` + {MARKER}", MARKER),
        ("a.go", f"/* {MARKER} */ y := 1", None),
        ("a.c", f"'\"' /* {MARKER} */", None),
        ("a.py", f"x = 1  # {MARKER}", None),
        ("a.py", f'x = "# {MARKER}"', MARKER),
        ("a.py", f'"""{MARKER}"""', MARKER),
        ("a.yaml", f"url: http://x#{MARKER}", MARKER),
        ("a.yaml", f"key: 1 # {MARKER}", None),
        ("Makefile", f"# {MARKER}", None),
        ("Dockerfile.alpine", f"# {MARKER}", None),
        ("a.sql", f"select 1 -- {MARKER}", None),
        ("a.md", f"<!-- {MARKER} -->", None),
        ("a.md", f"# {MARKER}", MARKER),  # a Markdown heading is text, not a comment
        ("a.unknown", f"// {MARKER}", MARKER),  # unknown syntax: everything is code
    ],
)
def test_code_part_of_one_line(path: str, line: str, in_code: str | None) -> None:
    code = code_part(line, path)
    assert len(code) == len(line)
    kept = [m for m in (MARKER, LITERAL) if m in code]
    assert (kept[0] if kept else None) == in_code


def test_block_comment_state_spans_lines() -> None:
    text = f"x := 1 /* start\n{MARKER}\nend */ {LITERAL}\n"
    lines = code_part(text, "a.go").split("\n")
    assert MARKER not in lines[1] and LITERAL in lines[2]


def test_known_syntaxes() -> None:
    # A comment is blanked where the syntax is known, kept where it is not.
    assert code_part("x // note", "hscontrol/a.go").strip() == "x"
    assert code_part("x # note", "x/Makefile").strip() == "x"
    assert code_part("x // note", "LICENSE") == "x // note"


# --- randomized: code_part keeps the shape of the text ---------------------------------

TEXT = st.text(alphabet=st.sampled_from(list("ab /*#-\"'`\n\\x<!>")), max_size=200)
PATHS = st.sampled_from(["a.go", "a.py", "a.sql", "a.md", "a.yaml", "a.txt"])


@given(TEXT, PATHS)
def test_code_part_keeps_length_and_newlines(text: str, path: str) -> None:
    code = code_part(text, path)
    assert len(code) == len(text)
    assert [i for i, c in enumerate(code) if c == "\n"] == [
        i for i, c in enumerate(text) if c == "\n"
    ]
    # Only comment characters are blanked: everything kept is the original character.
    assert all(c == t or c == " " for c, t in zip(code, text, strict=True))


# --- randomized: ranking of hits in an archive -----------------------------------------

PLACES = st.sampled_from(["code", "line comment", "block comment", "none"])


def go_source(place: str) -> bytes:
    """A Go file with the marker in code, in a comment, or nowhere."""
    body = {
        "code": f"var x = {MARKER}\n",
        "line comment": f"// uses {MARKER} later\n",
        "block comment": f"/*\n  {MARKER}\n*/\n",
        "none": "var y = 2\n",
    }[place]
    return f"package p\n\n{body}func f() {{}}\n".encode()


@settings(max_examples=60, deadline=None)
@given(st.lists(PLACES, min_size=1, max_size=8), st.booleans())
def test_code_hits_come_first_and_stop_the_scan(places: list[str], every: bool) -> None:
    files = {f"hscontrol/f{i}.go": go_source(p) for i, p in enumerate(places)}
    rule = FeatureConfig(marker=MARKER, paths=("hscontrol/**/*.go",), all_evidence=every)
    scan = scan_tarball(build(files).chunks(), rule, source="test")
    code = [f"hscontrol/f{i}.go" for i, p in enumerate(places) if p == "code"]
    comments = [f"hscontrol/f{i}.go" for i, p in enumerate(places) if p.endswith("comment")]
    limit = MAX_HITS if every else 1
    assert [h.path for h in scan.hits] == (code + comments)[:limit]
    assert [h.in_code for h in scan.hits] == [True] * len(code[:limit]) + [False] * len(
        (code + comments)[:limit][len(code[:limit]) :]
    )
    # Reading stops at the first code hit (when only one is wanted), never at a comment.
    assert scan.complete == (every or not code)


def test_a_marker_inside_a_longer_identifier_is_no_hit() -> None:
    files = {
        "hscontrol/a.go": b"var a = tailcfg.PeerCapabilityRelayTarget\n",
        "hscontrol/b.go": b"var b = xtailcfg.PeerCapabilityRelay\n",
        "hscontrol/c.go": b"var c = tailcfg.PeerCapabilityRelay_2\n",
        "hscontrol/d.go": b"var d = cap[tailcfg.PeerCapabilityRelay]\n",
    }
    rule = FeatureConfig(marker=MARKER, paths=("hscontrol/**/*.go",), all_evidence=True)
    scan = scan_tarball(build(files).chunks(), rule, source="test")
    assert [h.path for h in scan.hits] == ["hscontrol/d.go"]
    # A marker ending in a non-word character needs no boundary after it.
    files = {"hscontrol/e.go": f'"{LITERAL}-target"\n'.encode()}
    literal = FeatureConfig(marker=LITERAL, paths=("hscontrol/**/*.go",))
    assert scan_tarball(build(files).chunks(), literal, source="test").found


# --- the scan-cache key ------------------------------------------------------------------

MARKERS = st.lists(
    st.text(alphabet="abc./", min_size=3, max_size=6), min_size=1, max_size=4, unique=True
)


@given(MARKERS, st.randoms())
def test_rule_key_depends_on_the_marker_set_only(markers: list[str], rng: object) -> None:
    one = FeatureConfig(markers=tuple(markers))
    shuffled = list(markers)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    assert rule_key(FeatureConfig(markers=tuple(shuffled))) == rule_key(one)
    first, *rest = markers
    assert rule_key(FeatureConfig(marker=first, markers=tuple(rest))) == rule_key(one)
    assert rule_key(FeatureConfig(markers=(*markers, "zzz.new"))) != rule_key(one)
    assert rule_key(one.model_copy(update={"paths": ("other/**",)})) != rule_key(one)
