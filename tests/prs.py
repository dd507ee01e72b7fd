"""Helpers to inspect the chart repository in the stand-in after watcher acted on it."""

from __future__ import annotations

import base64
from typing import Any

import httpx

from tests.standin.chart import CHART_TOKEN, chart_file
from tests.standin.server import StandIn

CHART = "kapernikov/headscale-helm"
BRANCH = "watcher/headscale-peer-relay"


def api(standin: StandIn, path: str) -> Any:
    reply = httpx.get(
        f"{standin.api_url}{path}", headers={"Authorization": f"Bearer {CHART_TOKEN}"}
    )
    reply.raise_for_status()
    return reply.json()


def pulls(standin: StandIn) -> list[dict[str, Any]]:
    return list(api(standin, f"/repos/{CHART}/pulls?state=all"))


def file_at(standin: StandIn, path: str, ref: str) -> str:
    data = api(standin, f"/repos/{CHART}/contents/{path}?ref={ref}")
    return base64.b64decode(data["content"]).decode()


def dashboard_comments(standin: StandIn) -> list[str]:
    issues = [
        i for i in api(standin, f"/repos/{CHART}/issues?state=all") if "pull_request" not in i
    ]
    (dashboard,) = [i for i in issues if "<!-- watcher:dashboard -->" in (i["body"] or "")]
    return [
        c["body"] for c in api(standin, f"/repos/{CHART}/issues/{dashboard['number']}/comments")
    ]


def writes(standin: StandIn) -> list[str]:
    return [f"{r.method} {r.path}" for r in standin.log.records() if r.is_write]


def expected_values(tag: str) -> str:
    return chart_file("kapernikov", "values.yaml").replace('tag: "v0.28.0"', f'tag: "{tag}"')
