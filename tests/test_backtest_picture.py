"""The backtest picture as a person sees it: rendered to PNG by cairo, then measured.

The SVG of the stand-in's headscale-like history (every trap of
docs/architecture.md, «What support landed means»,
with Docker Hub push times so a pending phase exists) goes through ``watcher backtest
--format svg`` and cairosvg. Text boxes are measured with cairo's own text extents (the
renderer cairosvg draws with), not with the layout's estimate, so a wrong estimate fails
here: nothing cut at the edges, no two texts overlapping, every dot visible, every
release labelled, ``*`` exactly on the releases whose image time was assumed.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from xml.etree import ElementTree

import cairocffi
import cairosvg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from tests.test_backtest_standin import hub, push_token, run  # noqa: F401 - fixtures
from watcher.backtest.svg import LEFT, PLOT_W, STATE_COLOURS, WIDTH, Label, Scale, place_labels
from watcher.core.models import VerdictState
from watcher.state.store import Store

NS = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]


@pytest.fixture
def store(tmp_path: Any) -> Iterator[Store]:
    """A fresh SQLite store."""
    opened = Store.open(f"sqlite:///{tmp_path / 'watcher.db'}")
    yield opened
    opened.close()


@pytest.fixture
def picture(standin: StandIn, store: Store, hub: str) -> tuple[str, dict[str, Any]]:  # noqa: F811
    """The SVG of the full history and the JSON document of the same backtest."""
    load_headscale(standin, "patch")
    svg, code = run(standin, store, hub, fmt="svg")
    assert code == 0
    doc = json.loads(run(standin, store, hub)[0])
    return svg, doc


def text_boxes(root: ElementTree.Element) -> list[tuple[str, Box]]:
    """(text, box) of every <text>, measured with cairo's toy font API like cairosvg."""
    surface = cairocffi.ImageSurface(cairocffi.FORMAT_ARGB32, 1, 1)
    context = cairocffi.Context(surface)
    boxes = []
    for node in root.iter(f"{NS}text"):
        bold = node.get("font-weight") == "bold"
        context.select_font_face(
            "sans-serif",
            cairocffi.FONT_SLANT_NORMAL,
            cairocffi.FONT_WEIGHT_BOLD if bold else cairocffi.FONT_WEIGHT_NORMAL,
        )
        context.set_font_size(float(node.get("font-size", "11")))
        text = node.text or ""
        ascent, descent = context.font_extents()[:2]
        width = context.text_extents(text)[4]
        x, y = float(node.get("x", "0")), float(node.get("y", "0"))
        if node.get("text-anchor") == "end":
            x -= width
        boxes.append((text, (x, y - ascent, x + width, y + descent)))
    return boxes


def overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share more than a hairline (1 px)."""
    return min(a[2], b[2]) - max(a[0], b[0]) > 1 and min(a[3], b[3]) - max(a[1], b[1]) > 1


def png_of(svg: str) -> Image.Image:
    """The SVG rendered by cairosvg, as an RGB image."""
    data = cairosvg.svg2png(bytestring=svg.encode())
    return Image.open(io.BytesIO(data)).convert("RGB")


def pixel(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    """The RGB colour at (x, y)."""
    red, green, blue = cast(tuple[int, int, int], image.getpixel((round(x), round(y))))
    return red, green, blue


def test_the_picture_as_a_person_sees_it(picture: tuple[str, dict[str, Any]]) -> None:
    svg, doc = picture
    root = ElementTree.fromstring(svg)
    image = png_of(svg)
    width, height = image.size
    assert (width, height) == (WIDTH, int(float(root.get("height", "0"))))

    # Nothing is cut: a white frame all around the content.
    frame = [pixel(image, x, y) for x in range(width) for y in (0, 1, height - 2, height - 1)]
    frame += [pixel(image, x, y) for y in range(height) for x in (0, 1, width - 2, width - 1)]
    assert set(frame) == {(255, 255, 255)}

    # No text leaves the canvas or overlaps another; each is really drawn (ink in its box).
    boxes = text_boxes(root)
    for text, (x0, y0, x1, y1) in boxes:
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, text
        bands = cast(
            tuple[tuple[int, int], ...],
            image.crop((int(x0), int(y0), int(x1) + 1, int(y1) + 1)).getextrema(),
        )
        # Ink: some pixel far from white in some channel (light blue text included).
        assert min(low for low, _ in bands) < 160, f"{text!r} is not visible"
    for i, (text, box) in enumerate(boxes):
        for other, other_box in boxes[i + 1 :]:
            assert not overlap(box, other_box), f"{text!r} overlaps {other!r}"

    # Every release, prerelease and image push is labelled; * only where assumed.
    texts = [text for text, _ in boxes]
    for row in doc["rows"]:
        if row["kind"] in ("release", "prerelease"):
            tag = row["event"].split(" ", 1)[0]
            assumed = any("image time assumed" in note for note in row["notes"])
            assert (tag + "*" if assumed else tag) in texts
            assert (tag + "*" in texts) == assumed
    edited = [r for r in doc["rows"] if any("edited" in n for n in r["notes"])]
    assert edited, "the history has a release with only an 'edited' note"

    # Every issue dot is visible: distinct centres, each pixel of its own colour.
    dots = [
        (float(c.get("cx", "0")), float(c.get("cy", "0")), c.get("fill", ""))
        for c in root.iter(f"{NS}circle")
        if c.find(f"{NS}title") is not None
    ]
    assert len(dots) == sum(1 for r in doc["rows"] if r["kind"] == "issue")
    for i, (x, y, _) in enumerate(dots):
        for x2, y2, _ in dots[i + 1 :]:
            assert y != y2 or abs(x - x2) >= 8, "two dots overlap"
    for x, y, fill in dots:
        assert "#{:02x}{:02x}{:02x}".format(*pixel(image, x, y)) == fill

    # The final state lasts to the day of the run, not a sliver at the edge.
    final = STATE_COLOURS[VerdictState(doc["rows"][-1]["state"])]
    band_rects = [r for r in root.iter(f"{NS}rect") if r.find(f"{NS}title") is not None]
    shown = sum(float(r.get("width", "0")) for r in band_rects if r.get("fill") == final)
    assert shown >= 0.08 * PLOT_W


def test_the_legend_explains_every_colour(picture: tuple[str, dict[str, Any]]) -> None:
    svg, doc = picture
    root = ElementTree.fromstring(svg)
    texts = {t.text for t in root.iter(f"{NS}text")}
    for state in {r["state"] for r in doc["rows"]}:
        assert state in texts
    issue_kinds = {
        re.split(r"[ :]", r["event"], maxsplit=2)[1] for r in doc["rows"] if r["kind"] == "issue"
    }
    assert {f"issue {kind}" for kind in issue_kinds} <= texts
    assert "pull request opened / updated" in texts
    assert "* image push time assumed = release time" in texts
    legend_fills = {c.get("fill") for c in root.iter(f"{NS}circle") if c.find(f"{NS}title") is None}
    dot_fills = {
        c.get("fill") for c in root.iter(f"{NS}circle") if c.find(f"{NS}title") is not None
    }
    assert dot_fills <= legend_fills


def test_the_picture_is_deterministic(
    standin: StandIn,
    store: Store,
    hub: str,  # noqa: F811
) -> None:
    load_headscale(standin, "patch")
    first, _ = run(standin, store, hub, fmt="svg")
    second, _ = run(standin, store, hub, fmt="svg")
    assert first == second


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(LEFT, WIDTH - 24), st.text("v0123456789.-rcbetaimage ", max_size=22)),
        max_size=30,
    )
)
def test_placed_labels_never_overlap_nor_leave_the_picture(
    specs: list[tuple[float, str]],
) -> None:
    placed = place_labels([Label(anchor, text, "#000") for anchor, text in specs])
    assert len(placed) == len(specs)
    for i, a in enumerate(placed):
        assert a.left >= 0 and a.right <= WIDTH
        for b in placed[i + 1 :]:
            assert a.row != b.row or a.right <= b.left or b.right <= a.left


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 3 * 365 * 24), min_size=1, max_size=40),
    st.integers(0, 2 * 365 * 24),
)
def test_the_time_scale_is_monotone_and_inside_the_plot(hours: list[int], tail: int) -> None:
    start = datetime(2023, 1, 1, tzinfo=UTC)
    times = sorted(start + timedelta(hours=h) for h in hours)
    scale = Scale.for_times(times, times[-1] + timedelta(hours=tail))
    xs = [scale.x(t) for t in [scale.start, *times, scale.end]]
    assert xs == sorted(xs)
    assert xs[0] == LEFT and xs[-1] == WIDTH - 24
    # Linear time everywhere except the shortened stretches, each drawn as long_gap / 2.
    breaks = scale.breaks
    widths = [scale.x(b) - scale.x(a) for a, b in breaks]
    linear = (scale.end - scale.start) - sum((b - a for a, b in breaks), timedelta(0))
    # The plot shows the linear time plus long_gap / 2 per break: a break's share of the
    # width follows exactly; each x is rounded to 0.1 px, so a width is off by 0.1 at most.
    # (The rate derived from the other, rounded, widths would add up every rounding.)
    shown = linear + len(breaks) * scale.long_gap / 2
    expected = PLOT_W * (scale.long_gap / 2) / shown
    for (a, b), drawn in zip(breaks, widths, strict=True):
        assert b - a > scale.long_gap
        assert abs(drawn - expected) <= 0.1 + 1e-9
