"""The chart bump as a pure function: old file texts + target -> new texts + a git diff.

Which keys move and how (docs/architecture.md, «The chart bump»):

- Every image the watch names (``image_keys``: dotted keys or globs over the values,
  see :mod:`watcher.chart.image_sites`) follows the target in one commit: its ``tag``
  becomes the target version in the tag's own style (``v`` prefix or not, quoting, a
  Bitnami-style ``-debian-12-r0`` suffix). An empty or absent tag means "use the
  default" (the chart appVersion, or for an image under a bumped dependency that
  dependency's version) and is left so; a floating tag (``latest``) is left and reported.
- A ``digest`` pinned beside a tag is replaced by the digest the registry serves for the
  new reference (``digests``, looked up by the caller); it is never left pinning the old
  image, and never silently dropped.
- ``Chart.yaml`` ``appVersion`` -> the target version in its existing style.
- A moved image's old reference in the chart's image-list annotation (Bitnami's
  ``images``, Artifact Hub's ``artifacthub.io/images``) -> its new reference.
- ``Chart.yaml`` ``dependencies[].version`` of the named dependencies (umbrella charts)
  -> the target version in its style; a range (``2.x.x``) is left and reported.
- Extra image pins declared by the caller are raised to the tag the caller resolved,
  only when the current pin is a version below the pin's minimum; floating pins are left
  and reported so the PR body can say what they resolve to.
- ``Chart.yaml`` ``version`` is bumped (minor by default) when anything else changed.

Values already at (or beyond) the target are left alone, so a repeated bump yields no
change at all. All edits go through :mod:`watcher.chart.yaml_edit`, which touches only
the characters of the edited scalar. No I/O here: the caller reads and writes files.
:func:`image_targets` tells, before anything is written, every image reference the chart
will deploy after the bump, so the image check can cover each of them.
"""

from __future__ import annotations

import difflib
import hashlib
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal, get_args

from packaging.version import InvalidVersion, Version

from watcher.chart.image_sites import (
    ImageSite,
    expand_image_keys,
    follow_tag,
    read_site,
    split_tag,
)
from watcher.chart.yaml_edit import find_scalar, load_data, replace_in_literal, replace_scalar
from watcher.core.errors import ChartError

__all__ = [
    "BumpRequest",
    "BumpResult",
    "Change",
    "ImagePin",
    "ImageTarget",
    "VersionBump",
    "git_diff",
    "image_targets",
    "plan_bump",
    "plan_bumps",
]

VersionBump = Literal["none", "patch", "minor", "major"]

CHART_FILE = "Chart.yaml"
VALUES_FILE = "values.yaml"
_CHART_VERSION = re.compile(r"(?P<prefix>v?)(?P<major>\d+)\.(?P<minor>\d+)\.(?P<patch>\d+)")
# Chart.yaml annotations that list the images as YAML text: Bitnami's `images` and
# Artifact Hub's (https://artifacthub.io/docs/topics/annotations/helm/).
IMAGE_LIST_ANNOTATIONS = (("annotations", "images"), ("annotations", "artifacthub.io/images"))
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
    image_keys: tuple[str, ...] = ("image",)
    pins: tuple[ImagePin, ...] = ()
    dependencies: tuple[str, ...] = ()
    digests: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def chart_path(self) -> str:
        """``Chart.yaml``'s path in the repository."""
        return _join(self.chart_dir, CHART_FILE)

    @property
    def values_path(self) -> str:
        """``values.yaml``'s path in the repository."""
        return _join(self.chart_dir, VALUES_FILE)


