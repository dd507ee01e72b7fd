"""A fleet's `status` and `check` (README «Running a fleet»): above 20 watches one
summary line per state, `--state` and `--upstream` select watches, `--json` lists exactly
the selection.

`status` is randomized over fleets of recorded verdicts and errors in a real store (the
database is all it reads, so no server is needed); `check` runs against the stand-in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.headscale import load_headscale
from tests.test_state_store import verdict
from watcher.cli.main import main
from watcher.cli.render import DETAIL_LIMIT, SUMMARY_IDS
from watcher.config.model import default_config_text
from watcher.core.models import VerdictState
from watcher.state.store import Store

UPSTREAMS = ("acme/one", "acme/two", "Other/Three")
STATES_NAMES = ("waiting", "pending", "ready", "proposed", "done", "none")
STATES = [None, *VerdictState]  # None: never evaluated
# One watch: (upstream, state or None, whether its last evaluation failed).
fleet = st.lists(
    st.tuples(st.sampled_from(UPSTREAMS), st.sampled_from(STATES), st.booleans()),
    min_size=1,
    max_size=45,
)


def write_fleet(tmp: Path, watches: list[tuple[str, VerdictState | None, bool]]) -> list[str]:
    """The config with one [[watch]] per entry, its database with their verdicts; the ids."""
    ids = [f"w{index:03d}" for index in range(len(watches))]
    tables = [
        f'[[watch]]\nid = "{i}"\nrepo = "{repo}"\n[watch.feature]\nmarker = "some.marker"\n'
        for i, (repo, _, _) in zip(ids, watches, strict=True)
    ]
    (tmp / "fleet.toml").write_text("\n".join(tables), "utf-8")
    with Store.open(f"sqlite:///{tmp / 'fleet.db'}") as store:
        run = store.start_run()
        for watch_id, (_, state, failed) in zip(ids, watches, strict=True):
            if state is not None:
                store.record_verdict(run, verdict(state, "v1.0.0", watch_id=watch_id))
            if failed:
                store.record_error(run, watch_id, "boom")
    return ids


def status(tmp: Path, *args: str, code: int = 0) -> str:
    argv = ["status", "--config", str(tmp / "fleet.toml"), "--db", f"sqlite:///{tmp / 'fleet.db'}"]
    result = CliRunner().invoke(main, [*argv, *args])
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.stderr


def state_name(state: VerdictState | None) -> str:
    return state.value if state is not None else "none"


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(watches=fleet, pick_state=st.sampled_from(["waiting", "ready", "none", "error"]))
def test_status_summarises_filters_and_lists_a_fleet(
    tmp_path_factory: object,
    watches: list[tuple[str, VerdictState | None, bool]],
    pick_state: str,
) -> None:
    tmp = tmp_path_factory.mktemp("fleet")  # type: ignore[attr-defined]
    ids = write_fleet(tmp, watches)
    expected = {
        i: (state_name(state), failed) for i, (_, state, failed) in zip(ids, watches, strict=True)
    }

    text = status(tmp)
    if len(ids) > DETAIL_LIMIT:
        lines = text.splitlines()
        assert lines[0] == f"{len(ids)} watch(es)"
        counts = {m[1]: int(m[2]) for line in lines if (m := re.match(r"  (\w+): +(\d+)  ", line))}
        wanted = {s: sum(1 for got, _ in expected.values() if got == s) for s in STATES_NAMES}
        wanted["error"] = sum(1 for _, failed in expected.values() if failed)
        assert counts == {s: n for s, n in wanted.items() if n}
        assert len(lines) <= 2 + len(STATES_NAMES) + 1  # readable at any size
        assert all(line.count(", ") <= SUMMARY_IDS for line in lines[1:-1])
    else:
        assert {line.split(":")[0] for line in text.splitlines() if line[:1] == "w"} == set(ids)

    chosen = json.loads(status(tmp, "--json", "--state", pick_state))
    assert [doc["id"] for doc in chosen["watches"]] == [
        i
        for i, (state, failed) in expected.items()
        if state == pick_state or (pick_state == "error" and failed)
    ]
    followers = [i for i, (repo, _, _) in zip(ids, watches, strict=True) if repo == "Other/Three"]
    if followers:  # upstreams match whatever their case
        upstream = json.loads(status(tmp, "--json", "--upstream", "other/three"))
        assert [doc["id"] for doc in upstream["watches"]] == followers
    else:
        error = status(tmp, "--upstream", "other/three", code=2)
        assert error.startswith("error: no watch follows other/three\nhint: upstreams of")


def test_status_json_ends_with_a_newline_and_documents_notifications(tmp_path: Path) -> None:
    write_fleet(tmp_path, [("acme/one", VerdictState.WAITING, False)])
    text = status(tmp_path, "--json")
    assert text.endswith("}\n")
    assert set(json.loads(text)) == {"watches", "notifications", "warnings"}
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    json_section = readme.split("### JSON output", 1)[1].split("\n## ", 1)[0]
    assert "`notifications`" in json_section and "`warnings`" in json_section


def test_check_summarises_a_fleet_and_filters_what_it_shows(watcher: WatcherRun) -> None:
    """22 copies of the built-in watch against the stand-in at `ready`."""
    load_headscale(watcher.standin, "ready")
    head, _, rest = default_config_text().partition("[[watch]]")
    table, _, tail = rest.partition("\n[daemon]")
    copies = [
        "[[watch]]" + table.replace('id = "headscale-peer-relay"', f'id = "hs-{n:02d}"')
        for n in range(DETAIL_LIMIT + 2)
    ]
    watcher.config_text = head + "\n".join(copies) + "\n[daemon]" + tail
    result = watcher("check")
    lines = result.stdout.splitlines()
    assert result.exit_code == 0, result.output
    assert lines[0] == f"{DETAIL_LIMIT + 2} watch(es)"
    assert (
        lines[1] == f"  ready:       {DETAIL_LIMIT + 2}  hs-00, hs-01, hs-02, hs-03, hs-04, … (+17)"
    )
    assert "--state and --upstream" in lines[2] and re.match(r"run \d+: ", lines[3])
    assert len(lines) == 4
    waiting = watcher("check", "--state", "waiting")
    assert waiting.exit_code == 0 and re.fullmatch(r"run \d+: [^\n]*\n", waiting.stdout)
    chosen = watcher("check", "--json", "--upstream", "JUANFONT/Headscale", "hs-03", "hs-07")
    assert [doc["id"] for doc in json.loads(chosen.stdout)["watches"]] == ["hs-03", "hs-07"]
