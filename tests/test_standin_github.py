"""The GitHub side of the stand-in on the headscale-like history: listings and content."""

from __future__ import annotations

import base64
import io
import tarfile
from collections.abc import Iterator

import httpx
import pytest

from tests.standin.headscale import (
    FEATURE_FILE,
    FEATURE_ISSUE,
    GRANTS_ISSUE,
    GRANTS_PR,
    MARKER,
    PUSH_TOKEN,
    READ_TOKEN,
    REPO,
    load_headscale,
)
from tests.standin.server import StandIn


@pytest.fixture(scope="module")
def hs() -> Iterator[StandIn]:
    """One read-only stand-in at stage ``waiting`` for the whole module (saves git time)."""
    with StandIn() as server:
        load_headscale(server, "waiting")
        yield server


@pytest.fixture
def api(hs: StandIn) -> Iterator[httpx.Client]:
    """An anonymous client rooted at the repository."""
    with httpx.Client(base_url=f"{hs.api_url}/repos/{REPO}") as c:
        yield c


def auth(token: str) -> dict[str, str]:
    """An Authorization header for ``token``."""
    return {"authorization": f"token {token}"}


def test_releases_pagination_link_headers(api: httpx.Client) -> None:
    everything = api.get("/releases", params={"per_page": 100}).json()
    first = api.get("/releases", params={"per_page": 5})
    links = first.links
    assert set(links) == {"next", "last"}
    assert links["next"]["url"].endswith("/releases?per_page=5&page=2")
    last_page = int(httpx.URL(links["last"]["url"]).params["page"])
    assert last_page == (len(everything) + 4) // 5
    middle = api.get("/releases", params={"per_page": 5, "page": 2})
    assert set(middle.links) == {"prev", "next", "last", "first"}
    final = api.get("/releases", params={"per_page": 5, "page": last_page})
    assert "next" not in final.links
    pages = [api.get("/releases", params={"per_page": 5, "page": p}).json() for p in range(1, 5)]
    assert [r["tag_name"] for page in pages for r in page] == [r["tag_name"] for r in everything]


def test_releases_newest_created_first_and_latest_is_by_date(api: httpx.Client) -> None:
    releases = api.get("/releases", params={"per_page": 100}).json()
    created = [r["created_at"] for r in releases]
    assert created == sorted(created, reverse=True)
    # v0.27.2 was cut from a release branch after v0.28.0: GitHub calls it "latest".
    assert api.get("/releases/latest").json()["tag_name"] == "v0.27.2"
    by_tag = api.get("/releases/tags/v0.23.0-beta.4").json()
    assert by_tag["prerelease"] is True
    assert api.get(f"/releases/{by_tag['id']}").json()["tag_name"] == "v0.23.0-beta.4"
    edited = api.get("/releases/tags/v0.25.0").json()
    assert edited["prerelease"] is False
    assert edited["updated_at"] > edited["published_at"]


def test_draft_visible_only_with_push_access(api: httpx.Client) -> None:
    for headers in ({}, auth(READ_TOKEN)):
        tags = [r["tag_name"] for r in api.get("/releases", headers=headers).json()]
        assert "v0.29.0" not in tags
        assert api.get("/releases/tags/v0.29.0", headers=headers).status_code == 404
    drafts = [r for r in api.get("/releases", headers=auth(PUSH_TOKEN)).json() if r["draft"]]
    assert [d["tag_name"] for d in drafts] == ["v0.29.0"]
    assert drafts[0]["published_at"] is None
    # A draft has no tag yet.
    assert api.get("/git/ref/tags/v0.29.0").status_code == 404


