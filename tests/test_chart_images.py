"""Several images, digests and umbrella dependencies in one chart bump (constructed charts)."""

from __future__ import annotations

import pytest

from tests.memory_cache import MemoryCache
from tests.standin.server import StandIn
from watcher.actions.planning import resolve_digests
from watcher.chart.bump import BumpRequest, Change, image_targets, plan_bump
from watcher.chart.image_sites import expand_image_keys, follow_tag, split_tag
from watcher.chart.yaml_edit import find_scalar, replace_in_literal
from watcher.config.model import parse_config
from watcher.core.errors import ChartError, ConfigError, NotFoundError
from watcher.net.http import HttpClient
from watcher.net.registry import RegistryReader

from .test_yaml_edit import assert_only_changed

CHART = 'apiVersion: v2\nname: platform\nversion: 0.4.2\nappVersion: "v1.16.0"\n'
OLD_DIGEST = "sha256:" + "0" * 64
NEW_DIGEST = "sha256:" + "1" * 64


def _request(chart: str, values: str, **kwargs: object) -> BumpRequest:
    return BumpRequest("", chart, values, "v1.19.1", "1.19.1", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v1.16.0", "v1.19.1"),
        ("1.16.0", "1.19.1"),
        ("1.2.1-debian-12-r0", "1.19.1-debian-12-r0"),
        ("1.16", "1.19.1"),
        ("v1.20.0", None),
        ("1.19.1", None),
        ("latest", None),
        ("stable-1.16.0", None),
        ("", None),
    ],
)
def test_follow_tag_keeps_the_style(tag: str, expected: str | None) -> None:
    assert follow_tag(tag, "1.19.1") == expected


def test_a_pre_release_is_one_version_not_a_suffix() -> None:
    parts = split_tag("v0.29.0-beta.1")
    assert parts is not None
    assert (parts.prefix, str(parts.version), parts.suffix) == ("v", "0.29.0b1", "")


def test_digest_pinned_beside_a_tag_is_re_pinned() -> None:
    values = (
        "image:\n  registry: quay.io\n  repository: jetstack/cert-manager-controller\n"
        f'  tag: v1.16.0\n  digest: "{OLD_DIGEST}"\n'
    )
    digests = {"image": NEW_DIGEST}
    result = plan_bump(_request(CHART, values, digests=digests))
    assert_only_changed(
        values,
        result.files["values.yaml"],
        {4: "  tag: v1.19.1\n", 5: f'  digest: "{NEW_DIGEST}"\n'},
    )
    assert (
        Change(
            "values.yaml",
            "image.digest",
            OLD_DIGEST,
            NEW_DIGEST,
            "digest of quay.io/jetstack/cert-manager-controller:v1.19.1 in its registry",
        )
        in result.changes
    )
    assert result.images == ("quay.io/jetstack/cert-manager-controller:v1.19.1",)


def test_a_pinned_digest_without_its_new_value_stops_the_bump() -> None:
    values = f"image:\n  repository: x/y\n  tag: v1.16.0\n  digest: {OLD_DIGEST}\n"
    with pytest.raises(ChartError, match=r"image\.digest pins sha256:0+, and the digest of x/y"):
        plan_bump(_request(CHART, values))


def test_an_empty_digest_and_an_unmoved_image_need_no_digest() -> None:
    values = 'image:\n  repository: x/y\n  tag: v1.16.0\n  digest: ""\n'
    assert plan_bump(_request(CHART, values)).files["values.yaml"].count('digest: ""') == 1
    at_target = f"image:\n  repository: x/y\n  tag: v1.19.1\n  digest: {OLD_DIGEST}\n"
    result = plan_bump(
        _request('apiVersion: v2\nversion: 1.0.0\nappVersion: "1.19.1"\n', at_target)
    )
    assert not result.changed


UMBRELLA = """\
apiVersion: v2
name: platform
version: 0.4.2
dependencies:
  - name: cert-manager
    version: v1.16.0 # keep in sync with the images
    repository: https://charts.jetstack.io
  - name: common
    alias: lib
    version: 2.x.x
    repository: oci://registry-1.docker.io/bitnamicharts
"""
UMBRELLA_VALUES = """\
cert-manager:
  image:
    repository: quay.io/jetstack/cert-manager-controller
  webhook:
    image:
      repository: quay.io/jetstack/cert-manager-webhook
      tag: "v1.16.0"
"""


def test_umbrella_dependency_version_and_its_images_follow_together() -> None:
    request = _request(
        UMBRELLA,
        UMBRELLA_VALUES,
        image_keys=("cert-manager.**.image",),
        dependencies=("cert-manager", "lib"),
    )
    result = plan_bump(request)
    assert_only_changed(
        UMBRELLA,
        result.files["Chart.yaml"],
        {3: "version: 0.5.0\n", 6: "    version: v1.19.1 # keep in sync with the images\n"},
    )
    assert_only_changed(UMBRELLA_VALUES, result.files["values.yaml"], {7: '      tag: "v1.19.1"\n'})
    # The controller's empty tag follows the subchart, whose version was just bumped.
    assert result.images == (
        "quay.io/jetstack/cert-manager-controller:v1.19.1",
        "quay.io/jetstack/cert-manager-webhook:v1.19.1",
    )
    assert [(c.key, c.old) for c in result.floating] == [("dependencies[lib].version", "2.x.x")]
    assert not plan_bump(
        _request(
            result.files["Chart.yaml"],
            result.files["values.yaml"],
            image_keys=request.image_keys,
            dependencies=request.dependencies,
        )
    ).changed


def test_dependency_only_bump_without_images() -> None:
    result = plan_bump(
        _request(UMBRELLA, "replicaCount: 1\n", image_keys=(), dependencies=("cert-manager",))
    )
    assert set(result.files) == {"Chart.yaml"}
    assert result.images == ()


