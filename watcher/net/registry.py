"""OCI distribution API reads: does a manifest exist for an image reference?

Anonymous pulls on Docker Hub and ghcr.io both use the bearer-token challenge of the
distribution spec (https://distribution.github.io/distribution/spec/auth/token/): the
first request answers 401 with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``,
we fetch a token from the realm and repeat the request with it. Manifests are asked for
with HEAD and Accept headers covering OCI indexes and Docker manifest lists, so a
multi-arch image is found without downloading it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from watcher.core.errors import (
    AuthError,
    NotFoundError,
    PayloadError,
    RateLimitedError,
)
from watcher.core.image_ref import DOCKER_HUB, ImageRef
from watcher.net.http import HttpClient, decode_json, next_link

MANIFEST_TYPES = frozenset(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
MANIFEST_ACCEPT = ", ".join(sorted(MANIFEST_TYPES))
# A digest as the OCI image spec defines it: algorithm ":" encoded
# (https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests).
_DIGEST = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
DEFAULT_REGISTRIES = {DOCKER_HUB: "https://registry-1.docker.io", "ghcr.io": "https://ghcr.io"}
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class TokenCache:
    """Anonymous pull tokens by (registry, scope) until shortly before they expire.

    Shared by every RegistryReader of the process: the daemon opens new readers each
    cycle, and without this each cycle would start every registry check with a 401 and
    a token request (Docker Hub's tokens live 300 s; the spec's default is 60 s).
    """

    DEFAULT_LIFETIME = 60.0
    LONGEST_LIFETIME = 86_400.0
    MARGIN = 10.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str], tuple[str, float]] = {}

    def get(self, registry: str, scope: str) -> str | None:
        """A token still valid for ``scope`` on ``registry``, if one is known."""
        found = self._tokens.get((registry, scope))
        if found is None or found[1] <= self._clock():
            return None
        return found[0]

    def put(self, registry: str, scope: str, token: str, lifetime: object) -> None:
        """Remember ``token`` for ``lifetime`` seconds (as the token endpoint said)."""
        seconds = self.DEFAULT_LIFETIME
        # JSON from the network: a bool, a 400-digit integer, NaN or 1e400 is no lifetime.
        if (
            isinstance(lifetime, int | float)
            and not isinstance(lifetime, bool)
            and 0 <= lifetime <= self.LONGEST_LIFETIME
        ):
            seconds = float(lifetime)
        self._tokens[(registry, scope)] = (token, self._clock() + max(seconds - self.MARGIN, 0.0))


_TOKENS = TokenCache()


@dataclass(frozen=True)
class ManifestInfo:
    """What a HEAD on a present manifest tells."""

    digest: str | None
    media_type: str | None


class RegistryReader:
    """Anonymous manifest lookups against configured registry base URLs.

    A reader lives for one run, like its HTTP client: each manifest is asked once in
    it, so the watches awaiting one image cost one probe a cycle, not one each.
    """

    def __init__(self, http: HttpClient, registries: dict[str, str]) -> None:
        self.http = http
        self.registries = {**DEFAULT_REGISTRIES, **registries}
        self._tokens = _TOKENS
        self._manifests: dict[str, ManifestInfo | None] = {}

    def base_url(self, host: str) -> str:
        """The API base for a registry host (configurable, e.g. for a mirror or the stand-in)."""
        return self.registries.get(host, f"https://{host}").rstrip("/")

    def manifest(self, ref: ImageRef) -> ManifestInfo | None:
        """The manifest's digest when ``ref`` exists, None when the registry says unknown.

        Asked once per run: later (and concurrent) askers get the first one's answer.
        """
        url = f"{self.base_url(ref.host)}/v2/{ref.name}/manifests/{ref.tag}"
        with self.http.flight(f"manifest:{url}"):
            if url not in self._manifests:
                reply = self._authorized("HEAD", url, ref, {"Accept": MANIFEST_ACCEPT})
                found = (
                    None if reply.status_code == 404 else _checked_manifest(reply, ref.host, url)
                )
                self._manifests[url] = found
            return self._manifests[url]

    def tags(self, ref: ImageRef, limit: int = 10_000, page_size: int = 1000) -> list[str]:
        """Every tag of ``ref``'s repository (``/tags/list``, following Link pagination).

        The ``next`` link may be relative or absolute (the distribution spec allows both).
        """
        base = self.base_url(ref.host)
        url: str | None = f"{base}/v2/{ref.name}/tags/list?n={page_size}"
        found: list[str] = []
        while url and len(found) < limit:
            reply = self._authorized("GET", url, ref, {"Accept": "application/json"})
            if reply.status_code == 404:
                raise NotFoundError(f"{url}: repository {ref.host}/{ref.name} not found")
            doc = decode_json(reply.content, url)
            tags = doc.get("tags") if isinstance(doc, dict) else None
            if not isinstance(tags, list | None):
                raise PayloadError(f"{url}: the tag list's tags is no list")
            found.extend(str(t) for t in tags or [])
            url = next_link(reply.headers, url)
        return found

    def _authorized(
        self, method: str, url: str, ref: ImageRef, headers: dict[str, str]
    ) -> httpx.Response:
        """A request with the anonymous pull token, fetched on the first 401 challenge."""
        scope = f"repository:{ref.name}:pull"
        token = self._tokens.get(self.base_url(ref.host), scope)
        if token:
            headers = {**headers, "Authorization": f"Bearer {token}"}
        try:
            # A 401 here is the expected challenge (no token yet, or it expired).
            reply = self.http.request(
                method, url, headers=headers, not_found_ok=True, challenge=True
            )
            if reply.status_code != 401:
                return reply
            token = self._token(ref.host, url, reply.headers.get("www-authenticate", ""), scope)
            headers = {**headers, "Authorization": f"Bearer {token}"}
            # With the token just issued, a 401 is a real refusal and counted as one.
            return self.http.request(method, url, headers=headers, not_found_ok=True)
        except RateLimitedError as exc:
            raise RateLimitedError(exc.message, exc.reset_at, hint=_limit_hint(ref.host)) from exc
        except AuthError as exc:
            raise AuthError(
                f"{url}: the registry refused the anonymous token ({exc.message})",
                hint="the image may be private; watcher only reads public images",
            ) from exc

    def _token(self, host: str, url: str, challenge: str, scope: str) -> str:
        if not challenge.lower().startswith("bearer"):
            raise AuthError(
                f"{url}: 401 without a Bearer challenge "
                f"({challenge[:80] or 'no WWW-Authenticate'})",
                hint="the registry needs credentials watcher does not have",
            )
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.get("realm")
        if not realm:
            raise PayloadError(f"{url}: Bearer challenge without a realm: {challenge[:120]}")
        query = {"scope": params.get("scope", scope)}
        if "service" in params:
            query["service"] = params["service"]
        reply = self.http.request("GET", realm, params=query)
        data = decode_json(reply.content, realm)
        data = data if isinstance(data, dict) else {}
        token = data.get("token") or data.get("access_token")
        if not isinstance(token, str) or not token:
            raise PayloadError(f"{realm}: token response has no token")
        lifetime = data.get("expires_in")
        self._tokens.put(self.base_url(host), scope, token, lifetime)
        return token


def _checked_manifest(reply: httpx.Response, host: str, url: str) -> ManifestInfo:
    """What a manifest HEAD proved, or PayloadError when the answer is no manifest.

    Only a manifest media type and a digest prove an image exists: a captive portal or
    a misrouted proxy answers ``200 text/html`` to anything, and counting that would
    open a pull request for images that cannot be pulled.
    """
    media_type = reply.headers.get("content-type", "").split(";")[0].strip().lower()
    digest = reply.headers.get("docker-content-digest", "").strip()
    if reply.status_code != 200 or media_type not in MANIFEST_TYPES:
        problem = f"HTTP {reply.status_code} with content type {media_type or 'none'!r}"
    elif _DIGEST.fullmatch(digest) is None:
        problem = "no valid Docker-Content-Digest header"
    else:
        return ManifestInfo(digest=digest, media_type=media_type)
    raise PayloadError(
        f"registry {host}: {url}: not a manifest answer ({problem[:120]})",
        hint="a proxy or captive portal may be answering for the registry; check the "
        f'network, or point [registries] "{host}" at a registry that answers',
    )


def _limit_hint(host: str) -> str:
    """What helps when registry ``host`` rate-limits us (a GitHub token does not)."""
    return (
        f"the registry {host} limits anonymous requests (Docker Hub counts per IP address); "
        f'wait until the reset time, or point [registries] "{host}" at a mirror'
    )
