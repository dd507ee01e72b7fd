"""The stand-in's write side, driven by unmodified PyGithub as watcher drives it.

Git data round trips (real SHAs), pull requests and their GitHub-style 422s, ref
updates (fast-forward or not), the merge endpoint's conflict, issues and comments,
GitHub App installation tokens, access rules, the secondary limit, and a restart that
keeps every piece of state.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import github
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from github import Auth, GithubException, InputGitAuthor, InputGitTreeElement
from github.Repository import Repository

from tests.standin.chart import CHART_TOKEN, PREPARED_BRANCH, chart_file, load_chart
from tests.standin.server import StandIn

CHART = "kapernikov/headscale-helm"
VALUES = "headscale/values.yaml"
AUTHOR = InputGitAuthor("watcher", "watcher@users.noreply.github.com", "2026-01-28T12:00:00Z")


@pytest.fixture
def chart(standin: StandIn) -> StandIn:
    """The stand-in with the chart repository and its peer-relay branch (clean variant)."""
    load_chart(standin, CHART, prepared="clean")
    return standin


def client(s: StandIn, auth: Auth.Auth | None = None, lazy: bool = False) -> github.Github:
    """PyGithub on the stand-in without its pacing (these tests check behaviour, not timing)."""
    return github.Github(
        base_url=s.api_url,
        auth=auth if auth is not None else Auth.Token(CHART_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=None,
        retry=None,
        lazy=lazy,
    )


def bump(repo: Repository, branch: str, tag: str = "v0.29.0") -> str:
    """Commit an image-tag bump of main onto a new ``branch`` (blobs, tree, commit, ref)."""
    base = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    text = chart_file("kapernikov", "values.yaml").replace('"v0.28.0"', f'"{tag}"')
    blob = repo.create_git_blob(text, "utf-8")
    tree = repo.create_git_tree(
        [InputGitTreeElement(VALUES, "100644", "blob", sha=blob.sha)], base_tree=base.tree
    )
    commit = repo.create_git_commit(f"Bump to {tag}", tree, [base], AUTHOR, AUTHOR)
    repo.create_git_ref(f"refs/heads/{branch}", commit.sha)
    return commit.sha


def test_git_data_round_trip_gives_gits_own_shas(chart: StandIn) -> None:
    repo = client(chart).get_repo(CHART)
    blob = repo.create_git_blob("aGVsbG8K", "base64")
    assert blob.sha == hashlib.sha1(b"blob 6\0hello\n").hexdigest()
    assert repo.get_git_blob(blob.sha).content.replace("\n", "") == "aGVsbG8K"
    base = repo.get_git_commit(repo.get_branch("main").commit.sha)
    tree = repo.create_git_tree(
        [
            InputGitTreeElement("docs/new/deep.txt", "100644", "blob", sha=blob.sha),
            InputGitTreeElement("headscale/README.md", "100644", "blob", sha=None),
            InputGitTreeElement("notes.txt", "100644", "blob", content="notes\n"),
        ],
        base_tree=base.tree,
    )
    paths = {e.path for e in repo.get_git_tree(tree.sha, recursive=True).tree}
    assert {"docs/new/deep.txt", "notes.txt", "headscale/values.yaml"} <= paths
    assert "headscale/README.md" not in paths
    commit = repo.create_git_commit("msg", tree, [base], AUTHOR, AUTHOR)
    git = chart.github.repo(CHART).git
    assert git.object_type(commit.sha) == "commit"
    assert git.commit_info(commit.sha).author_date.startswith("2026-01-28T12:00:00")
    again = repo.create_git_commit("msg", tree, [base], AUTHOR, AUTHOR)
    assert again.sha == commit.sha  # same content and dates: same SHA (crash-safe re-runs)
    assert repo.get_git_commit(commit.sha).parents[0].sha == base.sha


def test_refs_create_fast_forward_force_and_delete(chart: StandIn) -> None:
    repo = client(chart).get_repo(CHART)
    head = bump(repo, "watcher/headscale")
    with pytest.raises(GithubException) as exists:
        repo.create_git_ref("refs/heads/watcher/headscale", head)
    assert (exists.value.status, exists.value.data["message"]) == (422, "Reference already exists")
    ref = repo.get_git_ref("heads/watcher/headscale")
    main = repo.get_branch("main").commit.sha
    with pytest.raises(GithubException, match="Update is not a fast forward"):
        ref.edit(main)
    with pytest.raises(GithubException, match="Object does not exist"):
        ref.edit("0123456789" * 4, force=True)
    ref.edit(main, force=True)
    ref.edit(head)  # main -> head is a fast forward
    assert repo.get_git_ref("heads/watcher/headscale").object.sha == head
    assert [r.ref for r in repo.get_git_matching_refs("heads/watcher/")] == [
        "refs/heads/watcher/headscale"
    ]
    ref.delete()
    with pytest.raises(GithubException) as gone:
        repo.get_git_ref("heads/watcher/headscale").object  # noqa: B018 (lazy load)
    assert gone.value.status == 404


def test_a_lazy_ref_edits_the_singular_url_which_github_does_not_serve(chart: StandIn) -> None:
    repo = client(chart, lazy=True).get_repo(CHART)
    sha = repo.get_branch("main").commit.sha
    with pytest.raises(GithubException) as error:
        repo.get_git_ref("heads/main").edit(sha)  # PATCH .../git/ref/heads/main
    assert error.value.status == 404


def test_pull_requests_open_duplicate_list_edit_merge(chart: StandIn) -> None:
    repo = client(chart).get_repo(CHART)
    head = bump(repo, "watcher/headscale")
    pr = repo.create_pull(base="main", head="watcher/headscale", title="Bump", body="<!-- m -->")
    assert (pr.head.sha, pr.mergeable, pr.commits, pr.changed_files) == (head, True, 1, 1)
    assert pr.user.login == "watcher-bot"
    with pytest.raises(GithubException) as dup:
        repo.create_pull(base="main", head="kapernikov:watcher/headscale", title="Again")
    assert dup.value.status == 422
    assert dup.value.data["errors"][0]["message"] == (
        "A pull request already exists for kapernikov:watcher/headscale."
    )
    listed = repo.get_pulls(state="all", head="kapernikov:watcher/headscale")
    assert [p.number for p in listed] == [pr.number]
    assert list(repo.get_pulls(state="open", head="kapernikov:other")) == []
    pr.edit(title="Bump headscale to v0.29.0", body="new body")
    pr.add_to_labels("dependencies")
    pr.add_to_assignees("maintainer")
    pr.create_review_request(reviewers=["reviewer"])
    again = repo.get_pull(pr.number)
    assert (again.title, again.body) == ("Bump headscale to v0.29.0", "new body")
    assert [label.name for label in again.labels] == ["dependencies"]
    assert [u.login for u in again.requested_reviewers] == ["reviewer"]
    assert repo.get_issue(pr.number).pull_request is not None
    result = pr.merge()
    assert result.merged
    merged = repo.get_pull(pr.number)
    assert merged.merged and merged.state == "closed" and merged.merge_commit_sha == result.sha
    assert repo.get_branch("main").commit.sha == result.sha


def test_state_helpers_merge_close_and_human_push(chart: StandIn) -> None:
    repo = client(chart).get_repo(CHART)
    bump(repo, "watcher/a")
    first = repo.create_pull(base="main", head="watcher/a", title="A")
    sha = chart.github.push_commit(CHART, "watcher/a", {"extra.txt": "human\n"}, "maintainer")
    assert repo.get_pull(first.number).head.sha == sha
    chart.github.close_pull(CHART, first.number)
    closed = repo.get_pull(first.number)
    assert (closed.state, closed.merged) == ("closed", False)
    bump(repo, "watcher/b", "v0.29.1")
    second = repo.create_pull(base="main", head="watcher/b", title="B")
    assert second.number == first.number + 1  # shared number space with issues
    assert chart.github.merge_pull(CHART, second.number) is not None
    assert repo.get_pull(second.number).merged_at is not None


def test_merge_endpoint_merges_conflicts_and_no_ops(standin: StandIn) -> None:
    load_chart(standin, CHART, prepared="conflicting")
    repo = client(standin).get_repo(CHART)
    bump(repo, "watcher/headscale")
    with pytest.raises(GithubException) as conflict:
        repo.merge("watcher/headscale", PREPARED_BRANCH, "Merge prepared")
    assert (conflict.value.status, conflict.value.data["message"]) == (409, "Merge conflict")
    bump(repo, "watcher/clean", "v0.28.0")  # same tag: no conflicting change
    merged = repo.merge("watcher/clean", PREPARED_BRANCH, "Merge prepared")
    assert merged is not None and len(merged.parents) == 2
    assert repo.merge("watcher/clean", PREPARED_BRANCH) is None  # 204: nothing to merge
    cmp = repo.compare("main", "watcher/clean")
    assert (cmp.status, cmp.ahead_by, cmp.behind_by) == ("ahead", 3, 0)


def test_issues_comments_labels(chart: StandIn) -> None:
    repo = client(chart).get_repo(CHART)
    issue = repo.create_issue(title="watcher dashboard", body="<!-- d -->", labels=["watcher"])
    issue.edit(body="<!-- d --> v2")
    comments = [issue.create_comment(f"transition {n}") for n in range(3)]
    comments[0].edit("transition 0 (edited)")
    bodies = [c.body for c in issue.get_comments()]
    assert bodies == ["transition 0 (edited)", "transition 1", "transition 2"]
    assert repo.get_label("watcher").name == "watcher"
    assert [i.number for i in repo.get_issues(state="open", labels=["watcher"])] == [issue.number]
    issue.edit(state="closed")
    assert repo.get_issue(issue.number).state == "closed"
    assert list(repo.get_issues(state="open")) == []


def test_writes_need_push_access_and_count_against_quota(chart: StandIn) -> None:
    chart.github.add_token("tok-read")
    with pytest.raises(GithubException) as denied:
        client(chart, Auth.Token("tok-read")).get_repo(CHART).create_issue(title="x")
    assert denied.value.status == 403
    anonymous = github.Github(base_url=chart.api_url, retry=None, seconds_between_writes=None)
    with pytest.raises(GithubException) as anon:
        anonymous.get_repo(CHART).create_issue(title="x")
    assert anon.value.status == 401
    client(chart).get_repo(CHART).create_issue(title="counted")
    assert chart.log.where(method="POST")[-1].quota_counted


def test_secondary_content_limit(chart: StandIn) -> None:
    chart.github.content_limit = (2, 60)
    repo = client(chart).get_repo(CHART)
    repo.create_issue(title="1")
    repo.create_issue(title="2")
    with pytest.raises(GithubException) as limited:
        repo.create_issue(title="3")
    assert limited.value.status == 403
    assert "secondary rate limit" in limited.value.data["message"]
    assert int((limited.value.headers or {})["retry-after"]) >= 1


@pytest.fixture(scope="module")
def app_key() -> Iterator[tuple[str, str]]:
    """A fresh RSA key pair (private PEM, public PEM), generated at test time."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    yield private, public


