"""Point a watcher configuration at a running stand-in instead of GitHub and the registries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watcher.config.model import default_config_text

if TYPE_CHECKING:
    from tests.standin.server import StandIn

FAST_GITHUB = {"timeout_seconds": "2", "retries": "1", "max_wait_seconds": "2"}
# Lines the overrides below rewrite, for a config that has no [github] table of its own.
_GITHUB_KEYS = "\n".join(f"{key} = 0" for key in ("timeout_seconds", "retries", "max_wait_seconds"))


def standin_config(
    standin: StandIn,
    github: dict[str, str] | None = None,
    api_url: str | None = None,
    text: str | None = None,
) -> str:
    """The built-in default config (or ``text``) with every base URL on the stand-in.

    ``github`` overrides keys of the ``[github]`` table (values are TOML literals);
    by default retries and timeouts are short so fault tests stay fast. A config
    without a ``[github]`` table gets one.
    """
    text = default_config_text() if text is None else text
    if "[github]" not in text:
        text = f'[github]\napi_url = "https://api.github.com"\n{_GITHUB_KEYS}\n' + text
    text = text.replace('"https://api.github.com"', f'"{api_url or standin.api_url}"')
    text = text.replace('"https://registry-1.docker.io"', f'"{standin.registry_url("docker.io")}"')
    text = text.replace('"https://ghcr.io"', f'"{standin.registry_url("ghcr.io")}"')
    text = text.replace('"https://quay.io"', f'"{standin.registry_url("quay.io")}"')
    for key, value in {**FAST_GITHUB, **(github or {})}.items():
        lines = text.splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} ="))
        lines[index] = f"{key} = {value}"
        text = "\n".join(lines) + "\n"
    return text
