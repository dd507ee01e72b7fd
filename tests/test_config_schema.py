"""`watcher config schema`: the JSON Schema editors use agrees with the loader.

Every shipped config validates against it; a key the loader does not know, added to any
table, is refused by both the schema and the loader.
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.cli.main import main
from watcher.config.model import parse_config
from watcher.core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = [ROOT / "config.example.toml", *sorted((ROOT / "examples").glob("*.toml"))]


def schema() -> dict[str, Any]:
    result = CliRunner().invoke(main, ["config", "schema"])
    assert result.exit_code == 0, result.output
    loaded: dict[str, Any] = json.loads(result.stdout)
    return loaded


SCHEMA = schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(path: Path) -> None:
    parse_config(path.read_text("utf-8"), source=str(path))  # the loader accepts it
    assert [e.message for e in VALIDATOR.iter_errors(tomllib.loads(path.read_text()))] == []


def tables(node: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths of every table (dict) in a parsed TOML document."""
    found: list[tuple[str | int, ...]] = []
    if isinstance(node, dict):
        found.append(path)
        for key, value in node.items():
            found += tables(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += tables(value, (*path, index))
    return found


EXAMPLE = tomllib.loads((ROOT / "config.example.toml").read_text())
FREE_FORM = {("registries",)}  # host -> URL: any key is a host name


def test_the_example_survives_the_round_trip_the_mutations_use() -> None:
    text = json_to_toml(copy.deepcopy(EXAMPLE))
    assert parse_config(text, source="x.toml") == parse_config(
        (ROOT / "config.example.toml").read_text(), source="x.toml"
    )


@settings(max_examples=40, deadline=None)
@given(
    where=st.sampled_from([p for p in tables(EXAMPLE) if p not in FREE_FORM]),
    key=st.from_regex(r"[a-z][a-z_]{2,12}", fullmatch=True),
)
def test_an_unknown_key_anywhere_is_refused_by_schema_and_loader(
    where: tuple[str | int, ...], key: str
) -> None:
    doc = copy.deepcopy(EXAMPLE)
    table: Any = doc
    for step in where:
        table = table[step]
    if key in table or key in {"marker", "url"}:
        return  # a known key (or one a secret rule would name differently): not a mistake
    table[key] = 1
    assert list(VALIDATOR.iter_errors(doc)), (where, key)
    with pytest.raises(ConfigError):
        parse_config(json_to_toml(doc), source="mutated.toml")


def json_to_toml(doc: dict[str, Any]) -> str:
    """The document back as TOML (tomli-w is not a dependency: JSON values are TOML's)."""
    lines: list[str] = []

    def emit(table: dict[str, Any], prefix: str, array: bool) -> None:
        if prefix:
            lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        nested = []
        for key, value in table.items():
            if isinstance(value, dict):
                nested.append((key, value, False))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                nested.extend((key, item, True) for item in value)
            else:
                lines.append(f"{json.dumps(key)} = {json.dumps(value)}")
        for key, value, is_array in nested:
            emit(value, f"{prefix}.{key}" if prefix else key, is_array)

    emit(doc, "", False)
    return "\n".join(lines) + "\n"
