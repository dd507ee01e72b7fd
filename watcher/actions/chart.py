"""The chart bump as a pure function: old file texts + target -> new texts + a git diff.

Which keys move and how (DESIGN.md section 4):

- ``values.yaml`` image tag (``image.tag`` by default) -> the target tag, keeping the
  ``v`` prefix or its absence and the quoting. An empty or absent tag means "use the
  chart appVersion" and is left so; a floating tag (``latest``) is left and reported.
- ``Chart.yaml`` ``appVersion`` -> the target version in its existing style.
- Extra image pins declared by the caller are raised to the tag the caller resolved,
  only when the current pin is a version below the pin's minimum; floating pins are left
  and reported so the PR body can say what they resolve to.
- ``Chart.yaml`` ``version`` is bumped (minor by default) when anything else changed.

Values already at (or beyond) the target are left alone, so a repeated bump yields no
change at all. All edits go through :mod:`watcher.actions.yaml_edit`, which touches only
the characters of the edited scalar. No I/O here: the caller reads and writes files.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal, get_args

from packaging.version import InvalidVersion, Version

from watcher.actions.yaml_edit import find_scalar, replace_scalar
from watcher.errors import ChartError

__all__ = [
    "BumpRequest",
    "BumpResult",
    "Change",
    "ImagePin",
    "VersionBump",
    "git_diff",
    "plan_bump",
]

VersionBump = Literal["none", "patch", "minor", "major"]

CHART_FILE = "Chart.yaml"
VALUES_FILE = "values.yaml"
_CHART_VERSION = re.compile(r"(?P<prefix>v?)(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)")
_CONTEXT_LINES = 3
# git shows at most this many bytes of the enclosing "function" line in a hunk header.
_FUNCNAME_BYTES = 80


@dataclass(frozen=True)
class ImagePin:
    """An extra image tag the chart must keep at or above ``minimum``.

    ``key`` is a dotted path in ``values.yaml`` (``client.image.tag``); ``resolved`` is
    the newest suitable tag that exists in the registry, looked up by the caller.
    """

    key: str
    minimum: str
    resolved: str | None = None


@dataclass(frozen=True)
class BumpRequest:
    """The old chart texts and what to bump them to.

    ``chart_dir`` is the chart's directory inside its repository (``headscale``), used
    for the file paths in the result and the diff; ``target_tag`` is the release tag
    (``v0.29.0``) and ``target_version`` the bare version (``0.29.0``).
    """

    chart_dir: str
    chart_yaml: str
    values_yaml: str
    target_tag: str
    target_version: str
    version_bump: VersionBump = "minor"
    image_tag_key: str = "image.tag"
    pins: tuple[ImagePin, ...] = ()


@dataclass(frozen=True)
class Change:
    """One key the bump looked at: its old and new value and why (for the PR body)."""

    file: str
    key: str
    old: str | None
    new: str | None
    note: str


@dataclass(frozen=True)
class BumpResult:
    """The planned bump, computed before anything is written.

    ``files`` maps repository paths to new texts, for changed files only. ``changes``
    lists the edits, ``kept`` the keys deliberately left alone (already at the target,
    empty, above the minimum), ``floating`` the floating tags left alone. ``diff`` is a
    git-style unified diff of all changed files.
    """

    files: Mapping[str, str]
    changes: tuple[Change, ...]
    kept: tuple[Change, ...]
    floating: tuple[Change, ...]
    diff: str

    @property
    def changed(self) -> bool:
        """Whether the bump changes any file."""
        return bool(self.files)


class _File:
    """One file being edited: its text so far and the changes made to it."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.original = text
        self.text = text

    def value(self, key: str) -> tuple[bool, str | None]:
        """(present, value) of ``key``; a null or empty value reads as ``None``."""
        ref = find_scalar(self.text, key, filename=self.path)
        if ref is None:
            return False, None
        return True, ref.value or None

    def set(self, key: str, old: str | None, new: str, note: str) -> Change:
        self.text = replace_scalar(self.text, key, new, filename=self.path)
        return Change(self.path, key, old, new, note)


@dataclass
class _Plan:
    """Mutable scratch of :func:`plan_bump`; frozen into a :class:`BumpResult` at the end."""

    changes: list[Change]
    kept: list[Change]
    floating: list[Change]


