"""Every client honours the environment's proxy settings: reads (httpx) and writes
(PyGithub) both go through a local forward proxy, and NO_PROXY sends them direct
(docs/architecture.md, «Talking to GitHub»)."""

from __future__ import annotations

from tests.conftest import WatcherRun
from tests.forward_proxy import forward_proxy
from tests.standin.headscale import load_headscale


def proxy_env(url: str, no_proxy: str = "") -> dict[str, str]:
    # Both spellings: the lower-case one wins where both are set.
    return {
        "HTTP_PROXY": url,
        "http_proxy": url,
        "HTTPS_PROXY": "",
        "https_proxy": "",
        "ALL_PROXY": "",
        "all_proxy": "",
        "NO_PROXY": no_proxy,
        "no_proxy": no_proxy,
    }


def test_reads_and_writes_go_through_the_proxy(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    with forward_proxy() as proxy:
        acting.env = proxy_env(proxy.url)
        result = acting("run", "--once")
        assert result.exit_code == 0, result.output
    arrived = acting.standin.log.records()
    assert arrived
    assert len(proxy.seen) == len(arrived)  # nothing reached the stand-in around the proxy
    auth = [headers.get("authorization", "") for _, _, headers in proxy.seen]
    reads = [a for a, (method, _, _) in zip(auth, proxy.seen, strict=True) if method == "GET"]
    # The reader says "Bearer", PyGithub "token": both clients used the proxy.
    assert any(a.startswith("Bearer ") for a in reads)
    writes = [
        m for m, _, h in proxy.seen if m != "GET" and h.get("authorization", "")[:6] == "token "
    ]
    assert "POST" in writes
    assert acting.standin.log.where(method="POST", path=r"/pulls$")


def test_no_proxy_sends_requests_direct(acting: WatcherRun) -> None:
    load_headscale(acting.standin, "ready")
    with forward_proxy() as proxy:
        acting.env = proxy_env(proxy.url, no_proxy="127.0.0.1")
        result = acting("check")
        assert result.exit_code in (0, 1), result.output
    assert acting.standin.log.records()
    assert proxy.seen == []
