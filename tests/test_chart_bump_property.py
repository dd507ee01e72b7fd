"""Randomized invariants of the multi-image chart bump (Hypothesis).

For random valid values documents (several images in the registry/repository/tag
layout, tags in every style, noise keys and comments) and random targets: the bump
changes exactly the intended scalars, to the intended values, and a second bump to the
same target changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version
from ruamel.yaml import YAML

from watcher.actions.chart import BumpRequest, plan_bump

NAMES = ("controller", "webhook", "sidecar", "job", "agent")
QUOTES = ("", '"', "'")


@dataclass(frozen=True)
class Image:
    """One generated image block: where it is and how its tag is written."""

    path: tuple[str, ...]
    registry: str | None
    tag: str | None  # None: no tag key; "": empty tag
    quote: str
    comment: bool

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
        lines.append(f"{indent}  pullPolicy: IfNotPresent")
        lines.append("")
    lines.extend(f"{key}: {value}  # noise" for key, value in noise)
    return "\n".join(lines) + "\n"


def _chart(app: str, quote: str) -> str:
    return f"apiVersion: v2\nname: generated\nversion: 1.2.3\nappVersion: {_scalar(app, quote)}\n"


def _leaves(data: Any, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    if isinstance(data, dict):
        out: dict[tuple[str, ...], Any] = {}
        for key, value in data.items():
            out.update(_leaves(value, (*prefix, str(key))))
        return out
    return {prefix: data}


def _load(text: str) -> dict[tuple[str, ...], Any]:
    return _leaves(YAML(typ="safe", pure=True).load(text))


def _expected_tag(tag: str | None, target: str) -> str | None:
    """The tag the bump must write, derived here independently of the code under test."""
    if not tag or tag in ("latest", "stable"):
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
    target=versions,
)
def test_bump_changes_only_intended_scalars_and_is_idempotent(
    imgs: list[Image], noise: list[tuple[str, int]], app: str, app_quote: str, target: str
) -> None:
    values = _values(imgs, noise)
    chart = _chart(app, app_quote)
    request = BumpRequest(
        chart_dir="c",
        chart_yaml=chart,
        values_yaml=values,
        target_tag=f"v{target}",
        target_version=target,
        image_keys=("**.image",),
    )
    result = plan_bump(request)

    expected_values = {
        (*img.path, "tag"): tag
        for img in imgs
        if (tag := _expected_tag(img.tag, target)) is not None
    }
    expected_app = _expected_tag(app, target)
    expected_chart = {("appVersion",): expected_app} if expected_app else {}
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
            image_keys=("**.image",),
        )
    )
    assert not again.changed
    assert again.files == {}
