"""`make standin`: the stand-in left running, so every README command can be tried offline.

Starts the local GitHub + registry stand-in with the headscale-like history (at
``--stage``, ``ready`` by default) and the kapernikov chart, plus a second, tiny upstream
and chart for the README's "Write your own watch" walkthrough (``example/greeter``,
whose v1.1.0 adds a ``--color`` flag, and ``example/charts``). Writes into ``--dir``
(default ``.standin/``):

- ``watcher.toml``: the built-in headscale watch, pointed at the stand-in;
- ``connection.toml``: only the ``[github]`` and ``[registries]`` tables, to start a
  config file of one's own with;
- ``env``: ``WATCHER_CONFIG``, ``WATCHER_DB_URL`` (``watcher.db`` beside it) and
  ``GITHUB_TOKEN``, a token that only this stand-in on 127.0.0.1 accepts;

then prints how to use them and serves until Ctrl-C or SIGTERM. No network, no token.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from pathlib import Path

from tests.standin.chart import CHART_TOKEN, load_chart
from tests.standin.headscale import STAGES, load_headscale
from tests.standin.history import HistoryBuilder, at
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config

EXAMPLE_UPSTREAM = "example/greeter"
EXAMPLE_CHART = "example/charts"
EXAMPLE_IMAGE = "example/greeter"  # on ghcr.io
# greeter's source before and after the feature the walkthrough watches for.
GREETER_BEFORE = 'package cmd\n\nfunc Flags() []string { return []string{"--name"} }\n'
GREETER_AFTER = 'package cmd\n\nfunc Flags() []string { return []string{"--name", "--color"} }\n'
GREETER_CHART = (
    'apiVersion: v2\nname: greeter\ndescription: Says hello\nversion: 0.3.0\nappVersion: "1.0.0"\n'
)
GREETER_VALUES = (
    "image:\n  repository: ghcr.io/example/greeter\n"
    '  tag: "v1.0.0"  # the greeter release this chart runs\n  pullPolicy: IfNotPresent\n'
)
# A template, so `helm lint` and `helm template` have a real chart to check.
GREETER_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-greeter
  labels:
    app.kubernetes.io/name: greeter
    app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
spec:
  selector:
    matchLabels:
      app.kubernetes.io/name: greeter
  template:
    metadata:
      labels:
        app.kubernetes.io/name: greeter
    spec:
      containers:
        - name: greeter
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          imagePullPolicy: {{ .Values.image.pullPolicy }}
"""
EXAMPLE_PULL_TITLE = "Add --color"


def load_example(standin: StandIn) -> None:
    """The walkthrough's upstream (v1.0.0 without, v1.1.0 with ``--color``) and chart."""
    upstream = HistoryBuilder(standin.github, EXAMPLE_UPSTREAM, description="Says hello")
    upstream.commit("2026-03-01T10:00:00Z", "greeter", {"cmd/flags.go": GREETER_BEFORE})
    upstream.release("v1.0.0", "2026-03-01T12:00:00Z")
    # --color comes in through pull request #1, merged (a merge commit) before v1.1.0.
    upstream.branch("color", "main")
    upstream.commit(
        "2026-04-01T10:00:00Z", EXAMPLE_PULL_TITLE, {"cmd/flags.go": GREETER_AFTER}, "color"
    )
    pull = standin.github.open_pull(EXAMPLE_UPSTREAM, "color", "main", EXAMPLE_PULL_TITLE)
    standin.github.merge_pull(EXAMPLE_UPSTREAM, pull.number, when=at("2026-04-01T11:00:00Z"))
    upstream.release("v1.1.0", "2026-04-02T12:00:00Z")
    for tag in ("v1.0.0", "v1.1.0"):
        standin.registry.push("ghcr.io", EXAMPLE_IMAGE, tag)
    chart = HistoryBuilder(standin.github, EXAMPLE_CHART, description="Helm charts")
    chart.commit(
        "2026-03-02T09:00:00Z",
        "greeter chart",
        {
            "charts/greeter/Chart.yaml": GREETER_CHART,
            "charts/greeter/values.yaml": GREETER_VALUES,
            "charts/greeter/templates/deployment.yaml": GREETER_DEPLOYMENT,
        },
    )
    # The one stand-in token may push to both chart repositories.
    standin.github.add_token(
        CHART_TOKEN, push_to=["kapernikov/headscale-helm", EXAMPLE_CHART], login="watcher-bot"
    )


def connection_toml(standin: StandIn) -> str:
    """The ``[github]`` and ``[registries]`` tables that point a config at ``standin``."""
    return (
        "# Points watcher at the local stand-in (`make standin`) instead of GitHub.\n"
        f'[github]\napi_url = "{standin.api_url}"\nwrite_interval_seconds = 0\n\n'
        "[registries]\n"
        f'"docker.io" = "{standin.registry_url("docker.io")}"\n'
        f'"ghcr.io" = "{standin.registry_url("ghcr.io")}"\n'
    )


def prepare(standin: StandIn, workdir: Path, stage: str) -> dict[str, str]:
    """Load the stand-in, write the files into ``workdir``; return the environment."""
    load_chart(standin)
    standin.registry.push("docker.io", "tailscale/tailscale", "stable")
    load_headscale(standin, stage)
    load_example(standin)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "watcher.toml"
    config.write_text(standin_config(standin, {"write_interval_seconds": "0"}))
    (workdir / "connection.toml").write_text(connection_toml(standin))
    env = {
        "WATCHER_CONFIG": str(config.resolve()),
        "WATCHER_DB_URL": f"sqlite:///{(workdir / 'watcher.db').resolve()}",
        "GITHUB_TOKEN": CHART_TOKEN,
        "STANDIN_API": standin.api_url,
    }
    lines = [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    (workdir / "env").write_text("\n".join(lines) + "\n")
    return env


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; exit 0."""
    parser = argparse.ArgumentParser(prog="make standin", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(".standin"), help="where to write")
    parser.add_argument("--stage", choices=STAGES, default="ready", help="headscale's stage")
    args = parser.parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with StandIn() as standin:
        prepare(standin, args.dir, args.stage)
        env_file = shlex.quote(str(args.dir / "env"))
        print(
            f"stand-in GitHub at {standin.api_url}: headscale at stage {args.stage!r}, the "
            f"kapernikov chart, and {EXAMPLE_UPSTREAM} + {EXAMPLE_CHART} for your own watch.\n"
            f"In another shell, in this directory:\n"
            f"  . {env_file}     # WATCHER_CONFIG, WATCHER_DB_URL, GITHUB_TOKEN (valid only "
            f"here), STANDIN_API\n"
            f"  .venv/bin/watcher check; .venv/bin/watcher status   # ... every README command\n"
            f"Ctrl-C stops it.",
            flush=True,
        )
        stop.wait()
    print("stand-in stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
