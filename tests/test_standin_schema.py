"""Every JSON shape the stand-in serves, checked against GitHub's published description.

That includes the write side: each answer to a write (git data, refs, merges, pull
requests, issues, comments, labels, app installations and tokens) is validated too.

The models come from githubkit-schemas, generated from GitHub's OpenAPI description,
one module per REST API version. Validation is strict and rejects unknown fields, and
the negative tests prove the check can fail.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth

from tests.standin import github_shapes, schema
from tests.standin.chart import CHART_TOKEN, load_chart
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


# -- the write side ---------------------------------------------------------------------

CHART = "kapernikov/headscale-helm"
WRITE_MODELS = {
    "Blob",
    "BranchWithProtection",
    "Commit",
    "CommitComparison",
    "GitCommit",
    "GitRef",
    "GitTree",
    "Installation",
    "InstallationToken",
    "Issue",
    "IssueComment",
    "Label",
    "PullRequest",
    "PullRequestMergeResult",
    "PullRequestSimple",
    "ShortBlob",
}


@pytest.fixture(scope="module")
def app_keys() -> tuple[str, str]:
    """An RSA key pair (private PEM, public PEM) generated for this module only."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


class Writer:
    """Sends requests as the chart's push token and checks each answer against a model."""

    def __init__(self, s: StandIn, version: str) -> None:
        """Talk to ``s`` asking for API ``version``."""
        self.s = s
        self.version = version
        self.checked: set[str] = set()

    def call(
        self,
        method: str,
        path: str,
        name: str,
        body: object = None,
        status: int = 200,
        many: bool = False,
        token: str = CHART_TOKEN,
    ) -> Any:
        """Send, assert the status, validate against model ``name``, return the JSON."""
        headers = {"authorization": f"Bearer {token}", "x-github-api-version": self.version}
        response = httpx.request(
            method, f"{self.s.api_url}{path}", json=body, headers=headers, timeout=10
        )
        assert response.status_code == status, (path, response.text)
        model = schema.model(self.version, name)
        if many:
            assert schema.check_list(model, response.content)
        else:
            schema.check(model, response.content)
        self.checked.add(name)
        return response.json()


@pytest.mark.parametrize("version", VERSIONS)
def test_write_responses_match_github_description(version: str, app_keys: tuple[str, str]) -> None:
    with StandIn() as s:
        load_chart(s, CHART, prepared="clean")
        w = Writer(s, version)
        repo = f"/repos/{CHART}"
        main = w.call("GET", f"{repo}/branches/main", "BranchWithProtection")["commit"]["sha"]
        blob = w.call("POST", f"{repo}/git/blobs", "ShortBlob", {"content": "x"}, 201)
        w.call("GET", f"{repo}/git/blobs/{blob['sha']}", "Blob")
        base_tree = w.call("GET", f"{repo}/git/commits/{main}", "GitCommit")["tree"]["sha"]
        entry = {"path": "a/b.txt", "mode": "100644", "type": "blob", "sha": blob["sha"]}
        tree = w.call(
            "POST", f"{repo}/git/trees", "GitTree", {"base_tree": base_tree, "tree": [entry]}, 201
        )
        w.call("GET", f"{repo}/git/trees/{tree['sha']}?recursive=1", "GitTree")
        commit = w.call(
            "POST",
            f"{repo}/git/commits",
            "GitCommit",
            {"message": "m", "tree": tree["sha"], "parents": [main]},
            201,
        )
        ref = {"ref": "refs/heads/watcher/x", "sha": commit["sha"]}
        w.call("POST", f"{repo}/git/refs", "GitRef", ref, 201)
        w.call("PATCH", f"{repo}/git/refs/heads/watcher/x", "GitRef", {"sha": commit["sha"]})
        w.call("GET", f"{repo}/git/matching-refs/heads/", "GitRef", many=True)
        w.call("GET", f"{repo}/compare/main...watcher/x", "CommitComparison")
        merge = {"base": "watcher/x", "head": "feature/peer-relay"}
        w.call("POST", f"{repo}/merges", "Commit", merge, 201)
        pull = {"title": "Bump", "head": "watcher/x", "base": "main", "body": "b"}
        number = w.call("POST", f"{repo}/pulls", "PullRequest", pull, 201)["number"]
        w.call("PATCH", f"{repo}/pulls/{number}", "PullRequest", {"title": "Bump 2"})
        w.call("POST", f"{repo}/issues/{number}/labels", "Label", ["deps"], many=True)
        w.call("POST", f"{repo}/issues/{number}/assignees", "Issue", {"assignees": ["a"]}, 201)
        reviewers = {"reviewers": ["r"]}
        w.call(
            "POST",
            f"{repo}/pulls/{number}/requested_reviewers",
            "PullRequestSimple",
            reviewers,
            201,
        )
        w.call("GET", f"{repo}/pulls?state=all", "PullRequestSimple", many=True)
        w.call("PUT", f"{repo}/pulls/{number}/merge", "PullRequestMergeResult", {})
        w.call("GET", f"{repo}/pulls/{number}", "PullRequest")
        issue = {"title": "Dashboard", "body": "x", "labels": ["watcher"], "assignees": ["a"]}
        n = w.call("POST", f"{repo}/issues", "Issue", issue, 201)["number"]
        w.call("PATCH", f"{repo}/issues/{n}", "Issue", {"body": "y", "state": "closed"})
        w.call("GET", f"{repo}/issues?state=all", "Issue", many=True)
        comment = w.call("POST", f"{repo}/issues/{n}/comments", "IssueComment", {"body": "c"}, 201)
        w.call("PATCH", f"{repo}/issues/comments/{comment['id']}", "IssueComment", {"body": "d"})
        w.call("GET", f"{repo}/issues/{n}/comments", "IssueComment", many=True)
        w.call("GET", f"{repo}/labels/watcher", "Label")
        w.call("POST", f"{repo}/labels", "Label", {"name": "new", "color": "ededed"}, 201)
        private, public = app_keys
        s.github.add_app(99, public, installation_id=5, repos=[CHART])
        jwt_token = Auth.AppAuth(99, private).create_jwt()
        w.call("GET", "/app/installations/5", "Installation", token=jwt_token)
        w.call("GET", f"{repo}/installation", "Installation", token=jwt_token)
        w.call(
            "POST",
            "/app/installations/5/access_tokens",
            "InstallationToken",
            {},
            201,
            token=jwt_token,
        )
        assert w.checked == WRITE_MODELS


