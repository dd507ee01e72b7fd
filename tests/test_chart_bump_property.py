"""Randomized invariants of the multi-image chart bump (Hypothesis).

For random valid values documents (several images in the registry/repository/tag
layout, tags in every style, noise keys and comments) and random targets: the bump
changes exactly the intended scalars, to the intended values, and a second bump to the
same target changes nothing. A digest pinned beside an image changes exactly when the
image's deployed reference does; dependencies named for the bump follow like tags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version
from ruamel.yaml import YAML

from watcher.chart.bump import BumpRequest, plan_bump

NAMES = ("controller", "webhook", "sidecar", "job", "agent")
QUOTES = ("", '"', "'")
OLD_DIGEST = "sha256:" + "0" * 64
NEW_DIGEST = "sha256:" + "1" * 64
RANGES = ("2.x.x", "~1.2", ">=1.0.0")


@dataclass(frozen=True)
class Image:
    """One generated image block: where it is and how its tag is written."""

    path: tuple[str, ...]
    registry: str | None
    tag: str | None  # None: no tag key; "": empty tag
    quote: str
    comment: bool
    digest: bool = False

    @property
    def key(self) -> str:
        return ".".join(self.path)


versions = st.tuples(st.integers(0, 3), st.integers(0, 30), st.integers(0, 12)).map(
    lambda t: f"{t[0]}.{t[1]}.{t[2]}"
)
tags = st.one_of(
    st.builds(
        lambda prefix, version, suffix: f"{prefix}{version}{suffix}",
        st.sampled_from(("", "v")),
        versions,
        st.sampled_from(("", "", "-debian-12-r0", "-alpine")),
    ),
    st.sampled_from(("latest", "stable", "", None)),
)


@st.composite
def images(draw: st.DrawFn) -> list[Image]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    out = []
    for i, name in enumerate(names):
        path = ("image",) if i == 0 and draw(st.booleans()) else (name, "image")
        out.append(
            Image(
                path=path,
                registry=draw(st.sampled_from((None, "docker.io", "quay.io", "ghcr.io"))),
                tag=draw(tags),
                quote=draw(st.sampled_from(QUOTES)),
                comment=draw(st.booleans()),
                digest=draw(st.booleans()),
            )
        )
    return out


def _scalar(value: str, quote: str) -> str:
    return f"{quote}{value}{quote}"


def _values(imgs: list[Image], noise: list[tuple[str, int]]) -> str:
    lines = ["# generated values", ""]
    for img in imgs:
        indent = ""
        if len(img.path) == 2:
            lines.append(f"{img.path[0]}:")
            lines.append("  enabled: true")
            indent = "  "
        lines.append(f"{indent}image:")
        if img.registry:
            lines.append(f"{indent}  registry: {img.registry}")
        lines.append(f"{indent}  repository: example/{img.path[0]}")
        if img.tag is not None:
            comment = "  # pinned" if img.comment else ""
            quote = img.quote or ('"' if img.tag == "" else "")
            lines.append(f"{indent}  tag: {_scalar(img.tag, quote)}{comment}")
        if img.digest:
            lines.append(f'{indent}  digest: "{OLD_DIGEST}"')
        lines.append(f"{indent}  pullPolicy: IfNotPresent")
        lines.append("")
    lines.extend(f"{key}: {value}  # noise" for key, value in noise)
    return "\n".join(lines) + "\n"


def _chart(app: str, quote: str, deps: list[tuple[str, str]]) -> str:
    text = f"apiVersion: v2\nname: generated\nversion: 1.2.3\nappVersion: {_scalar(app, quote)}\n"
    if deps:
        text += "dependencies:\n"
        for name, version in deps:
            # ">=1.0.0" needs quotes to be YAML; the others are plain scalars.
            quote = '"' if version.startswith(">") else ""
            text += f"  - name: {name}\n    version: {_scalar(version, quote)}\n"
    return text


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    items = (
        data.items()
        if isinstance(data, dict)
        else enumerate(data)
        if isinstance(data, list)
        else None
    )
    if items is None:
        return {prefix: data}
    out: dict[tuple[str, ...], Any] = {}
    for key, value in items:
        out.update(_leaves(value, (*prefix, str(key))))
    return out


def _load(text: str) -> dict[tuple[str, ...], Any]:
    return _leaves(YAML(typ="safe", pure=True).load(text))


def _expected_tag(tag: str | None, target: str) -> str | None:
    """The tag the bump must write, derived here independently of the code under test."""
    if not tag or tag in ("latest", "stable", *RANGES):
        return None
    prefix = "v" if tag.startswith("v") else ""
    core, _, suffix = tag.removeprefix("v").partition("-")
    if Version(core) >= Version(target):
        return None
    return f"{prefix}{target}{'-' + suffix if suffix else ''}"


@settings(max_examples=60, deadline=None)
@given(
    imgs=images(),
    noise=st.lists(
        st.tuples(st.sampled_from(("replicaCount", "port", "timeout")), st.integers(0, 99)),
        max_size=3,
        unique_by=lambda t: t[0],
    ),
    app=tags.filter(lambda t: bool(t) and t not in ("latest", "stable")),
    app_quote=st.sampled_from(QUOTES),
    deps=st.lists(
        st.tuples(
            st.sampled_from(("lib", "db", "cache")),
            st.one_of(versions, versions.map(lambda v: f"v{v}"), st.sampled_from(RANGES)),
        ),
        max_size=2,
        unique_by=lambda d: d[0],
    ),
    target=versions,
)
def test_bump_changes_only_intended_scalars_and_is_idempotent(
    imgs: list[Image],
    noise: list[tuple[str, int]],
    app: str,
    app_quote: str,
    deps: list[tuple[str, str]],
    target: str,
) -> None:
    values = _values(imgs, noise)
    chart = _chart(app, app_quote, deps)
    request = BumpRequest(
        chart_dir="c",
        chart_yaml=chart,
        values_yaml=values,
        target_tag=f"v{target}",
        target_version=target,
        image_keys=("**.image",),
        dependencies=tuple(name for name, _ in deps),
        digests={img.key: NEW_DIGEST for img in imgs if img.digest},
    )
    result = plan_bump(request)

    expected_app = _expected_tag(app, target)
    expected_values: dict[tuple[str, ...], Any] = {}
    for img in imgs:
        tag = _expected_tag(img.tag, target)
        if tag is not None:
            expected_values[(*img.path, "tag")] = tag
        # The deployed reference moves with the tag, or with appVersion when it is empty.
        moves = tag is not None or (not img.tag and expected_app is not None)
        if img.digest and moves:
            expected_values[(*img.path, "digest")] = NEW_DIGEST
    expected_chart: dict[tuple[str, ...], Any] = {}
    if expected_app:
        expected_chart[("appVersion",)] = expected_app
    for i, (_, version) in enumerate(deps):
        if (new_version := _expected_tag(version, target)) is not None:
            expected_chart[("dependencies", str(i), "version")] = new_version
    if expected_values or expected_chart:
        expected_chart[("version",)] = "1.3.0"

    for name, old_text, expected in (
        ("c/values.yaml", values, expected_values),
        ("c/Chart.yaml", chart, expected_chart),
    ):
        new_text = result.files.get(name, old_text)
        before, after = _load(old_text), _load(new_text)
        changed = {path: after[path] for path in before if before[path] != after.get(path)}
        assert changed == expected, name
        assert before.keys() == after.keys()

    again = plan_bump(
        BumpRequest(
            chart_dir="c",
            chart_yaml=result.files.get("c/Chart.yaml", chart),
            values_yaml=result.files.get("c/values.yaml", values),
            target_tag=f"v{target}",
            target_version=target,
            image_keys=request.image_keys,
            dependencies=request.dependencies,
            digests=request.digests,
        )
    )
    assert not again.changed
    assert again.files == {}
