"""Pure, byte-preserving replacement of one YAML scalar addressed by a dotted key path.

ruamel.yaml (round-trip mode) is used only to *locate and validate*: the composed node of
the scalar gives its exact character span in the text, and the edit is a splice of that
span. Every other byte (comments, blank lines, key order, quoting elsewhere, indentation,
flow mappings, CRLF line endings, ``---`` markers) is therefore untouched by
construction, which a re-dump through ruamel cannot promise. After the splice the text
is parsed again to prove that the key now holds the new value and that nothing else in
the parsed document changed.

A path segment that is a decimal number indexes a sequence (``dependencies.0.version``
in ``Chart.yaml``). Only the first document of a multi-document stream is considered,
as Helm reads only the first document of ``Chart.yaml`` and ``values.yaml``.

No I/O: every function takes and returns text; ``filename`` only labels error messages.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from watcher.core.errors import ChartError

__all__ = [
    "KeyPath",
    "ScalarRef",
    "find_scalar",
    "load_data",
    "replace_in_literal",
    "replace_scalar",
]

# A dotted path ("image.tag"), or the keys themselves when one holds a dot
# (("annotations", "artifacthub.io/images")).
KeyPath = str | tuple[str, ...]

_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_KEY = "<<"
# A value spelled like this stays one plain scalar in block and flow context alike
# (no indicator, comment, flow or mapping character); whether it resolves to a string
# rather than a number or boolean is checked separately.
_SAFE_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/@-]*")
_EDIT_HINT = "edit this key by hand, or point the watch at a plain scalar key"


@dataclass(frozen=True)
class ScalarRef:
    """Where a scalar lives in a YAML text and how it is spelled.

    ``value`` is the scalar's string value, or ``None`` when it is a YAML null (``key:``
    or ``key: ~``). ``style`` is ``'"'``, ``"'"`` or ``""`` (plain). ``start``/``end``
    are character offsets of the scalar token (quotes included) in the text; ``line``
    is 1-based.
    """

    path: str
    value: str | None
    style: str
    line: int
    start: int
    end: int


def find_scalar(text: str, path: KeyPath, *, filename: str) -> ScalarRef | None:
    """Locate the scalar at dotted ``path`` in the first document of ``text``.

    Returns ``None`` when the key (or a mapping on the way to it) is absent. Raises
    :class:`ChartError` when the text is not valid YAML, or when the key exists but
    cannot be edited safely in place (a mapping or list, a block or multi-line scalar,
    an anchored or aliased node, a value that may come from a ``<<`` merge).
    """
    root, _ = _parse(text, filename)
    return _locate(root, text, path, filename)


def load_data(text: str, *, filename: str) -> Any:
    """The first document of ``text`` as plain dicts, lists and scalars (no aliases shared).

    Raises :class:`ChartError` when the text is not valid YAML.
    """
    return _unshared(_parse(text, filename)[1])


def replace_scalar(text: str, path: KeyPath, new_value: str, *, filename: str) -> str:
    """Return ``text`` with the scalar at dotted ``path`` set to ``new_value``.

    The existing quoting style is kept (double, single, or plain; a plain value that
    would no longer read back as that string, such as ``1.10``, is double-quoted
    instead). Only the scalar's own characters change. Raises :class:`ChartError` when
    the key is absent or not editable (see :func:`find_scalar`), or when the result does
    not re-parse to the old document with just this one value changed.
    """
    root, old_data = _parse(text, filename)
    ref = _locate(root, text, path, filename)
    if ref is None:
        raise ChartError(f"{filename}: key {_label(path)!r} not found", hint=_EDIT_HINT)
    if ref.value == new_value:
        # Leaves the text byte-identical, so a repeated bump is a no-op.
        return text
    if ref.start == ref.end:
        # An empty null (``key:``) has no characters to replace, and its mark may sit
        # on the next line, so a splice there would corrupt the document.
        raise ChartError(
            f"{filename}: {_label(path)!r} has an empty value; not edited in place",
            hint=_EDIT_HINT,
        )
    new_text = text[: ref.start] + _render(new_value, ref.style) + text[ref.end :]
    _verify(new_text, path, new_value, old_data, filename)
    return new_text


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 1 << 30
    return yaml


# One check looks up several keys in the same values.yaml (image repository and tag, the
# pins), and a round-trip parse is the slowest step of a warm check, so a text is parsed
# once. Callers only read the nodes and data; a failed parse raises and is not cached.
@lru_cache(maxsize=16)
def _parse(text: str, filename: str) -> tuple[Node | None, Any]:
    """Compose (for positions) and load (for values and duplicate-key checks) document 1."""
    yaml = _yaml()
    try:
        root = next(iter(yaml.compose_all(text)), None)
        data = next(iter(yaml.load_all(text)), None)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "syntax error"
        raise ChartError(
            f"{filename}: invalid YAML{where}: {problem}",
            hint="fix the YAML in the chart repository first",
        ) from exc
    except YAMLError as exc:
        raise ChartError(
            f"{filename}: invalid YAML: {exc}", hint="fix the YAML in the chart repository first"
        ) from exc
    return root, data


def replace_in_literal(text: str, path: KeyPath, old: str, new: str, *, filename: str) -> str:
    """Return ``text`` with ``old`` replaced by ``new`` inside the literal block at ``path``.

    For lists kept in a literal block scalar (``|``), such as the ``images`` annotation
    of Bitnami's ``Chart.yaml``. A literal block holds its lines verbatim (after the
    indentation), so a one-line substring is spliced in place. Returns ``text``
    unchanged when the key is absent or does not contain ``old``; raises ChartError when
    the value is not a literal block, or when the result does not re-parse to the old
    document with only that value changed.
    """
    if "\n" in old or "\n" in new or not old:
        raise ValueError("replace_in_literal replaces one non-empty line fragment")
    root, old_data = _parse(text, filename)
    node = _walk(root, path, filename)
    if node is None or not isinstance(node, ScalarNode) or old not in node.value:
        return text
    line = node.start_mark.line + 1
    if node.style != "|":
        raise ChartError(
            f"{filename}:{line}: {_label(path)!r} is not a literal block (|); not edited",
            hint=_EDIT_HINT,
        )
    _refuse_anchor(node, repr(_label(path)), filename)
    start, end = node.start_mark.index, node.end_mark.index
    new_text = text[:start] + text[start:end].replace(old, new) + text[end:]
    _verify(new_text, path, node.value.replace(old, new), old_data, filename, scalar=False)
    return new_text


def _walk(root: Node | None, path: KeyPath, filename: str) -> Node | None:
    """The node at ``path``, or None when it (or a mapping on the way) is absent."""
    keys = _split(path)
    node = root
    for depth, key in enumerate(keys):
        if node is None or _is_null(node):
            return None
        where = ".".join(keys[:depth]) or "the document"
        if isinstance(node, SequenceNode) and key.isdecimal():
            _refuse_anchor(node, where, filename)
            index = int(key)
            node = node.value[index] if index < len(node.value) else None
            continue
        if not isinstance(node, MappingNode):
            raise ChartError(f"{filename}: {where} is not a mapping (looking for {_label(path)!r})")
        _refuse_anchor(node, where, filename)
        node = _child(node, key, _label(path), filename)
    return node


def _locate(root: Node | None, text: str, path: KeyPath, filename: str) -> ScalarRef | None:
    node = _walk(root, path, filename)
    if node is None:
        return None
    return _scalar_ref(node, text, _label(path), filename)


def _split(path: KeyPath) -> list[str]:
    keys = list(path) if isinstance(path, tuple) else path.split(".")
    if not keys or not all(keys):
        raise ValueError(f"invalid key path {path!r}")
    return keys


def _label(path: KeyPath) -> str:
    return path if isinstance(path, str) else ".".join(path)


def _child(mapping: MappingNode, key: str, path: str, filename: str) -> Node | None:
    found: Node | None = None
    merged = False
    for key_node, value_node in mapping.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = value_node
        elif isinstance(key_node, ScalarNode) and key_node.value == _MERGE_KEY:
            merged = True
    if found is None and merged:
        # The key may be inherited from a merged anchor; editing the anchor would
        # change every mapping that merges it.
        raise ChartError(
            f"{filename}: {path!r} may come from a '<<' merge key; not edited in place",
            hint=_EDIT_HINT,
        )
    return found


def _refuse_anchor(node: Node, where: str, filename: str) -> None:
    # An anchored node is shared by its aliases (and compose hands us the same node for
    # an alias), so a splice would silently change other keys too.
    if node.anchor:
        raise ChartError(
            f"{filename}: {where} is an anchored/aliased node (&{node.anchor}); "
            "editing it would change its aliases too",
            hint=_EDIT_HINT,
        )


def _scalar_ref(node: Node, text: str, path: str, filename: str) -> ScalarRef:
    line = node.start_mark.line + 1
    if not isinstance(node, ScalarNode):
        raise ChartError(f"{filename}:{line}: {path!r} is not a scalar", hint=_EDIT_HINT)
    _refuse_anchor(node, repr(path), filename)
    start, end = node.start_mark.index, node.end_mark.index
    token = text[start:end]
    style = node.style or ""
    if style in ('"', "'"):
        well_formed = len(token) >= 2 and token[0] == token[-1] == style
    else:
        # Plain: the token must be exactly the value (no tag such as ``!!str``).
        well_formed = style == "" and token == node.value
    if not well_formed or "\n" in token or "\r" in token:
        raise ChartError(
            f"{filename}:{line}: {path!r} is a tagged, block or multi-line scalar; "
            "not edited in place",
            hint=_EDIT_HINT,
        )
    value = None if _is_null(node) else str(node.value)
    return ScalarRef(path=path, value=value, style=style, line=line, start=start, end=end)


def _is_null(node: Node) -> bool:
    # ruamel gives the resolved tag as a str or as a Tag object, depending on version.
    return str(getattr(node.tag, "value", node.tag)) == _NULL_TAG


def _render(value: str, style: str) -> str:
    if style == "'":
        return "'" + value.replace("'", "''") + "'"
    if style == "" and _reads_back_plain(value):
        return value
    # JSON string escapes are all valid YAML double-quoted escapes.
    return json.dumps(value, ensure_ascii=False)


def _reads_back_plain(value: str) -> bool:
    if not _SAFE_PLAIN.fullmatch(value):
        return False
    # "1.10" or "true" would be read back as a number or boolean, not this string.
    loaded = YAML(typ="safe", pure=True).load(value)
    return isinstance(loaded, str) and loaded == value


def _verify(
    new_text: str,
    path: KeyPath,
    new_value: str,
    old_data: Any,
    filename: str,
    *,
    scalar: bool = True,
) -> None:
    """Prove the splice changed exactly one value: the one at ``path``."""
    root, new_data = _parse(new_text, filename)
    ref = _locate(root, new_text, path, filename) if scalar else None
    expected = _unshared(old_data)
    keys = _split(path)
    try:
        target = expected
        for key in keys[:-1]:
            target = target[_index(target, key)]
        target[_index(target, keys[-1])] = new_value
    except (KeyError, IndexError, TypeError, ValueError):
        # Composed keys are text; a loaded key may be a number or a boolean instead.
        expected = None
    ref_ok = not scalar or (ref is not None and ref.value == new_value)
    if not ref_ok or _unshared(new_data) != expected:
        raise ChartError(
            f"{filename}: setting {_label(path)!r} to {new_value!r} in place did not yield a "
            "document with only that value changed",
            hint=_EDIT_HINT,
        )


def _index(container: Any, key: str) -> Any:
    """``key`` as a list index for a list (a path segment is text), else unchanged."""
    return int(key) if isinstance(container, list) else key


def _unshared(data: Any) -> Any:
    """A plain, alias-free copy of loaded data, so one edit cannot hide behind sharing."""
    if isinstance(data, dict):
        return {key: _unshared(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_unshared(item) for item in data]
    return data
