"""Check JSON bodies against GitHub's published OpenAPI description.

githubkit's models are generated from that description (``githubkit-schemas``). A body
passes when it validates in strict mode (no type coercion: ``"1"`` is not an int) and
has no field the description does not know, at any depth, so a misspelt or invented
field fails as surely as a missing or mistyped one.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from types import ModuleType
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

with warnings.catch_warnings():
    # githubkit warns about its own module layout on import; irrelevant here.
    warnings.simplefilter("ignore", DeprecationWarning)
    from githubkit_schemas.v2022_11_28 import models as models_2022_11_28
    from githubkit_schemas.v2026_03_10 import models as models_2026_03_10

# One generated model module per REST API version the stand-in serves.
MODELS: dict[str, ModuleType] = {
    "2022-11-28": models_2022_11_28,
    "2026-03-10": models_2026_03_10,
}


class SchemaMismatch(AssertionError):
    """The body does not match GitHub's description."""


def check(model: type[BaseModel], body: bytes | str) -> BaseModel:
    """Validate one JSON object against ``model``; return the parsed model."""
    try:
        instance = model.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise SchemaMismatch(f"{model.__name__}: {exc}") from exc
    _reject_unknown(model.__name__, instance, json.loads(body))
    return instance


def check_list(model: type[BaseModel], body: bytes | str) -> list[BaseModel]:
    """Validate a JSON array whose items are ``model``."""
    try:
        items = TypeAdapter(list[model]).validate_json(body, strict=True)  # type: ignore[valid-type]
    except ValidationError as exc:
        raise SchemaMismatch(f"list[{model.__name__}]: {exc}") from exc
    _reject_unknown(f"list[{model.__name__}]", items, json.loads(body))
    return list(items)


def model(version: str, name: str) -> type[BaseModel]:
    """The generated model ``name`` (e.g. ``"Release"``) of API ``version``."""
    found: type[BaseModel] = getattr(MODELS[version], name)
    return found


def timeline_model(version: str, event: str) -> type[BaseModel]:
    """The model of one timeline item, chosen by its ``event`` like GitHub's ``oneOf``."""
    if event == "cross-referenced":
        return model(version, "TimelineCrossReferencedEvent")
    if event == "labeled":
        return model(version, "LabeledIssueEvent")
    return model(version, "StateChangeIssueEvent")


def _reject_unknown(name: str, instance: Any, data: Any) -> None:
    unknown = list(_unknown_fields(instance, data, "$"))
    if unknown:
        raise SchemaMismatch(f"{name}: fields not in GitHub's description: {unknown}")


def _unknown_fields(instance: Any, data: Any, path: str) -> Iterator[str]:
    """Paths of keys in ``data`` that the validated ``instance``'s models do not declare."""
    if isinstance(instance, BaseModel) and isinstance(data, dict):
        fields = type(instance).model_fields
        by_alias = {(info.alias or name): name for name, info in fields.items()}
        for key, value in data.items():
            if key not in by_alias:
                yield f"{path}.{key}"
            else:
                yield from _unknown_fields(getattr(instance, by_alias[key]), value, f"{path}.{key}")
    elif isinstance(instance, list) and isinstance(data, list):
        for index, (item, raw) in enumerate(zip(instance, data, strict=False)):
            yield from _unknown_fields(item, raw, f"{path}[{index}]")
