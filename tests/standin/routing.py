"""A tiny regex router: the first route whose method and pattern match handles a request."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tests.standin.wire import Request, Response

Handler = Callable[[Request, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    """One pattern (matched in full against the decoded sub-path) and its handler."""

    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Ordered routes; ``dispatch`` returns None when nothing matches so callers pick the 404."""

    def __init__(self) -> None:
        """Start with no routes."""
        self._routes: list[Route] = []

    def add(self, methods: str, pattern: str, handler: Handler) -> None:
        """Route ``methods`` (space separated, e.g. "GET HEAD") matching ``pattern`` to handler."""
        self._routes.append(Route(frozenset(methods.split()), re.compile(pattern), handler))

    def dispatch(
        self, request: Request, subpath: str, extra: Mapping[str, str] | None = None
    ) -> Response | None:
        """Call the first matching handler with its named groups plus ``extra``, or None."""
        for route in self._routes:
            match = route.pattern.fullmatch(subpath)
            if match and request.method in route.methods:
                params = {k: v for k, v in match.groupdict().items() if v is not None}
                return route.handler(request, {**params, **(extra or {})})
        return None
