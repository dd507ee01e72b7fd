"""The checks a chart maintainer runs before merging: ``helm lint`` and ``helm template``.

The bumped chart (every file of the chart directory at the base branch, with the
bump's files over it) is written to a temporary directory and handed to a real
``helm``: the binary named by ``WATCHER_HELM``, else ``helm`` on PATH. Where the binary
lives is a fact of the machine or container, not of a watch (one config file serves a
laptop, a CronJob and the daemon's image), hence an environment variable rather than a
config key. No helm: the checks are reported as not run, never as passed.

A chart whose ``Chart.yaml`` names dependencies that are not vendored in ``charts/``
cannot be linted honestly without ``helm dependency build``, which would fetch from
chart repositories; the checks then say exactly that instead of running.

Results are remembered per process by a digest of the chart's files and the binary,
so a daemon re-planning an unchanged bump every cycle runs helm once.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal

from watcher.chart.yaml_edit import load_data
from watcher.core.errors import ChartError, ConfigError

HELM_ENV = "WATCHER_HELM"
TIMEOUT_SECONDS = 120.0
# Output quoted in the PR body or an error: enough to see the problem, never a wall.
MAX_LINES = 12
RELEASE_NAME = "watcher-check"

Status = Literal["passed", "failed", "not run"]


@dataclass(frozen=True)
class HelmCheck:
    """What helm said of the bumped chart: ``status``, one line per command, problems."""

    status: Status
    lines: tuple[str, ...]
    problems: tuple[str, ...] = ()

    def body_lines(self) -> list[str]:
        """The PR body's short «Checks» section."""
        lines = ["### Checks", "", *(f"- {line}" for line in self.lines)]
        if self.problems:
            lines += ["", "```", *self.problems, "```"]
        return lines

    def raise_if_failed(self, chart: str) -> None:
        """A ChartError when the bumped chart no longer lints or renders."""
        if self.status == "failed":
            first = next(iter(self.problems), "helm gave no reason")
            raise ChartError(
                f"{chart}: the bumped chart fails helm's checks: {' '.join(first.split())}",
                hint="no pull request is opened or moved while the chart does not render; "
                "`watcher check --plan` shows the bump; fix the chart or the watch's image keys",
            )


def helm_binary(environ: Mapping[str, str] | None = None) -> str | None:
    """``WATCHER_HELM`` (which must exist), else ``helm`` on PATH, else None."""
    env = os.environ if environ is None else environ
    named = env.get(HELM_ENV, "").strip()
    if not named:
        return shutil.which("helm", path=env.get("PATH"))
    found = shutil.which(named, path=env.get("PATH"))
    if found is None:
        raise ConfigError(
            f"{HELM_ENV}={named}: no such executable",
            hint=f"point {HELM_ENV} at a helm binary, or unset it to use helm from PATH",
        )
    return found


def check_chart(helm: str | None, files: Mapping[str, bytes], name: str) -> HelmCheck:
    """Lint and render the chart made of ``files`` (paths inside the chart directory)."""
    if helm is None:
        return HelmCheck(
            "not run",
            (f"`helm lint` and `helm template` were not run: no helm on PATH or in {HELM_ENV}",),
        )
    missing = _missing_dependencies(files)
    if missing:
        return HelmCheck(
            "not run",
            (
                "`helm lint` and `helm template` were not run: the chart's dependencies "
                f"{', '.join(missing)} are not vendored in charts/ (`helm dependency build` "
                "would fetch them; watcher does not)",
            ),
        )
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(f"{path}\0{len(files[path])}\0".encode())
        digest.update(files[path])
    return _cached(helm, digest.hexdigest(), tuple(sorted(files.items())), _dir_name(name))


@lru_cache(maxsize=64)
def _cached(helm: str, digest: str, files: tuple[tuple[str, bytes], ...], name: str) -> HelmCheck:
    del digest  # part of the cache key only: the files are compared by it first
    with tempfile.TemporaryDirectory(prefix="watcher-helm-") as tmp:
        chart = Path(tmp) / name
        for path, data in files:
            target = chart / PurePosixPath(path)
            if not target.resolve().is_relative_to(chart.resolve()):
                raise ChartError(f"chart file {path!r} points outside the chart directory")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        # helm keeps caches and repository settings under these; none of the user's.
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            **{f"HELM_{k}_HOME": str(Path(tmp) / k.lower()) for k in ("CACHE", "CONFIG", "DATA")},
        }
        version = _run(helm, ["version", "--short"], env).stdout.strip()
        lint = _run(helm, ["lint", str(chart)], env)
        render = _run(helm, ["template", RELEASE_NAME, str(chart)], env)
    summary = next((ln for ln in _blocks(lint.stdout + lint.stderr) if " linted, " in ln), "")
    kinds = re.findall(r"^kind:\s*(\S+)", render.stdout, re.MULTILINE)
    at = f" (helm {version})" if version else ""
    lines = (
        f"`helm lint`: {'passed' if lint.returncode == 0 else 'failed'}, "
        f"{summary.removeprefix('Error: ')}{at}",
        f"`helm template`: rendered {len(kinds)} manifest(s): {', '.join(kinds) or 'none'}"
        if render.returncode == 0
        else "`helm template`: failed",
    )
    problems = [b for b in _blocks(lint.stdout) if b.startswith(("[ERROR]", "[WARNING]"))]
    if render.returncode != 0:
        problems += [b for b in _blocks(render.stderr) if b.startswith("Error: ")]
    failed = lint.returncode != 0 or render.returncode != 0
    # Errors first: the one an error message quotes is the reason, not a warning.
    problems.sort(key=lambda b: not b.startswith(("[ERROR]", "Error: ")))
    tidy = [p.replace(f"{chart}/", "").replace(str(chart), name) for p in problems[:MAX_LINES]]
    return HelmCheck("failed" if failed else "passed", lines, tuple(tidy))


def _run(helm: str, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        # The binary is the operator's helm (WATCHER_HELM or PATH); no shell, fixed arguments.
        return subprocess.run(  # noqa: S603
            [helm, *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ChartError(
            f"helm {args[0]} took longer than {TIMEOUT_SECONDS:.0f} s", hint="check the helm binary"
        ) from exc
    except OSError as exc:
        raise ConfigError(
            f"{helm}: cannot run helm ({exc.strerror})",
            hint=f"point {HELM_ENV} at an executable helm binary, or unset it",
        ) from exc


def _missing_dependencies(files: Mapping[str, bytes]) -> list[str]:
    """Dependencies in Chart.yaml with neither ``charts/NAME/`` nor ``charts/NAME-*.tgz``."""
    raw = files.get("Chart.yaml", b"").decode("utf-8", errors="replace")
    try:
        data = load_data(raw, filename="Chart.yaml")
    except ChartError:
        return []  # helm lint reports a broken Chart.yaml itself
    deps = data.get("dependencies") if isinstance(data, dict) else None
    names = [str(d["name"]) for d in deps or () if isinstance(d, dict) and d.get("name")]
    return [
        name
        for name in names
        if f"charts/{name}/Chart.yaml" not in files
        and not any(re.fullmatch(rf"charts/{re.escape(name)}-[^/]+\.tgz", p) for p in files)
    ]


def _dir_name(name: str) -> str:
    """A safe directory name for the chart (helm lint wants one that matches the chart)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "chart"


def _blocks(text: str) -> list[str]:
    """helm's messages, each with its indented continuation lines joined on."""
    blocks: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[:1].isspace() and blocks:
            blocks[-1] += "\n" + line.rstrip()
        else:
            blocks.append(line.rstrip())
    return blocks
