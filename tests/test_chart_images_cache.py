"""The per-watch memory of which images a chart deploys is transparent.

``watcher.runner.caches.cached_deployed_images`` spares a warm check the round-trip
parse of values.yaml. Whatever sequence of charts, settings and releases a watch sees,
each answer must equal what :func:`deployed_images` computes from scratch: a change of
any input the answer depends on must not be served from the memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watcher.config.model import ChartConfig, parse_config
from watcher.core.models import Release
from watcher.runner.caches import cached_deployed_images
from watcher.sources.chart import ChartFiles, deployed_images
from watcher.state.store import Store

CHART_YAML = 'apiVersion: v2\nname: headscale\nversion: 0.4.2\nappVersion: "{app}"\n'
VALUES_YAML = (
    "image:\n  repository: {repo}\n  tag: {tag}\nrelay:\n  image:\n    repository: {relay}\n"
)


def chart_config(image_keys: str) -> ChartConfig:
    text = '[[watch]]\nid = "w"\nrepo = "a/b"\n[watch.feature]\nmarker = "cap/relay"\n'
    text += f'[watch.chart]\nrepo = "c/d"\nimage_keys = {image_keys}\n'
    chart = parse_config(text, "test.toml").watch[0].chart
    assert chart is not None
    return chart


def release(tag: str) -> Release:
    return Release(tag, tag.lstrip("v"), False, False, f"https://example.test/{tag}", None)


files = st.builds(
    lambda chart_dir, app, repo, tag, relay: ChartFiles(
        "c/d",
        "main",
        chart_dir,
        CHART_YAML.format(app=app),
        VALUES_YAML.format(repo=repo, tag=tag, relay=relay),
    ),
    chart_dir=st.sampled_from(["", "charts/headscale"]),
    app=st.sampled_from(["v0.28.0", "0.28.0"]),
    repo=st.sampled_from(["headscale/headscale", "ghcr.io/juanfont/headscale"]),
    tag=st.sampled_from(["v0.28.0", "0.28.0", '""', "latest"]),
    relay=st.sampled_from(["tailscale/tailscale", "ghcr.io/tailscale/tailscale"]),
)
configs = st.sampled_from(['["image"]', '["image", "relay.image"]', '["**.image"]'])
releases = st.sampled_from(["v0.29.0", "v0.29.1", "v1.0.0"])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{tmp_path / 'w.db'}") as opened:
        yield opened


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(files, configs, releases), min_size=1, max_size=6))
def test_every_answer_equals_a_fresh_computation(
    store: Store, steps: list[tuple[ChartFiles, str, str]]
) -> None:
    remembered = cached_deployed_images(store, "w")  # the store persists across examples
    for chart_files, image_keys, tag in steps:
        chart, target = chart_config(image_keys), release(tag)
        assert remembered(chart_files, chart, target) == deployed_images(chart_files, chart, target)


def test_a_second_answer_comes_from_the_store(store: Store) -> None:
    chart_files = ChartFiles(
        "c/d",
        "main",
        "",
        CHART_YAML.format(app="v0.28.0"),
        VALUES_YAML.format(repo="headscale/headscale", tag="v0.28.0", relay="tailscale/tailscale"),
    )
    chart, target = chart_config('["image"]'), release("v0.29.0")
    first = cached_deployed_images(store, "w")(chart_files, chart, target)
    assert store.get_value("chart-images:w") is not None
    # Another process (a later check) reads the same answer back without the chart
    # model: an answer planted under the same inputs' digest is what it returns.
    planted = store.get_value("chart-images:w")
    assert planted is not None
    store.set_value("chart-images:w", planted.replace(first[0], "planted/image:v0.29.0"))
    again = cached_deployed_images(store, "w")(chart_files, chart, target)
    assert again == ["planted/image:v0.29.0", *first[1:]]
