"""The store-backed caches the read side benefits from, handed to sources as callables.

Sources never touch the database (docs/architecture.md, «Invariants»): feature scans by
commit SHA, image presence and pin resolutions are looked up in the store here and
passed in, so an idle poll asks the network only what may have changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from watcher.chart.bump import ImagePin
from watcher.core.image_ref import ImageRef
from watcher.core.models import Release
from watcher.net.registry import ManifestInfo, RegistryReader
from watcher.sources import feature, pulls
from watcher.sources.chart import ChartFiles, deployed_images
from watcher.sources.pins import PinSite, ResolvedPin, resolve_pin
from watcher.state.store import CHART_IMAGES_KEY_PREFIX, PIN_KEY_PREFIX

if TYPE_CHECKING:
    from watcher.actions.planning import PinResolver
    from watcher.config.model import ChartConfig, FeatureConfig, PinConfig
    from watcher.state.store import Store

# A pushed image tag is re-checked this often; until then a positive answer is reused
# so an idle poll sends no registry request (missing images are asked every poll).
IMAGE_RECHECK = timedelta(hours=6)
# Commit-graph answers (merged pull requests, one comparison per pair of commits) never
# change, so they are kept for good under this prefix (never pruned).
GRAPH_KEY_PREFIX = "graph:"


def store_scan_cache(store: Store, repo: str, rule: FeatureConfig) -> feature.ScanCache:
    """The store's feature-scan cache for ``repo`` and ``rule`` (check, backtest)."""
    key = feature.rule_key(rule)
    return feature.ScanCache(
        get=lambda sha: store.get_feature_scan(repo, sha, key),
        put=lambda sha, scan: store.put_feature_scan(repo, sha, key, scan),
    )


def store_graph_cache(store: Store) -> pulls.GraphCache:
    """The store's cache of immutable commit-graph answers (check, run, backtest)."""
    return pulls.GraphCache(
        get=lambda key: store.get_value(GRAPH_KEY_PREFIX + key),
        put=lambda key, value: store.set_value(GRAPH_KEY_PREFIX + key, value),
    )


def cached_manifest(
    store: Store, registry: RegistryReader
) -> Callable[[ImageRef], ManifestInfo | None]:
    """The registry's manifest lookup, a present image's answer kept for IMAGE_RECHECK."""

    def lookup(ref: ImageRef) -> ManifestInfo | None:
        known = store.get_image_check(str(ref))
        if known is not None and store.now() - known[1] < IMAGE_RECHECK:
            return ManifestInfo(digest=known[0], media_type=None)
        info = registry.manifest(ref)
        if info is not None:
            store.put_image_check(str(ref), info.digest or "", info.media_type)
        return info

    return lookup


def cached_pin_resolver(store: Store) -> PinResolver:
    """resolve_pin with answers kept for IMAGE_RECHECK in the store's kv table.

    The answer depends only on the pin and where the chart points it now, so it is keyed
    by those; registry tags move slowly, and the PR body says "today".
    """

    def resolve(registry: RegistryReader, site: PinSite, pin: PinConfig) -> ResolvedPin:
        key = PIN_KEY_PREFIX + json.dumps(
            [site.image, site.current, pin.key, pin.minimum], separators=(",", ":")
        )
        stored = store.get_value(key)
        if stored is not None:
            doc = json.loads(stored)
            if store.now().timestamp() - float(doc["at"]) < IMAGE_RECHECK.total_seconds():
                pinned = ImagePin(pin.key, pin.minimum, doc["resolved"])
                return ResolvedPin(pinned, site.image, site.current, doc["floating"])
        answer = resolve_pin(registry, site, pin)
        doc = {
            "at": store.now().timestamp(),
            "resolved": answer.pin.resolved,
            "floating": answer.floating_resolves_to,
        }
        store.set_value(key, json.dumps(doc))
        return answer

    return resolve


def cached_deployed_images(
    store: Store, watch_id: str
) -> Callable[[ChartFiles, ChartConfig, Release], list[str]]:
    """:func:`deployed_images`, remembered per watch for the inputs it was computed from.

    Finding them parses ``values.yaml`` round-trip (ruamel's pure-Python composer, for the
    byte positions the bump splices at): about 140 ms of a warm ``watcher check`` on the
    kapernikov chart, every poll, for an answer that changes only with the chart's two
    texts and directory, its ``[watch.chart]`` settings or the release. Those are hashed
    into the key's value; any change recomputes. Errors are not remembered.
    """
    key = CHART_IMAGES_KEY_PREFIX + watch_id

    def images(files: ChartFiles, chart: ChartConfig, release: Release) -> list[str]:
        inputs = [files.chart_dir, files.chart_yaml, files.values_yaml, release.tag]
        inputs += [release.version, chart.model_dump_json()]
        digest = hashlib.sha256(json.dumps(inputs).encode()).hexdigest()
        stored = store.get_value(key)
        if stored is not None:
            doc = json.loads(stored)
            if doc.get("digest") == digest:
                return [str(ref) for ref in doc["images"]]
        refs = deployed_images(files, chart, release)
        store.set_value(key, json.dumps({"digest": digest, "images": refs}))
        return refs

    return images
