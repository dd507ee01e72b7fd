"""Every file of a chart directory at its base branch, for the checks a maintainer runs.

``helm lint`` and ``helm template`` need the whole chart (``templates/``, ``charts/``,
helpers, ``.helmignore``), not only the two files the bump edits. The directory is
found by walking the git trees API down from the branch's root tree; its own tree and
every blob are addressed by SHA, so they are immutable and read once, ever (cached
without revalidation). Bounded: a chart is a few dozen small files, so a directory
beyond the caps is an error naming it rather than a silent partial copy.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from watcher.core.errors import NotFoundError, PayloadError
from watcher.net.github_read import GitHubReader

MAX_FILES = 2000
MAX_BYTES = 32 * 1024 * 1024


def chart_tree(reader: GitHubReader, repo: str, ref: str, chart_dir: str) -> dict[str, bytes]:
    """``{path inside the chart: bytes}`` of every file under ``chart_dir`` at ``ref``."""
    parts = [p for p in chart_dir.strip("/").split("/") if p not in ("", ".")]
    tree = _tree(reader, repo, quote(ref, safe=""), revalidate=True)
    for depth, part in enumerate(parts):
        entry = next(
            (e for e in tree.get("tree", ()) if e.get("path") == part and e.get("type") == "tree"),
            None,
        )
        if entry is None:
            where = "/".join(parts[: depth + 1])
            raise NotFoundError(
                f"{repo}@{ref}: chart directory {where} not found",
                hint="check [watch.chart] repo, path and base in the config",
            )
        tree = _tree(reader, repo, str(entry["sha"]), revalidate=False)
    tree = _tree(reader, repo, f"{tree['sha']}?recursive=1", revalidate=False)
    blobs = [e for e in tree.get("tree", ()) if e.get("type") == "blob"]
    size = sum(int(e.get("size") or 0) for e in blobs)
    if tree.get("truncated") or len(blobs) > MAX_FILES or size > MAX_BYTES:
        raise PayloadError(
            f"{repo}@{ref}: chart directory {chart_dir} holds {len(blobs)} files, {size} bytes: "
            f"more than a chart (caps: {MAX_FILES} files, {MAX_BYTES} bytes)",
            hint="point [watch.chart].path at the chart's own directory",
        )
    return {str(e["path"]): _blob(reader, repo, str(e["sha"])) for e in blobs}


def _tree(reader: GitHubReader, repo: str, sha: str, *, revalidate: bool) -> Mapping[str, Any]:
    url = f"/repos/{repo}/git/trees/{sha}"
    data = reader.get_json(url, revalidate=revalidate).data
    if not isinstance(data, dict) or not isinstance(data.get("tree"), list):
        raise PayloadError(f"{reader.url(url)}: not a git tree")
    return data


def _blob(reader: GitHubReader, repo: str, sha: str) -> bytes:
    url = f"/repos/{repo}/git/blobs/{sha}"
    data = reader.get_json(url, revalidate=False).data
    if not isinstance(data, dict) or data.get("encoding") != "base64":
        raise PayloadError(f"{reader.url(url)}: not a base64 git blob")
    try:
        return base64.b64decode(str(data.get("content", "")))
    except (binascii.Error, ValueError) as exc:
        raise PayloadError(f"{reader.url(url)}: blob content is not base64") from exc
