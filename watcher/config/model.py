"""Load and validate the TOML configuration into typed, frozen objects.

pydantic does the validation: it gives every error a location (``watch.0.feature.paths``)
that we render as ``watch[0].feature.paths`` together with the file name, and
``extra="forbid"`` turns unknown keys into errors. Secrets never come from the file:
credentials are read from the environment, in :mod:`watcher.net.credentials`.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from watcher.config.report import key_path, problem_lines
from watcher.config.rules import DAY, HOUR, duration, str_format, template
from watcher.core.errors import ConfigError
from watcher.core.models import SignalName

SECRET_KEYS = frozenset({"token", "github_token", "password", "private_key", "secret"})
DEFAULT_TAG_PATTERN = r"^v?(?P<version>\d+\.\d+\.\d+(?:[-.]?(?:alpha|beta|rc)\.?\d+)?)$"
MiB = 1024 * 1024
# A dotted values path whose segments may be globs (`*`, `**`, `?`, `[...]`).
_IMAGE_KEY = r"^[A-Za-z0-9_*?\[\]-]+(\.[A-Za-z0-9_*?\[\]-]+)*$"


class _Model(BaseModel):
    """Frozen, strict base for every config section: unknown keys and a value of the wrong
    type (``"3"`` for a number, ``"no"`` for a boolean) are errors, never converted."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


#: The kinds of response body, each with its cap in :class:`BodyCaps`.
BodyKind = Literal["api_json", "file", "changelog", "page"]


class BodyCaps(_Model):
    """The largest response body read, per kind, far above real answers: a larger one is
    an error naming the URL and the cap, read no further and stored nowhere.

    They sit in ``[github]`` beside the other knobs of the one HTTP client every read
    goes through (registries and other hosts included). Tarballs have their own caps
    (``[watch.feature.caps]``).
    """

    #: An API answer: a page of a GitHub list, an issue, a registry's tag list or token.
    api_json_bytes: int = Field(default=16 * MiB, gt=0)
    #: A file read through the contents API (the chart's values.yaml, Chart.yaml).
    file_bytes: int = Field(default=4 * MiB, gt=0)
    #: The upstream changelog at a release's tag.
    changelog_bytes: int = Field(default=8 * MiB, gt=0)
    #: A documentation page or other text an evidence link points to.
    page_bytes: int = Field(default=4 * MiB, gt=0)

    def cap(self, kind: BodyKind) -> int:
        """The cap for a body of ``kind``."""
        return {
            "api_json": self.api_json_bytes,
            "file": self.file_bytes,
            "changelog": self.changelog_bytes,
            "page": self.page_bytes,
        }[kind]


