"""One error boundary per watch: whatever one watch's cycle raises becomes that watch's
recorded error (one line), the other watches still run, the run row is finished, and
the command exits 2. Driven through the stand-in (redirect loops, bodies that do not
decode, dropped connections) and the real CLI (click's runner, and one subprocess).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from tests.standin.history import HistoryBuilder
from tests.standin.server import StandIn
from watcher import ISSUES_URL

HEADSCALE = "headscale-peer-relay"
RELEASES = "/repos/juanfont/headscale/releases$"


def add_widget(standin: StandIn, repo: str = "acme/widget") -> None:
    """A small upstream with one release that lacks its feature (a `waiting` watch)."""
    history = HistoryBuilder(standin.github, repo)
    history.commit("2025-01-01T10:00:00Z", "start", {"main.go": "package main\n"})
    history.release("v1.0.0", "2025-01-02T12:00:00Z")


def widget_watch(watch_id: str = "widget", repo: str = "acme/widget") -> str:
    """TOML of a second watch, inserted before [notify] so the headscale one runs first."""
    return (
        f'[[watch]]\nid = "{watch_id}"\nrepo = "{repo}"\nrequired = ["release", "feature"]\n'
        '[watch.feature]\nmarker = "widget-feature"\n\n'
    )


@pytest.fixture
def two(watcher: WatcherRun) -> WatcherRun:
    """The CLI on two watches: headscale (faulted by the tests) first, then a widget."""
    load_headscale(watcher.standin, "waiting")
    add_widget(watcher.standin)
    watcher.edits["[notify]"] = widget_watch() + "[notify]"
    watcher.env["XDG_STATE_HOME"] = str(watcher.tmp_path / "xdg-state")
    return watcher


def runs(watcher: WatcherRun) -> list[tuple[str, str | None, str | None]]:
    """(status, finished_at, error) of every run row."""
    path = watcher.db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        return db.execute("SELECT status, finished_at, error FROM runs ORDER BY id").fetchall()


def watches(stdout: str) -> dict[str, dict[str, object]]:
    """The per-watch documents of `check --json`, by id."""
    return {doc["id"]: doc for doc in json.loads(stdout)["watches"]}


def assert_bounded(watcher: WatcherRun, stdout: str, *needles: str) -> str:
    """Headscale failed with a one-line error holding ``needles``; the widget ran."""
    docs = watches(stdout)
    error = str(docs[HEADSCALE]["error"])
    assert "\n" not in error
    for needle in needles:
        assert needle in error, error
    assert docs["widget"]["error"] is None
    assert docs["widget"]["state"] == "waiting"
    ((status, finished, recorded),) = runs(watcher)
    assert (status, finished is not None) == ("error", True)
    assert recorded is not None and HEADSCALE not in recorded and error in recorded
    return error


def test_a_redirect_loop_is_the_watchs_error(two: WatcherRun) -> None:
    loop = f"{two.standin.api_url}/repos/juanfont/headscale/releases"
    two.standin.faults.add(path=RELEASES, status=302, headers={"location": loop}, times=None)
    result = two("check", "--json")
    assert result.exit_code == 2
    assert_bounded(two, result.stdout, "too many redirects", "/repos/juanfont/headscale/releases")
    assert "Traceback" not in result.output


def test_a_body_that_does_not_decode_is_the_watchs_error(two: WatcherRun) -> None:
    # A JSON body labelled gzip: what a misconfigured proxy sends.
    two.standin.faults.add(path=RELEASES, headers={"content-encoding": "gzip"}, times=None)
    result = two("check", "--json")
    assert result.exit_code == 2
    assert_bounded(two, result.stdout, "could not be decoded", "/repos/juanfont/headscale/releases")


def test_an_unexpected_exception_is_one_line_with_a_crash_report(
    two: WatcherRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A library raising what nobody expected (a bug): a one-line error, where to report
    it, the traceback in a private file, and no secret anywhere."""
    token = "ghp_" + "Q7" * 18
    real_send = httpx.Client.send

    def send(self: httpx.Client, request: httpx.Request, **kwargs: object) -> httpx.Response:
        if request.url.path.endswith("/repos/juanfont/headscale/releases"):
            raise RuntimeError(f"injected bug\nwith Authorization: Bearer {token}")
        return real_send(self, request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "send", send)
    result = two("check")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"error: {HEADSCALE}: unexpected RuntimeError: injected bug with " in result.stderr
    (hint,) = [line for line in result.stderr.splitlines() if ISSUES_URL in line]
    assert hint.startswith("hint: this is a bug in watcher: please report it at ")
    report = Path(hint.split("saved in ", 1)[1])
    assert report.parent == two.tmp_path / "xdg-state" / "watcher"
    assert report.stat().st_mode & 0o777 == 0o600
    text = report.read_text()
    assert "Traceback (most recent call last)" in text and "RuntimeError: injected bug" in text
    assert "widget: WAITING" in result.stdout
    ((status, finished, _),) = runs(two)
    assert (status, finished is not None) == ("error", True)
    database = Path(two.db_url.removeprefix("sqlite:///")).read_bytes()
    for where in (result.output, text, database.decode("utf-8", "replace")):
        assert token not in where


