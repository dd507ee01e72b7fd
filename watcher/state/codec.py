"""JSON encoding of the model objects the state layer stores (Release, Signal, FeatureHit).

Enums are stored by value and datetimes as ISO 8601 strings, so rows stay readable
with any SQL client and do not depend on Python pickling or class names. Decoders
raise ``ValueError`` (``KeyError``/``TypeError`` included) on malformed data; the
store turns that into a ``StateError`` naming the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from watcher.core.models import Excerpt, FeatureHit, Release, Signal, SignalName, SignalStatus

JsonObject = dict[str, Any]


def _datetime_to_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _datetime_from_json(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def release_to_json(release: Release) -> JsonObject:
    """A ``Release`` as a JSON object."""
    return {
        "tag": release.tag,
        "version": release.version,
        "prerelease": release.prerelease,
        "draft": release.draft,
        "url": release.url,
        "published_at": _datetime_to_json(release.published_at),
        "name": release.name,
    }


def release_from_json(data: JsonObject) -> Release:
    """The ``Release`` that :func:`release_to_json` encoded."""
    return Release(
        tag=str(data["tag"]),
        version=str(data["version"]),
        prerelease=bool(data["prerelease"]),
        draft=bool(data["draft"]),
        url=str(data["url"]),
        published_at=_datetime_from_json(data.get("published_at")),
        name=str(data.get("name", "")),
    )


def signal_to_json(signal: Signal) -> JsonObject:
    """A ``Signal`` as a JSON object (enums by value)."""
    return {
        "name": signal.name.value,
        "status": signal.status.value,
        "summary": signal.summary,
        "evidence": list(signal.evidence),
        "release_tag": signal.release_tag,
        "excerpts": [{"title": e.title, "url": e.url, "text": e.text} for e in signal.excerpts],
    }


def signal_from_json(data: JsonObject) -> Signal:
    """The ``Signal`` that :func:`signal_to_json` encoded."""
    return Signal(
        name=SignalName(data["name"]),
        status=SignalStatus(data["status"]),
        summary=str(data["summary"]),
        evidence=tuple(str(line) for line in data.get("evidence", ())),
        release_tag=data.get("release_tag"),
        excerpts=tuple(
            Excerpt(str(e["title"]), str(e["url"]), str(e["text"]))
            for e in data.get("excerpts", ())
        ),
    )


def hit_to_json(hit: FeatureHit) -> JsonObject:
    """A ``FeatureHit`` as ``{"path", "line", "text", "marker", "in_code"}``."""
    return {
        "path": hit.path,
        "line": hit.line,
        "text": hit.text,
        "marker": hit.marker,
        "in_code": hit.in_code,
    }


def hit_from_json(data: JsonObject) -> FeatureHit:
    """The ``FeatureHit`` that :func:`hit_to_json` encoded (rows of older versions too)."""
    return FeatureHit(
        path=str(data["path"]),
        line=int(data["line"]),
        text=str(data["text"]),
        marker=str(data.get("marker", "")),
        in_code=bool(data.get("in_code", True)),
    )
