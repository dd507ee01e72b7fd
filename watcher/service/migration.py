"""Migrate the daemon's database in a short-lived child interpreter.

Alembic with its script directory is about 10 MiB of resident memory that a long-running
process would carry for its whole life after using it once, on its first start or after
an upgrade. So the daemon opens its store with :func:`migrate_in_child` as the migrator:
``Store.open`` compares the schema revision with SQLAlchemy alone and, only when it is
behind, this runs ``python -m watcher.service.migration`` and waits. The child reads the
URL from its environment (never from argv, where ``ps`` would show a password) and
answers a failure as one JSON line, which becomes the same ``StateError`` an in-process
migration raises. One-shot commands (``check``, ``run --once``) migrate in process: they
exit right after.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from watcher.core.errors import StateError, WatcherError

URL_VARIABLE = "WATCHER_MIGRATE_URL"
# Migrating an empty database takes about a second; a server may be slow to answer.
CHILD_TIMEOUT_SECONDS = 600


def migrate_in_child(url: str) -> None:
    """Bring the database to the head revision without importing Alembic here.

    The store calls it only for a schema that is behind (``Store.open(migrator=...)``).
    Raises ``StateError`` with the child's message and hint when it fails.
    """
    env = {**os.environ, URL_VARIABLE: url}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "watcher.service.migration"],
            env=env,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StateError(
            f"cannot migrate the database: the migration process failed ({exc})"
        ) from exc
    if child.returncode == 0:
        return
    try:
        answer = json.loads(child.stdout.strip().splitlines()[-1])
        message, hint = str(answer["message"]), answer.get("hint")
    except (IndexError, ValueError, KeyError, TypeError):
        last = (child.stderr.strip().splitlines() or ["(no output)"])[-1]
        message = (
            f"cannot migrate the database: the migration process ended with "
            f"exit {child.returncode}: {last[:300]}"
        )
        hint = None
    raise StateError(message, hint=hint)


def main() -> None:
    """The child: migrate the database named by ``WATCHER_MIGRATE_URL``; exit 2 on error."""
    from watcher.state.migrate import upgrade

    try:
        upgrade(os.environ[URL_VARIABLE])
    except WatcherError as exc:
        print(json.dumps({"message": exc.message, "hint": exc.hint}))
        sys.exit(2)


if __name__ == "__main__":
    main()