def test_an_unknown_dependency_is_a_clear_error() -> None:
    with pytest.raises(ChartError, match=r"Chart\.yaml: no dependency named 'cert-manger'"):
        plan_bump(_request(UMBRELLA, "a: 1\n", image_keys=(), dependencies=("cert-manger",)))


def test_globs_expand_in_document_order_and_must_match() -> None:
    values = (
        "image: {repository: a}\nweb:\n  image: {repository: b}\n"
        "deep:\n  er:\n    image: {repository: c}\nlist:\n  - image: {repository: d}\n"
    )
    assert expand_image_keys(values, ("**.image",), filename="v") == [
        "image",
        "web.image",
        "deep.er.image",
    ]
    assert expand_image_keys(values, ("*.image", "image"), filename="v") == ["web.image", "image"]
    with pytest.raises(ChartError, match=r"v: no image .* matches 'nope\.\*'"):
        expand_image_keys(values, ("nope.*",), filename="v")


def test_global_image_registry_overrides_each_image_registry() -> None:
    values = 'global:\n  imageRegistry: "mirror.example"\nimage:\n  registry: docker.io\n'
    values += "  repository: bitnami/redis\n  tag: 1.2.1-debian-12-r0\n"
    chart = "apiVersion: v2\nversion: 1.0.0\nappVersion: 1.2.1\n"
    (target,) = image_targets(_request(chart, values))
    assert target.reference == "mirror.example/bitnami/redis:1.19.1-debian-12-r0"


def test_config_image_keys_and_dependencies() -> None:
    base = '[[watch]]\nid = "w"\nrepo = "a/b"\n[watch.feature]\nmarker = "xyz"\n'
    base += '[watch.chart]\nrepo = "c/d"\n'
    chart = parse_config(base + 'image_keys = ["**.image", "x.image"]\n', "t").watch[0].chart
    assert chart is not None
    assert chart.value_images == ("**.image", "x.image")
    default = parse_config(base, "t").watch[0].chart
    assert default is not None
    assert default.value_images == ("image",)
    with pytest.raises(ConfigError, match=r"watch\[0\]\.chart\.image_keys\[0\]"):
        parse_config(base + 'image_keys = ["a..b"]\n', "t")


def test_digests_resolved_from_the_registry(standin: StandIn) -> None:
    pushed = standin.registry.push("quay.io", "jetstack/cert-manager-webhook", "v1.19.1")
    values = (
        "webhook:\n  image:\n    registry: quay.io\n    repository: jetstack/cert-manager-webhook\n"
        f"    tag: v1.16.0\n    digest: {OLD_DIGEST}\n"
        "other:\n  image:\n    registry: quay.io\n    repository: jetstack/gone\n"
        f"    tag: v1.16.0\n    digest: {OLD_DIGEST}\n"
    )
    registry = RegistryReader(
        HttpClient(MemoryCache()), {"quay.io": standin.registry_url("quay.io")}
    )
    targets = image_targets(_request(CHART, values, image_keys=("webhook.image",)))
    assert resolve_digests(registry, targets) == {"webhook.image": pushed.digest}
    missing = image_targets(_request(CHART, values, image_keys=("**.image",)))
    with pytest.raises(NotFoundError, match=r"quay.io/jetstack/gone:v1.19.1: no manifest digest"):
        resolve_digests(registry, missing)


ANNOTATED = """\
annotations:
  artifacthub.io/images: |
    - name: app
      image: quay.io/x/app:v1.16.0  # main
    - name: app-v1.16.0-tools
      image: quay.io/x/tools:v1.16.0
  other: quay.io/x/app:v1.16.0
version: 1.0.0
"""


def test_replace_in_literal_touches_only_the_occurrences_in_that_block() -> None:
    key = ("annotations", "artifacthub.io/images")
    new = replace_in_literal(
        ANNOTATED, key, "quay.io/x/app:v1.16.0", "quay.io/x/app:v1.19.1", filename="Chart.yaml"
    )
    assert_only_changed(ANNOTATED, new, {4: "      image: quay.io/x/app:v1.19.1  # main\n"})
    same = replace_in_literal(ANNOTATED, key, "quay.io/x/absent:1", "y", filename="Chart.yaml")
    assert same is ANNOTATED
    assert replace_in_literal(ANNOTATED, ("nope",), "a", "b", filename="Chart.yaml") is ANNOTATED


@pytest.mark.parametrize("style", [">", ""])
def test_replace_in_literal_refuses_other_styles(style: str) -> None:
    text = f"annotations:\n  images: {style}\n    quay.io/x/app:v1.16.0\n"
    with pytest.raises(
        ChartError, match=r"Chart\.yaml:[23]: 'annotations\.images' is not a literal"
    ):
        replace_in_literal(
            text, ("annotations", "images"), "app:v1.16.0", "app:v2", filename="Chart.yaml"
        )


def test_a_key_with_dots_is_addressed_by_a_tuple_path() -> None:
    ref = find_scalar(ANNOTATED, ("annotations", "other"), filename="Chart.yaml")
    assert ref is not None
    assert ref.value == "quay.io/x/app:v1.16.0"


def test_an_image_with_no_tag_and_no_app_version_is_not_silently_unchecked() -> None:
    values = "image:\n  repository: x/y\nweb:\n  image:\n    repository: x/web\n    tag: v1.0.0\n"
    with pytest.raises(ChartError, match=r"no appVersion, and values\.yaml: image\.tag is empty"):
        image_targets(
            _request("apiVersion: v2\nversion: 1.0.0\n", values, image_keys=("**.image",))
        )
