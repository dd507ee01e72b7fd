"""One description of a notice, one formatter per medium (watcher.notify.message).

Whatever the notice, the GitHub comment (Markdown) and the Apprise message (plain
text) say the same: the same watch, change, target, error and reasons, as many of them,
and upstream text never mentions anyone in either.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from watcher.notify.message import MAX_REASONS, markdown, plain
from watcher.state.store import ErrorEpisode, Transition

REPO = "juanfont/headscale"
ZWSP = "&#8203;"
STATES = st.sampled_from(["waiting", "pending", "ready", "proposed", "done"])
WORDS = st.text(st.characters(categories=("L", "N")), min_size=1, max_size=12)
TAGS = st.builds(lambda a, b: f"v{a}.{b}.0", st.integers(0, 99), st.integers(0, 99))
TRANSITIONS = st.builds(
    Transition,
    watch_id=st.sampled_from(["headscale-peer-relay", "node-exporter"]),
    from_state=st.none() | STATES,
    to_state=STATES,
    from_target=st.none() | TAGS,
    to_target=st.none() | TAGS,
    reasons=st.lists(WORDS, max_size=12).map(tuple),
    at=st.just("2026-12-06T12:00:00+00:00"),
)


@given(TRANSITIONS)
def test_both_media_say_the_same_transition(notice: Transition) -> None:
    comment = markdown(notice, REPO)
    title, lines = plain(notice)
    old = notice.from_state or "start"
    assert comment.startswith(f"**{notice.watch_id}**: {old} → **{notice.to_state}**")
    assert title.startswith(f"watcher: {notice.watch_id}: {old} → {notice.to_state}")
    if notice.to_target:
        assert f"(target {notice.to_target})" in comment.splitlines()[0]
        assert title.endswith(f"({notice.to_target})")
    shown = list(notice.reasons[:MAX_REASONS])
    # Markdown may defuse a word that could act (a closing keyword ending the line, which
    # a reference could follow) with a zero-width space; it still reads the same.
    assert [line.replace(ZWSP, "") for line in comment.splitlines() if line.startswith("- ")] == [
        f"- {r}" for r in shown
    ]
    assert lines == [f"- {r}" for r in shown]


@given(WORDS, st.none() | STATES)
def test_both_media_say_the_same_error(error: str, state: str | None) -> None:
    notice = ErrorEpisode("w", f"GitHub answered 504: {error}", "2026-12-06T12:00:00", state)
    comment = markdown(notice, REPO)
    title, lines = plain(notice)
    assert comment.startswith("**w**: failing since 2026-12-06T12:00:00")
    assert title == "watcher: w: failing since 2026-12-06T12:00:00"
    assert lines == [notice.error, f"The last good verdict ({state}) is kept."]
    assert comment.split("\n\n")[1:] == lines


@given(st.sampled_from(["@octocat", "@here", "<!channel>"]), STATES)
def test_upstream_text_mentions_no_one_in_either_medium(mention: str, state: str) -> None:
    notice = Transition("w", None, state, None, None, (f"ping {mention}",), "")
    comment = markdown(notice, REPO)
    _, lines = plain(notice)
    assert mention not in comment
    assert mention not in "\n".join(lines)
