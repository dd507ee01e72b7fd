"""The one exception hierarchy of watcher.

Every error a user can cause or meet derives from :class:`WatcherError` and carries a
one-line ``message`` (what went wrong, naming the file, key, or URL) and a ``hint``
(what to do). Library errors are translated into these at the layer boundary with
``raise ... from``; the CLI maps them to exit code 2 without a traceback.

Message and hint are scrubbed of secrets when the error is made (:mod:`watcher.core.redact`,
by value and by pattern): an error's text goes to the terminal, the logs and the
database, and a server may echo a credential in the answer an error quotes. This module
imports nothing of ours but that (docs/architecture.md, «Invariants»).
"""

from __future__ import annotations

from watcher.core.redact import redact_text


class WatcherError(Exception):
    """Base of every error watcher reports to a user."""

    default_hint = "run with --verbose for details"

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = redact_text(message)
        super().__init__(message)
        self.message = message
        self.hint = redact_text(hint if hint is not None else self.default_hint)

    def __str__(self) -> str:
        return self.message


class ConfigError(WatcherError):
    """The TOML configuration (or an environment variable it refers to) is invalid."""

    default_hint = "fix the file, then check it with `watcher config check --config FILE`"


class StateError(WatcherError):
    """The database cannot be opened, migrated, or written."""

    default_hint = "check the database URL and permissions; `watcher db upgrade` migrates it"


class SourceError(WatcherError):
    """An upstream source (GitHub, a registry, an archive) failed or answered nonsense."""


class NetworkError(SourceError):
    """A host could not be reached at all (DNS, refused connection, timeout)."""

    default_hint = "the machine may be offline, or the base URL in the config is wrong"


class AuthError(SourceError):
    """The server refused our credentials (401) or they lack a permission."""

    default_hint = "check GITHUB_TOKEN (or GITHUB_TOKEN_FILE); unset it to read anonymously"


class NotFoundError(SourceError):
    """A repository, release, issue, or image that the config names does not exist."""

    default_hint = "check the repository / issue / image names in the config"


# For a repository the config names that answers 404: GitHub says 404, not 403, for a
# private repository the token cannot read.
REPOSITORY_NOT_FOUND_HINT = (
    "fix the owner/name in the config; a private repository needs a token that can read it"
)


class RateLimitedError(SourceError):
    """GitHub (or a registry) asked us to wait longer than this command may wait."""

    default_hint = "wait until the reset time, or set GITHUB_TOKEN for a larger quota"

    def __init__(self, message: str, reset_at: float | None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.reset_at = reset_at


class PayloadError(SourceError):
    """A response body was not what the API documents (bad JSON, missing fields)."""

    default_hint = "the server or a proxy answered unexpectedly; retry later or report it"


class ArchiveError(SourceError):
    """A release tarball was truncated, oversized, or unsafe."""

    default_hint = "raise the [watch.feature] caps only if the archive is genuine"


class ActionError(WatcherError):
    """A write to GitHub (branch, commit, pull request, comment) failed."""

    default_hint = "check the token's permissions on the chart repository"


class ChartError(WatcherError):
    """A chart file could not be parsed or bumped."""

    default_hint = "check the chart files named in the config"
