"""The chart repository the watcher bumps: real Helm chart files in a stand-in repository.

``load_chart(standin)`` creates ``kapernikov/headscale-helm`` (default branch ``main``)
from the chart files copied into ``tests/fixtures/charts/`` (the chart as it was
before and after its v0.28.0 bump, so ``main`` has that history), and registers
:data:`CHART_TOKEN`, a push token. ``prepared="clean"`` adds the maintainer-prepared
branch ``feature/peer-relay`` (``client.peerRelay`` values and a Service template);
``prepared="conflicting"`` makes that branch also pin ``image.tag`` to a beta, so merging
it into a bump of ``image.tag`` conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.standin.github_state import RepoState
from tests.standin.history import HistoryBuilder, at

if TYPE_CHECKING:
    from tests.standin.server import StandIn

# Real chart files copied into the repository; tests/fixtures/charts/README.md says where from.
DATA = Path(__file__).resolve().parents[1] / "fixtures" / "charts"
CHART_TOKEN = "tok-chart-push"
PREPARED_BRANCH = "feature/peer-relay"
PREPARED_KINDS = ("clean", "conflicting")
IMAGE_TAG_LINE = '  tag: "v0.28.0"\n'
CONFLICTING_TAG_LINE = '  tag: "v0.29.0-beta.1"\n'
# The line after which the prepared branch inserts its values block.
PEER_RELAY_ANCHOR = '  preauthKeyExpiration: "87600h"\n'
PEER_RELAY_VALUES = """\
  # -- Run the in-cluster client as a tailscale peer relay (headscale >= 0.29, tailscale >= 1.86).
  peerRelay:
    enabled: false
    # -- UDP port the relay listens on; clients behind restrictive NATs must reach it.
    port: 40000
    service:
      type: LoadBalancer
"""
PEER_RELAY_TEMPLATE = """\
{{- if and .Values.client.enabled .Values.client.peerRelay.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "headscale.fullname" . }}-peer-relay
  labels:
    {{- include "headscale.labels" . | nindent 4 }}
spec:
  type: {{ .Values.client.peerRelay.service.type }}
  ports:
    - name: peer-relay
      port: {{ .Values.client.peerRelay.port }}
      protocol: UDP
  selector:
    {{- include "headscale.selectorLabels" . | nindent 4 }}
{{- end }}
"""


@dataclass(frozen=True)
class ChartVariant:
    """Where a chart's files come from and where they live in its repository."""

    source: str
    prefix: str
    # (commit date, message, {repository path: data file}) in history order.
    history: tuple[tuple[str, str, dict[str, str]], ...]


def _kapernikov_history(prefix: str) -> tuple[tuple[str, str, dict[str, str]], ...]:
    docs = {f"{prefix}README.md.gotmpl": "README.md.gotmpl", f"{prefix}README.md": "README.md"}
    before = {
        f"{prefix}Chart.yaml": "Chart.pre-0.28-bump.yaml",
        f"{prefix}values.yaml": "values.pre-0.28-bump.yaml",
        **docs,
    }
    after = {f"{prefix}Chart.yaml": "Chart.yaml", f"{prefix}values.yaml": "values.yaml"}
    return (
        ("2025-11-20T09:00:00Z", "headscale chart 0.1.5 (headscale 0.27.0)", before),
        ("2026-01-20T09:00:00Z", "Bump headscale to 0.28.0, client options, chart 0.2.0", after),
    )


VARIANTS = {
    "kapernikov": ChartVariant(
        "kapernikov-headscale-helm-c6f4915", "headscale/", _kapernikov_history("headscale/")
    ),
    "gabe565": ChartVariant(
        "gabe565-charts-headscale-7849a42",
        "charts/headscale/",
        (
            (
                "2026-01-20T09:00:00Z",
                "headscale chart",
                {
                    "charts/headscale/Chart.yaml": "Chart.yaml",
                    "charts/headscale/values.yaml": "values.yaml",
                },
            ),
        ),
    ),
    # Five images that all follow appVersion (tests/test_chart_images_e2e.py).
    "cert-manager": ChartVariant(
        "cert-manager-cert-manager-12a3ef9",
        "deploy/charts/cert-manager/",
        (
            (
                "2025-10-07T06:08:11Z",
                "cert-manager chart at v1.19.0 (Chart.template.yaml served as Chart.yaml)",
                {
                    "deploy/charts/cert-manager/Chart.yaml": "Chart.template.yaml",
                    "deploy/charts/cert-manager/values.yaml": "values.yaml",
                },
            ),
        ),
    ),
}


def chart_file(variant: str, name: str) -> str:
    """The text of a checked-in chart data file, e.g. ``chart_file("kapernikov", "Chart.yaml")``."""
    return (DATA / VARIANTS[variant].source / name).read_text()


def load_chart(
    standin: StandIn,
    full_name: str = "kapernikov/headscale-helm",
    variant: str = "kapernikov",
    prepared: str | None = None,
) -> RepoState:
    """Create the chart repository (``main``), its push token, and optionally the prepared branch.

    ``prepared`` is None, ``"clean"`` or ``"conflicting"`` (kapernikov variant only).
    """
    chart = VARIANTS[variant]
    if prepared is not None and (prepared not in PREPARED_KINDS or variant != "kapernikov"):
        raise ValueError(f"prepared must be one of {PREPARED_KINDS} (kapernikov variant)")
    builder = HistoryBuilder(standin.github, full_name, description="Helm chart for headscale")
    for when, message, files in chart.history:
        builder.commit(
            when, message, {path: chart_file(variant, src) for path, src in files.items()}
        )
    standin.github.add_token(CHART_TOKEN, push_to=[full_name], login="watcher-bot")
    if prepared is not None:
        _prepared_branch(standin, full_name, chart.prefix, prepared == "conflicting")
    return builder.repo


def _prepared_branch(standin: StandIn, full_name: str, prefix: str, conflicting: bool) -> str:
    """The maintainer's ``feature/peer-relay`` branch, forked from ``main``'s head."""
    git = standin.github.repo(full_name).git
    git.create_branch(PREPARED_BRANCH, "main")
    values = chart_file("kapernikov", "values.yaml")
    if PEER_RELAY_ANCHOR not in values or IMAGE_TAG_LINE not in values:
        raise ValueError("the chart data changed: update the anchors in tests/standin/chart.py")
    values = values.replace(PEER_RELAY_ANCHOR, PEER_RELAY_ANCHOR + PEER_RELAY_VALUES)
    if conflicting:
        # The maintainer tried the beta: the same line the bump rewrites, so a merge conflicts.
        values = values.replace(IMAGE_TAG_LINE, CONFLICTING_TAG_LINE)
    files = {
        f"{prefix}values.yaml": values,
        f"{prefix}templates/client-peer-relay-service.yaml": PEER_RELAY_TEMPLATE,
    }
    return standin.github.push_commit(
        full_name,
        PREPARED_BRANCH,
        files,
        author="chart-maintainer",
        message="Add client.peerRelay values and the peer relay Service",
        when=at("2026-01-25T12:00:00Z"),
    )
