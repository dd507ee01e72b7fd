"""Turn pydantic's validation errors into the lines a user reads: one per problem.

Each line names the key path the way the TOML file is written (``watch[0].feature.paths``)
and what is wrong. An unknown key gets the nearest known key at the same place as a
suggestion (``markr`` -> ``marker``, by :mod:`difflib`). Errors that only follow from
another one are dropped, so every line is a real mistake.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails


def problem_lines(errors: Iterable[ErrorDetails], root: type[BaseModel]) -> list[str]:
    """``key.path: problem`` for each error, in file order, without duplicates."""
    lines: list[str] = []
    for error in errors:
        loc = tuple(error["loc"])
        line = f"{key_path(loc)}: {describe(error, root)}"
        if line not in lines:
            lines.append(line)
    return lines


def key_path(loc: tuple[str | int, ...]) -> str:
    """``("watch", 0, "feature")`` as ``watch[0].feature``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def describe(error: Mapping[str, Any], root: type[BaseModel]) -> str:
    """What is wrong, in words, with a did-you-mean for an unknown key."""
    kind = error["type"]
    if kind == "extra_forbidden":
        loc = tuple(error["loc"])
        known = known_keys(root, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        if close:
            return f"unknown key; did you mean {close[0]!r}?"
        return "unknown key (check the spelling against config.example.toml)"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind.endswith("_type") and "input" in error:
        # Strict types: say what was given, so `"3"` vs `3` is obvious.
        message += f", not {_toml_kind(error['input'])}"
    return message


def known_keys(root: type[BaseModel], loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model accepts at ``loc`` (a table's location), or [] if unknown."""
    model: Any = root
    for part in loc:
        if isinstance(part, int):
            continue  # an array element: the element type was unwrapped already
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return []
        model = _model_in(fields[part].annotation)
        if model is None:
            return []
    fields = getattr(model, "model_fields", None)
    return list(fields) if fields else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The BaseModel inside ``X``, ``X | None``, ``tuple[X, ...]`` or ``Annotated[X, ...]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return None
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _toml_kind(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    for kind, name in names.items():
        if type(value) is kind:
            return f"{name} ({value!r})"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__
