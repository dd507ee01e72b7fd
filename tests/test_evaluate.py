"""The pure verdict function: waiting / pending / ready and errors beside verdicts."""

from __future__ import annotations

from watcher.core.evaluate import evaluate
from watcher.core.models import (
    CandidateObservation,
    Release,
    Signal,
    SignalName,
    SignalStatus,
    VerdictState,
    WatchObservation,
)

REQUIRED = frozenset({SignalName.RELEASE, SignalName.FEATURE, SignalName.IMAGE})
H, M, E = SignalStatus.HOLDS, SignalStatus.MISSING, SignalStatus.ERROR


def cand(
    tag: str, feature: SignalStatus, image: SignalStatus | None = None
) -> CandidateObservation:
    release = Release(tag, tag.lstrip("v"), False, False, f"https://x/{tag}", None)
    signals = [
        Signal(SignalName.RELEASE, H, f"{tag} release", release_tag=tag),
        Signal(SignalName.FEATURE, feature, f"feature {feature}", release_tag=tag),
    ]
    if image is not None:
        signals.append(Signal(SignalName.IMAGE, image, f"image {image}", release_tag=tag))
    return CandidateObservation(release, tuple(signals))


def obs(*candidates: CandidateObservation, hint: str | None = None) -> WatchObservation:
    issue = Signal(SignalName.ISSUE, M, "#2841 open")
    return WatchObservation("w", REQUIRED, candidates, (issue,), prerelease_hint=hint)


def test_waiting_when_no_release_has_the_feature() -> None:
    verdict = evaluate(obs(cand("v0.28.0", M), hint="marker in v0.29.0-beta.1"))
    assert verdict.state is VerdictState.WAITING and verdict.target is None
    assert "feature: feature missing" in verdict.reasons
    assert "note: marker in v0.29.0-beta.1" in verdict.reasons
    assert verdict.reasons[-2] == "issue: #2841 open"


def test_waiting_when_there_is_no_stable_release_at_all() -> None:
    verdict = evaluate(obs())
    assert verdict.state is VerdictState.WAITING and verdict.signals[0].name is SignalName.ISSUE


def test_pending_when_image_is_missing() -> None:
    verdict = evaluate(obs(cand("v0.29.0", H, M)))
    assert verdict.state is VerdictState.PENDING
    assert verdict.target is not None and verdict.target.tag == "v0.29.0"


def test_ready_targets_newest_release_with_everything() -> None:
    verdict = evaluate(obs(cand("v0.29.1", H, M), cand("v0.29.0", H, H)))
    assert verdict.state is VerdictState.READY
    assert verdict.target is not None and verdict.target.tag == "v0.29.0"
    assert verdict.error is None


def test_error_in_a_deciding_signal_is_reported() -> None:
    verdict = evaluate(obs(cand("v0.29.1", E), cand("v0.29.0", H, H)))
    assert verdict.error is not None and "feature@v0.29.1" in verdict.error


def test_error_in_an_older_release_does_not_matter() -> None:
    verdict = evaluate(obs(cand("v0.29.1", H, H), cand("v0.29.0", E)))
    assert verdict.state is VerdictState.READY and verdict.error is None


def test_unrequired_signal_errors_are_reported_but_not_fatal() -> None:
    broken_issue = Signal(SignalName.ISSUE, E, "boom")
    observation = WatchObservation("w", REQUIRED, (cand("v0.29.0", H, H),), (broken_issue,))
    verdict = evaluate(observation)
    assert verdict.state is VerdictState.READY and verdict.error is None
    assert "issue: boom" in verdict.reasons