@dataclass(frozen=True)
class ImageTarget:
    """One image of the chart and what the bump makes it deploy.

    ``tag`` is the tag deployed after the bump (``None`` for a floating tag, which the
    bump neither writes nor vouches for); ``new_tag`` the value written to the image's
    ``tag`` key (``None``: that key is not edited); ``moves`` whether the deployed
    reference changes, so that a pinned ``digest`` must change with it.
    """

    site: ImageSite
    tag: str | None
    new_tag: str | None
    moves: bool
    default: str | None = None
    before: str | None = None

    @property
    def reference(self) -> str | None:
        """The reference deployed after the bump (None: floating tag or no repository)."""
        return None if self.tag is None else self.site.reference(self.tag)

    @property
    def old_reference(self) -> str | None:
        """The reference deployed before the bump (None when unknown)."""
        return None if self.before is None else self.site.reference(self.before)


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
    images: tuple[str, ...] = ()

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

    def set(self, key: str, old: str | None, new: str, note: str, label: str = "") -> Change:
        self.text = replace_scalar(self.text, key, new, filename=self.path)
        return Change(self.path, label or key, old, new, note)


@dataclass
class _Plan:
    """Mutable scratch of :func:`plan_bump`; frozen into a :class:`BumpResult` at the end."""

    changes: list[Change]
    kept: list[Change]
    floating: list[Change]


def plan_bump(req: BumpRequest) -> BumpResult:
    """Plan the chart bump described by ``req``; pure, nothing is written.

    Raises :class:`ChartError` for invalid YAML, a chart ``version`` that cannot be
    bumped mechanically (pre-release or not ``X.Y.Z``), a declared pin key or
    dependency that is missing, a pin below its minimum without a suitable resolved
    tag, or a pinned digest whose new value ``req.digests`` does not give.
    """
    if req.version_bump not in get_args(VersionBump):
        raise ValueError(f"version_bump must be one of {get_args(VersionBump)}")
    targets = image_targets(req)
    chart = _File(req.chart_path, req.chart_yaml)
    values = _File(req.values_path, req.values_yaml)
    plan = _Plan([], [], [])

    for image in targets:
        _bump_image(values, image, req, plan)
    # Without appVersion, the chart must say its version some other way.
    pinned = any(split_tag(t.site.tag) is not None for t in targets) or bool(req.dependencies)
    _bump_app_version(chart, req, pinned, plan)
    for name, (index, current, new) in _dependency_versions(req).items():
        _bump_dependency(chart, name, index, current, new, req, plan)
    for image in targets:
        _follow_in_image_lists(chart, image, plan)
    for pin in req.pins:
        _raise_pin(values, pin, plan)
    if plan.changes and req.version_bump != "none":
        _bump_chart_version(chart, req.version_bump, plan)

    return _result((chart, values), plan, [r for t in targets if (r := t.reference) is not None])


def _result(files: tuple[_File, ...], plan: _Plan, images: list[str]) -> BumpResult:
    edited = [f for f in files if f.text != f.original]
    return BumpResult(
        files=MappingProxyType({f.path: f.text for f in edited}),
        changes=tuple(plan.changes),
        kept=tuple(plan.kept),
        floating=tuple(plan.floating),
        diff="".join(git_diff(f.path, f.original, f.text) for f in edited),
        images=tuple(dict.fromkeys(images)),
    )


_BUMP_ORDER: tuple[VersionBump, ...] = ("none", "patch", "minor", "major")


def plan_bumps(requests: Sequence[BumpRequest]) -> BumpResult:
    """Several bumps of one chart (one per watch) composed into one; pure.

    Each request is applied to the texts the previous ones left, with no chart version
    bump; since a bump never downgrades, two requests moving the same key agree on the
    newest target whatever their order. The chart ``version`` is then bumped once, by
    the largest ``version_bump`` asked, when anything changed. All requests must start
    from the same texts (one chart at one base commit).
    """
    if not requests:
        raise ValueError("plan_bumps needs at least one request")
    first = requests[0]
    if any(
        (r.chart_dir, r.chart_yaml, r.values_yaml)
        != (first.chart_dir, first.chart_yaml, first.values_yaml)
        for r in requests
    ):
        raise ValueError("plan_bumps composes bumps of one chart from the same texts")
    chart_yaml, values_yaml = first.chart_yaml, first.values_yaml
    plan = _Plan([], [], [])
    images: list[str] = []
    for req in requests:
        step = plan_bump(
            replace(req, chart_yaml=chart_yaml, values_yaml=values_yaml, version_bump="none")
        )
        chart_yaml = step.files.get(req.chart_path, chart_yaml)
        values_yaml = step.files.get(req.values_path, values_yaml)
        plan.changes += step.changes
        plan.kept += step.kept
        plan.floating += step.floating
        images += step.images
    chart = _File(first.chart_path, first.chart_yaml)
    chart.text = chart_yaml
    bump = max((r.version_bump for r in requests), key=_BUMP_ORDER.index)
    if plan.changes and bump != "none":
        _bump_chart_version(chart, bump, plan)
    values = _File(first.values_path, first.values_yaml)
    values.text = values_yaml
    return _result((chart, values), plan, images)


