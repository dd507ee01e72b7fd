"""The codeload stand-in: streams ``git archive`` tarballs like codeload.github.com.

``/repos/{o}/{r}/tarball/{ref}`` redirects here. The archive is produced by real git
(``--prefix={o}-{r}-{sha7}/``, a pax global header holding the commit SHA) and streamed
chunked, never held in memory, so size tests see the memory profile of the real thing.
"""

from __future__ import annotations

from tests.standin.github_state import GitHubState
from tests.standin.routing import Router
from tests.standin.wire import Request, Response

PREFIX = "/codeload"


class Codeload:
    """Serves ``/codeload/{owner}/{repo}/legacy.tar.gz/{ref}``."""

    def __init__(self, state: GitHubState) -> None:
        """Serve archives of the repositories in ``state``."""
        self.state = state
        self.router = Router()
        self.router.add(
            "GET HEAD",
            r"/(?P<owner>[^/]+)/(?P<repo>[^/]+)/legacy\.tar\.gz/(?P<ref>.+)",
            self._tarball,
        )

    def handle(self, request: Request, subpath: str) -> Response:
        """Answer one request below ``/codeload``."""
        response = self.router.dispatch(request, subpath)
        return response or _text(404, "404: Not Found")

    def _tarball(self, request: Request, params: dict[str, str]) -> Response:
        repo = self.state.find_repo(params["owner"], params["repo"])
        sha = repo.git.resolve(params["ref"]) if repo else None
        if repo is None or sha is None:
            return _text(404, "404: Not Found")
        stem = f"{repo.owner}-{repo.name}-{sha[:7]}"
        headers = {
            "content-type": "application/x-gzip",
            "content-disposition": f"attachment; filename={stem}.tar.gz",
            "etag": f'"{sha}"',
        }
        return Response(200, headers, stream=repo.git.archive(sha, f"{stem}/"))


def _text(status: int, text: str) -> Response:
    return Response(status, {"content-type": "text/plain; charset=utf-8"}, text.encode())
