"""Registry pull tokens are reused across cycles until shortly before they expire."""

from __future__ import annotations

from watcher.net.registry import TokenCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_is_reused_until_its_lifetime_minus_a_margin() -> None:
    clock = Clock()
    cache = TokenCache(clock)
    cache.put("https://registry", "repository:a/b:pull", "tok", 300)
    assert cache.get("https://registry", "repository:a/b:pull") == "tok"
    assert cache.get("https://registry", "repository:c/d:pull") is None
    assert cache.get("https://other", "repository:a/b:pull") is None
    clock.now += 300 - TokenCache.MARGIN - 1
    assert cache.get("https://registry", "repository:a/b:pull") == "tok"
    clock.now += 2
    assert cache.get("https://registry", "repository:a/b:pull") is None


def test_missing_or_odd_lifetime_uses_the_spec_default() -> None:
    clock = Clock()
    cache = TokenCache(clock)
    cache.put("r", "s", "tok", None)
    clock.now += TokenCache.DEFAULT_LIFETIME - TokenCache.MARGIN - 1
    assert cache.get("r", "s") == "tok"
    clock.now += 2
    assert cache.get("r", "s") is None