def _join(chart_dir: str, name: str) -> str:
    return posixpath.normpath(posixpath.join(chart_dir, name))


def _parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def image_targets(req: BumpRequest) -> tuple[ImageTarget, ...]:
    """Every image ``req.image_keys`` names, with the tag it deploys after the bump.

    Pure and computed from the old texts alone, so the caller can check (and resolve
    digests for) every reference before the bump is planned.
    """
    if _parse_version(req.target_version) is None:
        raise ValueError(f"target_version {req.target_version!r} is not a version")
    keys = expand_image_keys(req.values_yaml, req.image_keys, filename=req.values_path)
    app_version = find_scalar(req.chart_yaml, "appVersion", filename=req.chart_path)
    app = app_version.value if app_version is not None else None
    defaults = {"": (app, _followed(app, req))}
    for name, (_, current, new) in _dependency_versions(req).items():
        defaults[name] = (current, new)
    targets = []
    for key in keys:
        site = read_site(req.values_yaml, key, filename=req.values_path)
        if site.tag is None:
            # An image under a bumped dependency's values defaults to that subchart's
            # appVersion, which follows its chart version (true of cert-manager's chart).
            owner = key.split(".", 1)[0] if key.split(".", 1)[0] in defaults else ""
            old, new = defaults[owner]
            if new is None:
                # Nothing says which tag this image deploys: neither bump nor check can.
                raise ChartError(
                    f"{req.chart_path}: no appVersion, and {req.values_path}: {key}.tag "
                    "is empty or absent",
                    hint=f"add appVersion to {req.chart_path} (or a tag to {key}) by hand",
                )
            default = owner or "appVersion"
            targets.append(ImageTarget(site, new, None, new != old, default, before=old))
        elif split_tag(site.tag) is None:
            targets.append(ImageTarget(site, None, None, False))
        else:
            new_tag = follow_tag(site.tag, req.target_version)
            moves = new_tag is not None
            targets.append(ImageTarget(site, new_tag or site.tag, new_tag, moves, before=site.tag))
    return tuple(targets)


def _followed(current: str | None, req: BumpRequest) -> str | None:
    """``current`` after the bump: moved to the target in its style, or unchanged."""
    if current is None:
        return None
    return follow_tag(current, req.target_version) or current


def _dependency_versions(req: BumpRequest) -> dict[str, tuple[int, str | None, str | None]]:
    """For each dependency to bump: its index in Chart.yaml, current and new version."""
    if not req.dependencies:
        return {}
    data = load_data(req.chart_yaml, filename=req.chart_path)
    entries = data.get("dependencies") if isinstance(data, dict) else None
    entries = entries if isinstance(entries, list) else []
    found: dict[str, tuple[int, str | None, str | None]] = {}
    for name in req.dependencies:
        index = next(
            (
                i
                for i, entry in enumerate(entries)
                if isinstance(entry, dict) and name in (entry.get("alias"), entry.get("name"))
            ),
            None,
        )
        if index is None:
            raise ChartError(
                f"{req.chart_path}: no dependency named {name!r}",
                hint="fix [watch.chart].dependencies, or add the dependency to Chart.yaml",
            )
        ref = find_scalar(req.chart_yaml, f"dependencies.{index}.version", filename=req.chart_path)
        current = ref.value if ref is not None else None
        found[name] = (index, current, _followed(current, req))
    return found


