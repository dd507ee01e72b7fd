"""Config validation: typed objects, errors naming file + key path, secrets refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from watcher.config.model import (
    default_config_text,
    default_database_url,
    load_config,
    parse_config,
)
from watcher.core.errors import ConfigError
from watcher.net.credentials import github_token

ROOT = Path(__file__).resolve().parents[1]

MINIMAL = """
[[watch]]
id = "w"
repo = "o/r"
[watch.feature]
marker = "some.marker"
"""


def test_example_equals_built_in_default() -> None:
    example = load_config(ROOT / "config.example.toml")
    assert example == load_config(None)
    assert tomllib.loads((ROOT / "config.example.toml").read_text()) == tomllib.loads(
        default_config_text()
    )


def test_default_is_the_headscale_peer_relay_watch() -> None:
    watch = load_config(None).watch[0]
    assert watch.repo == "juanfont/headscale"
    assert watch.feature is not None
    assert watch.feature.all_markers == ("tailscale.com/cap/relay", "tailcfg.PeerCapabilityRelay")
    assert watch.changelog.mentions == ("peer relay", "cap/relay")
    assert set(watch.required) == {"release", "feature", "image"}
    assert 2841 in watch.issues.numbers and 2180 in watch.issues.numbers


@pytest.mark.parametrize(
    ("feature", "markers"),
    [
        ('marker = "a.b"', ("a.b",)),
        ('markers = ["a.b", "c.d"]', ("a.b", "c.d")),
        ('marker = "a.b"\nmarkers = ["c.d", "a.b"]', ("a.b", "c.d")),
    ],
)
def test_marker_and_markers_both_work(feature: str, markers: tuple[str, ...]) -> None:
    text = MINIMAL.replace('marker = "some.marker"', feature)
    watch = parse_config(text, "m.toml").watch[0]
    assert watch.feature is not None
    assert watch.feature.all_markers == markers
    # Without `mentions`, the changelog phrases are the markers.
    assert watch.changelog.mentions == ()


def test_minimal_config_gets_defaults() -> None:
    config = parse_config(MINIMAL, "m.toml")
    assert config.github.api_url == "https://api.github.com"
    assert config.watch[0].tag_regex.search("v1.2.3")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (MINIMAL + "colour = 1\n", "m.toml: watch[0].feature.colour: unknown key"),
        (MINIMAL.replace('marker = "some.marker"', "marker = 3"), "watch[0].feature.marker"),
        (MINIMAL + "paths = []\n", "watch[0].feature.paths"),
        (
            MINIMAL.replace('id = "w"', 'id = "w"\ntag_pattern = "v(\\\\d+"'),
            "watch[0].tag_pattern: not a valid regular expression",
        ),
        (
            MINIMAL.replace('id = "w"', 'id = "w"\ntag_pattern = "^v\\\\d+$"'),
            "named group (?P<version>",
        ),
        (MINIMAL.replace('repo = "o/r"', 'repo = "no-slash"'), "watch[0].repo"),
        (MINIMAL.replace('id = "w"', 'id = "w"\nrequired = ["feature"]'), "must include 'release'"),
        ("[github]\napi_url = 'ftp://x'\n" + MINIMAL, "github.api_url"),
        (
            "[github]\ntoken = 'ghp_x'\n" + MINIMAL,
            "github.token: secrets are not read from the file",
        ),
        ("", "watch: required key is missing"),
        ("[[watch]\n", "not valid TOML"),
        (MINIMAL + MINIMAL, "watch id 'w' is used twice"),
        (MINIMAL.replace('marker = "some.marker"', ""), "watch[0].feature: needs `marker`"),
        (MINIMAL.replace('marker = "some.marker"', "markers = []"), "needs `marker`"),
        (MINIMAL.replace('marker = "some.marker"', 'markers = ["ab"]'), "feature.markers[0]"),
        (MINIMAL + '[watch.changelog]\nmentions = ["x"]\n', "watch[0].changelog.mentions[0]"),
        (MINIMAL + '[watch.changelog]\ndocs = "a b.md"\n', "watch[0].changelog.docs"),
    ],
)
def test_errors_name_file_and_key_path(text: str, needle: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "m.toml")
    assert needle in str(info.value)
    assert str(info.value).startswith("m.toml: ")


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path / "nope.toml")


def test_enterprise_api_url_is_accepted() -> None:
    config = parse_config(
        '[github]\napi_url = "https://ghe.example.com/api/v3/"\n' + MINIMAL, "m.toml"
    )
    assert config.github.api_url == "https://ghe.example.com/api/v3"


def test_unknown_watch_selection_lists_known_ones() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(MINIMAL, "m.toml").select(("nope",))
    assert "w" in info.value.hint


def test_token_from_env_or_file(tmp_path: Path) -> None:
    assert github_token({}) is None
    assert github_token({"GITHUB_TOKEN": " abc \n"}) == "abc"
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    assert github_token({"GITHUB_TOKEN_FILE": str(secret)}) == "from-file"
    with pytest.raises(ConfigError, match="GITHUB_TOKEN_FILE"):
        github_token({"GITHUB_TOKEN_FILE": str(tmp_path / "missing")})


def test_default_database_is_one_file_per_instance_under_xdg_state_home() -> None:
    env = {"XDG_STATE_HOME": "/s"}
    assert default_database_url(environ=env) == "sqlite:////s/watcher/watcher.db"
    assert default_database_url("platform", env) == "sqlite:////s/watcher/platform.db"


def test_instance_defaults_to_the_config_file_name(tmp_path: Path) -> None:
    """Two config files on one machine get two instance names unless they set one."""
    platform = tmp_path / "Platform Team.toml"
    platform.write_text(MINIMAL, "utf-8")
    assert load_config(platform).instance == "platform-team"
    named = tmp_path / "other.toml"
    named.write_text('instance = "edge"\n' + MINIMAL, "utf-8")
    assert load_config(named).instance == "edge"
    assert load_config(None).instance == "watcher"


def test_instance_name_is_checked(tmp_path: Path) -> None:
    """An instance name goes into issue markers and file names: a bad one is refused."""
    bad = tmp_path / "c.toml"
    bad.write_text('instance = "no spaces/or slashes"\n' + MINIMAL, "utf-8")
    with pytest.raises(ConfigError, match="instance"):
        load_config(bad)