def plan_bump(req: BumpRequest) -> BumpResult:
    """Plan the chart bump described by ``req``; pure, nothing is written.

    Raises :class:`ChartError` for invalid YAML, a chart ``version`` that cannot be
    bumped mechanically (pre-release or not ``X.Y.Z``), a declared pin key that is
    missing, or a pin below its minimum without a suitable resolved tag.
    """
    if req.version_bump not in get_args(VersionBump):
        raise ValueError(f"version_bump must be one of {get_args(VersionBump)}")
    target = _parse_version(req.target_version)
    if target is None:
        raise ValueError(f"target_version {req.target_version!r} is not a version")
    chart = _File(_join(req.chart_dir, CHART_FILE), req.chart_yaml)
    values = _File(_join(req.chart_dir, VALUES_FILE), req.values_yaml)
    plan = _Plan([], [], [])

    image_pinned = _bump_image_tag(values, req, target, plan)
    _bump_app_version(chart, req, target, image_pinned, plan)
    for pin in req.pins:
        _raise_pin(values, pin, plan)
    if plan.changes and req.version_bump != "none":
        _bump_chart_version(chart, req.version_bump, plan)

    edited = [f for f in (chart, values) if f.text != f.original]
    return BumpResult(
        files=MappingProxyType({f.path: f.text for f in edited}),
        changes=tuple(plan.changes),
        kept=tuple(plan.kept),
        floating=tuple(plan.floating),
        diff="".join(git_diff(f.path, f.original, f.text) for f in edited),
    )


def _join(chart_dir: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(chart_dir, name))


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def in_style(old: str, tag: str, version: str) -> str:
    """The new tag spelled like ``old``: with a ``v`` prefix exactly when ``old`` has one."""
    if old.startswith("v") == tag.startswith("v"):
        return tag
    return f"v{version}" if old.startswith("v") else version


def _follow_target(
    file: _File, key: str, current: str, *, req: BumpRequest, target: Version, plan: _Plan
) -> None:
    """Move a version-valued key to the target unless it is already there or beyond."""
    new = in_style(current, req.target_tag, req.target_version)
    current_version = _parse_version(current)
    if current == new or (current_version is not None and current_version >= target):
        # Never downgrade: a chart already ahead of the watch needs no bump.
        plan.kept.append(Change(file.path, key, current, current, "already at or past target"))
        return
    plan.changes.append(file.set(key, current, new, f"follows release {req.target_tag}"))


def _bump_image_tag(values: _File, req: BumpRequest, target: Version, plan: _Plan) -> bool:
    """Bump the main image tag; return whether values pin the image to a version."""
    key = req.image_tag_key
    present, current = values.value(key)
    if current is None:
        state = "empty" if present else "absent"
        note = f"{state}: the image tag defaults to the chart appVersion"
        plan.kept.append(Change(values.path, key, current, None, note))
        return False
    if _parse_version(current) is None:
        note = f"floating tag {current!r} left alone"
        plan.floating.append(Change(values.path, key, current, None, note))
        return False
    _follow_target(values, key, current, req=req, target=target, plan=plan)
    return True


def _bump_app_version(
    chart: _File, req: BumpRequest, target: Version, image_pinned: bool, plan: _Plan
) -> None:
    key = "appVersion"
    _, current = chart.value(key)
    if current is None:
        if not image_pinned:
            raise ChartError(
                f"{chart.path}: no {key}, and values do not pin the image tag either",
                hint=f"add {key} to {chart.path} (or an image tag to the values) by hand",
            )
        note = f"absent: {req.image_tag_key} pins the image"
        plan.kept.append(Change(chart.path, key, None, None, note))
        return
    _follow_target(chart, key, current, req=req, target=target, plan=plan)


