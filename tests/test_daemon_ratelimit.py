"""A rate limit met by a watch pauses the daemon until GitHub says to come back."""

from __future__ import annotations

import time
from pathlib import Path

from tests.standin.server import StandIn
from tests.standin.watcher_config import standin_config
from watcher.config.model import DaemonConfig, parse_config
from watcher.service.daemon import RunCycle, next_delay
from watcher.state.store import Store


def test_secondary_limit_with_retry_after_pauses_the_schedule(
    headscale_standin: StandIn, tmp_path: Path
) -> None:
    headscale_standin.faults.add(
        method="GET", path=r"/releases$", status=429, headers={"retry-after": "900"}, times=None
    )
    config = parse_config(standin_config(headscale_standin), "test")
    settings = DaemonConfig(interval_seconds=120, jitter_seconds=0)
    with Store.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        began = time.time()
        result = RunCycle(config, store, settings)()
    assert result.rate_limited_until is not None
    assert 890 <= result.rate_limited_until - began <= 910
    (outcome,) = result.report.outcomes if result.report else ()
    assert outcome.error_class == "RateLimitedError"
    pace = next_delay(120, began, rate_limited_until=result.rate_limited_until)
    assert pace.delay >= 890 and pace.reason is not None and "rate limited" in pace.reason
