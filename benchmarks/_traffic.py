"""Describe what the stand-in saw during one benchmarked CLI run."""

from __future__ import annotations

from tests.standin.reqlog import RequestLog


def describe(log: RequestLog, code: int) -> str:
    """Requests split into GitHub/registry and reads/writes, 304s and quota-counted ones."""
    records = log.records()
    registry = sum(1 for r in records if r.service == "registry")
    writes = sum(1 for r in records if r.is_write)
    not_modified = sum(1 for r in records if r.status == 304)
    return (
        f"{len(records)} requests ({len(records) - registry} GitHub, {registry} registry; "
        f"{writes} writes), {not_modified} answered 304, {log.quota_used()} quota-counted; "
        f"exit {code}"
    )
