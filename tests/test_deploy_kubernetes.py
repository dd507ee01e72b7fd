"""deploy/: the Kubernetes manifests and the Prometheus rules an operator applies.

- every manifest is valid against the Kubernetes OpenAPI schemas (kubernetes-validate,
  strict, offline: the schemas ship inside the package), and kustomization.yaml lists
  every top-level one;
- every pod passes Pod Security "restricted" as far as the manifests decide it;
- liveness and readiness are separate probes on paths the daemon really serves;
- the ConfigMap holds a configuration `watcher config check` accepts;
- every series the alerting rules name is one watcher exports;
- the CronJob's comment gives `run --once`'s exit codes as the README does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import kubernetes_validate  # type: ignore[import-untyped]
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from watcher.cli.main import main
from watcher.service.health import HealthServer, HealthState
from watcher.service.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent
KUBE = ROOT / "deploy" / "kubernetes"
RULES = ROOT / "deploy" / "prometheus" / "watcher-rules.yaml"
README = (ROOT / "README.md").read_text()
# Custom resources: no schema in kubernetes-validate (they need their operator's CRDs).
CUSTOM_KINDS = {"Kustomization", "ServiceMonitor"}
KUBERNETES_VERSION = "1.37.0"


def load(path: Path) -> list[dict[str, Any]]:
    """The YAML documents of one file (plain dicts and lists)."""
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc]


def manifests() -> list[Path]:
    return sorted(KUBE.rglob("*.yaml"))


def resources() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in manifests():
        for doc in load(path):
            yield path, doc


@pytest.mark.parametrize("path", manifests(), ids=lambda p: str(p.relative_to(KUBE)))
def test_manifest_is_valid_against_the_kubernetes_schemas(path: Path) -> None:
    for doc in load(path):
        if doc["kind"] in CUSTOM_KINDS:
            assert set(doc) >= {"apiVersion", "kind"}
            continue
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_rejects_a_broken_manifest() -> None:
    (deployment,) = load(KUBE / "deployment.yaml")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "one"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_kustomization_lists_every_top_level_manifest() -> None:
    (kustomization,) = load(KUBE / "kustomization.yaml")
    listed = set(kustomization["resources"])
    top = {p.name for p in KUBE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == top


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod spec(s) inside a workload (Deployment, StatefulSet, Job, CronJob)."""
    kind = doc["kind"]
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return [doc["spec"]["template"]["spec"]]
    if kind == "CronJob":
        return [doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What breaks Pod Security "restricted" in a pod spec (empty: it passes).

    https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
    """
    problems = []
    pod_context = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(f"{flag} is set")
    if any("hostPath" in volume for volume in pod.get("volumes", [])):
        problems.append("a hostPath volume")
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        name = container["name"]
        context = container.get("securityContext", {})

        def setting(key: str, context: dict[str, Any] = context) -> Any:
            return context.get(key, pod_context.get(key))

        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{name}: privileged")
        if context.get("capabilities", {}).get("drop") != ["ALL"]:
            problems.append(f"{name}: capabilities.drop is not [ALL]")
        if set(context.get("capabilities", {}).get("add", [])) - {"NET_BIND_SERVICE"}:
            problems.append(f"{name}: adds capabilities")
        if setting("runAsNonRoot") is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if setting("runAsUser") == 0:
            problems.append(f"{name}: runAsUser is 0")
        if (setting("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: seccompProfile is not RuntimeDefault")
    return problems


WORKLOADS = [(path, doc) for path, doc in resources() if pod_specs(doc)]


def test_there_are_workloads_to_check() -> None:
    assert {doc["kind"] for _, doc in WORKLOADS} >= {"Deployment", "CronJob"}


@pytest.mark.parametrize(("path", "doc"), WORKLOADS, ids=lambda v: getattr(v, "name", ""))
def test_every_pod_passes_pod_security_restricted(path: Path, doc: dict[str, Any]) -> None:
    for pod in pod_specs(doc):
        assert restricted_violations(pod) == [], path


VIOLATIONS = [
    ("container", "allowPrivilegeEscalation", True),
    ("container", "privileged", True),
    ("container", "capabilities", {"drop": ["NET_RAW"]}),
    ("container", "capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
    ("container", "runAsNonRoot", False),
    ("container", "runAsUser", 0),
    ("container", "seccompProfile", {"type": "Unconfined"}),
    ("pod", "runAsNonRoot", False),
    ("pod", "seccompProfile", {"type": "Unconfined"}),
    ("spec", "hostNetwork", True),
    ("spec", "volumes", [{"name": "host", "hostPath": {"path": "/"}}]),
]


@given(
    workload=st.sampled_from(WORKLOADS),
    violations=st.lists(st.sampled_from(VIOLATIONS), min_size=1, max_size=3),
)
def test_the_restricted_check_catches_every_weakening(
    workload: tuple[Path, dict[str, Any]], violations: list[tuple[str, str, Any]]
) -> None:
    _, doc = workload
    pod = copy.deepcopy(pod_specs(doc)[0])
    for where, key, value in violations:
        target = {
            "container": pod["containers"][0].setdefault("securityContext", {}),
            "pod": pod.setdefault("securityContext", {}),
            "spec": pod,
        }[where]
        if where == "pod":
            # A container-level setting overrides the pod's: drop it so the pod's counts.
            pod["containers"][0].get("securityContext", {}).pop(key, None)
        target[key] = value
    assert restricted_violations(pod) != []


def probe_paths(doc: dict[str, Any]) -> dict[str, str]:
    (container,) = pod_specs(doc)[0]["containers"]
    return {
        kind: container[kind]["httpGet"]["path"]
        for kind in ("livenessProbe", "readinessProbe", "startupProbe")
        if kind in container
    }


@pytest.mark.slow  # starts a process
def test_liveness_and_readiness_are_separate_probes_the_daemon_serves() -> None:
    (deployment,) = load(KUBE / "deployment.yaml")
    paths = probe_paths(deployment)
    assert paths["livenessProbe"] == "/livez" and paths["readinessProbe"] == "/readyz"
    with HealthServer(HealthState(120.0), Metrics(process=False), "127.0.0.1", 0) as server:
        base = f"http://127.0.0.1:{server.address[1]}"
        # Alive from the start; not ready until a first cycle has finished.
        assert httpx.get(base + paths["livenessProbe"], timeout=5).status_code == 200
        assert httpx.get(base + paths["readinessProbe"], timeout=5).status_code == 503
        assert httpx.get(base + "/metrics", timeout=5).status_code == 200


def test_the_pod_mounts_the_configmap_where_watcher_config_points(tmp_path: Path) -> None:
    (deployment,) = load(KUBE / "deployment.yaml")
    (configmap,) = load(KUBE / "configmap.yaml")
    pod = pod_specs(deployment)[0]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    config_path = Path(env["WATCHER_CONFIG"]["value"])
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(config_path.parent)]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert config_path.name in configmap["data"]
    assert env["GITHUB_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "watcher",
        "key": "GITHUB_TOKEN",
    }
    (port,) = container["ports"]
    assert "EXPOSE 9464" in (ROOT / "Dockerfile").read_text() and port["containerPort"] == 9464


def test_the_configmap_is_a_valid_watcher_config(tmp_path: Path) -> None:
    (configmap,) = load(KUBE / "configmap.yaml")
    path = tmp_path / "watcher.toml"
    path.write_text(configmap["data"]["watcher.toml"])
    result = CliRunner().invoke(main, ["config", "check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}: ok" in result.stdout


def exported_series() -> set[str]:
    """Every series name watcher's /metrics can carry (suffixes of counters, histograms)."""
    names = set()
    for family in Metrics(process=True).registry.collect():
        suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count")}
        names.add(family.name)
        names.update(family.name + s for s in suffixes.get(family.type, ()))
    return names


def rule_series(expr: str) -> set[str]:
    return set(re.findall(r"\b(watcher_[a-z_]+|process_[a-z_]+)\b", expr))


def alert_rules() -> list[dict[str, Any]]:
    (doc,) = load(RULES)
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_alert_rules_name_only_series_watcher_exports() -> None:
    exported = exported_series()
    rules = alert_rules()
    assert {r["alert"] for r in rules} >= {
        "WatcherNoCycleFinished",
        "WatcherWatchInError",
        "WatcherQuotaNearFloor",
        "WatcherNotificationUndeliverable",
    }
    for rule in rules:
        named = rule_series(rule["expr"])
        assert named, rule["alert"]
        assert named <= exported, (rule["alert"], named - exported)
        assert rule["annotations"]["summary"] and rule["labels"]["severity"]


@given(st.sampled_from(alert_rules()), st.text(alphabet="abcdefghij_", min_size=3, max_size=12))
def test_a_misspelt_series_would_be_caught(rule: dict[str, Any], junk: str) -> None:
    misspelt = re.sub(r"\bwatcher_[a-z_]+", f"watcher_{junk}_nope", rule["expr"], count=1)
    assert not rule_series(misspelt) <= exported_series()


def test_the_cronjob_comment_gives_the_exit_codes_the_readme_gives_run_once() -> None:
    """`run --once` never exits 1 (README «Exit codes»); the CronJob's comment agrees."""
    table = README.split("### Exit codes", 1)[1].split("\n\n", 3)[2]
    rows = [row.split("|") for row in table.splitlines()[2:]]
    run_once = {cells[1].strip(): cells[3].strip() for cells in rows}
    comment = " ".join(
        line.lstrip("# ")
        for line in (KUBE / "optional" / "cronjob.yaml").read_text().splitlines()
        if line.startswith("#")
    )
    assert run_once["1"] == "(never)"
    assert "never exits 1" in comment and "1 not ready" not in comment
    assert f"0 {run_once['0']}" in comment
