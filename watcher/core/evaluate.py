"""Turn one watch's observations into a verdict. Pure: no I/O, no clock, no database.

``waiting``: no stable release has the feature. ``pending``: one has it but another
required signal is missing (e.g. its image is not pushed yet). ``ready``: all required
signals hold; the target is the newest stable release for which they do. An error in a
signal that decides the verdict makes the verdict carry ``error``: the runner then keeps
the last good verdict instead of recording this one
(docs/architecture.md, «What support landed means»).
"""

from __future__ import annotations

from collections.abc import Iterable

from watcher.core.models import (
    CandidateObservation,
    Signal,
    SignalName,
    SignalStatus,
    Verdict,
    VerdictState,
    WatchObservation,
)


def evaluate(observation: WatchObservation) -> Verdict:
    """The verdict for ``observation`` (candidates must be ordered newest first)."""
    required = observation.required
    # Watch-wide signals (the issues) hold or fail for every candidate alike.
    general = {s.name: s for s in observation.general}
    ready = next((c for c in observation.candidates if _all_hold(c, required, general)), None)
    with_feature = next(
        (c for c in observation.candidates if _feature_ok(c, required)),
        None,
    )
    decisive: CandidateObservation | None
    if ready is not None:
        state, decisive = VerdictState.READY, ready
    elif with_feature is not None:
        state, decisive = VerdictState.PENDING, with_feature
    else:
        state = VerdictState.WAITING
        decisive = observation.candidates[0] if observation.candidates else None
    # A newer candidate that failed to be checked could change the answer: report it.
    deciding = _up_to(observation.candidates, decisive)
    errors = [*observation.errors, *_errors(deciding, required)]
    errors += [
        f"{s.name}: {s.summary}"
        for s in observation.general
        if s.status is SignalStatus.ERROR and s.name in required
    ]
    signals = (*(decisive.signals if decisive else ()), *observation.general)
    reasons = tuple(f"{s.name}: {s.summary}" for s in signals)
    if observation.prerelease_hint and state is VerdictState.WAITING:
        reasons = (*reasons, f"note: {observation.prerelease_hint}")
    return Verdict(
        watch_id=observation.watch_id,
        state=state,
        target=decisive.release if decisive and state is not VerdictState.WAITING else None,
        signals=signals,
        reasons=reasons,
        error="; ".join(errors) if errors else None,
    )


def _all_hold(
    candidate: CandidateObservation,
    required: frozenset[SignalName],
    general: dict[SignalName, Signal],
) -> bool:
    return all(_holds(candidate.signal(name) or general.get(name)) for name in required)


def _feature_ok(candidate: CandidateObservation, required: frozenset[SignalName]) -> bool:
    return _holds(candidate.signal(evidence_signal(required)))


def evidence_signal(required: frozenset[SignalName]) -> SignalName:
    """The required signal that shows the feature itself, the others being about shipping it.

    The code marker when it is required, else the commit graph (a watch resting on its
    pull requests alone), else the release.
    """
    for name in (SignalName.FEATURE, SignalName.PULLS):
        if name in required:
            return name
    return SignalName.RELEASE


def _holds(signal: Signal | None) -> bool:
    return signal is not None and signal.holds


def _up_to(
    candidates: Iterable[CandidateObservation], last: CandidateObservation | None
) -> list[CandidateObservation]:
    out: list[CandidateObservation] = []
    for candidate in candidates:
        out.append(candidate)
        if candidate is last:
            break
    return out


def _errors(
    candidates: Iterable[CandidateObservation], required: frozenset[SignalName]
) -> list[str]:
    return [
        f"{s.name}@{c.release.tag}: {s.summary}"
        for c in candidates
        for s in c.signals
        if s.status is SignalStatus.ERROR and s.name in required
    ]


def done_looking(observed: CandidateObservation, required: frozenset[SignalName]) -> bool:
    """Whether a newest-first walk over candidates can stop after ``observed``.

    It stops at the first release with every required signal, and at the first one
    without the feature (or, for a watch resting on its pull requests, without their
    merge commits): older releases are assumed not to have it either (features are not
    removed again; `watcher backtest --scan-all` checks that assumption).
    """
    feature_signal = observed.signal(SignalName.FEATURE)
    if feature_signal is not None and feature_signal.status is SignalStatus.MISSING:
        return True
    pulls_signal = observed.signal(SignalName.PULLS)
    resting_on_pulls = evidence_signal(required) is SignalName.PULLS
    if resting_on_pulls and pulls_signal and pulls_signal.status is SignalStatus.MISSING:
        return True
    return all((s := observed.signal(n)) is not None and s.holds for n in required)
