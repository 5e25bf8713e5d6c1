"""Offline checks of the Kubernetes deployment in deploy/k8s and of the image's Dockerfile.

Every overlay is rendered with kustomize as committed and with every combination of the opt-in
components, then:
- built-in kinds are validated with kubernetes-validate --strict (unknown fields fail) against
  K8S_VERSION's bundled schemas;
- Strimzi and CloudNativePG resources are validated against the openAPIV3Schema of their CRDs
  (deploy/k8s/crds, copied from the operators with their licence note), made strict the way the
  API server's strict field validation is, and
  their CEL rules are evaluated through reviewed Python translations (an untranslated rule that
  applies to a manifest fails the test);
- our own policies: locked-down containers, probes, limits, graceful shutdown, no secret values,
  references that resolve, deny-by-default network policies, and - against the event contract in
  p3ke_schemas.topics - a KafkaTopic for every topic and DLQ and ACLs that match what each
  service and ministry platform produces and consumes.

Each check is a function from rendered documents to a list of problems; the tests at the end feed
deliberately broken manifests to the same functions to show that they catch what they claim to.

Needs the kustomize binary that tools/k8s/install.sh installs, and the kubernetes-validate package
(dev dependency). Missing tools fail the tests with instructions; nothing is skipped.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from p3ke_platform.settings import Settings
from p3ke_schemas.topics import ALL_SERVICES, EVENTS

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
CRD_DIR = REPO / "deploy" / "k8s" / "crds"
INSTALL_SCRIPT = REPO / "tools" / "k8s" / "install.sh"

K8S_VERSION = "1.34.0"  # the Kubernetes version whose bundled schemas validate the built-in kinds
OVERLAYS = ("dev", "prod")
COMPONENTS = ("strimzi-kafka", "cloudnative-pg", "shared-storage")
CRD_GROUPS = ("kafka.strimzi.io", "postgresql.cnpg.io")
KAFKA_CLUSTER = "p3ke"

# Ministry platforms are Kafka clients outside the cluster. What each may write and read (by event
# name); the contract names party 2's platform as a producer of extract-requested.
PLATFORMS: dict[str, dict[str, tuple[str, ...]]] = {
    "kemnaker-platform": {
        "produces": ("extract-requested",),
        "consumes": ("extract-prepared", "handover-signed"),
    },
    "kemenkopmk-platform": {"produces": (), "consumes": ("dataset-updated", "feedback-received")},
}
CONTRACT_PLATFORM_NAMES = {"party-2 platform": "kemnaker-platform"}

# Objects the manifests reference but do not contain: created by an operator of the platform (see
# deploy/k8s/README.md, which must name each) or by an included operator (Strimzi, CloudNativePG).
OPERATOR_PROVIDED = {
    ("Secret", "p3ke-token-issuer"),
    ("Secret", "p3ke-subject-hash-key"),
    ("Secret", "p3ke-audit-checkpoint-key"),
    ("Secret", "p3ke-backup-s3"),
    ("ConfigMap", "p3ke-agreement"),
}
STRIMZI_CREATED = {("Secret", f"p3ke-{s}") for s in ALL_SERVICES} | {("Secret", "p3ke-cluster-ca-cert")}
CNPG_CREATED = {("Secret", f"p3ke-{s}-db-app") for s in ALL_SERVICES}
SHARED_STORAGE = {("PersistentVolumeClaim", "p3ke-data")}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# Settings that are not platform-wide fields of p3ke_platform.settings.Settings.
SERVICE_SETTINGS = {"P3KE_AUDIT_CHECKPOINT_KEY_FILE"}
LIBPQ_VARIABLES = {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE", "PGCONNECT_TIMEOUT"}
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|(?<!PUBLIC_)KEY(?!_FILE)|CREDENTIAL", re.IGNORECASE)
MIN_GRACE = {"api": 30, "worker": 60}  # seconds: drain HTTP + flush the relay; finish and commit


# --------------------------------------------------------------------------------------------
# tools


def _pinned_kustomize_version() -> str:
    match = re.search(r'^KUSTOMIZE_VERSION="([^"]+)"', INSTALL_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{INSTALL_SCRIPT} has no KUSTOMIZE_VERSION line"
    return match.group(1)


def _tools_bin() -> Path:
    if os.environ.get("P3KE_TOOLS_BIN"):
        return Path(os.environ["P3KE_TOOLS_BIN"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "p3ke" / "bin"


_INSTALLED_BY = "`make test` installs it (tools/k8s/install.sh)"


@functools.cache
def kustomize() -> str:
    binary = _tools_bin() / "kustomize"
    if not binary.is_file():
        pytest.fail(f"kustomize is not installed at {binary}: {_INSTALLED_BY}", pytrace=False)
    wanted = _pinned_kustomize_version()
    got = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False).stdout.strip()
    if got != wanted:
        pytest.fail(
            f"{binary} is kustomize {got!r}, the pinned version is {wanted}: {_INSTALLED_BY}",
            pytrace=False,
        )
    return str(binary)


@functools.cache
def _kubernetes_validate() -> Any:
    try:
        import kubernetes_validate
    except ImportError:
        pytest.fail(
            "the Python package kubernetes-validate is missing: it belongs to the root "
            "pyproject's dev dependency group (`uv sync` installs it)",
            pytrace=False,
        )
    return kubernetes_validate


# --------------------------------------------------------------------------------------------
# rendering

Variant = tuple[str, tuple[str, ...] | None]  # (overlay, components; None = as committed)


def _variants() -> list[Variant]:
    out: list[Variant] = []
    for overlay in OVERLAYS:
        out.append((overlay, None))
        for n in range(len(COMPONENTS) + 1):
            out.extend((overlay, combo) for combo in itertools.combinations(COMPONENTS, n))
    return out


VARIANTS = _variants()


def _variant_id(variant: Variant) -> str:
    overlay, combo = variant
    if combo is None:
        return f"{overlay}:as-committed"
    return f"{overlay}:" + ("+".join(combo) or "no-components")


def build(path: Path) -> list[dict]:
    proc = subprocess.run([kustomize(), "build", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build {path} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@functools.cache
def _render_cached(variant: Variant) -> str:
    overlay, combo = variant
    if combo is None:
        return json.dumps(build(K8S / "overlays" / overlay))
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(K8S, tree)
        kfile = tree / "overlays" / overlay / "kustomization.yaml"
        kustomization = yaml.safe_load(kfile.read_text())
        kustomization["components"] = [f"../../components/{c}" for c in combo]
        if not combo:
            del kustomization["components"]
        kfile.write_text(yaml.safe_dump(kustomization, sort_keys=False))
        return json.dumps(build(tree / "overlays" / overlay))


def render(variant: Variant) -> list[dict]:
    return json.loads(_render_cached(variant))


def components_of(variant: Variant) -> tuple[str, ...]:
    overlay, combo = variant
    if combo is not None:
        return combo
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    return tuple(Path(c).name for c in kustomization.get("components", []))


# --------------------------------------------------------------------------------------------
# helpers over rendered documents


def kind_of(docs: Iterable[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def named(doc: dict) -> str:
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_spec(doc: dict) -> dict | None:
    if doc.get("kind") == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if doc.get("kind") in WORKLOAD_KINDS:
        return doc["spec"]["template"]["spec"]
    return None


def pod_labels(doc: dict) -> dict:
    return doc["spec"]["template"].get("metadata", {}).get("labels", {})


def containers(spec: dict) -> list[dict]:
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def generated_name(docs: list[dict], kind: str, base: str) -> str | None:
    """The name kustomize gave a generated object (base name plus a content hash)."""
    for d in kind_of(docs, kind):
        name = d["metadata"]["name"]
        if name == base or re.fullmatch(re.escape(base) + r"-[a-z0-9]{10}", name):
            return name
    return None


def selector_matches(selector: dict, labels: dict) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions", []):
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        if (op == "In" and labels.get(key) not in values) or (op == "NotIn" and labels.get(key) in values):
            return False
        if (op == "Exists" and key not in labels) or (op == "DoesNotExist" and key in labels):
            return False
    return True


def service_workloads(docs: list[dict]) -> list[dict]:
    return [
        d
        for d in kind_of(docs, "Deployment") + kind_of(docs, "Job")
        if pod_labels(d).get("app.kubernetes.io/part-of") == "p3ke"
    ]


# --------------------------------------------------------------------------------------------
# schema validation


@functools.cache
def _builtin_problems(doc_json: str) -> tuple[str, ...]:
    """kubernetes-validate --strict on one document (cached: most documents recur across variants)."""
    kv = _kubernetes_validate()
    doc = json.loads(doc_json)
    try:
        kv.validate(doc, K8S_VERSION, strict=True)
    except kv.ValidationError as exc:
        where = ".".join(str(p) for p in exc.path)
        return (f"{named(doc)}: {where}: {exc.message}",)
    except kv.SchemaNotFoundError as exc:
        return (f"{named(doc)}: {exc.message}",)
    return ()


def check_builtin_schemas(docs: list[dict]) -> list[str]:
    problems: list[str] = []
    for doc in docs:
        if doc.get("apiVersion", "").split("/")[0] not in CRD_GROUPS:
            problems += _builtin_problems(json.dumps(doc, sort_keys=True))
    return problems


def _strict(schema: Any) -> Any:
    """Reject unknown fields where the CRD lists its fields (the API server's strict validation)."""
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@functools.cache
def crd_schemas() -> dict[tuple[str, str], tuple[dict, Any]]:
    """(apiVersion, kind) -> (openAPIV3Schema, strict validator), from deploy/k8s/crds."""
    if not CRD_DIR.is_dir():
        pytest.fail(
            f"the CRDs are missing: expected {CRD_DIR}", pytrace=False
        )
    out = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                schema = version["schema"]["openAPIV3Schema"]
                validator = jsonschema.Draft4Validator(_strict(schema))
                out[(f"{group}/{version['name']}", kind)] = (schema, validator)
    return out


# CEL rules of the CRDs, translated and reviewed. `self == oldSelf` rules compare with the stored
# object on update and cannot apply to a manifest alone.
CEL_RULES: dict[str, Callable[[Any], bool] | None] = {
    "self == oldSelf": None,
    "!(has(self.imageCatalogRef) && has(self.imageName))": lambda s: (
        not ("imageCatalogRef" in s and "imageName" in s)
    ),
    "!has(self.builtinLocale) || self.localeProvider == 'builtin'": lambda s: (
        "builtinLocale" not in s or s.get("localeProvider") == "builtin"
    ),
    "!has(self.icuLocale) || self.localeProvider == 'icu'": lambda s: (
        "icuLocale" not in s or s.get("localeProvider") == "icu"
    ),
    "!has(self.icuRules) || self.localeProvider == 'icu'": lambda s: (
        "icuRules" not in s or s.get("localeProvider") == "icu"
    ),
    '(has(self.type) && self.type != "topology-label") || self.topologyKey != ""': lambda s: (
        ("type" in s and s["type"] != "topology-label") or s.get("topologyKey") not in (None, "")
    ),
    'has(self.type) == false || self.type != "environment-variable" || self.envVarName != ""': lambda s: (
        "type" not in s or s["type"] != "environment-variable" or s.get("envVarName") not in (None, "")
    ),
    "self.type == 'tls' || (!has(self.validityDays) && !has(self.renewalDays))": lambda s: (
        s["type"] == "tls" or ("validityDays" not in s and "renewalDays" not in s)
    ),
    "self.type != 'tls' || (has(self.renewalDays) == has(self.validityDays))": lambda s: (
        s["type"] != "tls" or (("renewalDays" in s) == ("validityDays" in s))
    ),
    "self.type != 'tls' || !has(self.renewalDays) || !has(self.validityDays) "
    "|| self.renewalDays < self.validityDays": lambda s: (
        s["type"] != "tls"
        or "renewalDays" not in s
        or "validityDays" not in s
        or s["renewalDays"] < s["validityDays"]
    ),
    "self.kind == 'ImageCatalog' || self.kind == 'ClusterImageCatalog'": lambda s: (
        s["kind"] in ("ImageCatalog", "ClusterImageCatalog")
    ),
    "self.apiGroup == 'postgresql.cnpg.io'": lambda s: s.get("apiGroup") == "postgresql.cnpg.io",
    "!(has(self.syncReplicaElectionConstraint) && self.syncReplicaElectionConstraint.enabled "
    "&& has(self.synchronous) && ((has(self.synchronous.podFailureDomainKeys) "
    "&& self.synchronous.podFailureDomainKeys.size() > 0) || (has(self.synchronous.nodeFailureDomainKeys) "
    "&& self.synchronous.nodeFailureDomainKeys.size() > 0)))": lambda s: (
        not (
            s.get("syncReplicaElectionConstraint", {}).get("enabled")
            and (
                s.get("synchronous", {}).get("podFailureDomainKeys")
                or s.get("synchronous", {}).get("nodeFailureDomainKeys")
            )
        )
    ),
    "self.dataDurability!='preferred' || ((!has(self.standbyNamesPre) || self.standbyNamesPre.size()==0) "
    "&& (!has(self.standbyNamesPost) || self.standbyNamesPost.size()==0))": lambda s: (
        s.get("dataDurability") != "preferred"
        or (not s.get("standbyNamesPre") and not s.get("standbyNamesPost"))
    ),
    "!(has(self.podFailureDomainKeys) && self.podFailureDomainKeys.size() > 0 "
    "&& has(self.nodeFailureDomainKeys) && self.nodeFailureDomainKeys.size() > 0)": lambda s: (
        not (s.get("podFailureDomainKeys") and s.get("nodeFailureDomainKeys"))
    ),
    "self > 0": lambda s: s > 0,
    "self.type != 'jmxPrometheusExporter' || has(self.valueFrom)": lambda s: (
        s["type"] != "jmxPrometheusExporter" or "valueFrom" in s
    ),
    "self.type != 'strimziMetricsReporter'": lambda s: s["type"] != "strimziMetricsReporter",
}


def _all_cel_rules(schema: Any) -> set[str]:
    if isinstance(schema, dict):
        found = {r["rule"] for r in schema.get("x-kubernetes-validations", [])}
        return found.union(*(_all_cel_rules(v) for v in schema.values()))
    if isinstance(schema, list):
        return set().union(*(_all_cel_rules(v) for v in schema))
    return set()


def _cel_problems(schema: dict, value: Any, path: str) -> list[str]:
    problems = []
    for rule in schema.get("x-kubernetes-validations", []):
        if rule["rule"] not in CEL_RULES:
            problems.append(
                f"{path}: CEL rule not translated, review it and add it to CEL_RULES: {rule['rule']}"
            )
            continue
        check = CEL_RULES[rule["rule"]]
        if check is not None and not check(value):
            problems.append(f"{path}: {rule.get('message', rule['rule'])}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, sub in value.items():
            if key in props:
                problems += _cel_problems(props[key], sub, f"{path}.{key}")
            elif isinstance(extra, dict):
                problems += _cel_problems(extra, sub, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            problems += _cel_problems(schema["items"], item, f"{path}[{i}]")
    return problems


def check_custom_resources(docs: list[dict]) -> list[str]:
    schemas = crd_schemas()
    problems = []
    for doc in docs:
        if doc.get("apiVersion", "").split("/")[0] not in CRD_GROUPS:
            continue
        key = (doc["apiVersion"], doc["kind"])
        if key not in schemas:
            problems.append(f"{named(doc)}: no CRD serves {doc['apiVersion']} {doc['kind']}")
            continue
        schema, validator = schemas[key]
        for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in err.path)
            problems.append(f"{named(doc)}: {where}: {err.message}")
        problems += [f"{named(doc)}: {p}" for p in _cel_problems(schema, doc, "")]
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc.get("metadata", {}).get("name", "")):
            problems.append(f"{named(doc)}: metadata.name is not a DNS subdomain name")
    return problems


# --------------------------------------------------------------------------------------------
# policies for our workloads


def check_security_context(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        pod_sc = spec.get("securityContext", {})
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                problems.append(f"{named(doc)}: {key}")
        if spec.get("automountServiceAccountToken") is not False:
            problems.append(f"{named(doc)}: automountServiceAccountToken is not false")
        for vol in spec.get("volumes", []):
            if "hostPath" in vol:
                problems.append(f"{named(doc)}: hostPath volume {vol['name']}")
        for c in containers(spec):
            sc = c.get("securityContext", {})
            where = f"{named(doc)} container {c['name']}"
            if sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if sc.get("runAsUser", pod_sc.get("runAsUser")) in (0, None):
                problems.append(f"{where}: no non-zero runAsUser")
            if sc.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if sc.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if sc.get("privileged"):
                problems.append(f"{where}: privileged")
            caps = sc.get("capabilities", {})
            if "ALL" not in caps.get("drop", []):
                problems.append(f"{where}: capabilities do not drop ALL")
            if caps.get("add"):
                problems.append(f"{where}: adds capabilities {caps['add']}")
            seccomp = sc.get("seccompProfile", pod_sc.get("seccompProfile", {}))
            if seccomp.get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
    return problems


def check_resources(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for c in containers(spec):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(kind, {}):
                        problems.append(f"{named(doc)} container {c['name']}: no {kind}.{what}")
    return problems


def check_images(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        spec = pod_spec(doc)
        if spec is None:
            continue
        for c in containers(spec):
            image = c.get("image", "")
            if "@sha256:" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            if ":" not in last or last.endswith(":latest"):
                problems.append(f"{named(doc)} container {c['name']}: image {image!r} has no pinned tag")
    return problems


def check_probes_and_shutdown(docs: list[dict]) -> list[str]:
    problems = []
    for doc in kind_of(docs, "Deployment"):
        spec = pod_spec(doc)
        role = pod_labels(doc).get("app.kubernetes.io/component", "")
        for c in spec.get("containers", []):
            where = f"{named(doc)} container {c['name']}"
            ports = {p.get("name") for p in c.get("ports", [])} | {
                p["containerPort"] for p in c.get("ports", [])
            }
            for probe, path in (
                ("livenessProbe", "/healthz"),
                ("readinessProbe", "/readyz"),
                ("startupProbe", "/healthz"),
            ):
                get = c.get(probe, {}).get("httpGet")
                if not get:
                    problems.append(f"{where}: no {probe} (httpGet {path})")
                elif get.get("path") != path or get.get("port") not in ports:
                    problems.append(f"{where}: {probe} is not GET {path} on a declared port")
        grace = spec.get("terminationGracePeriodSeconds", 30)
        pre_stop = max(
            (
                c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
                for c in spec.get("containers", [])
            ),
            default=0,
        )
        needed = MIN_GRACE.get(role, 30) + pre_stop
        if grace < needed:
            problems.append(
                f"{named(doc)}: terminationGracePeriodSeconds {grace} < {needed} "
                f"({role} needs {MIN_GRACE.get(role, 30)} s after a {pre_stop} s preStop)"
            )
    return problems


def _env_problems(where: str, env: list[dict]) -> list[str]:
    problems = []
    for var in env:
        if SECRETISH.search(var["name"]) and "valueFrom" not in var:
            problems.append(f"{where}: {var['name']} has a literal value; reference a Secret")
        if "valueFrom" in var and "secretKeyRef" not in var["valueFrom"] and SECRETISH.search(var["name"]):
            problems.append(f"{where}: {var['name']} does not come from a Secret")
    return problems


PEM = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----")
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@$()]+:[^/\s@$()]+@")


def check_no_secret_values(docs: list[dict]) -> list[str]:
    problems = []
    for doc in docs:
        if doc.get("kind") == "Secret":
            problems.append(f"{named(doc)}: a Secret in the manifests; create it out of band (README)")
        text = json.dumps(doc)
        if PEM.search(text):
            problems.append(f"{named(doc)}: contains a PEM key or certificate")
        if URL_WITH_PASSWORD.search(text):
            problems.append(f"{named(doc)}: contains a URL with a password")
        if doc.get("kind") == "ConfigMap":
            for key, value in (doc.get("data") or {}).items():
                if SECRETISH.search(key) and not str(value).startswith("/"):
                    problems.append(f"{named(doc)}: {key} looks like a secret; use a Secret")
        if doc.get("kind") == "KafkaUser":
            password = doc["spec"].get("authentication", {}).get("password")
            if password is not None and "valueFrom" not in password:
                problems.append(f"{named(doc)}: literal password")
        spec = pod_spec(doc)
        if spec is not None:
            for c in containers(spec):
                problems += _env_problems(f"{named(doc)} container {c['name']}", c.get("env", []))
    return problems


def _references(doc: dict) -> set[tuple[str, str]]:
    spec = pod_spec(doc)
    refs: set[tuple[str, str]] = set()
    if spec is None:
        return refs
    refs.add(("ServiceAccount", spec.get("serviceAccountName", "default")))
    for vol in spec.get("volumes", []):
        if "secret" in vol:
            refs.add(("Secret", vol["secret"]["secretName"]))
        if "configMap" in vol:
            refs.add(("ConfigMap", vol["configMap"]["name"]))
        if "persistentVolumeClaim" in vol:
            refs.add(("PersistentVolumeClaim", vol["persistentVolumeClaim"]["claimName"]))
    for c in containers(spec):
        for src in c.get("envFrom", []):
            if "configMapRef" in src:
                refs.add(("ConfigMap", src["configMapRef"]["name"]))
            if "secretRef" in src:
                refs.add(("Secret", src["secretRef"]["name"]))
        for var in c.get("env", []):
            ref = var.get("valueFrom", {})
            if "secretKeyRef" in ref:
                refs.add(("Secret", ref["secretKeyRef"]["name"]))
            if "configMapKeyRef" in ref:
                refs.add(("ConfigMap", ref["configMapKeyRef"]["name"]))
    return refs


def check_references(docs: list[dict], components: Iterable[str]) -> list[str]:
    """Every referenced object is in the manifests, made by an included operator, or documented."""
    components = set(components)
    rendered = {(d["kind"], d["metadata"]["name"]) for d in docs}
    allowed = rendered | OPERATOR_PROVIDED
    # Without a component, the operator of the platform provides what it would have made/created.
    allowed |= STRIMZI_CREATED | CNPG_CREATED | SHARED_STORAGE
    problems = []
    for doc in docs:
        for ref in sorted(_references(doc) - allowed):
            problems.append(f"{named(doc)}: references {ref[0]}/{ref[1]}, which nothing provides")
    if "shared-storage" in components and not rendered >= SHARED_STORAGE:
        problems.append("shared-storage is included but renders no PVC p3ke-data")
    for ref in sorted(STRIMZI_CREATED):
        user = ref[1]
        if (
            "strimzi-kafka" in components
            and user != "p3ke-cluster-ca-cert"
            and ("KafkaUser", user) not in rendered
        ):
            problems.append(f"strimzi-kafka is included but has no KafkaUser {user}")
    for svc in ALL_SERVICES:
        if "cloudnative-pg" in components and ("Cluster", f"p3ke-{svc}-db") not in rendered:
            problems.append(f"cloudnative-pg is included but has no Cluster p3ke-{svc}-db")
    return problems


def check_settings_names(docs: list[dict]) -> list[str]:
    """Every P3KE_* name we set is a setting the code reads (a typo is otherwise silently ignored)."""
    fields = {f"P3KE_{name.upper()}" for name in Settings.model_fields} | SERVICE_SETTINGS
    problems = []
    config = generated_name(docs, "ConfigMap", "p3ke-config")
    for doc in kind_of(docs, "ConfigMap"):
        if doc["metadata"]["name"] != config:
            continue
        for key in doc.get("data", {}):
            if key.startswith("P3KE_") and key not in fields:
                problems.append(f"{named(doc)}: {key} is not a setting of p3ke_platform.settings.Settings")
            elif not key.startswith("P3KE_") and key not in LIBPQ_VARIABLES:
                problems.append(f"{named(doc)}: {key} is neither a P3KE setting nor a libpq variable")
    for doc in service_workloads(docs):
        for c in containers(pod_spec(doc)):
            for var in c.get("env", []):
                if var["name"].startswith("P3KE_") and var["name"] not in fields:
                    problems.append(f"{named(doc)}: {var['name']} is not a setting")
    return problems


def container_environment(docs: list[dict], container: dict) -> dict[str, str]:
    """The environment a container would get, with a placeholder for every Secret value."""
    config_maps = {d["metadata"]["name"]: d.get("data", {}) for d in kind_of(docs, "ConfigMap")}
    env: dict[str, str] = {}
    for src in container.get("envFrom", []):
        env.update(config_maps.get(src.get("configMapRef", {}).get("name"), {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = f"from-secret-{ref['name']}-{ref['key']}-0123456789abcdef"
    return env


def check_settings_accept_environment(docs: list[dict]) -> list[str]:
    """Each service container's environment passes the production settings validation."""
    from unittest import mock

    from p3ke_platform.settings import ConfigurationError, load_settings

    problems = []
    for doc in service_workloads(docs):
        for c in pod_spec(doc)["containers"]:
            env = container_environment(docs, c)
            with mock.patch.dict(os.environ, env, clear=True):
                try:
                    settings = load_settings()
                except ConfigurationError as exc:
                    problems.append(f"{named(doc)}: {exc}")
                    continue
            if settings.env != "production" or not settings.effective_database_url.startswith(
                "postgresql+psycopg://"
            ):
                problems.append(f"{named(doc)}: not production settings with PostgreSQL (psycopg)")
            if settings.service != pod_labels(doc).get("app.kubernetes.io/name"):
                problems.append(f"{named(doc)}: P3KE_SERVICE {settings.service!r} is not its service")
    return problems


def _consumed(service: str) -> list:
    return [e for e in EVENTS if service in e.consumers]


def check_services(docs: list[dict]) -> list[str]:
    """Per service: the objects the issue asks for, wired to that service's package and identity."""
    problems = []
    have = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    config = generated_name(docs, "ConfigMap", "p3ke-config")
    for svc in ALL_SERVICES:
        wanted = [
            ("ServiceAccount", svc),
            ("Service", svc),
            ("Deployment", f"{svc}-api"),
            ("Deployment", f"{svc}-worker"),
            ("PodDisruptionBudget", f"{svc}-api"),
            ("PodDisruptionBudget", f"{svc}-worker"),
            ("HorizontalPodAutoscaler", f"{svc}-api"),
            ("Job", f"{svc}-migrate"),
        ]
        for key in wanted:
            if key not in have:
                problems.append(f"{svc}: no {key[0]}/{key[1]}")
        for role, key in (
            ("api", ("Deployment", f"{svc}-api")),
            ("worker", ("Deployment", f"{svc}-worker")),
            ("migrate", ("Job", f"{svc}-migrate")),
        ):
            if key not in have:
                continue
            doc = have[key]
            spec = pod_spec(doc)
            c = spec["containers"][0]
            if c.get("command", []) + c.get("args", []) != ["python", "-m", f"p3ke_{svc}", role]:
                problems.append(f"{named(doc)}: command is not `python -m p3ke_{svc} {role}`")
            env = {v["name"]: v for v in c.get("env", [])}
            if env.get("P3KE_SERVICE", {}).get("value") != svc:
                problems.append(f"{named(doc)}: P3KE_SERVICE is not {svc}")
            if spec.get("serviceAccountName") != svc:
                problems.append(f"{named(doc)}: serviceAccountName is not {svc}")
            if not any(src.get("configMapRef", {}).get("name") == config for src in c.get("envFrom", [])):
                problems.append(f"{named(doc)}: does not read the ConfigMap p3ke-config")
            db = env.get("PGPASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {}).get("name")
            if db != f"p3ke-{svc}-db-app":
                problems.append(f"{named(doc)}: PGPASSWORD is not from Secret p3ke-{svc}-db-app")
            if role != "migrate":
                user = env.get("P3KE_KAFKA_USERNAME", {}).get("value")
                secret = env.get("P3KE_KAFKA_PASSWORD", {}).get("valueFrom", {}).get("secretKeyRef", {})
                if user != f"p3ke-{svc}" or secret.get("name") != user or secret.get("key") != "password":
                    problems.append(
                        f"{named(doc)}: Kafka identity is not KafkaUser p3ke-{svc} and its Secret"
                    )
        worker = have.get(("Deployment", f"{svc}-worker"))
        if worker:
            limit = max((e.partitions for e in _consumed(svc)), default=1)
            replicas = worker["spec"].get("replicas", 1)
            if replicas > limit:
                problems.append(
                    f"{named(worker)}: {replicas} replicas but its topics have at most "
                    f"{limit} partitions: the extra consumers would sit idle"
                )
        hpa = have.get(("HorizontalPodAutoscaler", f"{svc}-api"))
        api = have.get(("Deployment", f"{svc}-api"))
        if hpa and api and "replicas" in api["spec"]:
            problems.append(
                f"{named(api)}: sets replicas although an HPA scales it (each apply would reset it)"
            )
        if hpa and hpa["spec"]["scaleTargetRef"].get("name") != f"{svc}-api":
            problems.append(f"{named(hpa)}: does not scale {svc}-api")
        service = have.get(("Service", svc))
        if (
            service
            and api
            and not selector_matches({"matchLabels": service["spec"]["selector"]}, pod_labels(api))
        ):
            problems.append(f"{named(service)}: does not select the pods of {svc}-api")
    for pdb in kind_of(docs, "PodDisruptionBudget"):
        if not any(
            selector_matches(pdb["spec"]["selector"], pod_labels(d)) for d in kind_of(docs, "Deployment")
        ):
            problems.append(f"{named(pdb)}: selects no Deployment's pods")
    return problems


# --------------------------------------------------------------------------------------------
# network policies


def _allowed_ports(docs: list[dict], labels: dict, direction: str) -> set[int] | None:
    """Ports a pod with `labels` may use in `direction` (None = any port to some peer)."""
    key = "ingress" if direction == "Ingress" else "egress"
    ports: set[int] = set()
    for np in kind_of(docs, "NetworkPolicy"):
        spec = np["spec"]
        if direction not in spec.get("policyTypes", []) or not selector_matches(spec["podSelector"], labels):
            continue
        for rule in spec.get(key, []):
            if not rule.get("ports"):
                return None
            ports |= {p["port"] for p in rule["ports"] if isinstance(p.get("port"), int)}
    return ports


def check_network_policies(docs: list[dict]) -> list[str]:
    problems = []
    policies = kind_of(docs, "NetworkPolicy")
    deny = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and set(p["spec"].get("policyTypes", [])) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    if not deny:
        problems.append("no default-deny NetworkPolicy (podSelector {}, Ingress and Egress, no rules)")
    for np in policies:
        spec = np["spec"]
        for key, peer in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(key, []):
                if not rule.get("ports") and not rule.get(peer):
                    problems.append(f"{named(np)}: an {key} rule allows every port to every peer")
                for p in rule.get(peer, []):
                    if p.get("ipBlock", {}).get("cidr") in ("0.0.0.0/0", "::/0") and not rule.get("ports"):
                        problems.append(f"{named(np)}: {key} to the whole internet on every port")
    for doc in service_workloads(docs):
        labels = pod_labels(doc)
        role = labels.get("app.kubernetes.io/component")
        egress = _allowed_ports(docs, labels, "Egress")
        needed = {53, 5432} | ({9093} if role in ("api", "worker") else set())
        if egress is not None and not needed <= egress:
            problems.append(f"{named(doc)}: egress lacks ports {sorted(needed - egress)}")
        if egress is None:
            problems.append(f"{named(doc)}: egress to any port is allowed")
        ingress = _allowed_ports(docs, labels, "Ingress")
        if role == "api" and (ingress is None or 8080 not in ingress):
            problems.append(f"{named(doc)}: ingress to the API port 8080 is not allowed")
        if role != "api" and ingress:
            problems.append(f"{named(doc)}: takes ingress on {sorted(ingress)} though only APIs serve")
    return problems


# --------------------------------------------------------------------------------------------
# Kafka (Strimzi) against the contract


def check_kafka_topics(docs: list[dict]) -> list[str]:
    problems = []
    topics = {d["spec"].get("topicName", d["metadata"]["name"]): d for d in kind_of(docs, "KafkaTopic")}
    for e in EVENTS:
        for name, partitions, retention in (
            (e.topic, e.partitions, e.retention_days),
            (e.dlq, None, e.retention_days),
        ):
            doc = topics.pop(name, None)
            if doc is None:
                problems.append(f"topic {name} has no KafkaTopic")
                continue
            spec, config = doc["spec"], doc["spec"].get("config", {})
            if doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != KAFKA_CLUSTER:
                problems.append(f"{named(doc)}: not labelled strimzi.io/cluster={KAFKA_CLUSTER}")
            if spec.get("replicas") != 3:
                problems.append(f"{named(doc)}: replicas {spec.get('replicas')}, not 3")
            if int(config.get("min.insync.replicas", 0)) != 2:
                problems.append(f"{named(doc)}: min.insync.replicas is not 2")
            if str(config.get("unclean.leader.election.enable", "false")).lower() != "false":
                problems.append(f"{named(doc)}: unclean leader election is on")
            if partitions is not None and spec.get("partitions") != partitions:
                problems.append(
                    f"{named(doc)}: {spec.get('partitions')} partitions, the contract says {partitions}"
                )
            if int(config.get("retention.ms", -2)) != retention * 86_400_000:
                problems.append(f"{named(doc)}: retention.ms is not {retention} days")
    for name in topics:
        problems.append(f"KafkaTopic {name} is not a topic of the contract")
    kafka = kind_of(docs, "Kafka")
    if len(kafka) != 1:
        problems.append(f"{len(kafka)} Kafka clusters, expected 1")
    for doc in kafka:
        config = doc["spec"]["kafka"].get("config", {})
        if (
            int(config.get("min.insync.replicas", 0)) != 2
            or int(config.get("default.replication.factor", 0)) != 3
        ):
            problems.append(f"{named(doc)}: broker defaults are not RF 3 / min.insync.replicas 2")
        if str(config.get("unclean.leader.election.enable")).lower() != "false":
            problems.append(f"{named(doc)}: unclean.leader.election.enable is not false")
        if str(config.get("auto.create.topics.enable")).lower() != "false":
            problems.append(f"{named(doc)}: auto.create.topics.enable is not false")
        if doc["spec"]["kafka"].get("authorization", {}).get("type") != "simple":
            problems.append(f"{named(doc)}: no ACL authorization")
        for listener in doc["spec"]["kafka"]["listeners"]:
            if not listener.get("tls") or not listener.get("authentication"):
                problems.append(f"{named(doc)}: listener {listener['name']} without TLS and authentication")
    brokers = sum(
        d["spec"]["replicas"] for d in kind_of(docs, "KafkaNodePool") if "broker" in d["spec"]["roles"]
    )
    if brokers < 3:
        problems.append(f"{brokers} brokers cannot hold topics with replication factor 3")
    return problems


def expected_acls() -> dict[str, set[tuple[str, str, str, str]]]:
    """KafkaUser -> {(resource type, name, pattern type, operation)} from the contract."""
    by_name = {e.name: e for e in EVENTS}
    out: dict[str, set[tuple[str, str, str, str]]] = {}
    for svc in ALL_SERVICES:
        user = f"p3ke-{svc}"
        acl: set[tuple[str, str, str, str]] = set()
        for e in EVENTS:
            if svc in e.producers:
                acl |= {("topic", e.topic, "literal", op) for op in ("Write", "Describe")}
            if svc in e.consumers:
                acl |= {("topic", e.topic, "literal", op) for op in ("Read", "Describe")}
                acl |= {("topic", e.dlq, "literal", op) for op in ("Write", "Describe")}
        acl.add(("group", user, "prefix", "Read"))  # faust's app id and consumer group: p3ke-<service>
        out[user] = acl
    for user, access in PLATFORMS.items():
        acl = set()
        for name in access["produces"]:
            acl |= {("topic", by_name[name].topic, "literal", op) for op in ("Write", "Describe")}
        for name in access["consumes"]:
            acl |= {("topic", by_name[name].topic, "literal", op) for op in ("Read", "Describe")}
        acl.add(("group", user, "prefix", "Read"))
        out[user] = acl
    return out


def check_kafka_users(docs: list[dict]) -> list[str]:
    problems = []
    expected = expected_acls()
    users = {d["metadata"]["name"]: d for d in kind_of(docs, "KafkaUser")}
    for name in sorted(set(users) - set(expected)):
        problems.append(f"KafkaUser {name} is neither a service nor a ministry platform")
    for name, want in expected.items():
        doc = users.get(name)
        if doc is None:
            problems.append(f"no KafkaUser {name}")
            continue
        if doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != KAFKA_CLUSTER:
            problems.append(f"{named(doc)}: not labelled strimzi.io/cluster={KAFKA_CLUSTER}")
        auth = doc["spec"].get("authentication", {}).get("type")
        if auth != ("tls" if name in PLATFORMS else "scram-sha-512"):
            problems.append(f"{named(doc)}: authentication {auth}")
        have = set()
        for acl in doc["spec"].get("authorization", {}).get("acls", []):
            if acl.get("type", "allow") != "allow":
                continue
            res = acl["resource"]
            for op in acl["operations"]:
                have.add((res["type"], res.get("name", ""), res.get("patternType", "literal"), op))
        for extra in sorted(have - want):
            problems.append(f"{named(doc)}: ACL {extra} is more than the contract gives it")
        for missing in sorted(want - have):
            problems.append(f"{named(doc)}: ACL {missing} is missing")
    return problems


# --------------------------------------------------------------------------------------------
# PostgreSQL (CloudNativePG)


def check_postgres(docs: list[dict]) -> list[str]:
    problems = []
    clusters = {d["metadata"]["name"]: d for d in kind_of(docs, "Cluster")}
    backups = {d["spec"]["cluster"]["name"] for d in kind_of(docs, "ScheduledBackup")}
    for svc in ALL_SERVICES:
        doc = clusters.get(f"p3ke-{svc}-db")
        if doc is None:
            problems.append(f"no Cluster p3ke-{svc}-db")
            continue
        initdb = doc["spec"].get("bootstrap", {}).get("initdb", {})
        if initdb.get("database") != svc or initdb.get("owner") != svc:
            problems.append(f"{named(doc)}: database/owner is not {svc}")
        if doc["spec"].get("enableSuperuserAccess") is not False:
            problems.append(f"{named(doc)}: superuser access is not disabled")
        if "barmanObjectStore" not in doc["spec"].get("backup", {}) and not doc["spec"].get("plugins"):
            problems.append(f"{named(doc)}: no continuous backup")
        if doc["metadata"]["name"] not in backups:
            problems.append(f"{named(doc)}: no ScheduledBackup")
    return problems


# --------------------------------------------------------------------------------------------
# the tests


@pytest.fixture(scope="module", params=VARIANTS, ids=[_variant_id(v) for v in VARIANTS])
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param


def test_builtin_kinds_validate_strictly(variant: Variant) -> None:
    assert check_builtin_schemas(render(variant)) == []


def test_custom_resources_validate_against_their_crds(variant: Variant) -> None:
    assert check_custom_resources(render(variant)) == []


def test_containers_are_locked_down(variant: Variant) -> None:
    docs = render(variant)
    assert check_security_context(docs) + check_resources(docs) + check_images(docs) == []


def test_probes_and_graceful_shutdown(variant: Variant) -> None:
    assert check_probes_and_shutdown(render(variant)) == []


def test_no_secret_values(variant: Variant) -> None:
    assert check_no_secret_values(render(variant)) == []


def test_references_resolve(variant: Variant) -> None:
    assert check_references(render(variant), components_of(variant)) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_settings_names_are_read_by_the_code(overlay: str) -> None:
    assert check_settings_names(render((overlay, None))) == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_production_settings_accept_the_environment(overlay: str) -> None:
    assert check_settings_accept_environment(render((overlay, None))) == []


def test_every_service_is_complete_and_wired(variant: Variant) -> None:
    assert check_services(render(variant)) == []


def test_network_policies_deny_by_default(variant: Variant) -> None:
    assert check_network_policies(render(variant)) == []


def test_kafka_matches_the_contract(variant: Variant) -> None:
    docs = render(variant)
    if "strimzi-kafka" in components_of(variant):
        assert check_kafka_topics(docs) + check_kafka_users(docs) == []
    else:  # Kafka is then a managed service: nothing of Strimzi may be left behind
        assert [named(d) for d in docs if d["apiVersion"].startswith("kafka.strimzi.io/")] == []


def test_postgres_per_service_with_backups(variant: Variant) -> None:
    docs = render(variant)
    if "cloudnative-pg" in components_of(variant):
        assert check_postgres(docs) == []
    else:
        assert [named(d) for d in docs if d["apiVersion"].startswith("postgresql.cnpg.io/")] == []


def test_overlays_set_namespace_pod_security_and_one_image() -> None:
    for overlay in OVERLAYS:
        docs = render((overlay, None))
        images = {c["image"] for d in docs if pod_spec(d) for c in containers(pod_spec(d))}
        assert len(images) == 1 and "p3ke" not in images, (overlay, images)
        namespaces = [d["metadata"]["name"] for d in kind_of(docs, "Namespace")]
        assert len(namespaces) == 1, overlay
        labels = kind_of(docs, "Namespace")[0]["metadata"].get("labels", {})
        assert labels.get("pod-security.kubernetes.io/enforce") == "restricted", overlay
        for d in docs:
            if d["kind"] != "Namespace":
                assert d["metadata"].get("namespace") == namespaces[0], named(d)
    assert {tuple(sorted(components_of((o, None)))) for o in OVERLAYS} == {tuple(sorted(COMPONENTS))}


def test_components_and_runbook_are_documented() -> None:
    readme = (K8S / "README.md").read_text()
    for component in COMPONENTS:
        assert (K8S / "components" / component / "README.md").is_file(), component
        assert f"components/{component}" in readme, component
    # every object that someone other than these manifests must provide is named in the runbook
    for kind, name in sorted(OPERATOR_PROVIDED | SHARED_STORAGE | {("Secret", "p3ke-cluster-ca-cert")}):
        assert name in readme, f"README.md does not mention {kind} {name}"
    for pattern in ("p3ke-<service>-db-app", "p3ke-<service>"):
        assert pattern in readme, f"README.md does not mention {pattern}"
    for topic in (
        "Install the operators",
        "Deploy a new version",
        "Scale consumers",
        "Rotate",
        "Replay a dead-letter topic",
        "Restore PostgreSQL",
        "Verify the audit log",
    ):
        assert topic in readme, topic


def test_dockerfile_builds_a_minimal_non_root_image() -> None:
    text = (REPO / "Dockerfile").read_text()
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    assert len(stages) >= 2, "multi-stage build"
    final = stages[-1]
    user = re.findall(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert user and user[-1].split(":")[0].isdigit() and user[-1].split(":")[0] != "0", user
    assert not re.search(
        r"apt-get|apk add|gcc|build-essential|\buv\b sync|COPY (schemas|libs|services)/", final
    )
    copied = set(re.findall(r"^COPY (\S+/pyproject\.toml) ", text, re.MULTILINE))
    workspace = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]["members"]
    members = {
        str(p.relative_to(REPO)) for pattern in workspace for p in REPO.glob(f"{pattern}/pyproject.toml")
    }
    assert members, "no workspace members found"
    assert members <= copied, f"workspace members not copied before `uv sync`: {sorted(members - copied)}"
    assert "--frozen" in text and "--no-dev" in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".git", "**/.venv"} <= set(ignored)


# --------------------------------------------------------------------------------------------
# the checks catch what they claim to: deliberately broken manifests


@pytest.fixture(scope="module")
def full() -> list[dict]:
    return render(("prod", COMPONENTS))


def _find(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def test_a_wrong_field_in_a_built_in_kind_fails(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "Deployment", "ingest-api")["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    problems = check_builtin_schemas(docs)
    assert any("Deployment/ingest-api" in p and "livenesProbe" in p for p in problems), problems


def test_a_wrong_type_and_an_unknown_kind_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "Service", "audit")["spec"]["ports"][0]["port"] = "eighty"
    docs.append({"apiVersion": "apps/v1", "kind": "Deploymnet", "metadata": {"name": "x"}})
    problems = check_builtin_schemas(docs)
    assert any("Service/audit" in p for p in problems) and any("Deploymnet" in p for p in problems), problems


def test_a_wrong_field_in_a_custom_resource_fails(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "KafkaTopic", "p3ke.data-access.v1")["spec"]["replicationFactor"] = 3
    _find(docs, "Cluster", "p3ke-audit-db")["spec"]["instances"] = "three"
    _find(docs, "Kafka", "p3ke")["spec"]["kafka"]["rack"] = {"topologyKey": ""}
    problems = check_custom_resources(docs)
    assert any("KafkaTopic/p3ke.data-access.v1" in p and "replicationFactor" in p for p in problems), problems
    assert any("Cluster/p3ke-audit-db" in p and "instances" in p for p in problems), problems
    assert any("topologyKey property is required" in p for p in problems), problems


def test_a_custom_resource_of_an_unknown_version_fails(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "KafkaUser", "p3ke-audit")["apiVersion"] = "kafka.strimzi.io/v1beta2"
    assert any("no CRD serves" in p for p in check_custom_resources(docs))


def test_a_missing_limit_or_security_setting_fails(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    worker = _find(docs, "Deployment", "feedback-worker")["spec"]["template"]["spec"]
    del worker["containers"][0]["resources"]["limits"]["memory"]
    worker["containers"][0]["securityContext"]["readOnlyRootFilesystem"] = False
    worker["containers"][0]["securityContext"]["capabilities"] = {"add": ["NET_ADMIN"]}
    del worker["securityContext"]["runAsUser"]
    problems = check_resources(docs) + check_security_context(docs)
    for needle in ("no limits.memory", "readOnlyRootFilesystem", "drop ALL", "NET_ADMIN", "runAsUser"):
        assert any("feedback-worker" in p and needle in p for p in problems), (needle, problems)


def test_missing_probes_and_a_short_grace_period_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    spec = _find(docs, "Deployment", "delivery-worker")["spec"]["template"]["spec"]
    del spec["containers"][0]["readinessProbe"]
    spec["terminationGracePeriodSeconds"] = 10
    problems = check_probes_and_shutdown(docs)
    assert any("readinessProbe" in p for p in problems) and any(
        "terminationGracePeriod" in p for p in problems
    )


def test_a_topic_without_kafkatopic_fails(full: list[dict]) -> None:
    docs = [d for d in copy.deepcopy(full) if d["metadata"]["name"] != "p3ke.handover-signed.v1.dlq"]
    _find(docs, "KafkaTopic", "p3ke.extract-prepared.v1")["spec"]["replicas"] = 1
    _find(docs, "KafkaTopic", "p3ke.data-access.v1")["spec"]["config"]["min.insync.replicas"] = 1
    problems = check_kafka_topics(docs)
    assert "topic p3ke.handover-signed.v1.dlq has no KafkaTopic" in problems, problems
    assert any("p3ke.extract-prepared.v1: replicas 1" in p for p in problems), problems
    assert any("p3ke.data-access.v1: min.insync.replicas" in p for p in problems), problems


def test_acls_beyond_or_short_of_the_contract_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    acls = _find(docs, "KafkaUser", "p3ke-audit")["spec"]["authorization"]["acls"]
    acls.append(
        {
            "resource": {"type": "topic", "name": "p3ke.dataset-updated.v1", "patternType": "literal"},
            "operations": ["Write"],
        }
    )
    platform = _find(docs, "KafkaUser", "kemenkopmk-platform")["spec"]["authorization"]["acls"]
    platform[:] = [a for a in platform if a["resource"]["name"] != "p3ke.feedback-received.v1"]
    problems = check_kafka_users(docs)
    assert any("p3ke-audit" in p and "more than the contract" in p and "Write" in p for p in problems), (
        problems
    )
    assert any("kemenkopmk-platform" in p and "missing" in p for p in problems), problems


def test_literal_secrets_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    env = _find(docs, "Deployment", "targeting-api")["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "P3KE_KAFKA_PASSWORD", "value": "hunter2hunter2"})
    docs.append(
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oops"}, "stringData": {"k": "v"}}
    )
    config = _find(docs, "ConfigMap", generated_name(docs, "ConfigMap", "p3ke-config"))
    config["data"]["P3KE_DATABASE_URL"] = "postgresql+psycopg://app:s3cret@db:5432/app"
    problems = check_no_secret_values(docs)
    assert any("targeting-api" in p and "P3KE_KAFKA_PASSWORD" in p for p in problems), problems
    assert any("Secret/oops" in p for p in problems) and any("URL with a password" in p for p in problems)


def test_dangling_references_and_unknown_settings_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    spec = _find(docs, "Deployment", "audit-api")["spec"]["template"]["spec"]
    spec["volumes"].append({"name": "typo", "secret": {"secretName": "p3ke-audit-chekpoint-key"}})
    spec["containers"][0]["env"].append({"name": "P3KE_KAFKA_BOOTSTRAPS", "value": "x:9093"})
    assert any("p3ke-audit-chekpoint-key" in p for p in check_references(docs, COMPONENTS))
    assert any("P3KE_KAFKA_BOOTSTRAPS" in p for p in check_settings_names(docs))


def test_an_environment_the_production_settings_refuse_fails(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    env = _find(docs, "Deployment", "feedback-worker")["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [v for v in env if v["name"] != "P3KE_SUBJECT_HASH_KEY"]
    config = _find(docs, "ConfigMap", generated_name(docs, "ConfigMap", "p3ke-config"))
    config["data"]["P3KE_AUTH_DEV_ISSUER"] = "true"
    problems = check_settings_accept_environment(docs)
    assert any("feedback-worker" in p and "P3KE_SUBJECT_HASH_KEY" in p for p in problems), problems
    assert any("audit-api" in p and "P3KE_AUTH_DEV_ISSUER" in p for p in problems), problems


def test_open_network_policies_fail(full: list[dict]) -> None:
    docs = [d for d in copy.deepcopy(full) if d["metadata"]["name"] != "default-deny-all"]
    _find(docs, "NetworkPolicy", "services-to-kafka")["spec"]["egress"] = [{}]
    problems = check_network_policies(docs)
    assert any("default-deny" in p for p in problems), problems
    assert any("services-to-kafka" in p and "every port to every peer" in p for p in problems), problems
    assert any("egress to any port" in p for p in problems), problems


def test_too_many_workers_and_miswired_services_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "Deployment", "delivery-worker")["spec"]["replicas"] = 7  # extract-prepared has 6 partitions
    _find(docs, "Deployment", "ingest-api")["spec"]["template"]["spec"]["containers"][0]["args"] = ["worker"]
    problems = check_services(docs)
    assert any("delivery-worker" in p and "idle" in p for p in problems), problems
    assert any("ingest-api" in p and "command" in p for p in problems), problems


def test_too_few_brokers_fail(full: list[dict]) -> None:
    docs = copy.deepcopy(full)
    _find(docs, "KafkaNodePool", "broker")["spec"]["replicas"] = 1
    assert "1 brokers cannot hold topics with replication factor 3" in check_kafka_topics(docs)


def test_every_cel_rule_of_the_crds_is_translated() -> None:
    rules = set().union(*(_all_cel_rules(schema) for schema, _ in crd_schemas().values()))
    assert sorted(rules - set(CEL_RULES)) == []


def test_contract_and_platform_table_agree() -> None:
    services = set(ALL_SERVICES)
    for e in EVENTS:
        for producer in set(e.producers) - services:
            platform = CONTRACT_PLATFORM_NAMES.get(producer)
            assert platform, f"{e.topic}: producer {producer!r} is not mapped to a ministry platform"
            assert e.name in PLATFORMS[platform]["produces"], (e.topic, platform)
        assert set(e.consumers) <= services, f"{e.topic}: unknown consumer in {e.consumers}"
    names = {e.name for e in EVENTS}
    for access in PLATFORMS.values():
        assert set(access["produces"]) | set(access["consumes"]) <= names
