"""The checks a maintainer runs: ``helm lint`` and ``helm template`` before a PR opens or moves.

A real helm binary (tests/helm_binary.py) checks the stand-in's greeter chart, read whole
from the chart repository (its template too) with the bump over it: the PR body says
what helm said; a bump the chart no longer renders opens no PR and is an error on
`run`, the dashboard and `check --plan`; without helm the body says the checks were not
run; dependencies that are not vendored are said so, not linted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import WatcherRun
from tests.standin.playground import (
    EXAMPLE_CHART,
    GREETER_DEPLOYMENT,
    load_example,
)
from watcher.actions.helm_check import HELM_ENV, check_chart, helm_binary
from watcher.core.errors import ConfigError

CHART_FIXTURES = Path(__file__).parent / "fixtures" / "charts"
GREETER_WATCH = """
[registries]
"ghcr.io" = "https://ghcr.io"

[[watch]]
id = "greeter-color"
repo = "example/greeter"

[watch.feature]
marker = "--color"

[watch.chart]
repo = "example/charts"
path = "charts/greeter"
"""
# A template written for a value the chart never got: it renders until appVersion 1.1.0.
BREAKS_AT_1_1 = """\
{{- if semverCompare ">=1.1.0" .Chart.AppVersion }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-colors
data:
  palette: {{ .Values.colors.palette | quote }}
{{- end }}
"""


@pytest.fixture
def greeter(watcher: WatcherRun, helm: Path) -> WatcherRun:
    """The CLI on the greeter upstream and chart, allowed to push, with a real helm."""
    load_example(watcher.standin)
    watcher.config_text = GREETER_WATCH
    watcher.token = "tok-chart-push"
    watcher.env[HELM_ENV] = str(helm)
    return watcher


def pulls(watcher: WatcherRun) -> list[dict[str, object]]:
    repo = watcher.standin.github.repo(EXAMPLE_CHART)
    return [{"number": n, "body": repo.issues[n].body} for n in sorted(repo.pulls)]


def test_the_pr_body_says_what_helm_said(greeter: WatcherRun, helm: Path) -> None:
    result = greeter("run", "--once")
    assert result.exit_code == 0, result.output
    ((pr),) = pulls(greeter)
    body = str(pr["body"])
    checks = body.split("### Checks\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    kinds = re.findall(r"^kind: (\w+)", GREETER_DEPLOYMENT, re.MULTILINE)
    assert checks[0].startswith("- `helm lint`: passed, 1 chart(s) linted, 0 chart(s) failed")
    assert checks[1] == f"- `helm template`: rendered {len(kinds)} manifest(s): {kinds[0]}"


def test_a_bump_the_chart_cannot_render_opens_no_pr(greeter: WatcherRun) -> None:
    greeter.standin.github.push_commit(
        EXAMPLE_CHART,
        "main",
        {"charts/greeter/templates/colors.yaml": BREAKS_AT_1_1},
        message="colors for greeter 1.1",
    )
    result = greeter("run", "--once")
    assert result.exit_code == 2, result.output
    assert pulls(greeter) == []
    reason = "[ERROR] templates/: greeter/templates/colors.yaml:7:21"
    assert f"the bumped chart fails helm's checks: {reason}" in result.stderr
    assert "nil pointer evaluating interface {}.palette" in result.stderr
    dashboard = next(
        issue
        for issue in greeter.standin.github.repo(EXAMPLE_CHART).issues.values()
        if issue.title == "watcher dashboard"
    )
    assert "the bumped chart fails helm's checks" in dashboard.body
    plan = greeter("check", "--plan", "--json")
    (watch,) = json.loads(plan.stdout)["watches"]
    assert "the bumped chart fails helm's checks" in watch["error"] and "plan" not in watch


def test_the_chart_is_read_once_by_sha_and_checked_once_per_content(greeter: WatcherRun) -> None:
    """Trees below the branch and blobs are immutable: a second plan asks only for the root."""
    first = greeter("check", "--plan")
    assert first.exit_code == 0, first.output
    greeter.standin.log.clear()
    again = greeter("check", "--plan")
    assert again.exit_code == 0, again.output
    git_reads = [r.path for r in greeter.standin.log.records() if "/git/" in r.path]
    assert git_reads == ["/api/repos/example/charts/git/trees/main"]
    checks = [r.stdout.split("### Checks", 1)[1].split("\n\n")[1] for r in (first, again)]
    assert checks[0] == checks[1] and checks[0].startswith("- `helm lint`: passed")


def test_without_helm_the_body_says_the_checks_were_not_run() -> None:
    check = check_chart(None, {"Chart.yaml": b"name: x\n"}, "x")
    assert check.status == "not run"
    assert "were not run: no helm on PATH or in WATCHER_HELM" in "\n".join(check.body_lines())


def test_the_helm_binary_comes_from_watcher_helm_then_path(tmp_path: Path, helm: Path) -> None:
    assert helm_binary({"PATH": str(tmp_path)}) is None
    assert helm_binary({"PATH": str(helm.parent)}) == str(helm)
    assert helm_binary({"PATH": str(tmp_path), HELM_ENV: str(helm)}) == str(helm)
    with pytest.raises(ConfigError, match=f"{HELM_ENV}={tmp_path}/nope: no such executable"):
        helm_binary({"PATH": "", HELM_ENV: str(tmp_path / "nope")})


def test_dependencies_not_vendored_are_named_not_linted(helm: Path) -> None:
    # Bitnami's real redis chart depends on `common`, which a chart repository does not vendor.
    chart = CHART_FIXTURES / "bitnami-charts-redis-e3296a8"
    files = {name: (chart / name).read_bytes() for name in ("Chart.yaml", "values.yaml")}
    check = check_chart(str(helm), files, "redis")
    assert check.status == "not run"
    assert "dependencies common are not vendored in charts/" in check.lines[0]


@given(
    st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True), unique=True, max_size=5),
    st.data(),
)
def test_exactly_the_unvendored_dependencies_are_named(
    names: list[str], data: st.DataObject
) -> None:
    vendored = data.draw(st.sets(st.sampled_from(names)) if names else st.just(set()))
    packed = data.draw(st.sets(st.sampled_from(sorted(vendored))) if vendored else st.just(set()))
    deps = "".join(f"  - name: {n}\n    version: 1.0.0\n" for n in names)
    files = {
        "Chart.yaml": f"apiVersion: v2\nname: x\nversion: 1.0.0\ndependencies:\n{deps}".encode()
    }
    for name in vendored:
        files[f"charts/{name}-1.0.0.tgz" if name in packed else f"charts/{name}/Chart.yaml"] = b""
    missing = [n for n in names if n not in vendored]
    if missing:
        check = check_chart("/nonexistent/helm", files, "x")  # decided before running helm
        assert check.status == "not run"
        assert f"dependencies {', '.join(missing)} are not vendored" in check.lines[0]
    else:  # every dependency is there, so helm is run (and this one does not exist)
        with pytest.raises(ConfigError, match="cannot run helm"):
            check_chart("/nonexistent/helm", files, "x")
