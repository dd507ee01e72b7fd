"""The image's build and start-up, performed without Docker: wheel, fresh venv, entrypoint.

Images cannot be built where the tests run (no Docker daemon), so this test replays
what the Dockerfile does, read from the Dockerfile itself so the two cannot drift:

1. the builder stage's context (its ``COPY`` sources only) goes to a scratch directory
   and its ``pip wheel`` command runs there, producing watcher and every dependency as
   wheels (PyPI or the configured local indexes provide them);
2. a fresh virtualenv (no ``--system-site-packages``: a missing dependency must show)
   plays the runtime image: the runtime stage's ``pip install`` command runs with the
   venv's pip, offline from those wheels, and ``docker/entrypoint.sh`` is copied to
   ``bin/watcher-entrypoint`` as the ``COPY --chmod=0755`` does;
3. the ``ENTRYPOINT`` runs with the runtime stage's ``ENV`` (paths redirected into
   tmp), ``PATH`` holding only the venv and the system shell, and the working directory
   outside the repository, so nothing can come from the checkout: the migrations must be
   the wheel's ``watcher/_migrations``;
4. ``/healthz`` turns 200 against an in-process stand-in, ``/metrics`` shows watcher's
   series, the ``HEALTHCHECK`` command passes, SIGTERM ends the daemon with 0, after
   which the ``HEALTHCHECK`` fails as it must.

``RUN`` steps that are not pip (the non-root user) do not apply outside a container;
the test names the ones it skips, so a new build step fails it until it is mirrored.
Nothing is skipped: a wheel that cannot be built fails the test with pip's output.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.standin.chart import CHART_TOKEN
from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.state.migrate import HEAD_REVISION

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
# Where the Dockerfile keeps the built wheels; replaced by a scratch directory here.
WHEELS = "/wheels"
# The first cycle scans release tarballs with a cold cache; a few seconds here.
HEALTHY_DEADLINE = 60.0
STOP_DEADLINE = 30.0
PIP_TIMEOUT = 300
# RUN steps that only make sense inside an image (user, ownership of /data).
NOT_APPLICABLE = ("useradd ",)
# Every variable the entrypoint and the daemon read from the image's ENV.
REDIRECTED = ("WATCHER_DB_URL", "WATCHER_HEALTH_BIND", "WATCHER_HEALTH_PORT")


@dataclass
class Stage:
    """One ``FROM`` stage of the Dockerfile: its instructions as (keyword, arguments)."""

    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        """Arguments of every instruction ``keyword`` in this stage, in order."""
        return [args for kw, args in self.instructions if kw == keyword]


def dockerfile_stages(text: str) -> list[Stage]:
    """Parse the Dockerfile into stages (continuation lines joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for line in text.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.strip().partition(" ")
        keyword, args = keyword.upper(), " ".join(args.split())
        if keyword == "FROM":
            stages.append(Stage(args))
        elif stages:
            stages[-1].instructions.append((keyword, args))
    return stages


def without_flags(args: str) -> str:
    """A RUN/COPY argument string without its leading ``--flag=...`` options."""
    words = args.split(" ")
    while words and words[0].startswith("--"):
        words.pop(0)
    return " ".join(words)


def env_of(stage: Stage) -> dict[str, str]:
    """The ``ENV`` variables a stage sets (``KEY=VALUE`` form)."""
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"ENV {args!r}: only the KEY=VALUE form is mirrored here"
            env[key] = value
    return env


def pip_command(run: str, python: Path, wheels: Path) -> str:
    """A Dockerfile ``pip ...`` RUN line for ``python``'s pip, ``/wheels`` redirected."""
    command = without_flags(run)
    assert command.startswith("pip "), command
    command = command.replace(WHEELS, shlex.quote(str(wheels)))
    return f"{shlex.quote(str(python))} -m {command}"


def sh(command: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a Dockerfile RUN command with sh (globs expand as in the image); fail loudly."""
    result = subprocess.run(
        ["/bin/sh", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        pytest.fail(
            f"`{command}` failed with exit {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def free_port() -> int:
    """A port nobody listens on right now (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def healthcheck(stage: Stage) -> list[str]:
    """The exec-form CMD of the stage's HEALTHCHECK."""
    (args,) = stage.all("HEALTHCHECK")
    _, sep, cmd = args.partition(" CMD ")
    assert sep, f"HEALTHCHECK {args!r} is not in exec form"
    command: list[str] = json.loads(cmd)
    return command


@pytest.fixture
def daemon_stopper() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes to kill if the test leaves them running (a failed assertion)."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_image_steps_build_install_migrate_and_serve(
    headscale_standin: StandIn,
    tmp_path: Path,
    daemon_stopper: list[subprocess.Popen[bytes]],
) -> None:
    began = time.monotonic()
    builder, runtime = dockerfile_stages(DOCKERFILE.read_text())

    # -- builder: the narrow context, then its pip wheel ---------------------------------
    context = tmp_path / "src"
    context.mkdir()
    for args in builder.all("COPY"):
        *sources, dest = without_flags(args).split(" ")
        for source in sources:
            # Relative destinations under WORKDIR, as the builder has: a directory's
            # contents go into DEST, a file into DEST/ (trailing slash) or to DEST.
            assert not dest.startswith("/"), f"COPY {args!r}: mirror this destination"
            origin = ROOT / source.rstrip("/")
            if origin.is_dir():
                shutil.copytree(
                    origin,
                    context / dest,
                    ignore=shutil.ignore_patterns("__pycache__"),
                    dirs_exist_ok=True,
                )
            else:
                target = context / dest / origin.name if dest.endswith("/") else context / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)
    wheels = tmp_path / "wheels"
    (wheel_run,) = builder.all("RUN")
    sh(pip_command(wheel_run, Path(sys.executable), wheels), cwd=context)
    assert list(wheels.glob("watcher-*.whl")), "pip wheel built no watcher wheel"

    # -- runtime: a fresh venv installed offline from the wheels --------------------------
    venv = tmp_path / "venv"
    sh(f"{shlex.quote(sys.executable)} -m venv {shlex.quote(str(venv))}", cwd=tmp_path)
    bin_dir = venv / "bin"
    runs = runtime.all("RUN")
    pip_runs = [r for r in runs if without_flags(r).startswith("pip ")]
    others = [r for r in runs if r not in pip_runs]
    assert [r for r in others if not r.startswith(NOT_APPLICABLE)] == [], (
        "a new RUN step in the runtime stage: mirror it here"
    )
    assert pip_runs, "no pip install in the runtime stage"
    # As in the image, pip sees only the wheels: this machine's pip configuration (extra
    # indexes, find-links) is dropped, so a wheel missing from the builder's set fails.
    offline = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    offline |= {**env_of(runtime), "PIP_CONFIG_FILE": os.devnull}
    for run in pip_runs:
        sh(pip_command(run, bin_dir / "python", wheels), cwd=tmp_path, env=offline)

    (entry_copy,) = [a for a in runtime.all("COPY") if "docker/entrypoint.sh" in a]
    *_, entry_target = without_flags(entry_copy).split(" ")
    (entrypoint,) = json.loads(runtime.all("ENTRYPOINT")[0])
    assert Path(entry_target).name == entrypoint
    shutil.copy(ROOT / "docker" / "entrypoint.sh", bin_dir / entrypoint)
    (bin_dir / entrypoint).chmod(0o755)

    # -- the container's environment, paths redirected into tmp ---------------------------
    image_env = env_of(runtime)
    assert set(REDIRECTED) <= set(image_env), image_env
    data = tmp_path / "data"  # WORKDIR /data: outside the repository
    data.mkdir()
    config = tmp_path / "config" / "watcher.toml"
    config.parent.mkdir()
    config.write_text(standin_config(headscale_standin, {"write_interval_seconds": "0"}))
    port = free_port()
    db_file = data / "watcher.db"
    env = {
        **image_env,
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(data),
        "WATCHER_DB_URL": f"sqlite:///{db_file}",
        "WATCHER_HEALTH_BIND": "127.0.0.1",
        "WATCHER_HEALTH_PORT": str(port),
        "WATCHER_CONFIG": str(config),
        "GITHUB_TOKEN": CHART_TOKEN,
    }

    # The interpreter the entrypoint will use imports watcher and its migrations from
    # the venv, not from the checkout (which is neither on PATH nor the cwd).
    where = subprocess.run(
        [
            "python",
            "-c",
            "import watcher, watcher.state.migrate as m; print(watcher.__file__); "
            "print(m.script_location())",
        ],
        cwd=data,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.split()
    site_packages = next((venv / "lib").glob("python*/site-packages"))
    assert Path(where[0]).is_relative_to(site_packages), where
    assert Path(where[1]) == site_packages / "watcher" / "_migrations", where

    # -- ENTRYPOINT ---------------------------------------------------------------------
    out, err = (tmp_path / "stdout.log").open("wb"), (tmp_path / "stderr.log").open("wb")
    with out, err:
        daemon = subprocess.Popen([entrypoint], cwd=data, env=env, stdout=out, stderr=err)
        daemon_stopper.append(daemon)
        healthz = wait_healthy(daemon, port, tmp_path)
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        # `exec` replaced the shell: SIGTERM reaches the daemon itself.
        cmdline = Path(f"/proc/{daemon.pid}/cmdline").read_bytes().split(b"\0")
        probe = subprocess.run(
            healthcheck(runtime), cwd=data, env=env, capture_output=True, timeout=30, check=False
        )
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=STOP_DEADLINE)
    stdout = (tmp_path / "stdout.log").read_text()
    stderr = (tmp_path / "stderr.log").read_text()
    assert code == 0, stderr[-3000:]

    assert healthz["status"] == "ok", healthz
    assert "is at the newest schema" in stdout, stdout
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    assert "watcher_cycles_total" in metrics and "watcher_watch_state{" in metrics, metrics
    assert b"run" in cmdline and not cmdline[0].endswith(b"sh"), cmdline
    assert probe.returncode == 0, probe.stderr
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "watch evaluated" for e in events), stderr[-3000:]
    assert CHART_TOKEN not in stdout + stderr

    # Stopped: the HEALTHCHECK must now report a failure.
    after = subprocess.run(
        healthcheck(runtime), cwd=data, env=env, capture_output=True, timeout=30, check=False
    )
    assert after.returncode != 0
    # Replaying the image must stay cheap enough to run with every `make test`.
    assert time.monotonic() - began < 90


def wait_healthy(daemon: subprocess.Popen[bytes], port: int, logs: Path) -> dict[str, object]:
    """Poll /healthz until 200 (its JSON body), failing early if the process exits."""
    deadline = time.monotonic() + HEALTHY_DEADLINE
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            pytest.fail(
                f"the entrypoint exited with {daemon.returncode} before /healthz turned 200:\n"
                + (logs / "stderr.log").read_text()[-3000:]
            )
        try:
            reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.TransportError:
            reply = None  # migrating, or not listening yet
        if reply is not None and reply.status_code == 200:
            body: dict[str, object] = reply.json()
            return body
        time.sleep(0.1)
    pytest.fail(
        f"/healthz not 200 within {HEALTHY_DEADLINE:.0f} s:\n"
        + (logs / "stderr.log").read_text()[-3000:]
    )
