"""Caches of what the network answered: HTTP validators, feature scans, image checks.

Each entry only saves a request or a download: losing one costs a full fetch, never a
wrong verdict, so ``RunStore.prune`` may delete old entries. A paginated list is
stored with :meth:`CacheStore.put_many` as one snapshot (docs/architecture.md,
«Talking to GitHub»).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update

from watcher.core.models import CachedResponse, FeatureScan
from watcher.state.codec import hit_from_json, hit_to_json
from watcher.state.db import Database, corrupt, upsert
from watcher.state.tables import FeatureScanRow, HttpCacheEntry, ImageCheckRow


class CacheStore(Database):
    """The ``http_cache``, ``feature_scans`` and ``image_checks`` tables."""

    # -- HTTP validator cache -------------------------------------------------------

    def get_cached(self, url: str) -> CachedResponse | None:
        """The stored response for ``url`` (validators and body), if any."""
        with self._transaction() as session:
            row = session.get(HttpCacheEntry, url)
            if row is None:
                return None
            return CachedResponse(
                url=row.url,
                etag=row.etag,
                last_modified=row.last_modified,
                status=row.status,
                content_type=row.content_type,
                body=row.body,
                stored_at=row.stored_at,
            )

    def put_cached(self, response: CachedResponse) -> None:
        """Store (or replace) the response for its URL."""
        self.put_many([response])

    def put_many(self, responses: Sequence[CachedResponse]) -> None:
        """Store (or replace) several responses in one transaction: all or none.

        A paginated list is one snapshot: its pages' validators and the combined list
        are only trusted together (docs/architecture.md, «Talking to GitHub»).
        """
        now = self.now()
        with self._transaction(write=True) as session:
            for response in responses:
                upsert(
                    session,
                    HttpCacheEntry,
                    {
                        "url": response.url,
                        "etag": response.etag,
                        "last_modified": response.last_modified,
                        "status": response.status,
                        "content_type": response.content_type,
                        "body": response.body,
                        "stored_at": now,
                    },
                )

    def touch_cached(self, url: str) -> None:
        """Stamp the stored response for ``url`` as confirmed by the server now (a 304).

        One small UPDATE, no body written: ``stored_at`` then says when the server last
        gave or confirmed the answer, for a read that may be served while it is fresh
        (``HttpClient.get``, ``fresh_for``), and a used entry is not pruned as old.
        """
        touch = update(HttpCacheEntry).where(HttpCacheEntry.url == url)
        with self._transaction(write=True) as session:
            session.execute(
                touch.values(stored_at=self.now()),
                execution_options={"synchronize_session": False},
            )

    # -- feature scans --------------------------------------------------------------

    def get_feature_scan(self, repo: str, commit_sha: str, rule_key: str) -> FeatureScan | None:
        """The stored scan of ``commit_sha`` under ``rule_key``, if it was scanned before."""
        with self._transaction() as session:
            row = session.get(FeatureScanRow, (repo, commit_sha, rule_key))
            if row is None:
                return None
            try:
                hits = tuple(hit_from_json(hit) for hit in row.hits)
            except (KeyError, TypeError, ValueError) as exc:
                raise corrupt(f"feature scan of {repo}@{commit_sha}", exc) from exc
            return FeatureScan(
                found=row.found,
                hits=hits,
                commit_sha=row.commit_sha,
                members_seen=row.members_seen,
                bytes_read=row.bytes_read,
                complete=row.complete,
            )

    def put_feature_scan(
        self, repo: str, commit_sha: str, rule_key: str, scan: FeatureScan
    ) -> None:
        """Store (or replace) the scan of ``commit_sha`` under ``rule_key``."""
        with self._transaction(write=True) as session:
            upsert(
                session,
                FeatureScanRow,
                {
                    "repo": repo,
                    "commit_sha": commit_sha,
                    "rule_key": rule_key,
                    "found": scan.found,
                    "hits": [hit_to_json(hit) for hit in scan.hits],
                    "members_seen": scan.members_seen,
                    "bytes_read": scan.bytes_read,
                    "complete": scan.complete,
                    "scanned_at": self.now(),
                },
            )

    # -- image presence cache -------------------------------------------------------

    def get_image_check(self, reference: str) -> tuple[str, datetime] | None:
        """``(digest, checked_at)`` of the last successful check of ``reference``."""
        with self._transaction() as session:
            row = session.get(ImageCheckRow, reference)
            return None if row is None else (row.digest, row.checked_at)

    def put_image_check(self, reference: str, digest: str, media_type: str | None) -> None:
        """Remember that ``reference`` resolved to ``digest`` now."""
        with self._transaction(write=True) as session:
            upsert(
                session,
                ImageCheckRow,
                {
                    "reference": reference,
                    "digest": digest,
                    "media_type": media_type,
                    "checked_at": self.now(),
                },
            )
