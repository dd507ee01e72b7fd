"""Stored signals and feature hits keep the evidence fields; rows of older versions still load."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.core.models import Excerpt, FeatureHit, Signal, SignalName, SignalStatus
from watcher.state.codec import hit_from_json, hit_to_json, signal_from_json, signal_to_json

TEXT = st.text(max_size=40)
EXCERPTS = st.builds(Excerpt, TEXT, TEXT, TEXT)
SIGNALS = st.builds(
    Signal,
    st.sampled_from(list(SignalName)),
    st.sampled_from(list(SignalStatus)),
    TEXT,
    st.lists(TEXT, max_size=3).map(tuple),
    st.none() | TEXT,
    st.lists(EXCERPTS, max_size=2).map(tuple),
)
HITS = st.builds(FeatureHit, TEXT, st.integers(1, 10**6), TEXT, TEXT, st.booleans())


@given(SIGNALS)
def test_signal_round_trip(signal: Signal) -> None:
    assert signal_from_json(signal_to_json(signal)) == signal


@given(HITS)
def test_hit_round_trip(hit: FeatureHit) -> None:
    assert hit_from_json(hit_to_json(hit)) == hit


def test_rows_written_before_ranking_load_as_code_hits_without_excerpts() -> None:
    old_hit = {"path": "a.go", "line": 3, "text": "x"}
    assert hit_from_json(old_hit) == FeatureHit("a.go", 3, "x", "", True)
    old_signal = {"name": "changelog", "status": "holds", "summary": "s", "evidence": ["e"]}
    assert signal_from_json(old_signal).excerpts == ()
