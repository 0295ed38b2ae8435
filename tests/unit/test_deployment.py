"""Deployment checks that need no Docker engine and no cluster, only files and offline tools.

- docker-compose.yml: ``docker-compose config`` (Debian's docker-compose, ``make deploy-tools``)
  accepts it, and it runs every service with a health check on its own port.
- k8s/: every overlay is rendered (by the small kustomize renderer below: no kustomize binary
  is packaged for Debian or PyPI) and every built-in object validates with
  ``kubernetes-validate --strict`` offline. Strimzi's custom resources have no schema there, so
  their required fields are checked here by hand, and there is one KafkaTopic per topic.
- configuration: every ``DRIFTLOOP_`` variable named in compose or k8s is a field of some
  settings class, and every settings field is set in compose and in each overlay. The settings
  classes are discovered, not listed.
- Grafana: the dashboard parses and every metric its PromQL asks for is one a service exports
  (found by reading the ``ServiceMetrics`` calls in services/; the integration tests compare
  against a live /metrics scrape).

A missing tool is a failure that says to run ``make deploy-tools``, never a skip.
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import pkgutil
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

import driftloop
import services
from driftloop.contracts.topics import CATALOG
from tests.dashboards import dashboard_exprs, dashboards, promql_metrics

REPO = Path(__file__).resolve().parents[2]
SERVICES_DIR = Path(services.__file__).parent
LIBRARY_DIR = Path(driftloop.__file__).parent
COMPOSE = REPO / "docker-compose.yml"
K8S = REPO / "k8s"
OVERLAYS = ("dev", "production")
#: Packages that are not services but whose settings are part of the configuration.
SHARED_SETTINGS_PACKAGES = ("registry", "featurestore")
#: Variables that only make sense on a laptop; deployments must leave them unset.
LOCAL_ONLY = {
    # Spans go to the OpenTelemetry collector in a deployment, not to a file in the container.
    "DRIFTLOOP_TRACE_FILE",
}
ENV_NAME = re.compile(r"\bDRIFTLOOP_[A-Z0-9_]*[A-Z0-9]")
STRIMZI = "kafka.strimzi.io/"


# -- tools ---------------------------------------------------------------------------------------
def tool(name: str) -> str:
    """The path of a command-line tool: on PATH or beside this Python (the virtualenv)."""
    beside = Path(sys.executable).parent / name
    found = shutil.which(name) or (str(beside) if beside.exists() else None)
    assert found, f"{name} is not installed: run `make deploy-tools` (or `make install`)"
    return found


# -- discovery -----------------------------------------------------------------------------------
def service_names() -> list[str]:
    """Services are the packages under services/ that have an app.py (as `driftloop run`)."""
    return sorted(p.parent.name for p in SERVICES_DIR.glob("*/app.py"))


def settings_classes() -> list[type[BaseSettings]]:
    """Every pydantic-settings class of the services' settings modules and of the shared
    packages whose settings the services read (registry, featurestore)."""
    modules = [importlib.import_module(f"services.{name}.settings") for name in service_names()]
    for package in SHARED_SETTINGS_PACKAGES:
        pkg = importlib.import_module(f"driftloop.{package}")
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"driftloop.{package}."):
            modules.append(importlib.import_module(info.name))
    found: dict[str, type[BaseSettings]] = {}
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseSettings) and cls.__module__ == module.__name__:
                found[f"{cls.__module__}.{cls.__qualname__}"] = cls
    return list(found.values())


def field_env_names(cls: type[BaseSettings]) -> dict[str, frozenset[str]]:
    """For each field, the environment names that set it: its validation alias (any of the
    choices) or else env_prefix + the field's name, upper-cased (settings are not
    case-sensitive)."""
    prefix = str(cls.model_config.get("env_prefix") or "")
    names: dict[str, frozenset[str]] = {}
    for field_name, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, str):
            choices = [alias]
        elif isinstance(alias, AliasChoices):
            choices = [c for c in alias.choices if isinstance(c, str)]
        elif info.alias:
            choices = [info.alias]
        else:
            choices = [prefix + field_name]
        names[f"{cls.__name__}.{field_name}"] = frozenset(c.upper() for c in choices)
    return names


def settings_fields() -> dict[str, frozenset[str]]:
    fields: dict[str, frozenset[str]] = {}
    for cls in settings_classes():
        fields.update(field_env_names(cls))
    return fields


def known_env_names() -> set[str]:
    return {name for names in settings_fields().values() for name in names}


# -- a kustomize renderer for the subset k8s/ uses ----------------------------------------------
# Supported: resources (files and directories), namespace, labels (pairs, includeSelectors),
# images (name -> newName/newTag), replicas, and patches (strategic merge, from a file or
# inline, optionally with a target kind/name). Lists of mappings with a ``name`` merge by name,
# as Kubernetes' strategic merge does for containers, env, volumes and ports. Anything else
# in a kustomization is an error, so the renderer never silently differs from kustomize.
KUSTOMIZATION_KEYS = {"apiVersion", "kind", "resources", "namespace", "labels", "images",
                      "replicas", "patches"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "PersistentVolume", "StorageClass", "PriorityClass"}
MERGE_KEYS = ("name", "containerPort", "port", "mountPath")


def merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(x, dict) for x in base + patch):
        for key in MERGE_KEYS:
            if all(key in x for x in base + patch):
                out_list = [copy.deepcopy(x) for x in base]
                for item in patch:
                    index = next((i for i, x in enumerate(out_list) if x[key] == item[key]), None)
                    if index is None:
                        out_list.append(copy.deepcopy(item))
                    else:
                        out_list[index] = merge(out_list[index], item)
                return out_list
    return copy.deepcopy(patch)


def load_docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kustomize build directory`` would print (for the supported subset)."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KUSTOMIZATION_KEYS
    assert not unknown, f"{directory}: kustomization keys this renderer lacks: {unknown}"
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        objects.extend(render(path) if path.is_dir() else load_docs(path))
    for spec in kustomization.get("patches", []):
        text = spec["patch"] if "patch" in spec else (directory / spec["path"]).read_text()
        for patch in (doc for doc in yaml.safe_load_all(text) if doc):
            target = spec.get("target") or {"kind": patch["kind"],
                                            "name": patch["metadata"]["name"]}
            matched = [i for i, obj in enumerate(objects)
                       if obj["kind"] == target["kind"]
                       and target.get("name", obj["metadata"]["name"]) == obj["metadata"]["name"]]
            assert matched, f"{directory}: patch {spec} matches nothing"
            for i in matched:
                body = copy.deepcopy(patch)
                if "target" in spec:  # the patch's own name is a placeholder then
                    body.pop("metadata", None)
                objects[i] = merge(objects[i], body)
    for replica in kustomization.get("replicas", []):
        for obj in objects:
            if obj["metadata"]["name"] == replica["name"] and "replicas" in obj.get("spec", {}):
                obj["spec"]["replicas"] = replica["count"]
    for image in kustomization.get("images", []):
        for container in containers(objects):
            name, _, tag = container["image"].partition(":")
            if name == image["name"]:
                container["image"] = (f"{image.get('newName', name)}:"
                                      f"{image.get('newTag', tag or 'latest')}")
    namespace = kustomization.get("namespace")
    for obj in objects:
        if namespace and obj["kind"] not in CLUSTER_SCOPED:
            obj["metadata"]["namespace"] = namespace
    for spec in kustomization.get("labels", []):
        for obj in objects:
            obj["metadata"].setdefault("labels", {}).update(spec["pairs"])
            template = obj.get("spec", {}).get("template")
            if isinstance(template, dict):
                template.setdefault("metadata", {}).setdefault("labels", {}).update(
                    spec["pairs"])
            if spec.get("includeSelectors"):
                raise AssertionError("labels.includeSelectors is not supported: set selectors")
    return objects


def containers(objects: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for obj in objects:
        pod = pod_spec(obj)
        if pod:
            yield from pod.get("initContainers", [])
            yield from pod.get("containers", [])


def pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    template = spec.get("template") if isinstance(spec, dict) else None
    return template.get("spec") if isinstance(template, dict) else None


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(K8S / "overlays" / request.param)


def by_kind(objects: Iterable[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


# -- compose --------------------------------------------------------------------------------------
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_config_validates() -> None:
    result = subprocess.run([tool("docker-compose"), "-f", str(COMPOSE), "config", "-q"],
                            cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_compose_runs_every_service_healthy_on_its_port() -> None:
    spec = compose()["services"]
    defaults = {f.upper() for f in settings_fields()}
    for name in service_names():
        assert name in spec, f"compose has no service {name!r}"
        service = spec[name]
        assert service["command"] == ["driftloop", "run", name]
        port_var = f"DRIFTLOOP_{name.upper()}_PORT"
        port = str(service["environment"][port_var])
        assert any(f.endswith(f".{name}_port".upper()) for f in defaults), port_var
        assert f"localhost:{port}/readyz" in " ".join(service["healthcheck"]["test"])
        assert service["build"]["args"]["EXTRA"] == name
        # Every service waits for the topics to exist and the collector to be up.
        assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert spec["topics"]["command"] == ["driftloop", "topics"]
    assert "apply" in spec["feast-apply"]["command"]
    assert "KAFKA_PROCESS_ROLES" in spec["kafka"]["environment"], "Kafka runs in KRaft mode"


def test_prometheus_scrapes_every_service() -> None:
    config = yaml.safe_load((REPO / "deploy" / "prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    spec = compose()["services"]
    for name in service_names():
        port = spec[name]["environment"][f"DRIFTLOOP_{name.upper()}_PORT"]
        assert f"{name}:{port}" in targets


# -- kubernetes -----------------------------------------------------------------------------------
def test_every_overlay_validates_offline(overlay: tuple[str, list[dict[str, Any]]],
                                         tmp_path: Path) -> None:
    name, objects = overlay
    builtin = [o for o in objects if not o["apiVersion"].startswith(STRIMZI)]
    assert builtin
    files = []
    for i, obj in enumerate(builtin):
        path = tmp_path / f"{i:03d}-{obj['kind']}-{obj['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(obj))
        files.append(str(path))
    result = subprocess.run([tool("kubernetes-validate"), "--strict", "--quiet", *files],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"


def test_strimzi_resources_have_their_required_fields(
        overlay: tuple[str, list[dict[str, Any]]]) -> None:
    """kubernetes-validate has no schema for Strimzi's CRDs: check what Strimzi requires."""
    _, objects = overlay
    kafkas = by_kind(objects, "Kafka")
    assert len(kafkas) == 1
    (cluster, kafka), = kafkas.items()
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1beta2"
    annotations = kafka["metadata"].get("annotations", {})
    assert annotations.get("strimzi.io/kraft") == "enabled", "KRaft, no ZooKeeper"
    assert annotations.get("strimzi.io/node-pools") == "enabled"
    assert kafka["spec"]["kafka"]["listeners"]
    for listener in kafka["spec"]["kafka"]["listeners"]:
        assert {"name", "port", "type", "tls"} <= set(listener)
    assert "topicOperator" in kafka["spec"]["entityOperator"]
    pools = by_kind(objects, "KafkaNodePool")
    assert pools
    roles = set()
    for pool in pools.values():
        assert pool["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert pool["spec"]["replicas"] >= 1
        assert pool["spec"]["storage"]["type"]
        roles |= set(pool["spec"]["roles"])
    assert roles == {"controller", "broker"}
    topics = by_kind(objects, "KafkaTopic")
    for topic in topics.values():
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == cluster
        assert topic["spec"]["partitions"] >= 1 and topic["spec"]["replicas"] >= 1
    assert sorted(t["spec"]["topicName"] for t in topics.values()) == sorted(
        t.base for t in CATALOG), "one KafkaTopic per topic of the loop"


def test_every_service_is_a_probed_non_root_deployment(
        overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, objects = overlay
    deployments = by_kind(objects, "Deployment")
    for service in service_names():
        assert service in deployments, f"{name}: no Deployment {service}"
        pod = pod_spec(deployments[service])
        assert pod is not None
        assert pod["securityContext"]["runAsNonRoot"] is True
        (container,) = pod["containers"]
        assert container["command"] == ["driftloop", "run", service]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert {"cpu", "memory"} <= set(container["resources"]["limits"])
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        assert set(service_names()) <= set(by_kind(objects, kind)), f"{name}: a {kind} each"
    assert "scorer" in by_kind(objects, "HorizontalPodAutoscaler")
    if name == "production":
        trainer = pod_spec(deployments["trainer"])
        assert trainer is not None
        assert trainer["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert trainer["nodeSelector"]
        assert any(t["key"] == "nvidia.com/gpu" for t in trainer["tolerations"])


# -- configuration: the same DRIFTLOOP_ names in settings, compose and k8s -----------------------
def compose_env() -> set[str]:
    names: set[str] = set()
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        names |= set(environment)
    return names


def k8s_env(objects: Iterable[dict[str, Any]]) -> set[str]:
    objects = list(objects)
    names: set[str] = set()
    for obj in objects:
        if obj["kind"] in {"ConfigMap", "Secret"}:
            names |= set(obj.get("data") or {}) | set(obj.get("stringData") or {})
    for container in containers(objects):
        names |= {env["name"] for env in container.get("env", [])}
    return names


def deployment_texts() -> dict[str, str]:
    paths = [COMPOSE, *sorted(K8S.rglob("*.yaml"))]
    return {str(p.relative_to(REPO)): p.read_text() for p in paths}


def test_every_driftloop_variable_in_compose_and_k8s_is_a_setting() -> None:
    known = known_env_names()
    unknown = {path: sorted(set(ENV_NAME.findall(text)) - known)
               for path, text in deployment_texts().items()}
    assert {p: names for p, names in unknown.items() if names} == {}


def test_every_setting_is_set_in_compose_and_in_each_overlay() -> None:
    fields = settings_fields()
    places = {"docker-compose.yml": compose_env()}
    for name in OVERLAYS:
        places[f"k8s/overlays/{name}"] = k8s_env(render(K8S / "overlays" / name))
    missing = {}
    for place, provided in places.items():
        absent = sorted(field for field, envs in fields.items()
                        if not envs & (provided | LOCAL_ONLY))
        if absent:
            missing[place] = absent
        assert not provided & LOCAL_ONLY, f"{place} sets laptop-only {provided & LOCAL_ONLY}"
    assert missing == {}


def test_settings_are_discovered_for_every_service() -> None:
    classes = settings_classes()
    fields = settings_fields()
    assert len(classes) >= len(service_names())
    for name in service_names():
        assert any(f.split(".")[1].startswith(f"{name}_") for f in fields), name


# -- Grafana --------------------------------------------------------------------------------------
def exported_metrics() -> set[str]:
    """Names the services' /metrics would show, read from ``.counter/.gauge/.histogram`` calls
    with a literal name. A call in a service package gets that service's prefix; a call in a
    shared package (a batch loop reporting lag, say) is made on behalf of every service."""
    names = service_names()
    exported: set[str] = set()
    paths = [*SERVICES_DIR.rglob("*.py"), *LIBRARY_DIR.rglob("*.py")]
    for path in paths:
        package = (path.relative_to(SERVICES_DIR).parts[0]
                   if path.is_relative_to(SERVICES_DIR) else "")
        owners = [package] if package in names else names
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in {"counter", "gauge", "histogram"} and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                continue
            base, kind = node.args[0].value, node.func.attr
            for owner in owners:
                full = f"driftloop_{owner}_{base}"
                if kind == "counter":
                    full = full.removesuffix("_total")
                    exported |= {f"{full}_total", f"{full}_created"}
                elif kind == "histogram":
                    exported |= {f"{full}_{s}" for s in ("bucket", "sum", "count", "created")}
                else:
                    exported.add(full)
    return exported


def test_promql_metric_extraction() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, source) (rate('
            'driftloop_ingest_batch_seconds_bucket{source="driftloop_x"}[5m])))'
            ' / ignoring(x) sum(driftloop_scorer_model_info)')
    assert promql_metrics(expr) == {"driftloop_ingest_batch_seconds_bucket",
                                    "driftloop_scorer_model_info"}


def test_dashboard_panels_cover_the_loop() -> None:
    exprs = [e for d in dashboards().values() for e in dashboard_exprs(d)]
    queried = set().union(*map(promql_metrics, exprs))
    for name in service_names():
        assert any(m.startswith(f"driftloop_{name}_") for m in queried), f"no panel for {name}"
    assert any(m.endswith("_consumer_lag") for m in queried)
    for dashboard in dashboards().values():
        for expr in dashboard_exprs(dashboard):
            assert promql_metrics(expr), f"a query that selects no driftloop metric: {expr}"


def test_dashboard_queries_only_exported_metrics() -> None:
    exported = exported_metrics()
    missing = {}
    for name, dashboard in dashboards().items():
        queried = set().union(*map(promql_metrics, dashboard_exprs(dashboard)))
        if queried - exported:
            missing[name] = sorted(queried - exported)
    assert missing == {}, "the dashboard asks for metrics no service exports"


def test_grafana_datasource_is_the_dashboards() -> None:
    provisioning = REPO / "deploy" / "grafana" / "provisioning"
    datasources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    uids = {d["uid"] for d in datasources["datasources"]}
    for dashboard in dashboards().values():
        for panel in dashboard["panels"]:
            if "targets" in panel:
                assert panel["datasource"]["uid"] in uids, panel["title"]
    providers = yaml.safe_load((provisioning / "dashboards" / "driftloop.yml").read_text())
    assert providers["providers"]