class GitHubConfig(_Model):
    """How to reach GitHub (or GitHub Enterprise, or the local stand-in)."""

    api_url: str = "https://api.github.com"
    timeout_seconds: Annotated[float, duration(0, HOUR, above_low=True)] = 20.0
    quota_floor: int = Field(default=20, ge=0)
    max_wait_seconds: Annotated[float, duration(0, DAY)] = 30.0
    retries: int = Field(default=3, ge=0, le=10)
    write_interval_seconds: Annotated[float, duration(0, HOUR)] = 1.0
    body_caps: BodyCaps = BodyCaps()
    # Watches observed at once, so requests in flight (GitHub asks for at most 100).
    concurrency: int = Field(default=4, ge=1, le=32)
    # GitHub requests a minute after a first burst (GitHub allows about 900 points).
    requests_per_minute: int = Field(default=720, ge=1, le=900)

    @field_validator("api_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value)


class DatabaseConfig(_Model):
    """Where state lives; SQLite by default, any SQLAlchemy URL otherwise."""

    url: str | None = None


class ScanCaps(_Model):
    """Limits that keep a tarball scan bounded, far above a real release.

    See docs/architecture.md, «What support landed means».
    """

    max_download_bytes: int = Field(default=1024 * MiB, gt=0)
    max_total_bytes: int = Field(default=8192 * MiB, gt=0)
    max_members: int = Field(default=500_000, gt=0)
    max_member_bytes: int = Field(default=2048 * MiB, gt=0)


class FeatureConfig(_Model):
    """The markers to look for in a release's source (any one counts) and where to look."""

    # ``marker`` (one string, the original key) and ``markers`` (a list) both work;
    # :attr:`all_markers` is what is searched.
    marker: str | None = Field(default=None, min_length=3)
    markers: tuple[Annotated[str, Field(min_length=3)], ...] = ()
    paths: tuple[str, ...] = ("**",)
    exclude: tuple[str, ...] = (
        "**/*_test.go",
        "**/vendor/**",
        "vendor/**",
        "**/go.sum",
        "go.sum",
        "docs/**",
        "**/testdata/**",
    )
    all_evidence: bool = False
    caps: ScanCaps = ScanCaps()

    @field_validator("paths")
    @classmethod
    def _non_empty(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or any(not p.strip() for p in value):
            raise ValueError("must list at least one non-empty glob")
        return value

    @model_validator(mode="after")
    def _some_marker(self) -> Self:
        if not self.all_markers:
            raise ValueError("needs `marker` or `markers`: the text that shows the feature")
        return self

    @property
    def all_markers(self) -> tuple[str, ...]:
        """``marker`` then ``markers``, without repeats: any of them counts."""
        found = (self.marker,) if self.marker else ()
        return tuple(dict.fromkeys((*found, *self.markers)))


def _image_reference(value: str, fields: Mapping[str, str]) -> object:
    from watcher.core.errors import SourceError
    from watcher.core.image_ref import parse_image_ref

    try:
        return parse_image_ref(fill_placeholders(value, fields))
    except SourceError as exc:
        raise ValueError(exc.message) from exc


def fill_placeholders(value: str, fields: Mapping[str, str]) -> str:
    """``value`` with each ``{name}`` of ``fields`` replaced (image reference templates)."""
    for name, text in fields.items():
        value = value.replace(f"{{{name}}}", text)
    return value


# Sample values every template is rendered with when the configuration is loaded.
IMAGE_FIELDS = {"tag": "v1.2.3", "version": "1.2.3"}
TITLE_FIELDS = {
    "name": "headscale",
    "tag": "v1.2.3",
    "version": "1.2.3",
    "feature": "feature",
    "watch": "watch-id",
}


class ImageConfig(_Model):
    """Image references that must be pullable; ``{tag}`` / ``{version}`` are filled in."""

    references: tuple[Annotated[str, template(IMAGE_FIELDS, _image_reference)], ...] = ()

    @field_validator("references")
    @classmethod
    def _placeholders(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for ref in value:
            if "{tag}" not in ref and "{version}" not in ref:
                raise ValueError(f"{ref!r} needs a {{tag}} or {{version}} placeholder")
        return value


class ChangelogConfig(_Model):
    """Where the upstream changelog lives, which phrases count, and a docs page to quote."""

    path: str = "CHANGELOG.md"
    # Phrases matched case-insensitively in the release's dated section; empty = the
    # feature markers (release notes often name a feature in words, not by its constant).
    mentions: tuple[Annotated[str, Field(min_length=3)], ...] = ()
    # A docs page quoted in the PR body at the tag, e.g. "docs/ref/policy.md#grants".
    docs: str | None = Field(default=None, pattern=r"^[^\s#][^\s#]*(#[\w-]+)?$")


class IssuesConfig(_Model):
    """Upstream issues whose state is reported beside the verdict."""

    numbers: tuple[Annotated[int, Field(gt=0)], ...] = ()


class PullsConfig(_Model):
    """Upstream pull requests whose merge commit must be in a release (commit-graph evidence).

    ``numbers`` names them; with ``closing`` (the default) the pull requests that closed
    the watch's ``[watch.issues]`` count too. Each merge commit is checked to be an
    ancestor of the release's tag commit (:mod:`watcher.sources.pulls`).
    """

    numbers: tuple[Annotated[int, Field(gt=0)], ...] = ()
    closing: bool = True

    @field_validator("numbers")
    @classmethod
    def _once(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        twice = sorted({n for n in value if value.count(n) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(f'#{n}' for n in twice)} more than once")
        return value


class PinConfig(_Model):
    """Another pinned image in values.yaml that must reach a minimum version (e.g. a sidecar)."""

    key: str = Field(pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.tag$")
    # The image whose tags are searched; default: the `repository` beside `key` in values.yaml.
    image: str | None = None
    minimum: str

    @field_validator("minimum")
    @classmethod
    def _version(cls, value: str) -> str:
        from packaging.version import InvalidVersion, Version

        try:
            Version(value)
        except InvalidVersion as exc:
            raise ValueError(f"{value!r} is not a version") from exc
        return value


# "Name <email>", as git writes an identity.
_PERSON = r"^[^<>\n]*[^<>\s][^<>\n]* <[^<>\s@]+@[^<>\s@]+>$"
COMMIT_FIELDS = {**TITLE_FIELDS, "title": "headscale: bump to v1.2.3"}


class CommitConfig(_Model):
    """How the bump commit is written, for chart repositories whose branches require more.

    The rules belong to the chart repository (its branch protection, its DCO check, its
    commit convention), hence ``[watch.chart.commit]``. Without ``author``, a GitHub App
    installation names no author or committer, so GitHub signs the commit ("Verified");
    a token writes as ``watcher`` (unsigned, as always). With ``author`` (``"Name
    <email>"``) the commit carries it and ``committer`` (default: the author), unsigned.
    ``signoff`` adds ``Signed-off-by: <author>`` (DCO), so it needs ``author``.
    ``message`` is the subject line (the fields of ``title`` and ``{title}``), e.g.
    ``"chore(deps): bump {name} to {tag}"`` for conventional commits.
    """

    author: str | None = None
    committer: str | None = None
    signoff: bool = False
    message: Annotated[str, template(COMMIT_FIELDS, str_format)] = "{title}"

    @field_validator("author", "committer")
    @classmethod
    def _person(cls, value: str | None) -> str | None:
        if value is not None and not re.match(_PERSON, value):
            raise ValueError(f'{value!r} is not "Name <email>"')
        return value

    @model_validator(mode="after")
    def _signoff_names_someone(self) -> Self:
        if self.signoff and self.author is None:
            raise ValueError(
                "signoff needs author: the Signed-off-by line names the commit's author "
                '(set author = "Name <email>")'
            )
        if self.committer is not None and self.author is None:
            raise ValueError("committer needs author too (without author GitHub names both)")
        if "\n" in self.message or not self.message.strip():
            raise ValueError("message is one non-empty line (the commit's subject)")
        return self


class ChartConfig(_Model):
    """The Helm chart to bump when a watch is ready, and how the pull request looks."""

    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    path: str = "."
    base: str | None = None
    version_bump: Literal["none", "patch", "minor", "major"] = "minor"
    image_key: str = "image"
    # Image keys (or globs over values paths) that follow the release; None: [image_key].
    image_keys: tuple[Annotated[str, Field(pattern=_IMAGE_KEY)], ...] | None = None
    # Chart.yaml dependencies (name or alias) whose version follows the release.
    dependencies: tuple[Annotated[str, Field(min_length=1)], ...] = ()
    pins: tuple[PinConfig, ...] = ()
    prepared_branch: str | None = None
    follow: bool = False
    # Watches of one chart share one pull request; a group name keeps some apart.
    group: str = Field(default="", pattern=r"^[a-z0-9._-]{0,40}$")
    title: Annotated[str, template(TITLE_FIELDS, str_format)] = (
        "{name}: bump to {tag} ({feature} landed)"
    )
    feature_name: str = "feature"
    checklist: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    draft: bool = False
    commit: CommitConfig = CommitConfig()

    @property
    def value_images(self) -> tuple[str, ...]:
        """The values keys (or globs) of the images the bump moves."""
        return (self.image_key,) if self.image_keys is None else self.image_keys


#: An environment variable name, as a config file may reference one (never its value).
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class NotifyConfig(_Model):
    """Notifications: a GitHub dashboard issue, comments, and Apprise targets (Slack, ...).

    Apprise URLs hold secrets, so the file only names the environment variables that
    hold them (``apprise_env``); see :mod:`watcher.notify.targets`.
    """

    dashboard: bool = True
    dashboard_repo: str | None = None
    dashboard_title: str = "watcher dashboard"
    tracking_issue: int | None = Field(default=None, gt=0)
    error_after_minutes: Annotated[float, duration(0, 365 * DAY / 60, "minutes")] = 60.0
    apprise_env: tuple[Annotated[str, Field(pattern=ENV_NAME)], ...] = ()
    apprise_retry_seconds: Annotated[float, duration(0, DAY)] = 60.0
    apprise_undeliverable_after: int = Field(default=5, ge=1)


class WatchNotifyConfig(_Model):
    """Apprise targets of one watch only, besides the global ones."""

    apprise_env: tuple[Annotated[str, Field(pattern=ENV_NAME)], ...] = ()


class DaemonConfig(_Model):
    """The ``[daemon]`` section of `watcher run`: schedule, health/metrics endpoint, retention."""

    interval_seconds: Annotated[float, duration(0, 7 * DAY, above_low=True)] = 120.0
    jitter_seconds: Annotated[float, duration(0, DAY)] = 15.0
    health_port: int = Field(default=9464, ge=0, le=65535)
    bind: str = "127.0.0.1"
    # Bounded storage by default: what `history`, the dashboard and `backtest` read
    # (verdicts, events, caches of immutable answers) is never pruned; runs, the
    # observation change log, sent notifications and revalidatable caches older than this are.
    retention_days: Annotated[float, duration(0, 36500, "days", above_low=True)] = 90.0

    @model_validator(mode="after")
    def _jitter_below_interval(self) -> Self:
        # APScheduler adds the jitter on top of the interval; one larger than the interval
        # would make the schedule mostly noise.
        if self.jitter_seconds >= self.interval_seconds:
            raise ValueError("jitter_seconds must be smaller than interval_seconds")
        return self


class WatchConfig(_Model):
    """One "wait until upstream X ships feature Y" rule."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    repo: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    description: str = ""
    tag_pattern: str = DEFAULT_TAG_PATTERN
    # A name out of the file is a plain string: the enum's values are what it accepts.
    required: tuple[Annotated[SignalName, Strict(False)], ...] = (
        SignalName.RELEASE,
        SignalName.FEATURE,
        SignalName.IMAGE,
    )
    max_candidates: int = Field(default=3, ge=1, le=50)
    # Optional only for a watch that rests on its pull requests: see _evidence_rule.
    feature: FeatureConfig | None = None
    image: ImageConfig = ImageConfig()
    changelog: ChangelogConfig = ChangelogConfig()
    issues: IssuesConfig = IssuesConfig()
    pulls: PullsConfig | None = None
    chart: ChartConfig | None = None
    notify: WatchNotifyConfig = WatchNotifyConfig()

    @field_validator("tag_pattern")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        if "version" not in compiled.groupindex:
            raise ValueError("needs a named group (?P<version>...) that captures the version")
        return value

    @field_validator("required")
    @classmethod
    def _release_required(cls, value: tuple[SignalName, ...]) -> tuple[SignalName, ...]:
        if SignalName.RELEASE not in value:
            raise ValueError("must include 'release': a verdict always names a release")
        twice = sorted({name.value for name in value if value.count(name) > 1})
        if twice:
            raise ValueError(f"lists {', '.join(map(repr, twice))} more than once")
        return value

    @model_validator(mode="before")
    @classmethod
    def _default_required(cls, data: Any) -> Any:
        # Unless listed, `image` is required only when there is an image to check, and the
        # evidence of the feature is the code marker, or the pull requests without one.
        if isinstance(data, dict) and "required" not in data:
            image = data.get("image")
            references = image.get("references") if isinstance(image, dict) else None
            has_image = bool(references) or data.get("chart") is not None
            evidence = "pulls" if "feature" not in data and "pulls" in data else "feature"
            data = {**data, "required": ("release", evidence, "image")[: 3 if has_image else 2]}
        return data

    @model_validator(mode="after")
    def _evidence_rule(self) -> Self:
        # Something must show the feature: a code marker, or (required) pull requests.
        if self.feature is None and SignalName.PULLS not in self.required:
            raise ValueError(
                "has no [watch.feature]: set one (the code marker that shows the feature), "
                "or rest the watch on its pull requests: a [watch.pulls] table and "
                "'pulls' in required"
            )
        if self.feature is None and SignalName.FEATURE in self.required:
            raise ValueError(
                "required lists 'feature' but there is no [watch.feature]: add one, "
                "or remove 'feature' from required"
            )
        return self

    @model_validator(mode="after")
    def _required_can_be_checked(self) -> Self:
        # A required signal with nothing to check would keep the watch pending forever.
        pulls = self.pulls
        nothing = {
            SignalName.IMAGE: not self.image.references and self.chart is None,
            SignalName.ISSUE: not self.issues.numbers,
            SignalName.PULLS: pulls is None
            or not (pulls.numbers or (pulls.closing and self.issues.numbers)),
            SignalName.CHANGELOG: not self.mentions,
        }
        wheres = {
            SignalName.IMAGE: "[watch.image].references or a [watch.chart]",
            SignalName.ISSUE: "[watch.issues].numbers",
            SignalName.PULLS: "[watch.pulls].numbers "
            "(or [watch.issues].numbers with closing = true)",
            SignalName.CHANGELOG: "[watch.changelog].mentions or a [watch.feature]",
        }
        for name in self.required:
            if nothing.get(name):
                where = wheres[name]
                raise ValueError(
                    f"required lists {name.value!r} but there is nothing to check: "
                    f"set {where}, or remove {name.value!r} from required"
                )
        return self

    @property
    def mentions(self) -> tuple[str, ...]:
        """The phrases that count in the changelog: ``mentions``, else the feature markers."""
        if self.changelog.mentions:
            return self.changelog.mentions
        return self.feature.all_markers if self.feature else ()

    @property
    def tag_regex(self) -> re.Pattern[str]:
        """The compiled tag pattern."""
        return re.compile(self.tag_pattern)


INSTANCE_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
DEFAULT_INSTANCE = "watcher"


class Config(_Model):
    """The whole configuration file.

    ``instance`` names this watcher among others on the same repositories and machine:
    its dashboard issue's marker and its default database file carry it, so two configs
    never adopt each other's dashboard or share state by accident. Unset, it is the config
    file's name without its suffix (``platform.toml`` -> ``platform``), and ``watcher``
    for the built-in default.
    """

    instance: str = Field(default=DEFAULT_INSTANCE, pattern=INSTANCE_PATTERN)
    github: GitHubConfig = GitHubConfig()
    database: DatabaseConfig = DatabaseConfig()
    registries: dict[str, str] = Field(default_factory=dict)
    notify: NotifyConfig = NotifyConfig()
    daemon: DaemonConfig = DaemonConfig()
    watch: tuple[WatchConfig, ...] = Field(min_length=1)

    @field_validator("registries")
    @classmethod
    def _registry_urls(cls, value: dict[str, str]) -> dict[str, str]:
        return {host: _http_url(url) for host, url in value.items()}

    @field_validator("watch")
    @classmethod
    def _unique_ids(cls, value: tuple[WatchConfig, ...]) -> tuple[WatchConfig, ...]:
        seen: set[str] = set()
        for w in value:
            if w.id in seen:
                raise ValueError(f"watch id {w.id!r} is used twice")
            seen.add(w.id)
        return value

    def select(self, ids: tuple[str, ...]) -> tuple[WatchConfig, ...]:
        """The watches named (all when none is), or a ConfigError naming the unknown one."""
        if not ids:
            return self.watch
        known = {w.id: w for w in self.watch}
        for wanted in ids:
            if wanted not in known:
                raise ConfigError(
                    f"no watch named {wanted!r}",
                    hint=f"known watches: {', '.join(known)}",
                )
        return tuple(known[i] for i in ids)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def default_config_text() -> str:
    """The built-in default configuration (the headscale peer-relay watch)."""
    return resources.files("watcher").joinpath("default_config.toml").read_text("utf-8")


def load_config(path: Path | None) -> Config:
    """Read ``path`` (or the built-in default) and validate it, or raise ConfigError."""
    if path is None:
        return parse_config(default_config_text(), source="<built-in default>")
    hint = "pass an existing file with --config, or omit it for the built-in default"
    text = read_config_text(path, hint)
    return parse_config(text, source=str(path), default_instance=instance_from_path(path))


def read_config_text(path: Path, hint: str) -> str:
    """The config file's text, or a ConfigError naming it (with ``hint`` when unreadable)."""
    try:
        return path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config file ({exc.strerror})", hint=hint
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from exc


def instance_from_path(path: Path) -> str:
    """The instance name a config file gets when it sets none: its stem, made a valid name."""
    name = re.sub(r"[^a-z0-9._-]+", "-", path.stem.lower()).strip("-._")[:63]
    return name or DEFAULT_INSTANCE


def parse_config(text: str, source: str, default_instance: str = DEFAULT_INSTANCE) -> Config:
    """Validate TOML text; every problem is one line naming ``source`` and the key path."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
    lines = [f"{key_path(loc)}: secrets are not read from the file" for loc in _secrets(raw, ())]
    raw.setdefault("instance", default_instance)
    try:
        config = Config.model_validate(_arrays_as_tuples(raw))
    except ValidationError as exc:
        lines += problem_lines(_without_knock_on(exc.errors()), Config)
    if lines:
        hint = (
            "set GITHUB_TOKEN (or GITHUB_TOKEN_FILE) in the environment instead"
            if any(line.endswith("secrets are not read from the file") for line in lines)
            else None
        )
        raise ConfigError("\n".join(f"{source}: {line}" for line in lines), hint=hint)
    return config


def _arrays_as_tuples(node: Any) -> Any:
    # Strict validation takes a TOML array for a tuple only as a tuple.
    if isinstance(node, dict):
        return {key: _arrays_as_tuples(value) for key, value in node.items()}
    if isinstance(node, list):
        return tuple(_arrays_as_tuples(item) for item in node)
    return node


def _without_knock_on(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """Drop errors that only follow from others.

    When a ``[[watch]]`` table is invalid, pydantic also says the ``watch`` array is too
    short (the bad item does not count); that line repeats the real problem below it.
    """
    deeper = [tuple(e["loc"]) for e in errors]
    return [
        error
        for error in errors
        if not (
            error["type"] == "too_short"
            and any(
                len(loc) > len(error["loc"]) and loc[: len(error["loc"])] == tuple(error["loc"])
                for loc in deeper
            )
        )
    ]


def _secrets(node: Any, loc: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if str(key).lower() in SECRET_KEYS:
                yield (*loc, key)
            else:
                yield from _secrets(value, (*loc, key))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _secrets(item, (*loc, i))


def default_database_url(
    instance: str = DEFAULT_INSTANCE, environ: Mapping[str, str] | None = None
) -> str:
    """SQLite under ``$XDG_STATE_HOME/watcher/<instance>.db``: one file per instance.

    Only the default: ``--db``, then ``WATCHER_DB_URL``, then ``[database].url`` come
    first (the CLI applies that order, README «Configuration»).
    """
    return f"sqlite:///{state_directory(environ) / f'{instance}.db'}"


def state_directory(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_STATE_HOME/watcher`` (default ``~/.local/state/watcher``): the default DB,
    crash reports."""
    env = os.environ if environ is None else environ
    return Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "watcher"
