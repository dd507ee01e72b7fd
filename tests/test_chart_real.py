"""The bump on four real public charts: the exact diff, byte for byte, and the images checked.

For each chart the expected new files are written by hand here (whole lines replaced in
the verbatim fixture, tests/fixtures/charts/README.md says where each comes from), and
the expected patch is what real ``git diff`` prints for them in a scratch repository.
So neither the expected text nor the expected patch comes from the code under test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from watcher.chart.bump import plan_bump
from watcher.config.model import ChartConfig
from watcher.core.models import Release
from watcher.sources.chart import ChartFiles, bump_request, deployed_images

from .standin.chart import DATA as CHARTS

GIT = ["git", "-c", "core.autocrlf=false", "-c", "core.abbrev=7", "-c", "diff.noprefix=false"]


def _read(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        return handle.read()


def _edit(text: str, lines: Mapping[int, str]) -> str:
    """``text`` with whole lines (1-based, ending included) replaced."""
    out = text.splitlines(keepends=True)
    for number, line in lines.items():
        assert out[number - 1] != line, f"line {number} already reads {line!r}"
        out[number - 1] = line
    return "".join(out)


def git_diff_of(tmp: Path, files: Mapping[str, tuple[str, str]]) -> str:
    """What ``git diff`` prints for ``{path: (old, new)}`` committed old, then rewritten."""
    repo = tmp / "repo"
    repo.mkdir()

    def git(*args: str) -> bytes:
        done = subprocess.run([*GIT, *args], cwd=repo, check=True, capture_output=True)
        return done.stdout

    git("init", "-q")
    for path, (old, _) in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_bytes(old.encode())
    git("add", "-A")
    for path, (_, new) in files.items():
        (repo / path).write_bytes(new.encode())
    return git("diff", "--no-color", "--no-ext-diff").decode()


def _release(version: str, prefix: str = "v") -> Release:
    return Release(f"{prefix}{version}", version, False, False, "", None)


def _check(
    tmp_path: Path,
    *,
    folder: str,
    chart_name: str,
    chart_dir: str,
    config: ChartConfig,
    release: Release,
    chart_lines: Mapping[int, str],
    values_lines: Mapping[int, str],
    images: list[str],
) -> None:
    chart_yaml = _read(CHARTS / folder / chart_name)
    values_yaml = _read(CHARTS / folder / "values.yaml")
    files = ChartFiles(config.repo, "main", chart_dir, chart_yaml, values_yaml)

    result = plan_bump(bump_request(files, config, release))

    expected = {
        files.path("Chart.yaml"): (chart_yaml, _edit(chart_yaml, chart_lines)),
        files.path("values.yaml"): (values_yaml, _edit(values_yaml, values_lines)),
    }
    expected = {path: texts for path, texts in expected.items() if texts[0] != texts[1]}
    assert dict(result.files) == {path: new for path, (_, new) in expected.items()}
    assert result.diff == git_diff_of(tmp_path, expected)
    assert deployed_images(files, config, release) == images
    assert list(result.images) == images
    again = plan_bump(
        bump_request(
            ChartFiles(
                config.repo,
                "main",
                chart_dir,
                result.files.get(files.path("Chart.yaml"), chart_yaml),
                result.files.get(files.path("values.yaml"), values_yaml),
            ),
            config,
            release,
        )
    )
    assert not again.changed, "a second bump to the same release must change nothing"


def test_kapernikov_headscale(tmp_path: Path) -> None:
    _check(
        tmp_path,
        folder="kapernikov-headscale-helm-c6f4915",
        chart_name="Chart.yaml",
        chart_dir="headscale",
        config=ChartConfig(repo="kapernikov/headscale-helm", path="headscale"),
        release=_release("0.29.0"),
        chart_lines={18: "version: 0.3.0\n", 24: 'appVersion: "0.29.0"\n'},
        values_lines={9: '  tag: "v0.29.0"\n'},
        images=["headscale/headscale:v0.29.0"],
    )


def test_gabe565_headscale(tmp_path: Path) -> None:
    _check(
        tmp_path,
        folder="gabe565-charts-headscale-7849a42",
        chart_name="Chart.yaml",
        chart_dir="charts/headscale",
        config=ChartConfig(repo="gabe565/charts", path="charts/headscale"),
        release=_release("0.29.0"),
        chart_lines={7: "version: 0.17.0\n", 9: "appVersion: v0.29.0\n"},
        values_lines={14: "  tag: v0.29.0\n"},
        images=["ghcr.io/juanfont/headscale:v0.29.0"],
    )


def test_cert_manager_moves_all_five_images_through_app_version(tmp_path: Path) -> None:
    # The five component images leave `tag` unset, so they all follow appVersion: the
    # one-line appVersion bump moves all five, and all five are checked.
    config = ChartConfig(
        repo="cert-manager/cert-manager",
        path="deploy/charts/cert-manager",
        image_keys=("**.image",),
    )
    names = ["controller", "webhook", "cainjector", "acmesolver", "startupapicheck"]
    _check(
        tmp_path,
        folder="cert-manager-cert-manager-12a3ef9",
        chart_name="Chart.template.yaml",
        chart_dir="deploy/charts/cert-manager",
        config=config,
        release=_release("1.19.1"),
        # The template's last line has no newline at the end; the bump keeps it so.
        chart_lines={26: "version: v0.1.0\n", 27: "appVersion: v1.19.1"},
        values_lines={},
        images=[f"quay.io/jetstack/cert-manager-{name}:v1.19.1" for name in names],
    )


def test_bitnami_redis_registry_layout_and_suffixed_tags(tmp_path: Path) -> None:
    # registry + repository + tag + digest; the tags carry Bitnami's "-debian-12-r0".
    config = ChartConfig(
        repo="bitnami/charts", path="bitnami/redis", image_keys=("image", "sentinel.image")
    )
    _check(
        tmp_path,
        folder="bitnami-charts-redis-e3296a8",
        chart_name="Chart.yaml",
        chart_dir="bitnami/redis",
        config=config,
        release=_release("8.2.2", prefix=""),
        chart_lines={
            # The chart's own image list (an annotation) follows the values.
            11: "      image: docker.io/bitnami/redis:8.2.2-debian-12-r0\n",
            15: "      image: docker.io/bitnami/redis-sentinel:8.2.2-debian-12-r0\n",
            19: "appVersion: 8.2.2\n",
            41: "version: 23.2.0\n",
        },
        values_lines={117: "  tag: 8.2.2-debian-12-r0\n", 1189: "    tag: 8.2.2-debian-12-r0\n"},
        images=[
            "docker.io/bitnami/redis:8.2.2-debian-12-r0",
            "docker.io/bitnami/redis-sentinel:8.2.2-debian-12-r0",
        ],
    )


@pytest.mark.parametrize("folder", ["bitnami-charts-redis-e3296a8"])
def test_images_that_do_not_follow_the_release_are_untouched(folder: str) -> None:
    # The exporter, os-shell and kubectl images have versions of their own.
    values = _read(CHARTS / folder / "values.yaml")
    chart = _read(CHARTS / folder / "Chart.yaml")
    config = ChartConfig(repo="bitnami/charts", path="bitnami/redis", image_keys=("image",))
    files = ChartFiles(config.repo, "main", "bitnami/redis", chart, values)
    result = plan_bump(bump_request(files, config, _release("8.2.2", prefix="")))
    new_values = result.files["bitnami/redis/values.yaml"]
    for line in ("tag: 1.76.0-debian-12-r0", "tag: 12-debian-12-r51", "tag: 1.33.4-debian-12-r0"):
        assert new_values.count(line) == values.count(line) > 0
