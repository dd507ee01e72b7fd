"""Reusable rules for configuration values: bounded durations and checked templates.

A duration such as ``interval_seconds = inf`` (or ``1e300``) passes a plain float check
and fails much later (``OverflowError`` in ``timedelta``, a scheduler that never fires);
:func:`duration` bounds every one and says the allowed range. A template such as
``title = "{name}: bump to {tag} ({feature_nam})"`` would only fail with ``KeyError``
when a pull request is about to be opened; :func:`template` renders it with sample
values when the configuration is loaded, so an unknown field, an attribute or index
access (``{0.__class__}``) or a bad format spec is a config error naming the key.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable, Mapping

from pydantic import AfterValidator

MINUTE, HOUR, DAY = 60, 3600, 86400


def duration(
    low: float, high: float, unit: str = "seconds", *, above_low: bool = False
) -> AfterValidator:
    """Bounds a float to [low, high] (or (low, high] with ``above_low``) in ``unit``.

    Use as ``Annotated[float, duration(0, DAY)]``.
    """
    opening = f"greater than {low:g}" if above_low else f"from {low:g}"
    allowed = f"must be a number of {unit} {opening} up to {high:g}"

    def check(value: float) -> float:
        if not math.isfinite(value) or not (low < value if above_low else low <= value):
            raise ValueError(f"{allowed} (got {value!r})")
        if value > high:
            raise ValueError(f"{allowed} (got {value:g})")
        return value

    return AfterValidator(check)


def template(
    sample: Mapping[str, str], render: Callable[[str, Mapping[str, str]], object]
) -> AfterValidator:
    """A str must render with ``sample`` (the fields that exist) through ``render``.

    Use as ``Annotated[str, template(SAMPLE, render)]``.
    Only plain ``{field}`` references are allowed: no positional ``{}``/``{0}``, no
    attribute or index access, which would reach into Python objects.
    """
    fields = ", ".join(f"{{{name}}}" for name in sample)

    def check(value: str) -> str:
        try:
            parsed = list(string.Formatter().parse(value))
        except ValueError as exc:
            raise ValueError(f"not a valid template ({exc}); the fields are {fields}") from exc
        for _, name, spec, _ in parsed:
            if name is None:
                continue
            if name not in sample and name.isidentifier():
                raise ValueError(f"unknown field {{{name}}}; the fields are {fields}")
            if name not in sample:
                raise ValueError(
                    f"{{{name}}}: only plain field names are allowed (no positional, "
                    f"attribute or index access); the fields are {fields}"
                )
            if spec and "{" in spec:
                raise ValueError(
                    f"{{{name}:{spec}}}: nested fields are not allowed; the fields are {fields}"
                )
        try:
            render(value, sample)
        except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
            raise ValueError(f"cannot be rendered ({exc}); the fields are {fields}") from exc
        return value

    return AfterValidator(check)


def str_format(value: str, fields: Mapping[str, str]) -> str:
    """Render a ``str.format`` template (the pull request title)."""
    return value.format(**fields)