def test_app_installation_token_works_as_push_token(
    chart: StandIn, app_key: tuple[str, str]
) -> None:
    private, public = app_key
    chart.github.add_app(4242, public, installation_id=77, repos=[CHART], slug="watcher-app")
    auth = Auth.AppAuth(4242, private).get_installation_auth(77)
    issue = client(chart, auth).get_repo(CHART).create_issue(title="from the app")
    assert issue.user.login == "watcher-app[bot]"
    token_calls = chart.log.where(method="POST", path="/app/installations/77/access_tokens")
    assert [r.status for r in token_calls] == [201]
    wrong = Auth.AppAuth(4242, private).get_installation_auth(78)
    with pytest.raises(GithubException) as missing:
        client(chart, wrong).get_repo(CHART).create_issue(title="x")
    assert missing.value.status == 404


def test_restart_keeps_state_and_port(chart: StandIn) -> None:
    gh = client(chart)
    repo = gh.get_repo(CHART)
    head = bump(repo, "watcher/headscale")
    pr = repo.create_pull(base="main", head="watcher/headscale", title="Bump")
    port = chart.port
    chart.restart()
    assert chart.port == port
    again = gh.get_repo(CHART).get_pull(pr.number)
    assert (again.head.sha, again.state) == (head, "open")
    assert all(r.time > 0 for r in chart.log)


def test_request_log_times_show_write_pacing(chart: StandIn) -> None:
    paced = github.Github(
        base_url=chart.api_url,
        auth=Auth.Token(CHART_TOKEN),
        seconds_between_requests=None,
        seconds_between_writes=0.2,
    )
    repo = paced.get_repo(CHART)
    for title in ("one", "two"):
        repo.create_issue(title=title)
    first, second = (r.time for r in chart.log.where(method="POST", path="/issues$"))
    assert second - first >= 0.2
