"""The retention schedule reaches every process that applies it, in Kubernetes (issue 18).

In production a service's API, worker and jobs roles refuse to start without `P3KE_RETENTION_SCHEDULE`
(`ServiceContext.check`, run by `p3ke_platform.runner` for those roles only: a migration never loads the
context). The base generates the ConfigMap `p3ke-retention-schedule` from `deploy/k8s/base/jadwal_retensi.yaml`,
a copy of the packaged default kept equal to it here, so the rendered overlays deploy as they are; an overlay
replaces it with the schedule the ministries decided (deploy/k8s/README.md).

Every overlay, as committed and with every combination of the components: each container of a role that loads
the context gets P3KE_RETENTION_SCHEDULE from the shared ConfigMap `p3ke-config` and sees the file there, from a
read-only mount of `p3ke-retention-schedule`. On the committed overlays, each such container's own production
settings (loaded as in test_k8s_production.py) load the schedule the ConfigMap holds through the service's own
context. The tests at the end break rendered manifests on purpose to show the checks catch it.
Missing tools fail the tests with instructions; nothing is skipped.

The disposal job (`retention-disposal`, p3ke_platform.retention.disposal) of each service that owns artefacts runs
in its API process (P3KE_JOBS_IN_API) and asks the audit service for legal holds before it destroys anything; it
destroys nothing when it cannot. So every container that runs it gets P3KE_LEGAL_HOLDS_URL, the audit Service's
in-cluster URL, and P3KE_LEGAL_HOLDS_TOKEN_FILE, a file of its own Secret `p3ke-<service>-legal-holds-token`, and
the NetworkPolicies let it reach the audit API's port (egress from it, ingress to audit); no other container gets
the token. Its production start-up (`Runtime.check_loops`, run by the runner for its role) accepts that; without
the URL it stops. Which claims it mounts read-write: test_k8s_storage.py.
"""

from __future__ import annotations

import copy
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import pytest

from p3ke_platform.retention import DEFAULT_SCHEDULE, OWNERS, RETENTION_SCHEDULE_REQUIRED, Kind, parse_schedule
from p3ke_platform.retention.holds import LEGAL_HOLDS_URL_REQUIRED
from p3ke_platform.runner import ROLES
from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import ConfigurationError, Settings
from tests.contract.k8s_tools import render
from tests.contract.test_k8s_production import Placeholders, start_up
from tools.k8s.manifests import (
    K8S,
    VARIANTS,
    Variant,
    check_settings_accept_environment,
    container_environment,
    container_files,
    generated_name,
    kind_of,
    named,
    pod_labels,
    pod_spec,
    selector_matches,
    service_workloads,
    variant_id,
)
from tools.k8s.storage import disposal_containers, service_of

SETTING = "P3KE_RETENTION_SCHEDULE"
CONFIG_MAP = "p3ke-retention-schedule"
DEPLOYED_COPY = K8S / "base" / "jadwal_retensi.yaml"
LOADS_CONTEXT = ("api", "worker", "jobs")  # p3ke_platform.runner.main: the roles that run `context.check()`
COMMITTED = [("dev", None), ("prod", None)]


@pytest.fixture(scope="module", params=VARIANTS, ids=[variant_id(v) for v in VARIANTS])
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param


def _role(container: dict) -> str:
    return (container.get("args") or ["?"])[0]


def _loads_context(doc: dict) -> list[dict]:
    """The containers of a workload whose process loads its service's context (and so the schedule)."""
    return [c for c in pod_spec(doc)["containers"] if _role(c) in LOADS_CONTEXT]


