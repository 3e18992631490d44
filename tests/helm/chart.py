"""Rendering the chart offline with Helm's own engine, and the facts the chart tests check against."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import importlib.machinery
import importlib.util
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import promql_parser
import yaml
from helm_python import chart as hc
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.metrics_core import Metric

from xroad_vtj.config import Config, parse_config
from xroad_vtj.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
CHART_DIR = REPO / "helm" / "xroad-vtj"
CI_FILES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
EXAMPLE_CONFIG = REPO / "config" / "example.yaml"
KUBERNETES_VERSION = "1.30"
RELEASE = "rel"
NAMESPACE = "registry"
FULLNAME = f"{RELEASE}-xroad-vtj"
SECRETS_DIR = "/etc/xroad-vtj/secrets"
DATA_DIR = "/var/lib/xroad-vtj"
CRD_KINDS = frozenset({"ServiceMonitor", "PrometheusRule"})

Manifest = dict[str, Any]


@dataclass(frozen=True)
class Rendered:
    """One offline render: the Kubernetes objects in template order, and NOTES.txt."""

    objects: tuple[Manifest, ...]
    notes: str

    def all(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> Manifest:
        found = [o for o in self.all(kind) if name is None or o["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
        return found[0]

    def has(self, kind: str) -> bool:
        return bool(self.all(kind))

    @property
    def deployment(self) -> Manifest:
        return self.one("Deployment")

    @property
    def pod_spec(self) -> Manifest:
        spec: Manifest = self.deployment["spec"]["template"]["spec"]
        return spec

    @property
    def container(self) -> Manifest:
        """The service's own container (sidecars from extraContainers come after it)."""
        containers: list[Manifest] = self.pod_spec["containers"]
        assert containers[0]["name"] == "xroad-vtj"
        return containers[0]

    @property
    def network_policy(self) -> Manifest:
        """The policy of the service's pods (the chart's Jobs have their own, `<fullname>-jobs`)."""
        return self.one("NetworkPolicy", FULLNAME)

    @property
    def config(self) -> Manifest:
        """The service's config.yaml as the ConfigMap carries it."""
        text = self.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
        parsed: Manifest = yaml.safe_load(text)
        return parsed


@functools.cache
def _chart(path: Path) -> hc.Chart:
    return hc.Chart.load(path)


def render(values: Mapping[str, Any] | None = None, chart_dir: Path = CHART_DIR) -> Rendered:
    """Render offline like `helm template rel -n registry` (cached: never mutate the result)."""
    return _render(json.dumps(dict(values or {}), sort_keys=True), chart_dir)


@functools.cache
def _render(values_json: str, chart_dir: Path) -> Rendered:
    manifests = _chart(chart_dir).render(json.loads(values_json), name=RELEASE, namespace=NAMESPACE)
    objects: list[Manifest] = []
    notes = ""
    for path in sorted(manifests):
        if path.endswith("NOTES.txt"):
            notes = manifests[path]
            continue
        if not path.endswith((".yaml", ".yml")):
            continue
        objects.extend(doc for doc in yaml.safe_load_all(manifests[path]) if doc)
    return Rendered(tuple(objects), notes)


# Stand-ins for what an existingSecret would hold: only the files the service reads while loading its config.
_EXISTING_SECRET_FILES = {
    "vtj": "not-a-real-password",
    "db": "postgresql://xroad_vtj@db.example.internal/audit",
}


def _stand_in(directory: str, key: str) -> str:
    if directory == "callers":
        # A distinct hash per caller: the service refuses two callers sharing one token.
        return hashlib.sha256(key.encode()).hexdigest()
    return _EXISTING_SECRET_FILES.get(directory, "placeholder")


def service_config(rendered: Rendered, root: Path) -> Config:
    """The rendered config.yaml loaded by the service's own loader, with the pod's secret files under `root`.

    Chart-made secrets are written with the data the chart put in them; an existingSecret's files get
    stand-ins. Every path under the secrets directory is moved to `root`, as the mount would place them.
    """
    return parse_config(pod_config(rendered, root), root, environ={})


