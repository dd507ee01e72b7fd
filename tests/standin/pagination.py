"""GitHub-style pagination: ``per_page``/``page`` query parameters and the ``Link`` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

from tests.standin.wire import Request

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int_param(request: Request, name: str, default: int) -> int:
    # GitHub ignores values it cannot read rather than rejecting the request.
    try:
        return int(request.query.get(name, default))
    except ValueError:
        return default


def paginate(items: Sequence[T], request: Request, url: str) -> tuple[list[T], dict[str, str]]:
    """The requested page of ``items`` and the headers (``Link``) to send with it.

    ``url`` is the absolute URL of the listing without a query; other query
    parameters of the request are kept in the links, as GitHub does.
    """
    per_page = min(max(_int_param(request, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int_param(request, "page", 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    extra = {k: v for k, v in request.query.items() if k not in ("per_page", "page")}

    def link(number: int, rel: str) -> str:
        query = urlencode({**extra, "per_page": per_page, "page": number})
        return f'<{url}?{query}>; rel="{rel}"'

    rels = []
    if page > 1:
        rels += [link(min(page - 1, last), "prev")]
    if page < last:
        rels += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        rels += [link(1, "first")]
    return chunk, ({"link": ", ".join(rels)} if rels else {})