def _raise_pin(values: _File, pin: ImagePin, plan: _Plan) -> None:
    minimum = _parse_version(pin.minimum)
    if minimum is None:
        raise ChartError(
            f"{values.path}: pin {pin.key!r} has minimum {pin.minimum!r}, not a version",
            hint="fix the pin's minimum in the watch config",
        )
    present, current = values.value(pin.key)
    if not present:
        raise ChartError(
            f"{values.path}: pinned image key {pin.key!r} not found",
            hint="fix the pin's key in the watch config, or remove the pin",
        )
    current_version = None if current is None else _parse_version(current)
    if current is None or current_version is None:
        # A floating (or empty) tag already follows upstream; the PR body says where.
        resolves = (
            f"newest tag >= {pin.minimum} is {pin.resolved}" if pin.resolved else "unresolved"
        )
        note = f"floating tag {current or '(empty)'!r} left alone; {resolves}"
        plan.floating.append(Change(values.path, pin.key, current, pin.resolved, note))
        return
    if current_version >= minimum:
        note = f"already >= minimum {pin.minimum}"
        plan.kept.append(Change(values.path, pin.key, current, current, note))
        return
    resolved = None if pin.resolved is None else _parse_version(pin.resolved)
    if pin.resolved is None or resolved is None or resolved < minimum:
        raise ChartError(
            f"{values.path}: {pin.key} is {current!r}, below the minimum {pin.minimum}, "
            f"and no existing tag >= {pin.minimum} was resolved (got {pin.resolved!r})",
            hint="check that the image has a tag at or above the minimum in its registry",
        )
    # The resolved tag is used verbatim: it is a tag that exists, restyling could break it.
    note = f"raised to the newest tag >= minimum {pin.minimum}"
    plan.changes.append(values.set(pin.key, current, pin.resolved, note))


def _bump_chart_version(chart: _File, bump: VersionBump, plan: _Plan) -> None:
    key = "version"
    _, current = chart.value(key)
    match = _CHART_VERSION.fullmatch(current or "")
    if current is None or match is None:
        raise ChartError(
            f"{chart.path}: chart {key} {current!r} is a pre-release or not X.Y.Z, "
            f"so the {bump} bump cannot be computed",
            hint=f"set {key} to a release X.Y.Z in {chart.path}, or use version_bump "
            '"none" and bump it by hand',
        )
    major, minor, patch = (int(match[part]) for part in ("major", "minor", "patch"))
    if bump == "major":
        major, minor, patch = major + 1, 0, 0
    elif bump == "minor":
        minor, patch = minor + 1, 0
    else:
        patch += 1
    new = f"{match['prefix']}{major}.{minor}.{patch}"
    plan.changes.append(chart.set(key, current, new, f"{bump} bump of the chart version"))


def git_diff(path: str, old: str, new: str) -> str:
    """A ``git diff``-style patch of one file from ``old`` to ``new`` (empty if equal).

    Includes the ``index`` line (abbreviated blob hashes; mode 100644 assumed, as for
    any chart file) and git's default hunk-header context (the nearest preceding line
    that starts with a letter, ``_`` or ``$``), so it reads like the patch a
    maintainer would produce by hand.
    """
    if old == new:
        return ""
    a, b = _lines(old), _lines(new)
    out = [
        f"diff --git a/{path} b/{path}\n",
        f"index {_blob_id(old)}..{_blob_id(new)} 100644\n",
        f"--- a/{path}\n",
        f"+++ b/{path}\n",
    ]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for group in matcher.get_grouped_opcodes(_CONTEXT_LINES):
        first, last = group[0], group[-1]
        header = f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@"
        funcname = _funcname(a, first[1])
        out.append(f"{header} {funcname}\n" if funcname else f"{header}\n")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(_emit(" ", a[i1:i2]))
                continue
            out.extend(_emit("-", a[i1:i2]))
            out.extend(_emit("+", b[j1:j2]))
    return "".join(out)


def _lines(text: str) -> list[str]:
    # Split on "\n" only, as git does: a CR stays part of its line (CRLF files), and
    # str.splitlines would also split on form feeds and other Unicode breaks.
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _emit(prefix: str, lines: list[str]) -> list[str]:
    return [
        prefix + line if line.endswith("\n") else f"{prefix}{line}\n\\ No newline at end of file\n"
        for line in lines
    ]


def _range(start: int, stop: int) -> str:
    """Unified-diff range for the 0-based half-open line range [start, stop)."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    # An empty range names the line before it, as in git and difflib.
    return f"{start + 1 if length else start},{length}"


def _funcname(lines: list[str], hunk_start: int) -> str:
    for line in reversed(lines[:hunk_start]):
        if line[:1].isascii() and (line[:1].isalpha() or line[:1] in "_$"):
            clipped = line.encode()[:_FUNCNAME_BYTES].decode(errors="ignore")
            return clipped.rstrip()
    return ""


def _blob_id(text: str) -> str:
    data = text.encode()
    digest = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False)
    return digest.hexdigest()[:7]
