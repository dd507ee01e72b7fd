"""The config file `watcher init` appends to: its settings before, the whole after.

The file is never clobbered: the new ``[[watch]]`` table is appended to its text, the
result is validated as a whole (every problem at once, as ``config check`` shows them)
before anything is written, and it replaces the old file atomically (a temporary file
beside it, then a rename), keeping its permissions. A missing file is created.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from watcher.config.model import Config, instance_from_path, parse_config, read_config_text
from watcher.core.errors import ConfigError

# Lets a file holding only settings ([github], [registries]) load: a config needs a watch.
_PLACEHOLDER_ID = "watcher-init-placeholder"
_PLACEHOLDER = f'\n[[watch]]\nid = "{_PLACEHOLDER_ID}"\nrepo = "o/r"\nfeature.marker = "..."\n'


def read_text(path: Path) -> str:
    """The file's text; empty when it does not exist yet."""
    if not path.exists():
        return ""
    return read_config_text(path, "pass a readable file with --config (a missing one is created)")


def settings(path: Path, text: str) -> Config:
    """The file's settings (GitHub URL, registries, instance), whether or not it has watches."""
    config = parse_config(
        text + _PLACEHOLDER, source=str(path), default_instance=instance_from_path(path)
    )
    return config.model_copy(
        update={"watch": tuple(w for w in config.watch if w.id != _PLACEHOLDER_ID)}
    )


def append_watch(path: Path, text: str, table: str) -> Config:
    """Write ``text`` + ``table`` to ``path`` when the result is a valid config; return it."""
    new = text + ("\n" if text and not text.endswith("\n") else "") + table
    config = parse_config(new, source=str(path), default_instance=instance_from_path(path))
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(new)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ConfigError(
            f"{path}: cannot write the config file ({exc.strerror})",
            hint="check the directory exists and is writable; nothing was changed",
        ) from exc
    return config