def _schedule_file(docs: list[dict], doc: dict, container: dict) -> tuple[str | None, list[str]]:
    """The content of the file P3KE_RETENTION_SCHEDULE names in the container, as its mounts show it; or None
    with the problems that keep it from being there."""
    where = f"{named(doc)} container {container['name']}"
    config = generated_name(docs, "ConfigMap", "p3ke-config")
    from_config = {src.get("configMapRef", {}).get("name") for src in container.get("envFrom", [])}
    overridden = [v["name"] for v in container.get("env", []) if v["name"] == SETTING]
    value = container_environment(docs, container).get(SETTING)
    if config not in from_config or overridden or not value:
        return None, [f"{where}: {SETTING} does not come from the ConfigMap p3ke-config (envFrom)"]
    path = PurePosixPath(value)
    mount = next((m for m in container.get("volumeMounts", [])
                  if PurePosixPath(m["mountPath"]) == path.parent and not m.get("subPath")), None)
    if mount is None:
        return None, [f"{where}: nothing is mounted at {path.parent}, where {SETTING} names {path.name}"]
    problems = [] if mount.get("readOnly") else [f"{where}: {mount['mountPath']} is not mounted readOnly"]
    volume = next((v for v in pod_spec(doc).get("volumes", []) if v["name"] == mount["name"]), {})
    schedule_map = generated_name(docs, "ConfigMap", CONFIG_MAP)
    if volume.get("configMap", {}).get("name") != schedule_map or schedule_map is None:
        return None, [*problems, f"{where}: {mount['mountPath']} is not the ConfigMap {CONFIG_MAP}"]
    items = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])} or None
    key = items.get(path.name) if items is not None else path.name
    data = next(d for d in kind_of(docs, "ConfigMap") if d["metadata"]["name"] == schedule_map).get("data", {})
    if key not in data:
        return None, [*problems, f"{where}: the ConfigMap {CONFIG_MAP} has no key {path.name}"]
    return data[key], problems


def retention_problems(docs: list[dict]) -> list[str]:
    """Every container that loads its service's context sees a valid schedule file where the setting says."""
    problems = []
    for doc in service_workloads(docs):
        for container in pod_spec(doc)["containers"]:
            if _role(container) not in ROLES:
                problems.append(f"{named(doc)} container {container['name']}: unknown role {_role(container)}")
        for container in _loads_context(doc):
            text, found = _schedule_file(docs, doc, container)
            problems += found
            if text is not None:
                try:
                    parse_schedule(text, f"{named(doc)}:{CONFIG_MAP}")
                except ValueError as exc:
                    problems.append(str(exc))
    return problems


def _schedule_loads(docs: list[dict], root: Path) -> object:
    """A `then` for check_settings_accept_environment: the container's own production settings load, through
    its service's context, the schedule its mount holds (written where the mount's stand-in directory is)."""

    def then(doc: dict, settings: Settings) -> list[str]:
        loading = _loads_context(doc)
        if not loading:
            return []
        text, problems = _schedule_file(docs, doc, loading[0])
        path = settings.retention_schedule
        if path is not None:  # unset: the context below refuses it
            if not path.parent.is_dir() or not path.is_relative_to(root):
                return [*problems, f"{named(doc)}: {SETTING} {path} is not in a mounted volume"]
            if text is not None:
                path.write_text(text, encoding="utf-8")
        try:
            schedule = Runtime(installed_service(settings.service), settings).context.retention_schedule
        except ConfigurationError as exc:
            return [*problems, f"{named(doc)}: {exc}"]
        if set(schedule.rules) != set(Kind) or path is None or schedule.source != str(path.resolve()):
            problems.append(f"{named(doc)}: loaded {schedule.source}, not the mounted schedule")
        return problems

    return then


HOLDS_URL = "P3KE_LEGAL_HOLDS_URL"
HOLDS_TOKEN = "P3KE_LEGAL_HOLDS_TOKEN_FILE"


def _allows(rule: dict, peers_key: str, peer: dict, port: int) -> bool:
    ports = rule.get("ports")
    if ports and not any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports):
        return False
    peers = rule.get(peers_key)
    return not peers or any(set(p) == {"podSelector"} and selector_matches(p["podSelector"], peer) for p in peers)


def reaches(docs: list[dict], source: dict, target: dict, port: int) -> bool:
    """Whether the NetworkPolicies let a pod labelled `source` open TCP `port` on a pod labelled `target` in the same
    namespace: an Egress rule of a policy selecting the source names the target (podSelector) and the port, and an
    Ingress rule of a policy selecting the target names the source and the port (a default deny selects them all)."""

    def allowed(direction: str, selected: dict, peer: dict) -> bool:
        key, peers_key = ("egress", "to") if direction == "Egress" else ("ingress", "from")
        policies = [np["spec"] for np in kind_of(docs, "NetworkPolicy")
                    if direction in np["spec"].get("policyTypes", []) and selector_matches(np["spec"]["podSelector"],
                                                                                            selected)]
        return not policies or any(_allows(rule, peers_key, peer, port) for spec in policies
                                   for rule in spec.get(key, []))

    return allowed("Egress", source, target) and allowed("Ingress", target, source)


