"""What an outbox notice says, said once, and how each medium writes it.

:func:`describe` puts a notice (a transition or an error episode) into words; the
wording, the caps on upstream text and the number of reasons shown live there only.
:func:`markdown` writes it as a GitHub comment (dashboard or tracking issue),
:func:`plain` as the title and body of a plain-text message (Apprise: chat, e-mail),
each with the sanitizer of its medium (:mod:`watcher.core.sanitize`).
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.core.sanitize import sanitize, sanitize_plain
from watcher.state.store import ErrorEpisode, Notice

#: An error message is cut after this many characters, a reason after REASON_CAP.
ERROR_CAP = 800
REASON_CAP = 300
#: The reasons a transition shows (one per signal; the rest are in `watcher status`).
MAX_REASONS = 8


@dataclass(frozen=True)
class Description:
    """One notice in words, for any medium.

    The headline is ``watch_id: subject`` then ``stress`` (emphasised where the medium
    can) and the target; ``lines`` are upstream text, each cut at ``cap``, shown as a
    list (``bullets``) or as paragraphs.
    """

    watch_id: str
    subject: str
    stress: str = ""
    target: str | None = None
    lines: tuple[str, ...] = ()
    cap: int = REASON_CAP
    bullets: bool = True


def describe(notice: Notice) -> Description:
    """The words of one notice."""
    if isinstance(notice, ErrorEpisode):
        return Description(
            notice.watch_id,
            f"failing since {notice.since}",
            lines=(notice.error, f"The last good verdict ({notice.state}) is kept."),
            cap=ERROR_CAP,
            bullets=False,
        )
    return Description(
        notice.watch_id,
        f"{notice.from_state or 'start'} → ",
        notice.to_state,
        notice.to_target,
        notice.reasons[:MAX_REASONS],
    )


def markdown(notice: Notice, upstream_repo: str) -> str:
    """The notice as a GitHub comment (without its marker line)."""
    said = describe(notice)
    stress = f"**{said.stress}**" if said.stress else ""
    target = f" (target {said.target})" if said.target else ""
    lines = [sanitize(line, upstream_repo, said.cap) for line in said.lines]
    body = "\n".join(f"- {line}" for line in lines) if said.bullets else "\n\n".join(lines)
    return f"**{said.watch_id}**: {said.subject}{stress}{target}" + (f"\n\n{body}" if body else "")


def plain(notice: Notice) -> tuple[str, list[str]]:
    """The notice as the title and body lines of a plain-text message."""
    said = describe(notice)
    target = f" ({said.target})" if said.target else ""
    title = f"watcher: {said.watch_id}: {said.subject}{said.stress}{target}"
    lines = [sanitize_plain(line, said.cap) for line in said.lines]
    return title, [f"- {line}" for line in lines] if said.bullets else lines