def pod_config(rendered: Rendered, root: Path, data_dir: Path | None = None) -> Manifest:
    """The rendered config.yaml as the pod sees it, as a mapping, with the secret files written under `root`
    (see service_config) and, when `data_dir` is given, the data volume's paths moved there."""
    written: set[Path] = set()
    for volume in rendered.pod_spec["volumes"]:
        if "secret" not in volume:
            continue
        directory = volume["name"].removeprefix("secret-")
        made = [s for s in rendered.all("Secret") if s["metadata"]["name"] == volume["secret"]["secretName"]]
        for key, value in (made[0]["data"] if made else {}).items():
            target = root / directory / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(base64.b64decode(value))
            written.add(target)
    text = rendered.one("ConfigMap", FULLNAME)["data"]["config.yaml"]
    moved = text.replace(f"{SECRETS_DIR}/", f"{root}/")
    if data_dir is not None:
        moved = moved.replace(f"{DATA_DIR}/", f"{data_dir}/")
    raw: Manifest = yaml.safe_load(moved)
    for line in text.splitlines():
        _, _, value = line.partition(f"{SECRETS_DIR}/")
        if not value:
            continue
        target = root / value.strip().strip("'\"")
        if target not in written:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_stand_in(target.parent.name, target.name))
    return raw


def load_values(path: Path) -> Manifest:
    loaded: Manifest = yaml.safe_load(path.read_text()) or {}
    return loaded


def minimal_values() -> Manifest:
    """The least a release needs (the defaults ci file): the VTJ password and audit key secrets."""
    return load_values(CHART_DIR / "ci" / "defaults-values.yaml")


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> Manifest:
    """A deep merge, as Helm merges -f files: maps merge, everything else is replaced."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def with_minimal(override: Mapping[str, Any]) -> Manifest:
    return merged(minimal_values(), override)


def _sample_names(family: Metric) -> Iterator[str]:
    if family.type == "counter":
        yield f"{family.name}_total"
        yield f"{family.name}_created"
    elif family.type == "histogram":
        yield from (f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created"))
    elif family.type == "info":
        yield f"{family.name}_info"
    else:
        yield family.name


@functools.cache
def exported_metric_names() -> frozenset[str]:
    """Every series name the service exports, read from the service's own metrics catalogue."""
    return frozenset(name for family in Metrics().registry.collect() for name in _sample_names(family))


# Series Prometheus itself makes for every scrape target.
PROMETHEUS_SERIES = frozenset({"up"})

# kube-state-metrics series the audit maintenance alerts read (the CronJob's runs are Jobs), with their labels.
KUBE_STATE_METRICS_LABELS = {
    "kube_job_status_failed": frozenset({"namespace", "job_name"}),
    "kube_cronjob_status_last_successful_time": frozenset({"namespace", "cronjob"}),
}


# Labels Prometheus attaches to every series of a target (namespace, job, instance, …) and the histogram le.
TARGET_LABELS = frozenset({"namespace", "job", "instance", "pod", "service", "container", "endpoint"})


@functools.cache
def exported_metric_labels() -> dict[str, frozenset[str]]:
    """Series name → the label names the service gives it (target labels not included)."""
    labels: dict[str, frozenset[str]] = {}
    metrics = Metrics()
    families = {family.name: family for family in metrics.registry.collect()}
    for attribute in vars(metrics).values():
        if not isinstance(attribute, MetricWrapperBase):
            continue
        own = frozenset(attribute._labelnames)
        family = families[attribute._name]
        for name in _sample_names(family):
            labels[name] = own | {"le"} if name.endswith("_bucket") else own
    info = families["xroad_vtj_build"]
    labels["xroad_vtj_build_info"] = frozenset(info.samples[0].labels)
    return labels


@dataclass(frozen=True)
class Selector:
    """A vector selector in a PromQL expression: the series name and the labels it matches on."""

    name: str
    labels: frozenset[str]


def promql_selectors(expr: str) -> list[Selector]:
    """Parse PromQL (raises ValueError on a syntax error) and list every vector selector in it."""
    found: list[Selector] = []

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            matchers = node.matchers
            names = {m.name for m in matchers.matchers}
            names |= {m.name for group in matchers.or_matchers for m in group}
            found.append(Selector(node.name or "", frozenset(names - {"__name__"})))

    promql_parser.walk(promql_parser.parse(expr), visit)
    return found


def load_script(name: str) -> ModuleType:
    """A tool from scripts/ (a Python file without .py), imported as a module so its functions can be tested."""
    module_name = name.replace("-", "_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader = importlib.machinery.SourceFileLoader(module_name, str(REPO / "scripts" / name))
    spec = importlib.util.spec_from_loader(module_name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while the class is made
    loader.exec_module(module)
    return module