def _in_cluster(docs: list[dict], url: str) -> tuple[dict, int] | None:
    """The pod labels and container port an in-cluster `http://<service>[:port]` reaches: the Service's selector and
    the targetPort of its port, resolved (by name) on the API container of the workload it selects."""
    parsed = urlsplit(url)
    service = next((d for d in kind_of(docs, "Service") if d["metadata"]["name"] == parsed.hostname), None)
    if parsed.scheme != "http" or service is None or parsed.path not in ("", "/"):
        return None
    port = next((p for p in service["spec"]["ports"] if p["port"] == (parsed.port or 80)), None)
    selected = [d for d in service_workloads(docs) if selector_matches({"matchLabels": service["spec"]["selector"]},
                                                                          pod_labels(d))]
    if port is None or len(selected) != 1:
        return None
    target = port.get("targetPort", port["port"])
    ports = [p for c in pod_spec(selected[0])["containers"] for p in c.get("ports", [])
             if target in (p.get("name"), p["containerPort"])]
    return (pod_labels(selected[0]), ports[0]["containerPort"]) if ports else None


def legal_holds_problems(docs: list[dict]) -> list[str]:
    """Every container that runs an owning service's disposal job can ask the audit service for legal holds: the
    audit API's in-cluster URL, a token file from its own Secret (read-only), a network path to the audit API;
    no other container has the token."""
    problems = []
    audit = next((d for d in service_workloads(docs) if named(d) == "Deployment/audit-api"), None)
    running = {(named(d), c["name"]) for d, c in disposal_containers(docs) if service_of(d) in OWNERS}
    for doc in service_workloads(docs):
        svc = service_of(doc)
        spec = pod_spec(doc)
        for c in spec["containers"]:
            where = f"{named(doc)} container {c['name']}"
            env = container_environment(docs, c)
            files = container_files(spec, c)
            secret = ("Secret", f"p3ke-{svc}-legal-holds-token", "token")
            if (named(doc), c["name"]) not in running:
                if HOLDS_TOKEN in env or any(name.endswith("-legal-holds-token") for _, name, _ in files.values()):
                    problems.append(f"{where}: runs no disposal job, but gets the legal holds token")
                continue
            url = env.get(HOLDS_URL)
            reached = _in_cluster(docs, url or "")
            if audit is None or reached is None or reached[0] != pod_labels(audit):
                problems.append(f"{where}: {HOLDS_URL} {url!r} is not the audit API's in-cluster URL (http://audit)")
            elif not reaches(docs, pod_labels(doc), reached[0], reached[1]):
                problems.append(f"{where}: the NetworkPolicies do not let it reach the audit API on port {reached[1]}")
            if files.get(env.get(HOLDS_TOKEN, "")) != secret:
                problems.append(f"{where}: {HOLDS_TOKEN} {env.get(HOLDS_TOKEN)!r} is not the key `token` of its "
                                f"Secret {secret[1]}")
            else:
                directory = str(PurePosixPath(env[HOLDS_TOKEN]).parent)
                mount = next(m for m in c["volumeMounts"] if m["mountPath"].rstrip("/") == directory)
                if not mount.get("readOnly"):
                    problems.append(f"{where}: {directory} is not mounted readOnly")
    return problems


def _loops_start(doc: dict, settings: Settings) -> list[str]:
    """A `then` for check_settings_accept_environment: the role's loops accept the container's own production
    settings (`Runtime.check_loops`, as the runner runs it at start-up)."""
    problems = []
    runtime = Runtime(installed_service(settings.service), settings)
    for container in _loads_context(doc):
        try:
            runtime.check_loops(_role(container))  # type: ignore[arg-type]
        except ConfigurationError as exc:
            problems.append(f"{named(doc)} container {container['name']}: {exc}")
    return problems


# --------------------------------------------------------------------------------------------
# the deployed schedule


def test_the_deployed_copy_is_the_packaged_default() -> None:
    assert DEPLOYED_COPY.read_bytes() == DEFAULT_SCHEDULE.read_bytes(), (
        f"{DEPLOYED_COPY.relative_to(K8S.parents[1])} differs from the packaged default: copy it again "
        f"(cp {DEFAULT_SCHEDULE.relative_to(K8S.parents[1])} {DEPLOYED_COPY.relative_to(K8S.parents[1])}); "
        "a decided schedule belongs in the overlay, not in the base")


def test_the_roles_that_load_the_context_are_the_runners() -> None:
    """`python -m p3ke_<svc> migrate` (and relay) never builds the context: only these roles need the file."""
    import ast
    import inspect

    from p3ke_platform import runner

    checked = set()
    for node in ast.walk(ast.parse(inspect.getsource(runner.main))):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.comparators[0], ast.Tuple)
                and "runtime.context.check()" in ast.unparse(node)):
            checked |= {ast.literal_eval(e) for e in node.test.comparators[0].elts}
    assert checked == set(LOADS_CONTEXT), checked
    assert set(LOADS_CONTEXT) < set(ROLES)


