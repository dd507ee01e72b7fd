"""`watcher check` checks every image the bump makes a multi-image chart deploy.

The stand-in serves cert-manager's real chart (five component images, all following
appVersion, on quay.io, a registry the watch's own references never name) as the chart
of the headscale watch: the release is ready only once all five images exist.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import WatcherRun
from tests.standin.chart import load_chart
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn

COMPONENTS = ("controller", "webhook", "cainjector", "acmesolver", "startupapicheck")


def _watcher(standin: StandIn, run: WatcherRun) -> WatcherRun:
    run.edits = {
        'path = "headscale"': 'path = "deploy/charts/cert-manager"',
        'image_key = "image"': 'image_keys = ["**.image"]',
        '"ghcr.io" = ': f'"quay.io" = "{standin.registry_url("quay.io")}"\n"ghcr.io" = ',
    }
    return run


def test_every_image_of_the_chart_is_checked(standin: StandIn, tmp_path: Path) -> None:
    load_chart(standin, variant="cert-manager")
    load_headscale(standin, "ready")
    watcher = _watcher(standin, WatcherRun(standin, tmp_path))
    for name in COMPONENTS[:-1]:
        standin.registry.push("quay.io", f"jetstack/cert-manager-{name}", "v0.29.0")

    doc = json.loads(watcher("check", "--json").stdout)
    (watch,) = doc["watches"]
    image = next(s for s in watch["signals"] if s["name"] == "image")
    assert watch["state"] == "pending"
    assert image["status"] == "missing"
    assert (
        image["summary"]
        == "not pullable yet: quay.io/jetstack/cert-manager-startupapicheck:v0.29.0"
    )

    standin.registry.push("quay.io", "jetstack/cert-manager-startupapicheck", "v0.29.0")
    doc = json.loads(watcher("check", "--json").stdout)
    (watch,) = doc["watches"]
    image = next(s for s in watch["signals"] if s["name"] == "image")
    assert watch["state"] == "ready"
    checked = [line.split("@")[0] for line in image["evidence"]]
    assert checked == [
        *(f"quay.io/jetstack/cert-manager-{name}:v0.29.0" for name in COMPONENTS),
        "docker.io/headscale/headscale:v0.29.0",
        "ghcr.io/juanfont/headscale:v0.29.0",
    ]