def test_tags_refs_and_commits(api: httpx.Client) -> None:
    tags = {t["name"]: t for t in api.get("/tags", params={"per_page": 100}).json()}
    for odd in ("backup/main-2024-10", "tmp-grants-experiment", "v0.23-fix", "upstream/v1.0"):
        assert odd in tags
    sha = tags["v0.28.0"]["commit"]["sha"]
    assert tags["v0.28.0"]["tarball_url"].endswith("/tarball/refs/tags/v0.28.0")
    annotated = api.get("/git/ref/tags/v0.28.0").json()
    assert annotated["object"]["type"] == "tag"
    tag_object = api.get(f"/git/tags/{annotated['object']['sha']}").json()
    assert tag_object["object"] == {
        "sha": sha,
        "type": "commit",
        "url": tag_object["object"]["url"],
    }
    light = api.get("/git/ref/tags/v0.23-fix").json()
    assert light["object"]["type"] == "commit"
    assert api.get("/commits/v0.28.0").json()["sha"] == sha
    assert api.get(f"/commits/{sha}").json()["commit"]["committer"]["date"] == (
        "2025-10-15T10:00:00Z"
    )
    assert api.get("/commits/no-such-ref").status_code == 422


def test_contents_json_raw_and_directories(api: httpx.Client) -> None:
    at_beta = api.get(f"/contents/{FEATURE_FILE}", params={"ref": "v0.29.0-beta.1"}).json()
    assert at_beta["encoding"] == "base64"
    assert MARKER in base64.b64decode(at_beta["content"]).decode()
    raw = api.get(
        f"/contents/{FEATURE_FILE}",
        params={"ref": "v0.28.0"},
        headers={"accept": "application/vnd.github.raw+json"},
    )
    assert raw.headers["content-type"] == "application/vnd.github.raw"
    assert raw.text.startswith("package v2") and MARKER not in raw.text
    listing = api.get("/contents/hscontrol/policy/v2", params={"ref": "v0.28.0"}).json()
    assert {e["name"] for e in listing} == {"types.go", "types_test.go"}
    assert api.get("/contents/nope.txt").status_code == 404
    assert api.get("/contents/CHANGELOG.md", params={"ref": "no-such"}).status_code == 404


def test_tarball_redirects_to_a_real_git_archive(hs: StandIn, api: httpx.Client) -> None:
    redirect = api.get("/tarball/v0.29.0-beta.1")
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"{hs.url}/codeload/{REPO}/legacy.tar.gz/")
    sha = api.get("/commits/v0.29.0-beta.1").json()["sha"]
    download = httpx.get(location)
    assert download.headers["transfer-encoding"] == "chunked"
    with tarfile.open(fileobj=io.BytesIO(download.content), mode="r:gz") as tar:
        assert tar.pax_headers["comment"] == sha
        prefix = f"juanfont-headscale-{sha[:7]}/"
        member = tar.extractfile(prefix + FEATURE_FILE)
        assert member is not None and MARKER.encode() in member.read()
    assert api.get("/tarball/no-such-tag").status_code == 404


def test_issues_and_timeline(api: httpx.Client) -> None:
    feature = api.get(f"/issues/{FEATURE_ISSUE}").json()
    assert (feature["state"], feature["state_reason"]) == ("open", None)
    assert "pull_request" not in feature
    assert [label["name"] for label in feature["labels"]] == ["enhancement"]
    grants = api.get(f"/issues/{GRANTS_ISSUE}").json()
    assert (grants["state"], grants["state_reason"]) == ("closed", "completed")
    pr = api.get(f"/issues/{GRANTS_PR}").json()
    assert "pull_request" in pr and pr["pull_request"]["merged_at"]
    events = api.get(f"/issues/{GRANTS_ISSUE}/timeline").json()
    kinds = [e["event"] for e in events]
    assert kinds == ["cross-referenced", "connected", "referenced", "closed"]
    source = events[0]["source"]["issue"]
    assert source["number"] == GRANTS_PR and "pull_request" in source
    closed = events[-1]
    feature_sha = api.get(f"/commits/{closed['commit_id']}").json()["sha"]
    assert feature_sha == closed["commit_id"]
    other = api.get(f"/issues/{FEATURE_ISSUE}/timeline").json()
    assert other[0]["source"]["issue"]["repository_url"].endswith("/kapernikov/headscale-helm")
    assert api.get("/issues/1").status_code == 404
