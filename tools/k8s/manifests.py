"""Render the Kubernetes deployment in deploy/k8s with kustomize and check it, offline.

Every overlay can be rendered as committed and with any combination of the opt-in components. The
checks over the rendered documents are:
- built-in kinds are validated with kubernetes-validate --strict (unknown fields fail) against
  K8S_VERSION's bundled schemas;
- Strimzi and CloudNativePG resources are validated against the openAPIV3Schema of their CRDs
  (deploy/k8s/crds, copied from the operators with their licence note), made strict the way the
  API server's strict field validation is, and
  their CEL rules are evaluated through reviewed Python translations (tools.k8s.cel; an untranslated
  rule that applies to a manifest is a problem);
- our own policies: locked-down containers, probes, limits, graceful shutdown, no secret values,
  secrets as files (never environment variables), references that resolve, deny-by-default network
  policies, and - against the event contract in p3ke_schemas.topics - a KafkaTopic for every topic and
  DLQ and ACLs that match what each service and ministry platform produces and consumes;
- production: images pinned by digest and pulled Always, Kafka's external listener limited to source
  ranges, and each container's environment (with placeholder files for what its Secrets and ConfigMaps
  mount) accepted by its service's production settings validation.

Each check_* function takes rendered documents and returns a list of problems (empty = fine).

Needs the kustomize binary that tools/k8s/install.sh installs, and the kubernetes-validate package
(dev dependency). A missing one raises MissingPrerequisiteError, whose message says how to install it.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema
import yaml

from p3ke_platform.settings import Settings
from p3ke_schemas.topics import ALL_SERVICES, EVENTS, EventSpec
from tools.k8s.cel import cel_problems

REPO = Path(__file__).resolve().parents[2]  # tools/k8s/manifests.py -> the repository
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
        "consumes": ("extract-prepared", "handover-signed", "obligation-status-changed", "incident-opened"),
    },
    "kemenkopmk-platform": {
        "produces": (),
        "consumes": ("dataset-updated", "feedback-received", "obligation-status-changed", "incident-opened"),
    },
}
CONTRACT_PLATFORM_NAMES = {"party-2 platform": "kemnaker-platform"}

# Objects the manifests reference but do not contain: created by an operator of the platform (see
# deploy/k8s/README.md, which must name each) or by an included operator (Strimzi, CloudNativePG).
OPERATOR_PROVIDED = {
    ("Secret", "p3ke-token-issuer"),
    ("Secret", "p3ke-subject-hash-key"),
    ("Secret", "p3ke-audit-checkpoint-key"),
    ("Secret", "p3ke-delivery-server-key"),
    ("Secret", "p3ke-delivery-kek"),
    ("Secret", "p3ke-backup-s3"),
    ("ConfigMap", "p3ke-agreement"),
    ("ConfigMap", "p3ke-event-trust"),
    ("ConfigMap", "p3ke-delivery-trust"),
} | {("Secret", f"p3ke-{s}-event-key") for s in ALL_SERVICES} | {
    # the disposal job's service-account token for the legal holds (the services that own artefacts)
    ("Secret", f"p3ke-{s}-legal-holds-token") for s in ("ingest", "targeting", "delivery", "feedback")
}
STRIMZI_CREATED = {("Secret", f"p3ke-{s}") for s in ALL_SERVICES} | {("Secret", "p3ke-cluster-ca-cert")}
CNPG_CREATED = {("Secret", f"p3ke-{s}-db-app") for s in ALL_SERVICES} | {
    ("Secret", f"p3ke-{s}-db-ca") for s in ALL_SERVICES
}
# components/shared-storage: a claim per kind of data (tools/k8s/storage.py KINDS, which checks who mounts what)
SHARED_STORAGE = {
    ("PersistentVolumeClaim", claim)
    for claim in ("p3ke-ingest-files", "p3ke-snapshots", "p3ke-extracts", "p3ke-selection-ledgers",
                  "p3ke-handover-files", "p3ke-feedback-files")
}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
LIBPQ_VARIABLES = {"PGHOST", "PGPORT", "PGDATABASE", "PGUSER", "PGPASSWORD", "PGSSLMODE", "PGCONNECT_TIMEOUT"}
# names of settings that hold a secret (not: a path to one, a key id, a switch for the development keys)
SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE|(?<!PUBLIC_)KEY(?!_FILE|_ID\b|S\b)|CREDENTIAL", re.IGNORECASE)
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
MIN_GRACE = {"api": 30, "worker": 60}  # seconds: drain HTTP + flush the relay; finish and commit


# --------------------------------------------------------------------------------------------
# tools


class MissingPrerequisiteError(RuntimeError):
    """A tool or input the checks need is missing; the message says how to provide it."""


def _pinned_kustomize_version() -> str:
    """The kustomize version tools/k8s/install.sh pins."""
    match = re.search(r'^KUSTOMIZE_VERSION="([^"]+)"', INSTALL_SCRIPT.read_text(), re.MULTILINE)
    assert match, f"{INSTALL_SCRIPT} has no KUSTOMIZE_VERSION line"
    return match.group(1)


def _tools_bin() -> Path:
    """Where tools/k8s/install.sh puts the binaries: $P3KE_TOOLS_BIN, else the per-user cache."""
    if os.environ.get("P3KE_TOOLS_BIN"):
        return Path(os.environ["P3KE_TOOLS_BIN"])
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "p3ke" / "bin"


_INSTALLED_BY = "`make test` installs it (tools/k8s/install.sh)"


@functools.cache
def kustomize() -> str:
    """The path of the pinned kustomize binary.

    Raises MissingPrerequisiteError when it is not installed or is another version.
    """
    binary = _tools_bin() / "kustomize"
    if not binary.is_file():
        raise MissingPrerequisiteError(f"kustomize is not installed at {binary}: {_INSTALLED_BY}")
    wanted = _pinned_kustomize_version()
    got = subprocess.run([str(binary), "version"], capture_output=True, text=True, check=False).stdout.strip()
    if got != wanted:
        raise MissingPrerequisiteError(
            f"{binary} is kustomize {got!r}, the pinned version is {wanted}: {_INSTALLED_BY}"
        )
    return str(binary)


@functools.cache
def _kubernetes_validate() -> ModuleType:
    """The kubernetes_validate module; MissingPrerequisiteError when the package is not installed."""
    try:
        import kubernetes_validate
    except ImportError:
        raise MissingPrerequisiteError(
            "the Python package kubernetes-validate is missing: it belongs to the root "
            "pyproject's dev dependency group (`uv sync` installs it)"
        ) from None
    return kubernetes_validate


# --------------------------------------------------------------------------------------------
# rendering

Variant = tuple[str, tuple[str, ...] | None]  # (overlay, components; None = as committed)


def _variants() -> list[Variant]:
    """Each overlay as committed, then with every combination of the components (none to all)."""
    out: list[Variant] = []
    for overlay in OVERLAYS:
        out.append((overlay, None))
        for n in range(len(COMPONENTS) + 1):
            out.extend((overlay, combo) for combo in itertools.combinations(COMPONENTS, n))
    return out


VARIANTS = _variants()


def variant_id(variant: Variant) -> str:
    """A short readable name for a variant, e.g. `dev:as-committed` or `prod:strimzi-kafka+shared-storage`."""
    overlay, combo = variant
    if combo is None:
        return f"{overlay}:as-committed"
    return f"{overlay}:" + ("+".join(combo) or "no-components")


def build(path: Path) -> list[dict]:
    """`kustomize build path` as a list of documents; AssertionError with kustomize's stderr if it fails."""
    proc = subprocess.run([kustomize(), "build", str(path)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"kustomize build {path} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


@functools.cache
def _render_cached(variant: Variant) -> str:
    """The rendered variant as JSON (cached; JSON so that every caller gets its own copy)."""
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
    """The documents of a variant, rendered once per process; the caller may modify them."""
    return json.loads(_render_cached(variant))


def components_of(variant: Variant) -> tuple[str, ...]:
    """The components a variant includes (for as committed: those its kustomization.yaml lists)."""
    overlay, combo = variant
    if combo is not None:
        return combo
    kustomization = yaml.safe_load((K8S / "overlays" / overlay / "kustomization.yaml").read_text())
    return tuple(Path(c).name for c in kustomization.get("components", []))


# --------------------------------------------------------------------------------------------
# helpers over rendered documents


def kind_of(docs: Iterable[dict], kind: str) -> list[dict]:
    """The documents of one kind."""
    return [d for d in docs if d.get("kind") == kind]


def named(doc: dict) -> str:
    """`Kind/name` of a document, as the problems name it."""
    return f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"


def pod_spec(doc: dict) -> dict | None:
    """The pod spec of a workload (CronJob included); None for other kinds."""
    if doc.get("kind") == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if doc.get("kind") in WORKLOAD_KINDS:
        return doc["spec"]["template"]["spec"]
    return None


def workloads(docs: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(document, pod spec) of every workload among `docs`."""
    for doc in docs:
        spec = pod_spec(doc)
        if spec is not None:
            yield doc, spec


def pod_labels(doc: dict) -> dict:
    """The labels of a workload's pod template (not CronJob)."""
    return doc["spec"]["template"].get("metadata", {}).get("labels", {})


def containers(spec: dict) -> list[dict]:
    """The init containers and containers of a pod spec."""
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def generated_name(docs: list[dict], kind: str, base: str) -> str | None:
    """The name kustomize gave a generated object (base name plus a content hash)."""
    for d in kind_of(docs, kind):
        name = d["metadata"]["name"]
        if name == base or re.fullmatch(re.escape(base) + r"-[a-z0-9]{10}", name):
            return name
    return None


def selector_matches(selector: dict, labels: dict) -> bool:
    """Whether a label selector (matchLabels and matchExpressions) selects `labels`."""
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
    """The Deployments and Jobs whose pods are part of p3ke (not the operators' or others')."""
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
    """Built-in kinds (not of CRD_GROUPS) against K8S_VERSION's schemas, strictly: unknown fields fail."""
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
def crd_schemas() -> dict[tuple[str, str], tuple[dict, jsonschema.Draft4Validator]]:
    """(apiVersion, kind) -> (openAPIV3Schema, strict validator), from deploy/k8s/crds.

    Only served versions; MissingPrerequisiteError when the CRDs directory is missing.
    """
    if not CRD_DIR.is_dir():
        raise MissingPrerequisiteError(f"the CRDs are missing: expected {CRD_DIR}")
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


def check_custom_resources(docs: list[dict]) -> list[str]:
    """Resources of CRD_GROUPS against their CRD's strict schema and CEL rules, with DNS-subdomain names."""
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
        problems += [f"{named(doc)}: {p}" for p in cel_problems(schema, doc, "")]
        if not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", doc.get("metadata", {}).get("name", "")):
            problems.append(f"{named(doc)}: metadata.name is not a DNS subdomain name")
    return problems


# --------------------------------------------------------------------------------------------
# policies for our workloads


def check_security_context(docs: list[dict]) -> list[str]:
    """Pods and containers are locked down: non-root, read-only root, no escalation, no capabilities, ..."""
    problems = []
    for doc, spec in workloads(docs):
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
    """Every container requests and limits cpu and memory."""
    problems = []
    for doc, spec in workloads(docs):
        for c in containers(spec):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    if what not in res.get(kind, {}):
                        problems.append(f"{named(doc)} container {c['name']}: no {kind}.{what}")
    return problems


def check_images(docs: list[dict]) -> list[str]:
    """Every image is pinned by a tag other than latest, or by digest."""
    problems = []
    for doc, spec in workloads(docs):
        for c in containers(spec):
            image = c.get("image", "")
            if "@sha256:" in image:
                continue
            last = image.rsplit("/", 1)[-1]
            if ":" not in last or last.endswith(":latest"):
                problems.append(f"{named(doc)} container {c['name']}: image {image!r} has no pinned tag")
    return problems


def check_images_by_digest(docs: list[dict]) -> list[str]:
    """Production: every image is pinned by digest (a tag can be moved to other bytes)."""
    problems = []
    for doc, spec in workloads(docs):
        for c in containers(spec):
            if not DIGEST.search(c.get("image", "")):
                problems.append(f"{named(doc)} container {c['name']}: image {c.get('image')!r} is not pinned by "
                                "digest (@sha256:...)")
    return problems


def check_pull_policy(docs: list[dict]) -> list[str]:
    """Every container pulls its image Always: the registry checks the node's right to it on each start."""
    problems = []
    for doc, spec in workloads(docs):
        for c in containers(spec):
            if c.get("imagePullPolicy") != "Always":
                problems.append(f"{named(doc)} container {c['name']}: imagePullPolicy is "
                                f"{c.get('imagePullPolicy', 'not set')}, not Always")
    return problems


OPEN_CIDRS = ("0.0.0.0/0", "::/0")


def check_kafka_external_listeners(docs: list[dict]) -> list[str]:
    """Production: a Kafka listener reachable from outside the cluster admits only configured source ranges.

    Strimzi writes a NetworkPolicy per listener that admits its networkPolicyPeers (everyone when there are
    none); these must be ipBlocks of limited ranges. A loadbalancer listener also limits the load balancer
    (loadBalancerSourceRanges, the same ranges) and keeps the clients' source addresses visible to that
    policy (externalTrafficPolicy Local)."""
    problems = []
    for doc in kind_of(docs, "Kafka"):
        for listener in doc["spec"]["kafka"]["listeners"]:
            if listener.get("type") == "internal":
                continue
            where = f"{named(doc)}: listener {listener['name']} ({listener.get('type')})"
            peers = listener.get("networkPolicyPeers") or []
            cidrs = [p.get("ipBlock", {}).get("cidr") for p in peers]
            if not peers:
                problems.append(f"{where}: no networkPolicyPeers, so anyone may connect")
            elif None in cidrs:
                problems.append(f"{where}: networkPolicyPeers other than ipBlock source ranges")
            if any(c in OPEN_CIDRS for c in cidrs):
                problems.append(f"{where}: networkPolicyPeers admit every address")
            if listener.get("type") == "loadbalancer":
                config = listener.get("configuration", {})
                ranges = config.get("loadBalancerSourceRanges") or []
                if not ranges or any(r in OPEN_CIDRS for r in ranges):
                    problems.append(f"{where}: loadBalancerSourceRanges do not limit the sources")
                elif set(ranges) != {c for c in cidrs if c}:
                    problems.append(f"{where}: loadBalancerSourceRanges {sorted(ranges)} differ from the "
                                    f"networkPolicyPeers {sorted(c for c in cidrs if c)}")
                if config.get("externalTrafficPolicy") != "Local":
                    problems.append(f"{where}: externalTrafficPolicy is not Local: the NetworkPolicy would see "
                                    "the nodes' addresses instead of the clients'")
    return problems


def check_probes_and_shutdown(docs: list[dict]) -> list[str]:
    """Deployments probe /healthz and /readyz on a declared port and have time to shut down (MIN_GRACE)."""
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
    """Secret-looking variables of a container: secrets reach containers as files, never in the environment.

    `<NAME>_FILE` variables name such a file (an absolute path), they hold no secret."""
    problems = []
    for var in env:
        name = var["name"]
        if name.endswith("_FILE") and str(var.get("value", "")).startswith("/"):
            continue
        if SECRETISH.search(name):
            problems.append(f"{where}: {name} puts a secret in the environment; mount its Secret as a file "
                            f"and set {name}_FILE")
    return problems


def check_secrets_as_files(docs: list[dict]) -> list[str]:
    """No container takes a Secret as environment variables (secretKeyRef, envFrom secretRef): files only."""
    problems = []
    for doc, spec in workloads(docs):
        for c in containers(spec):
            where = f"{named(doc)} container {c['name']}"
            for var in c.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    problems.append(f"{where}: {var['name']} is Secret {ref.get('name')} key {ref.get('key')} "
                                    "as an environment variable; mount it as a file")
            for src in c.get("envFrom", []):
                if "secretRef" in src:
                    problems.append(f"{where}: envFrom Secret {src['secretRef'].get('name')}; mount it as a file")
    return problems


PEM = re.compile(r"-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----")
URL_WITH_PASSWORD = re.compile(r"://[^/\s:@$()]+:[^/\s@$()]+@")


def check_no_secret_values(docs: list[dict]) -> list[str]:
    """No Secret, key, certificate, password URL or literal secret-looking value in the manifests."""
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
    return problems + check_secrets_as_files(docs)


def _references(doc: dict) -> set[tuple[str, str]]:
    """(kind, name) of the ServiceAccount, Secrets, ConfigMaps and PVCs a workload's pods use."""
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
        for src in vol.get("projected", {}).get("sources", []):
            if "secret" in src:
                refs.add(("Secret", src["secret"]["name"]))
            if "configMap" in src:
                refs.add(("ConfigMap", src["configMap"]["name"]))
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
        missing = ", ".join(sorted(name for _, name in SHARED_STORAGE - rendered))
        problems.append(f"shared-storage is included but renders no PVC {missing}")
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


@functools.cache
def settings_class(service: str) -> type[Settings]:
    """The settings class a service's processes validate their environment with (its ServiceSpec's)."""
    return importlib.import_module(f"p3ke_{service}.bootstrap").SERVICE.settings_class


def setting_names() -> set[str]:
    """P3KE_* names of the shared settings and of every service's own."""
    return {f"P3KE_{name.upper()}" for svc in ALL_SERVICES for name in settings_class(svc).model_fields}


def check_settings_names(docs: list[dict]) -> list[str]:
    """Every P3KE_* name we set is a setting the code reads (a typo is otherwise silently ignored)."""
    fields = setting_names()
    problems = []
    env_config_maps = {
        src["configMapRef"]["name"]
        for doc in service_workloads(docs)
        for c in containers(pod_spec(doc))
        for src in c.get("envFrom", [])
        if "configMapRef" in src
    }
    for doc in kind_of(docs, "ConfigMap"):
        if doc["metadata"]["name"] not in env_config_maps:
            continue
        for key in doc.get("data", {}):
            if key.startswith("P3KE_") and key not in fields:
                problems.append(f"{named(doc)}: {key} is not a setting of p3ke_platform.settings.Settings "
                                "or of a service's settings")
            elif not key.startswith("P3KE_") and key not in LIBPQ_VARIABLES:
                problems.append(f"{named(doc)}: {key} is neither a P3KE setting nor a libpq variable")
    for doc in service_workloads(docs):
        for c in containers(pod_spec(doc)):
            for var in c.get("env", []):
                if var["name"].startswith("P3KE_") and var["name"] not in fields:
                    problems.append(f"{named(doc)}: {var['name']} is not a setting")
    return problems


FileSource = tuple[str, str, str]  # (Secret | ConfigMap, object name, key)
Placeholder = Callable[[str, str, str], bytes]  # (kind, object name, key) -> placeholder file content


def volume_files(volume: dict) -> tuple[dict[str, FileSource], list[tuple[str, str]]]:
    """What a Secret, ConfigMap or projected volume shows: (files by their path inside the volume, objects
    mounted whole, whose keys the manifests do not list)."""
    sources = []
    if "secret" in volume:
        sources.append(("Secret", volume["secret"]["secretName"], volume["secret"].get("items")))
    if "configMap" in volume:
        sources.append(("ConfigMap", volume["configMap"]["name"], volume["configMap"].get("items")))
    for src in volume.get("projected", {}).get("sources", []):
        if "secret" in src:
            sources.append(("Secret", src["secret"]["name"], src["secret"].get("items")))
        if "configMap" in src:
            sources.append(("ConfigMap", src["configMap"]["name"], src["configMap"].get("items")))
    files: dict[str, FileSource] = {}
    whole = []
    for kind, name, items in sources:
        if items is None:
            whole.append((kind, name))
        for item in items or []:
            files[item["path"]] = (kind, name, item["key"])
    return files, whole


def container_files(spec: dict, container: dict) -> dict[str, FileSource]:
    """The files a container sees from Secrets and ConfigMaps (listed keys), by absolute path."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out = {}
    for mount in container.get("volumeMounts", []):
        if mount.get("subPath"):
            continue
        files, _ = volume_files(volumes.get(mount["name"], {}))
        for rel, src in files.items():
            out[f"{mount['mountPath'].rstrip('/')}/{rel}"] = src
    return out


def lay_out_mounts(spec: dict, container: dict, root: Path, placeholder: Placeholder) -> dict[str, Path]:
    """Under `root`, a directory per volume mount of the container holding what it would show: a file per
    listed Secret or ConfigMap key (content from `placeholder`), nothing for other volumes. mountPath -> dir."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    out = {}
    for i, mount in enumerate(container.get("volumeMounts", [])):
        if mount.get("subPath"):
            continue
        target = root / f"{i}-{mount['name']}"
        target.mkdir(parents=True)
        files, _ = volume_files(volumes.get(mount["name"], {}))
        for rel, (kind, name, key) in files.items():
            path = target / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(placeholder(kind, name, key))
        out[mount["mountPath"].rstrip("/") or "/"] = target
    return out


def remap_paths(value: str, mounts: dict[str, Path]) -> str:
    """`value` with each mount path (also inside a URL) replaced by the directory that stands in for it."""
    if not mounts:
        return value
    # one pass, longest mount first: a replacement is never replaced again (e.g. /tmp inside the stand-in)
    pattern = "|".join(re.escape(m) for m in sorted(mounts, key=len, reverse=True))
    return re.sub(f"({pattern})(?=/|$|[?&#\\s])", lambda m: str(mounts[m.group(1)]), value)


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


def check_settings_accept_environment(
    docs: list[dict],
    root: Path,
    placeholder: Placeholder,
    then: Callable[[dict, Settings], list[str]] | None = None,
) -> list[str]:
    """Each service container's environment passes its service's production settings validation.

    The container's Secret and ConfigMap mounts are laid out under `root` with placeholder files (from
    `placeholder(kind, name, key)`, which raises LookupError for an object it does not know), and the paths
    in its environment point there; a setting that names a file nothing mounts keeps its path, which does
    not exist here, so the validation refuses it, naming the setting. `then(workload, settings)` may check
    more of each accepted container (while the placeholder files exist) and returns its problems."""
    from unittest import mock

    from p3ke_platform.settings import ConfigurationError, load_settings

    problems = []
    run = Path(tempfile.mkdtemp(prefix="env-", dir=root))
    for doc in service_workloads(docs):
        spec = pod_spec(doc)
        svc = pod_labels(doc).get("app.kubernetes.io/name", "")
        if svc not in ALL_SERVICES:
            problems.append(f"{named(doc)}: app.kubernetes.io/name {svc!r} is not a service")
            continue
        for c in spec["containers"]:
            try:
                mounts = lay_out_mounts(spec, c, run / f"{doc['kind']}-{doc['metadata']['name']}-{c['name']}",
                                        placeholder)
            except LookupError as exc:
                problems.append(f"{named(doc)}: no placeholder for {exc}")
                continue
            env = {k: remap_paths(v, mounts) for k, v in container_environment(docs, c).items()}
            with mock.patch.dict(os.environ, env, clear=True):
                try:
                    settings = load_settings(settings_class(svc))
                except ConfigurationError as exc:
                    problems.append(f"{named(doc)}: {exc}")
                    continue
            if settings.env != "production" or not settings.effective_database_url.startswith(
                "postgresql+psycopg://"
            ):
                problems.append(f"{named(doc)}: not production settings with PostgreSQL (psycopg)")
            if settings.service != svc:
                problems.append(f"{named(doc)}: P3KE_SERVICE {settings.service!r} is not its service")
            if then is not None:
                problems += then(doc, settings)
    return problems


def _consumed(service: str) -> list[EventSpec]:
    """The events of the contract a service consumes."""
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
            full = container_environment(docs, c)
            files = container_files(spec, c)

            def source(setting: str, full: dict[str, str] = full, files: dict = files) -> FileSource | None:
                return files.get(full.get(setting, ""))

            if source("P3KE_DATABASE_PASSWORD_FILE") != ("Secret", f"p3ke-{svc}-db-app", "password"):
                problems.append(
                    f"{named(doc)}: P3KE_DATABASE_PASSWORD_FILE is not Secret p3ke-{svc}-db-app key password"
                )
            if source("P3KE_EVENT_SIGNING_KEY_FILE") != ("Secret", f"p3ke-{svc}-event-key", "private-key.pem"):
                problems.append(
                    f"{named(doc)}: P3KE_EVENT_SIGNING_KEY_FILE is not its own key, Secret p3ke-{svc}-event-key"
                )
            kafka_password = ("Secret", f"p3ke-{svc}", "password")
            if role != "migrate":
                user = full.get("P3KE_KAFKA_USERNAME")
                if user != f"p3ke-{svc}" or source("P3KE_KAFKA_PASSWORD_FILE") != kafka_password:
                    problems.append(
                        f"{named(doc)}: Kafka identity is not KafkaUser p3ke-{svc} and its Secret"
                    )
            elif kafka_password in files.values():
                problems.append(f"{named(doc)}: a migration does not need the Kafka password")
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
    """A default deny, no rule open to everything, and each service workload allowed what it needs."""
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
    """A durable KafkaTopic for exactly the topics and DLQs of the contract, and a safe Kafka cluster."""
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
            if config.get("message.timestamp.type") != "LogAppendTime":
                problems.append(f"{named(doc)}: message.timestamp.type is not LogAppendTime (the broker's receipt "
                                "time bounds what a producer claims)")
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
        acl.add(("group", user, "prefix", "Read"))  # the worker's consumer group: p3ke-<service>
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
    """A KafkaUser per service and ministry platform, with exactly the ACLs of expected_acls()."""
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
    """A CloudNativePG Cluster per service: its own database, no superuser, continuous and scheduled backups."""
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