# -- pull request files (`watcher init` reads them) ---------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_pull_request_files_match_and_say_what_changed(standin: StandIn, version: str) -> None:
    """Every kind of change in one merged PR: the shapes are GitHub's, the patches git's."""
    from tests.standin.history import HistoryBuilder, at

    b = HistoryBuilder(standin.github, "example/files")
    old = {"keep.go": "package a\n\nconst A = 1\n", "gone.txt": "x\n", "move.md": "same\n" * 9}
    b.commit("2026-01-01T00:00:00Z", "start", old)
    b.branch("topic", "main")
    change = {
        "keep.go": "package a\n\nconst A = 1\nconst B = 2\n",
        "gone.txt": None,
        "move.md": None,
        "moved.md": "same\n" * 9,
        "new.go": 'package a\n\nvar Flag = "--x"\n',
    }
    b.commit("2026-01-02T00:00:00Z", "topic", change, "topic")
    pull = standin.github.open_pull("example/files", "topic", "main", "Topic")
    b.commit("2026-01-03T00:00:00Z", "later on main", {"other.txt": "y\n"})
    standin.github.merge_pull("example/files", pull.number, when=at("2026-01-04T00:00:00Z"))
    reply = httpx.get(
        f"{standin.api_url}/repos/example/files/pulls/{pull.number}/files",
        headers={"x-github-api-version": version},
    )
    assert reply.status_code == 200
    assert schema.check_list(schema.model(version, "DiffEntry"), reply.content)
    files = {f["filename"]: f for f in reply.json()}
    assert sorted(files) == ["gone.txt", "keep.go", "moved.md", "new.go"]  # not other.txt
    assert [files[n]["status"] for n in sorted(files)] == [
        "removed",
        "modified",
        "renamed",
        "added",
    ]
    assert files["moved.md"]["previous_filename"] == "move.md"
    assert files["keep.go"]["patch"].endswith(" const A = 1\n+const B = 2")
    assert (files["keep.go"]["additions"], files["keep.go"]["deletions"]) == (1, 0)
    assert files["new.go"]["patch"].splitlines()[1:] == [
        f"+{line}" for line in str(change["new.go"]).splitlines()
    ]
