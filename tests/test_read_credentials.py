"""Credentials for reads: with GitHub App credentials, reads use the installation token.

Read in one place (watcher/net/credentials.py) for reads and writes; the installation
token is minted at the first read and renewed before it expires (docs/architecture.md,
«Talking to GitHub»).
"""

from __future__ import annotations

from pathlib import Path

from tests.conftest import WatcherRun
from tests.memory_cache import MemoryCache
from tests.prs import install_app
from tests.standin.headscale import load_headscale
from tests.standin.server import StandIn
from watcher.net.credentials import ReadAuthorization, read_credentials
from watcher.net.http import HttpClient

TOKENS = r"/app/installations/77/access_tokens"


def test_with_app_credentials_check_reads_with_the_installation_token(
    watcher: WatcherRun, tmp_path: Path
) -> None:
    load_headscale(watcher.standin, "ready")
    watcher.env = install_app(watcher.standin, tmp_path)  # and no GITHUB_TOKEN
    result = watcher("check")
    assert result.exit_code in (0, 1), result.output
    records = watcher.standin.log.records()
    assert len(watcher.standin.log.where(method="POST", path=TOKENS)) == 1
    reads = [r for r in records if r.service == "github" and r.method == "GET"]
    assert reads
    minted = {r.request_headers.get("authorization") for r in reads}
    assert len(minted) == 1
    (header,) = minted
    assert header is not None and header.startswith("Bearer ghs_")
    assert all(r.authenticated for r in reads)


def test_the_installation_token_is_renewed_before_it_expires(tmp_path: Path) -> None:
    now = [1_800_000_000.0]
    with StandIn(now=lambda: now[0]) as standin:
        credentials = read_credentials(install_app(standin, tmp_path))
        http = HttpClient(MemoryCache(), clock=lambda: now[0])
        try:
            auth = ReadAuthorization(credentials, http, standin.api_url, clock=lambda: now[0])
            first = auth.headers()
            now[0] += 3600 - 301  # GitHub's hour, less the renewal margin, not yet over
            assert auth.headers() == first
            assert len(standin.log.where(method="POST", path=TOKENS)) == 1
            now[0] += 2
            renewed = auth.headers()
            assert renewed != first
            assert len(standin.log.where(method="POST", path=TOKENS)) == 2
            assert standin.github.token_info(renewed["Authorization"].split()[1]) is not None
        finally:
            http.close()
