"""Tests of the byte-preserving YAML scalar replacement (watcher.chart.yaml_edit)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from watcher.chart import yaml_edit
from watcher.chart.yaml_edit import ScalarRef, find_scalar, replace_scalar
from watcher.core.errors import ChartError


def assert_only_changed(old: str, new: str, changed: Mapping[int, str]) -> None:
    """Assert ``new`` equals ``old`` byte for byte except for whole lines in ``changed``.

    ``changed`` maps 1-based line numbers to the expected new line, line ending included.
    """
    old_lines = old.split("\n")
    new_lines = new.split("\n")
    assert len(new_lines) == len(old_lines), "the number of lines changed"
    for number, (before, after) in enumerate(zip(old_lines, new_lines, strict=True), 1):
        # split("\n") drops the LF; put it back where there was one, to compare endings.
        has_lf = number < len(old_lines)
        after_full = after + "\n" if has_lf else after
        if number in changed:
            assert after_full == changed[number], f"line {number}"
        else:
            assert after == before, f"line {number} should be untouched"


def test_find_scalar_reports_value_style_and_position() -> None:
    text = 'image:\n  tag: "v0.28.0"\n'
    ref = find_scalar(text, "image.tag", filename="values.yaml")
    assert ref == ScalarRef("image.tag", "v0.28.0", '"', 2, 14, 23)
    assert text[ref.start : ref.end] == '"v0.28.0"'


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('  tag: "v0.28.0"', '  tag: "v0.29.0"'),
        ("  tag: 'v0.28.0'", "  tag: 'v0.29.0'"),
        ("  tag: v0.28.0", "  tag: v0.29.0"),
        ("  tag: v0.28.0 # pinned by hand", "  tag: v0.29.0 # pinned by hand"),
        ('  tag: "v0.28.0"  # two spaces', '  tag: "v0.29.0"  # two spaces'),
        ("  tag:   v0.28.0", "  tag:   v0.29.0"),
    ],
)
def test_replace_keeps_quoting_spacing_and_comment(line: str, expected: str) -> None:
    old = f"# head\nimage:\n  repository: x\n{line}\n\nother: 1\n"
    new = replace_scalar(old, "image.tag", "v0.29.0", filename="values.yaml")
    assert_only_changed(old, new, {4: expected + "\n"})


def test_flow_mapping_keeps_every_other_character() -> None:
    old = 'image: {repository: x, tag: "v1", pullPolicy: Always}  # flow\nz: 1\n'
    new = replace_scalar(old, "image.tag", "v2", filename="values.yaml")
    assert new == 'image: {repository: x, tag: "v2", pullPolicy: Always}  # flow\nz: 1\n'


def test_crlf_line_endings_survive() -> None:
    old = "# c\r\nimage:\r\n  tag: 'v1'\r\n\r\nz: 1\r\n"
    new = replace_scalar(old, "image.tag", "v2", filename="values.yaml")
    assert new == "# c\r\nimage:\r\n  tag: 'v2'\r\n\r\nz: 1\r\n"


def test_renovate_comment_above_and_document_marker_survive() -> None:
    old = (
        "---\n"
        "# renovate: datasource=docker depName=ghcr.io/juanfont/headscale\n"
        "appVersion: v0.25.0\n"
        "version: 0.16.0\n"
    )
    new = replace_scalar(old, "appVersion", "v0.29.0", filename="Chart.yaml")
    assert_only_changed(old, new, {3: "appVersion: v0.29.0\n"})


def test_only_the_first_document_is_read_and_edited() -> None:
    old = "image:\n  tag: v1\n---\nimage:\n  tag: v1\n"
    new = replace_scalar(old, "image.tag", "v2", filename="values.yaml")
    assert_only_changed(old, new, {2: "  tag: v2\n"})
    assert find_scalar("a: 1\n---\nimage:\n  tag: v1\n", "image.tag", filename="f") is None


def test_byte_order_mark_and_missing_final_newline_survive() -> None:
    old = '\ufeffimage:\n  tag: "v1"'
    assert replace_scalar(old, "image.tag", "v2", filename="f") == '\ufeffimage:\n  tag: "v2"'


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("image:\n  tag:   v1 # c\n", "v1"),
        # Re-rendering these would change their spelling; an unchanged value must not.
        ('image:\n  tag: "v\\x31"\n', "v1"),
        ("image:\n  tag: 1.10\n", "1.10"),
    ],
)
def test_same_value_returns_the_text_unchanged(text: str, value: str) -> None:
    assert replace_scalar(text, "image.tag", value, filename="f") == text


@pytest.mark.parametrize(
    ("old_line", "value", "expected"),
    [
        # Plain 1.10 or true would read back as a float or a boolean, so they get quotes.
        ("tag: 1.9", "1.10", 'tag: "1.10"'),
        ("tag: x", "true", 'tag: "true"'),
        ("tag: x", "a: b", 'tag: "a: b"'),
        ("tag: 'x'", "it's", "tag: 'it''s'"),
        ('tag: "x"', 'say "hi"', 'tag: "say \\"hi\\""'),
    ],
)
def test_new_value_is_escaped_or_quoted_to_read_back_as_that_string(
    old_line: str, value: str, expected: str
) -> None:
    new = replace_scalar(f"{old_line}\n", "tag", value, filename="f")
    assert new == f"{expected}\n"
    ref = find_scalar(new, "tag", filename="f")
    assert ref is not None
    assert ref.value == value


def test_plain_value_in_flow_mapping_with_comma_is_quoted() -> None:
    new = replace_scalar("image: {tag: x}\n", "image.tag", "a,b", filename="f")
    assert new == 'image: {tag: "a,b"}\n'


def test_absent_keys_are_none_and_cannot_be_replaced() -> None:
    text = "image:\n  repository: x\nempty:\n"
    assert find_scalar(text, "image.tag", filename="f") is None
    assert find_scalar(text, "client.image.tag", filename="f") is None
    assert find_scalar(text, "empty.tag", filename="f") is None
    assert find_scalar("", "image.tag", filename="f") is None
    with pytest.raises(ChartError, match=r"values\.yaml: key 'image\.tag' not found"):
        replace_scalar(text, "image.tag", "v1", filename="values.yaml")


def test_null_and_empty_values() -> None:
    empty = find_scalar("tag:\n", "tag", filename="f")
    assert empty is not None
    assert (empty.value, empty.style, empty.start, empty.end) == (None, "", 5, 5)
    assert find_scalar("tag: ~\n", "tag", filename="f") == ScalarRef("tag", None, "", 1, 5, 6)
    assert find_scalar('tag: ""\n', "tag", filename="f") == ScalarRef("tag", "", '"', 1, 5, 7)
    assert replace_scalar("tag: ~\n", "tag", "v1", filename="f") == "tag: v1\n"
    with pytest.raises(ChartError, match="empty value"):
        replace_scalar("tag:\nb: 1\n", "tag", "v1", filename="f")


def test_invalid_yaml_names_file_and_line() -> None:
    with pytest.raises(ChartError, match=r"^values\.yaml: invalid YAML at line 3, column") as exc:
        find_scalar("a: 1\nb: [1, 2\nc: 3\n", "a", filename="values.yaml")
    assert "fix the YAML" in exc.value.hint


def test_duplicate_key_is_invalid() -> None:
    with pytest.raises(ChartError, match=r"^f: invalid YAML at line 3.*duplicate key"):
        find_scalar("image:\n  tag: v1\n  tag: v2\n", "image.tag", filename="f")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("image:\n  tag: &t v1\nui:\n  tag: *t\n", "anchored"),
        ("base: &b {tag: v1}\nimage: *b\n", "anchored"),
        ("base: &b {tag: v1}\nimage:\n  <<: *b\n", "merge key"),
        ("image:\n  tag: |\n    v1\n", "block or multi-line"),
        ("image:\n  tag: !!str v1\n", "tagged"),
        ('image:\n  tag: "v1\n    v2"\n', "multi-line"),
        ("image:\n  tag: [v1]\n", "not a scalar"),
        ("image: v1\n", "image is not a mapping"),
    ],
)
def test_unsafe_or_structural_targets_are_refused(text: str, message: str) -> None:
    with pytest.raises(ChartError, match=message):
        replace_scalar(text, "image.tag", "v2", filename="values.yaml")


def test_invalid_key_path_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="invalid key path"):
        find_scalar("a: 1\n", "a..b", filename="f")


def test_verification_rejects_an_edit_that_changes_anything_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Simulate a rendering bug: the replacement smuggles in another key.
    monkeypatch.setattr(yaml_edit, "_render", lambda value, style: f"{value}\nextra: 1")
    with pytest.raises(ChartError, match="did not yield a document with only that value"):
        replace_scalar("image:\n  tag: v1\n", "image.tag", "v2", filename="f")


def test_verification_rejects_an_edit_that_reads_back_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yaml_edit, "_render", lambda value, style: value)
    with pytest.raises(ChartError, match="did not yield"):
        replace_scalar("tag: x\n", "tag", "1.10", filename="f")