# --------------------------------------------------------------------------------------------
# the manifests


def test_every_container_that_loads_its_context_sees_the_schedule_read_only(variant: Variant) -> None:
    docs = render(variant)
    assert retention_problems(docs) == []
    loading = [(named(d), c["name"]) for d in service_workloads(docs) for c in _loads_context(d)]
    assert len(loading) >= 10, loading  # the API and the worker of every service


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_migrations_get_no_schedule(committed: Variant) -> None:
    """A migration needs no schedule (least privilege: it gets nothing it does not read)."""
    docs = render(committed)
    jobs = [d for d in service_workloads(docs) if d["kind"] == "Job"]
    assert jobs and all(_role(c) == "migrate" for d in jobs for c in pod_spec(d)["containers"])
    for doc in jobs:
        names = {v.get("configMap", {}).get("name") for v in pod_spec(doc).get("volumes", [])}
        assert generated_name(docs, "ConfigMap", CONFIG_MAP) not in names, named(doc)


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_each_containers_production_settings_load_the_mounted_schedule(committed: Variant, tmp_path: Path) -> None:
    docs = render(committed)
    placeholders = Placeholders()

    def then(doc: dict, settings: Settings) -> list[str]:
        return start_up(doc, settings) + _schedule_loads(docs, tmp_path)(doc, settings)  # type: ignore[operator]

    assert check_settings_accept_environment(docs, tmp_path, placeholders, then=then) == []


def test_every_disposal_job_can_ask_the_audit_service_for_legal_holds(variant: Variant) -> None:
    docs = render(variant)
    assert legal_holds_problems(docs) == []
    running = sorted(named(d) for d, _ in disposal_containers(docs) if service_of(d) in OWNERS)
    assert running == sorted(f"Deployment/{svc}-api" for svc in OWNERS)


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_each_disposal_jobs_production_start_up_passes(committed: Variant, tmp_path: Path) -> None:
    docs = render(committed)
    placeholders = Placeholders()
    assert check_settings_accept_environment(docs, tmp_path, placeholders, then=_loops_start) == []
    for doc, c in disposal_containers(docs):
        if service_of(doc) in OWNERS:
            assert container_environment(docs, c)[HOLDS_URL] == "http://audit", named(doc)


# --------------------------------------------------------------------------------------------
# the checks catch what they claim to


def _deployment(docs: list[dict], name: str) -> dict:
    return next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == name)


def test_the_checks_catch_a_missing_writable_or_wrong_schedule(tmp_path: Path) -> None:
    docs = copy.deepcopy(render(("prod", None)))
    ingest = pod_spec(_deployment(docs, "ingest-api"))["containers"][0]
    ingest["volumeMounts"] = [m for m in ingest["volumeMounts"] if m["name"] != "retention"]
    feedback = pod_spec(_deployment(docs, "feedback-worker"))["containers"][0]
    next(m for m in feedback["volumeMounts"] if m["name"] == "retention")["readOnly"] = False
    delivery = pod_spec(_deployment(docs, "delivery-api"))["containers"][0]
    delivery["env"].append({"name": SETTING, "value": "/etc/p3ke/retention/other.yaml"})
    agreement = next(v for v in pod_spec(_deployment(docs, "targeting-worker"))["volumes"] if v["name"] == "agreement")
    retention = next(v for v in pod_spec(_deployment(docs, "targeting-worker"))["volumes"] if v["name"] == "retention")
    retention["configMap"] = copy.deepcopy(agreement["configMap"])
    problems = retention_problems(docs)
    for needle in ("ingest-api container api: nothing is mounted at /etc/p3ke/retention",
                   "feedback-worker container worker: /etc/p3ke/retention is not mounted readOnly",
                   f"delivery-api container api: {SETTING} does not come from the ConfigMap p3ke-config",
                   f"targeting-worker container worker: /etc/p3ke/retention is not the ConfigMap {CONFIG_MAP}"):
        assert any(needle in p for p in problems), (needle, problems)

    # a schedule the platform refuses (a kind left out), and a key the setting does not name
    schedule = next(d for d in kind_of(docs, "ConfigMap") if d["metadata"]["name"].startswith(CONFIG_MAP))
    text = DEFAULT_SCHEDULE.read_text(encoding="utf-8")
    schedule["data"]["jadwal_retensi.yaml"] = text[:text.index("  - kind: package")]
    problems = retention_problems(docs)
    assert any("package" in p and "missing" in p for p in problems), problems
    schedule["data"] = {"schedule.yaml": text}
    assert any("has no key jadwal_retensi.yaml" in p for p in retention_problems(docs))