def test_a_dropped_connection_when_reading_the_chart_repository(acting: WatcherRun) -> None:
    """PyGithub's `get_repo` (requests' ConnectionError) before any write: the watch's error."""
    load_headscale(acting.standin, "ready")
    add_widget(acting.standin)
    acting.edits["[notify]"] = widget_watch() + "[notify]\n"
    acting.edits["dashboard = true"] = "dashboard = false"
    # Only PyGithub's request (Authorization "token X"; the reader sends "Bearer X").
    acting.standin.faults.add(
        method="GET",
        path="/repos/kapernikov/headscale-helm$",
        drop_connection=True,
        times=None,
        header=("authorization", "^token "),
    )
    result = acting("run", "--once", "--json")
    assert result.exit_code == 2
    error = assert_bounded(acting, result.stdout, "could not reach", "ConnectionError")
    assert error.startswith("read repository: ")
    assert not [r for r in acting.standin.log if r.is_write]


def test_run_once_exits_0_when_its_cycle_completed_whatever_the_verdicts(
    acting: WatcherRun,
) -> None:
    load_headscale(acting.standin, "waiting")
    assert acting("check").exit_code == 1  # a question: not ready
    result = acting("run", "--once", "--json")
    assert result.exit_code == 0, result.output  # an action: done
    doc = json.loads(result.stdout)
    assert doc["exit_code"] == 0 and doc["watches"][0]["state"] == "waiting"
    acting.standin.faults.add(path=RELEASES, status=404, times=None)
    assert acting("run", "--once").exit_code == 2


def test_the_real_command_exits_2_on_a_redirect_loop(two: WatcherRun) -> None:
    """The same boundary in a real `python -m watcher` process (no click runner)."""
    loop = f"{two.standin.api_url}/repos/juanfont/headscale/releases"
    two.standin.faults.add(path=RELEASES, status=302, headers={"location": loop}, times=None)
    process = two.process("check")
    assert process.returncode == 2, process.stderr
    assert "Traceback" not in process.stderr
    lines = [line for line in process.stderr.splitlines() if line.startswith("error: ")]
    assert lines == [f"error: {HEADSCALE}: {assert_bounded_text(two)}"]


def assert_bounded_text(watcher: WatcherRun) -> str:
    ((_, finished, error),) = runs(watcher)
    assert finished is not None and error is not None
    return error


# What a watch's upstream may do wrong, as stand-in fault rules (None: nothing).
FAULTS: dict[str, dict[str, object] | None] = {
    "none": None,
    "redirect loop": {"status": 302},
    "bad gzip": {"headers": {"content-encoding": "gzip"}},
    "bad deflate": {"headers": {"content-encoding": "deflate"}},
    "dropped": {"drop_connection": True},
    "500": {"status": 500},
    "404": {"status": 404},
    "broken json": {"body": b"{broken"},
}


def add_fault(standin: StandIn, repo: str, kind: str) -> None:
    """Make ``repo``'s releases list fail the ``kind`` way, every time."""
    rule = FAULTS[kind]
    if rule is None:
        return
    path = f"/repos/{repo}/releases"
    if kind == "redirect loop":
        rule = {**rule, "headers": {"location": f"{standin.api_url}{path}"}}
    standin.faults.add(path=f"{path}$", times=None, **rule)  # type: ignore[arg-type]


@pytest.mark.slow  # starts servers
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(kinds=st.lists(st.sampled_from(sorted(FAULTS)), min_size=2, max_size=3))
def test_any_fault_in_any_watch_stays_inside_it(
    kinds: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Randomized: whichever watches fail and how, the others are evaluated, each failed
    one has a one-line error, the run is finished, and the exit code is 2 iff any failed."""
    with StandIn() as standin:
        run = WatcherRun(standin, tmp_path_factory.mktemp("boundary"))
        run.github = {"retries": "0"}
        extra = ""
        for index, kind in enumerate(kinds):
            repo = f"acme/w{index}"
            add_widget(standin, repo)
            extra += widget_watch(f"w{index}", repo)
            add_fault(standin, repo, kind)
        # Only the generated watches: the built-in headscale one is replaced.
        text = run.config_path.read_text()
        run.edits[text[text.index("[[watch]]") : text.index("[daemon]")]] = extra
        result = run("check", "--json")
        docs = watches(result.stdout)
        for index, kind in enumerate(kinds):
            doc = docs[f"w{index}"]
            if kind == "none":
                assert (doc["error"], doc["state"]) == (None, "waiting")
            else:
                assert doc["error"] and "\n" not in str(doc["error"]), (kind, doc)
        assert result.exit_code == (2 if set(kinds) - {"none"} else 1)
        ((status, finished, _),) = runs(run)
        assert finished is not None
        assert status == ("error" if set(kinds) - {"none"} else "ok")
