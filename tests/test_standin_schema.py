"""Every JSON shape the stand-in serves, checked against GitHub's published description.

The models come from githubkit-schemas, generated from GitHub's OpenAPI description,
one module per REST API version. Validation is strict and rejects unknown fields, and
the negative tests prove the check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.standin import github_shapes, schema
from tests.standin.headscale import (
    FEATURE_ISSUE,
    GRANTS_ISSUE,
    GRANTS_PR,
    PUSH_TOKEN,
    REPO,
    load_headscale,
)
from tests.standin.server import StandIn

VERSIONS = sorted(schema.MODELS)
# (model name, path below the repository, is the body a list?)
ENDPOINTS = [
    ("FullRepository", "", False),
    ("Release", "/releases", True),
    ("Release", "/releases/latest", False),
    ("Release", "/releases/tags/v0.29.0", False),
    ("Tag", "/tags", True),
    ("GitRef", "/git/ref/tags/v0.29.0", False),
    ("GitRef", "/git/ref/tags/v0.23-fix", False),
    ("Commit", "/commits/v0.29.0", False),
    ("ContentFile", "/contents/CHANGELOG.md?ref=v0.29.0", False),
    ("ContentDirectoryItems", "/contents/hscontrol", True),
    ("Issue", f"/issues/{FEATURE_ISSUE}", False),
    ("Issue", f"/issues/{GRANTS_ISSUE}", False),
    ("Issue", f"/issues/{GRANTS_PR}", False),
]


@pytest.fixture(scope="module")
def full() -> Iterator[StandIn]:
    """A stand-in at the last stage, so every kind of data exists."""
    with StandIn() as server:
        load_headscale(server, "patch")
        yield server


def get(s: StandIn, path: str, version: str) -> httpx.Response:
    """GET an API path as a push-token client asking for API ``version``."""
    headers = {"authorization": f"token {PUSH_TOKEN}", "x-github-api-version": version}
    response = httpx.get(s.api_url + path, headers=headers)
    assert response.status_code == 200, path
    return response


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("name", "path", "many"), ENDPOINTS)
def test_endpoint_matches_github_description(
    full: StandIn, version: str, name: str, path: str, many: bool
) -> None:
    body = get(full, f"/repos/{REPO}{path}", version).content
    model = schema.model(version, name)
    if many:
        assert schema.check_list(model, body)
    else:
        schema.check(model, body)


@pytest.mark.parametrize("version", VERSIONS)
def test_rate_limit_git_tag_and_timeline_match(full: StandIn, version: str) -> None:
    schema.check(
        schema.model(version, "RateLimitOverview"), get(full, "/rate_limit", version).content
    )
    ref = get(full, f"/repos/{REPO}/git/ref/tags/v0.29.0", version).json()
    tag = get(full, f"/repos/{REPO}/git/tags/{ref['object']['sha']}", version).content
    schema.check(schema.model(version, "GitTag"), tag)
    for number in (FEATURE_ISSUE, GRANTS_ISSUE):
        for event in get(full, f"/repos/{REPO}/issues/{number}/timeline", version).json():
            schema.check(schema.timeline_model(version, event["event"]), json.dumps(event))


def test_check_fails_on_wrong_type_unknown_or_missing_field(full: StandIn) -> None:
    version = VERSIONS[0]
    release = get(full, f"/repos/{REPO}/releases/latest", version).json()
    model = schema.model(version, "Release")
    wrong_type = {**release, "id": str(release["id"])}
    unknown = {**release, "author": {**release["author"], "karma": 3}}
    missing = {k: v for k, v in release.items() if k != "tag_name"}
    for broken in (wrong_type, unknown, missing):
        with pytest.raises(schema.SchemaMismatch):
            schema.check(model, json.dumps(broken))


def test_check_catches_a_drifting_stand_in(full: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    real = github_shapes.release

    def drifted(*args: object, **kwargs: object) -> github_shapes.Json:
        data = real(*args, **kwargs)  # type: ignore[arg-type]
        data["published_at"] = 1769601600  # epoch seconds: not GitHub's date-time string
        return data

    monkeypatch.setattr(github_shapes, "release", drifted)
    body = get(full, f"/repos/{REPO}/releases/latest", VERSIONS[0]).content
    with pytest.raises(schema.SchemaMismatch, match="published_at"):
        schema.check(schema.model(VERSIONS[0], "Release"), body)