def test_production_start_up_stops_without_the_schedule(tmp_path: Path) -> None:
    """Without the mount, or without the setting, the service's own context refuses to start, naming it."""
    docs = copy.deepcopy(render(("prod", None)))
    audit = _deployment(docs, "audit-api")
    for c in pod_spec(audit)["containers"]:
        c["volumeMounts"] = [m for m in c["volumeMounts"] if m["name"] != "retention"]
    problems = check_settings_accept_environment(docs, tmp_path, Placeholders(), then=_schedule_loads(docs, tmp_path))
    assert any("audit-api" in p and f"{SETTING} /etc/p3ke/retention/jadwal_retensi.yaml is not in a mounted volume"
               in p for p in problems), problems

    docs = copy.deepcopy(render(("prod", None)))
    config = next(d for d in kind_of(docs, "ConfigMap") if d["metadata"]["name"].startswith("p3ke-config-"))
    del config["data"][SETTING]
    loading = {named(d) for d in service_workloads(docs) if _loads_context(d)}
    problems = check_settings_accept_environment(docs, tmp_path, Placeholders(), then=_schedule_loads(docs, tmp_path))
    assert {p.split(":")[0].split(" ")[0] for p in problems} == loading, problems
    assert all(RETENTION_SCHEDULE_REQUIRED in p for p in problems if "does not come from" not in p), problems
    assert sum(RETENTION_SCHEDULE_REQUIRED in p for p in problems) == len(loading)


def test_the_checks_catch_a_disposal_job_that_cannot_ask_for_legal_holds(tmp_path: Path) -> None:
    docs = copy.deepcopy(render(("prod", None)))
    targeting = pod_spec(_deployment(docs, "targeting-api"))["containers"][0]
    targeting["env"] = [v for v in targeting["env"] if v["name"] != HOLDS_URL]
    feedback = pod_spec(_deployment(docs, "feedback-api"))["containers"][0]
    next(v for v in feedback["env"] if v["name"] == HOLDS_URL)["value"] = "http://feedback"
    delivery = pod_spec(_deployment(docs, "delivery-api"))
    secrets = next(v for v in delivery["volumes"] if v["name"] == "secrets")["projected"]["sources"]
    next(s for s in secrets if s.get("secret", {}).get("name") == "p3ke-delivery-legal-holds-token")["secret"][
        "name"] = "p3ke-ingest-legal-holds-token"
    worker = pod_spec(_deployment(docs, "ingest-worker"))["containers"][0]
    worker["env"].append({"name": HOLDS_TOKEN, "value": "/etc/p3ke/secrets/legal-holds-token"})
    problems = legal_holds_problems(docs)
    for needle in (f"targeting-api container api: {HOLDS_URL} None is not the audit API's in-cluster URL",
                   f"feedback-api container api: {HOLDS_URL} 'http://feedback' is not the audit API's",
                   "delivery-api container api: P3KE_LEGAL_HOLDS_TOKEN_FILE '/etc/p3ke/secrets/legal-holds-token' is "
                   "not the key `token` of its Secret p3ke-delivery-legal-holds-token",
                   "ingest-worker container worker: runs no disposal job, but gets the legal holds token"):
        assert any(needle in p for p in problems), (needle, problems)
    assert len(problems) == 4, problems
    problems = check_settings_accept_environment(docs, tmp_path, Placeholders(), then=_loops_start)
    assert any("targeting-api container api" in p and LEGAL_HOLDS_URL_REQUIRED in p for p in problems), problems


def test_the_checks_catch_a_network_path_to_audit_that_is_closed() -> None:
    for policy in ("disposal-to-audit", "audit-from-disposal"):
        docs = [d for d in render(("prod", None)) if not (d["kind"] == "NetworkPolicy"
                                                          and d["metadata"]["name"] == policy)]
        problems = legal_holds_problems(docs)
        assert len(problems) == len(OWNERS), (policy, problems)
        assert all("do not let it reach the audit API on port 8080" in p for p in problems), (policy, problems)
    docs = copy.deepcopy(render(("prod", None)))
    egress = next(d for d in docs if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "disposal-to-audit")
    egress["spec"]["egress"][0]["ports"] = [{"protocol": "TCP", "port": 80}]  # the Service's port, not the pod's
    assert len(legal_holds_problems(docs)) == len(OWNERS)
