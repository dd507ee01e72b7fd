"""Tests of the pure chart bump (watcher.chart.bump) against real and constructed charts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from watcher.chart.bump import (
    BumpRequest,
    BumpResult,
    Change,
    ImagePin,
    VersionBump,
    git_diff,
    plan_bump,
)
from watcher.core.errors import ChartError

from .standin.chart import DATA as CHARTS
from .test_yaml_edit import assert_only_changed

KAPERNIKOV = CHARTS / "kapernikov-headscale-helm-c6f4915"
GABE565 = CHARTS / "gabe565-charts-headscale-7849a42"
CLIENT_PIN = ImagePin("client.image.tag", minimum="1.86.0", resolved="v1.90.8")


def _read(path: Path) -> str:
    # newline="" keeps the files' own line endings, which the bump must preserve.
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _request(chart: str, values: str, version: str = "0.29.0", **kwargs: object) -> BumpRequest:
    return BumpRequest(
        chart_dir="headscale",
        chart_yaml=chart,
        values_yaml=values,
        target_tag=f"v{version}",
        target_version=version,
        **kwargs,  # type: ignore[arg-type]
    )


def _chart(app_version: str = '"0.28.0"', version: str = "0.2.0", eol: str = "\n") -> str:
    lines = ["apiVersion: v2", "name: headscale", "", f"version: {version}"]
    lines.append(f"appVersion: {app_version}")
    return eol.join(lines) + eol


def _values(image: str, eol: str = "\n") -> str:
    return eol.join(["# values", image, "", "replicaCount: 1", ""])


def _changed_lines(diff: str) -> list[str]:
    return [line for line in diff.splitlines() if line.startswith(("+", "-", "@@ ", "diff "))]


def test_reproduces_the_real_v0_28_0_bump_byte_for_byte() -> None:
    chart = _read(KAPERNIKOV / "Chart.pre-0.28-bump.yaml")
    values = _read(KAPERNIKOV / "values.pre-0.28-bump.yaml")
    result = plan_bump(_request(chart, values, "0.28.0", version_bump="patch"))

    real = _read(KAPERNIKOV / "bump-v0.28.0.diff")
    # Headers (paths, hunk line numbers) and the changed lines, for a readable failure...
    assert _changed_lines(result.diff) == _changed_lines(real)
    # ...and the whole patch, index lines included: those are git blob hashes, so they
    # prove the new files are byte-identical to the ones the maintainer committed.
    assert result.diff == real
    assert_only_changed(
        chart,
        result.files["headscale/Chart.yaml"],
        {18: "version: 0.1.6\n", 24: 'appVersion: "0.28.0"\n'},
    )
    assert_only_changed(values, result.files["headscale/values.yaml"], {9: '  tag: "v0.28.0"\n'})
    assert result.changed


def test_current_kapernikov_chart_to_v0_29_0() -> None:
    chart = _read(KAPERNIKOV / "Chart.yaml")
    values = _read(KAPERNIKOV / "values.yaml")
    result = plan_bump(_request(chart, values, pins=(CLIENT_PIN,)))

    assert_only_changed(
        chart,
        result.files["headscale/Chart.yaml"],
        {18: "version: 0.3.0\n", 24: 'appVersion: "0.29.0"\n'},
    )
    assert_only_changed(values, result.files["headscale/values.yaml"], {9: '  tag: "v0.29.0"\n'})
    assert result.changes == (
        Change(
            "headscale/values.yaml", "image.tag", "v0.28.0", "v0.29.0", "follows release v0.29.0"
        ),
        Change("headscale/Chart.yaml", "appVersion", "0.28.0", "0.29.0", "follows release v0.29.0"),
        Change(
            "headscale/Chart.yaml", "version", "0.2.0", "0.3.0", "minor bump of the chart version"
        ),
    )
    # The sidecar's floating "stable" stays, and the PR body learns what it resolves to.
    assert '    tag: "stable"\n' in result.files["headscale/values.yaml"]
    (floating,) = result.floating
    assert (floating.key, floating.old, floating.new) == ("client.image.tag", "stable", "v1.90.8")
    assert "newest tag >= 1.86.0 is v1.90.8" in floating.note
    assert re.findall(r"^@@ .* @@", result.diff, re.MULTILINE) == [
        "@@ -15,10 +15,10 @@",
        "@@ -6,7 +6,7 @@",
    ]


def test_gabe565_chart_keeps_unquoted_v_prefix_and_renovate_comment() -> None:
    chart = _read(GABE565 / "Chart.yaml")
    values = _read(GABE565 / "values.yaml")
    result = plan_bump(_request(chart, values))

    assert_only_changed(
        chart,
        result.files["headscale/Chart.yaml"],
        {7: "version: 0.17.0\n", 9: "appVersion: v0.29.0\n"},
    )
    assert chart.split("\n")[7] == "# renovate datasource=docker depName=ghcr.io/juanfont/headscale"
    assert_only_changed(values, result.files["headscale/values.yaml"], {14: "  tag: v0.29.0\n"})


def test_bumping_to_the_current_version_changes_nothing() -> None:
    chart = _read(KAPERNIKOV / "Chart.yaml")
    values = _read(KAPERNIKOV / "values.yaml")
    result = plan_bump(_request(chart, values, "0.28.0", pins=(CLIENT_PIN,)))
    assert result == BumpResult({}, (), result.kept, result.floating, "", result.images)
    assert not result.changed
    assert {change.key for change in result.kept} == {"image.tag", "appVersion"}


def test_applying_the_planned_bump_twice_changes_nothing_the_second_time() -> None:
    first = plan_bump(_request(_chart(), _values('image:\n  tag: "v0.28.0"')))
    again = plan_bump(
        _request(first.files["headscale/Chart.yaml"], first.files["headscale/values.yaml"])
    )
    assert first.changed
    assert not again.changed
    assert again.diff == ""


def test_a_chart_already_past_the_target_is_not_downgraded() -> None:
    result = plan_bump(_request(_chart('"0.30.0"'), _values('image:\n  tag: "v0.30.1"'), "0.29.0"))
    assert not result.changed
    assert [(c.key, c.note) for c in result.kept] == [
        ("image.tag", "already at or past target"),
        ("appVersion", "already at or past target"),
    ]


@pytest.mark.parametrize(
    ("bump", "expected"),
    [("none", "1.4.7"), ("patch", "1.4.8"), ("minor", "1.5.0"), ("major", "2.0.0")],
)
def test_chart_version_bump_kinds(bump: VersionBump, expected: str) -> None:
    chart = _chart(version="1.4.7")
    result = plan_bump(_request(chart, _values("image: {}"), version_bump=bump))
    new = result.files["headscale/Chart.yaml"]
    assert f"\nversion: {expected}\n" in new
    changed = {5: 'appVersion: "0.29.0"\n'} | (
        {} if bump == "none" else {4: f"version: {expected}\n"}
    )
    assert_only_changed(chart, new, changed)


@pytest.mark.parametrize(
    ("app_line", "tag_line", "new_app", "new_tag"),
    [
        ("v0.28.0", "tag: v0.28.0", "v0.29.0", "tag: v0.29.0"),
        ("'0.28.0'", "tag: '0.28.0'", "'0.29.0'", "tag: '0.29.0'"),
        ('"v0.28.0"', "tag: 0.28.0 # pinned", '"v0.29.0"', "tag: 0.29.0 # pinned"),
        ("0.28.0 # app", 'tag: "v0.28.0"  # image', "0.29.0 # app", 'tag: "v0.29.0"  # image'),
    ],
)
def test_existing_styles_are_kept(app_line: str, tag_line: str, new_app: str, new_tag: str) -> None:
    chart = _chart(app_line)
    values = _values(f"image:\n  repository: x\n  {tag_line}")
    result = plan_bump(_request(chart, values))
    assert_only_changed(
        chart,
        result.files["headscale/Chart.yaml"],
        {4: "version: 0.3.0\n", 5: f"appVersion: {new_app}\n"},
    )
    assert_only_changed(values, result.files["headscale/values.yaml"], {4: f"  {new_tag}\n"})


@pytest.mark.parametrize(
    ("image", "note"),
    [
        (
            'image:\n  repository: x\n  tag: ""',
            "empty: the image tag defaults to the chart appVersion",
        ),
        (
            "image:\n  repository: x\n  tag:",
            "empty: the image tag defaults to the chart appVersion",
        ),
        ("image:\n  repository: x", "absent: the image tag defaults to the chart appVersion"),
    ],
)
def test_empty_or_absent_image_tag_is_left_to_app_version(image: str, note: str) -> None:
    values = _values(image)
    result = plan_bump(_request(_chart(), values))
    assert set(result.files) == {"headscale/Chart.yaml"}
    assert "headscale/values.yaml" not in result.diff
    assert result.kept == (Change("headscale/values.yaml", "image.tag", None, None, note),)
    assert 'appVersion: "0.29.0"' in result.files["headscale/Chart.yaml"]


def test_floating_main_image_tag_is_left_and_reported() -> None:
    result = plan_bump(_request(_chart(), _values("image:\n  tag: latest")))
    assert set(result.files) == {"headscale/Chart.yaml"}
    assert [(c.key, c.old) for c in result.floating] == [("image.tag", "latest")]


def test_flow_style_image_mapping() -> None:
    values = _values('image: {repository: headscale/headscale, tag: "v0.28.0"}  # flow')
    result = plan_bump(_request(_chart(), values))
    assert_only_changed(
        values,
        result.files["headscale/values.yaml"],
        {2: 'image: {repository: headscale/headscale, tag: "v0.29.0"}  # flow\n'},
    )


def test_crlf_files_keep_crlf_and_the_diff_shows_it() -> None:
    chart = _chart(eol="\r\n")
    values = _values('image:\r\n  tag: "v0.28.0"', eol="\r\n")
    result = plan_bump(_request(chart, values))
    assert result.files["headscale/Chart.yaml"] == _chart('"0.29.0"', "0.3.0", eol="\r\n")
    assert result.files["headscale/values.yaml"] == _values(
        'image:\r\n  tag: "v0.29.0"', eol="\r\n"
    )
    assert '-  tag: "v0.28.0"\r\n+  tag: "v0.29.0"\r\n' in result.diff


def test_pin_below_minimum_is_raised_to_the_resolved_tag() -> None:
    values = _values('image:\n  tag: "v0.28.0"\nclient:\n  image:\n    tag: "1.80.0" # sidecar')
    pin = ImagePin("client.image.tag", minimum="1.86.0", resolved="1.86.2")
    result = plan_bump(_request(_chart(), values, pins=(pin,)))
    assert_only_changed(
        values,
        result.files["headscale/values.yaml"],
        {3: '  tag: "v0.29.0"\n', 6: '    tag: "1.86.2" # sidecar\n'},
    )
    assert [c.key for c in result.changes] == [
        "image.tag",
        "appVersion",
        "client.image.tag",
        "version",
    ]
    assert (
        Change(
            "headscale/values.yaml",
            "client.image.tag",
            "1.80.0",
            "1.86.2",
            "raised to the newest tag >= minimum 1.86.0",
        )
        in result.changes
    )


def test_pin_alone_still_bumps_the_chart_version() -> None:
    chart = _chart('"0.29.0"')
    values = _values("image: {}\nclient:\n  image:\n    tag: v1.80.0")
    pin = ImagePin("client.image.tag", minimum="1.86.0", resolved="v1.86.2")
    result = plan_bump(_request(chart, values, pins=(pin,)))
    assert_only_changed(chart, result.files["headscale/Chart.yaml"], {4: "version: 0.3.0\n"})
    assert_only_changed(values, result.files["headscale/values.yaml"], {5: "    tag: v1.86.2\n"})


@pytest.mark.parametrize("current", ["1.86.0", "v1.90.1"])
def test_pin_at_or_above_minimum_is_left(current: str) -> None:
    values = _values(f'image:\n  tag: "v0.29.0"\nclient:\n  image:\n    tag: "{current}"')
    pin = ImagePin("client.image.tag", minimum="1.86.0", resolved="1.92.0")
    result = plan_bump(_request(_chart('"0.29.0"'), values, pins=(pin,)))
    assert not result.changed
    assert (
        Change(
            "headscale/values.yaml",
            "client.image.tag",
            current,
            current,
            "already >= minimum 1.86.0",
        )
        in result.kept
    )


@pytest.mark.parametrize(
    ("pin", "message"),
    [
        (ImagePin("client.image.tag", "1.86.0", None), "below the minimum 1.86.0"),
        (ImagePin("client.image.tag", "1.86.0", "1.84.0"), "got '1.84.0'"),
        (ImagePin("client.image.tag", "1.86.0", "stable"), "got 'stable'"),
        (ImagePin("sidecar.image.tag", "1.86.0", "1.86.2"), "'sidecar.image.tag' not found"),
        (ImagePin("client.image.tag", "one", "1.86.2"), "minimum 'one', not a version"),
    ],
)
def test_unsatisfiable_pins_are_errors(pin: ImagePin, message: str) -> None:
    values = _values("image: {}\nclient:\n  image:\n    tag: 1.80.0")
    with pytest.raises(ChartError, match=message) as exc:
        plan_bump(_request(_chart(), values, pins=(pin,)))
    assert exc.value.message.startswith("headscale/values.yaml: ")


@pytest.mark.parametrize("version", ["0.3.0-rc.1", "1.0", "0.3.0+build.5", "next"])
def test_chart_version_that_cannot_be_bumped_is_an_error(version: str) -> None:
    with pytest.raises(ChartError) as exc:
        plan_bump(_request(_chart(version=version), _values("image: {}")))
    assert exc.value.message == (
        f"headscale/Chart.yaml: chart version {version!r} is a pre-release or not X.Y.Z, "
        "so the minor bump cannot be computed"
    )
    assert 'version_bump "none"' in exc.value.hint


def test_prerelease_chart_version_is_fine_when_not_bumped() -> None:
    chart = _chart(version="0.3.0-rc.1")
    result = plan_bump(_request(chart, _values("image: {}"), version_bump="none"))
    assert_only_changed(chart, result.files["headscale/Chart.yaml"], {5: 'appVersion: "0.29.0"\n'})


@pytest.mark.parametrize(
    ("chart", "values", "message"),
    [
        (
            "version: 0.1.0\nappVersion: [\n",
            _values("image: {}"),
            r"Chart\.yaml: invalid YAML at line 3",
        ),
        (_chart(), "image:\n  tag: v1\n tag: v2\n", r"values\.yaml: invalid YAML at line 3"),
    ],
)
def test_invalid_yaml_names_the_file_and_line(chart: str, values: str, message: str) -> None:
    with pytest.raises(ChartError, match=f"^headscale/{message}"):
        plan_bump(_request(chart, values))


def test_missing_app_version_is_an_error_unless_values_pin_the_image() -> None:
    chart = "apiVersion: v2\nversion: 0.2.0\n"
    with pytest.raises(ChartError, match=r"Chart\.yaml: no appVersion"):
        plan_bump(_request(chart, _values("image: {}")))
    result = plan_bump(_request(chart, _values("image:\n  tag: v0.28.0")))
    assert [c.key for c in result.changes] == ["image.tag", "version"]


def test_paths_follow_chart_dir() -> None:
    request = BumpRequest("", _chart(), _values("image: {}"), "v0.29.0", "0.29.0")
    result = plan_bump(request)
    assert set(result.files) == {"Chart.yaml"}
    assert result.diff.startswith("diff --git a/Chart.yaml b/Chart.yaml\n")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version_bump": "huge"}, "version_bump must be one of"),
        ({"target_version": "zero"}, "target_version 'zero' is not a version"),
    ],
)
def test_invalid_requests_are_programming_errors(kwargs: dict[str, str], message: str) -> None:
    base = {"target_tag": "v0.29.0", "target_version": "0.29.0"} | kwargs
    with pytest.raises(ValueError, match=message):
        plan_bump(BumpRequest("c", _chart(), _values("image: {}"), **base))  # type: ignore[arg-type]


def test_git_diff_marks_a_missing_final_newline_and_names_no_context_when_none() -> None:
    diff = git_diff("c/f.yaml", "  a: 1\n  b: 2", "  a: 1\n  b: 3")
    assert diff.splitlines()[4:] == [
        "@@ -1,2 +1,2 @@",
        "   a: 1",
        "-  b: 2",
        "\\ No newline at end of file",
        "+  b: 3",
        "\\ No newline at end of file",
    ]
    assert git_diff("f", "same\n", "same\n") == ""
