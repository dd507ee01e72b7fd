"""Helpers to inspect the chart repository in the stand-in after watcher acted on it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.standin.chart import CHART_TOKEN, chart_file
from tests.standin.server import StandIn

CHART = "kapernikov/headscale-helm"
BRANCH = "watcher-chart/headscale"


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


def install_app(
    standin: StandIn,
    key_dir: Path,
    app_id: int = 4242,
    installation: int = 77,
    slug: str | None = None,
) -> dict[str, str]:
    """Register a GitHub App installed on the chart repository; watcher's environment for it.

    The key pair is generated now (no key is committed); the private key goes to a file in
    ``key_dir``, as WATCHER_APP_PRIVATE_KEY_FILE expects.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    standin.github.add_app(app_id, public, installation, repos=[CHART], slug=slug)
    key_file = key_dir / "app.pem"
    key_file.write_bytes(pem)
    return {
        "WATCHER_APP_ID": str(app_id),
        "WATCHER_APP_INSTALLATION_ID": str(installation),
        "WATCHER_APP_PRIVATE_KEY_FILE": str(key_file),
    }


@contextmanager
def pushable_repo(repo: str, token: str) -> Iterator[StandIn]:
    """A stand-in holding ``repo``, which ``token`` may push to."""
    with StandIn() as standin:
        standin.github.add_repo(repo)
        standin.github.add_token(token, push_to=[repo])
        yield standin