def _bump_image(values: _File, image: ImageTarget, req: BumpRequest, plan: _Plan) -> None:
    site, key = image.site, f"{image.site.key}.tag"
    if site.tag is None:
        state = "empty" if site.tag_present else "absent"
        note = f"{state}: the image tag defaults to the chart {image.default}"
        if image.default != "appVersion":
            note = f"{state}: the image tag defaults to dependency {image.default}'s version"
        plan.kept.append(Change(values.path, key, None, None, note))
    elif image.tag is None:
        note = f"floating tag {site.tag!r} left alone"
        plan.floating.append(Change(values.path, key, site.tag, None, note))
    elif image.new_tag is None:
        # Never downgrade: a chart already ahead of the watch needs no bump.
        plan.kept.append(Change(values.path, key, site.tag, site.tag, "already at or past target"))
    else:
        note = f"follows release {req.target_tag}"
        plan.changes.append(values.set(key, site.tag, image.new_tag, note))
    if site.digest is not None and image.moves:
        _replace_digest(values, image, req, plan)


def _follow_in_image_lists(chart: _File, image: ImageTarget, plan: _Plan) -> None:
    """Keep the chart's own list of images (an annotation) in step with the values."""
    old, new = image.old_reference, image.reference
    if not image.moves or old is None or new is None:
        return
    for key in IMAGE_LIST_ANNOTATIONS:
        text = replace_in_literal(chart.text, key, old, new, filename=chart.path)
        if text != chart.text:
            chart.text = text
            note = "the chart's image list follows the values"
            plan.changes.append(Change(chart.path, ".".join(key), old, new, note))


def _replace_digest(values: _File, image: ImageTarget, req: BumpRequest, plan: _Plan) -> None:
    key = f"{image.site.key}.digest"
    new = req.digests.get(image.site.key)
    if new is None:
        raise ChartError(
            f"{values.path}: {key} pins {image.site.digest}, and the digest of "
            f"{image.reference or 'the new image'} is not known",
            hint="the image must exist in its registry before the bump; or clear the digest",
        )
    note = f"digest of {image.reference} in its registry"
    plan.changes.append(values.set(key, image.site.digest, new, note))


def _bump_app_version(chart: _File, req: BumpRequest, pinned: bool, plan: _Plan) -> None:
    key = "appVersion"
    _, current = chart.value(key)
    if current is None:
        if not pinned:
            raise ChartError(
                f"{chart.path}: no {key}, and values do not pin the image tag either",
                hint=f"add {key} to {chart.path} (or an image tag to the values) by hand",
            )
        note = "absent: image tags or dependencies pin the version"
        plan.kept.append(Change(chart.path, key, None, None, note))
        return
    _follow(chart, key, current, req, plan)


def _bump_dependency(
    chart: _File,
    name: str,
    index: int,
    current: str | None,
    new: str | None,
    req: BumpRequest,
    plan: _Plan,
) -> None:
    label = f"dependencies[{name}].version"
    if current is None or split_tag(current) is None:
        note = f"version {current!r} is a range or not a version; left alone"
        plan.floating.append(Change(chart.path, label, current, None, note))
        return
    _follow(chart, f"dependencies.{index}.version", current, req, plan, label)


def _follow(
    file: _File, key: str, current: str, req: BumpRequest, plan: _Plan, label: str = ""
) -> None:
    """Move a version-valued key to the target unless it is already there or beyond."""
    new = follow_tag(current, req.target_version)
    if new is None:
        # Never downgrade: a chart already ahead of the watch needs no bump.
        note = "already at or past target"
        if split_tag(current) is None:
            note = f"{current!r} is not a version; left alone"
        plan.kept.append(Change(file.path, label or key, current, current, note))
        return
    plan.changes.append(file.set(key, current, new, f"follows release {req.target_tag}", label))


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
