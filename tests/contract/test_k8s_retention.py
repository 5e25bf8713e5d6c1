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
"""

from __future__ import annotations

import copy
from pathlib import Path, PurePosixPath

import pytest

from p3ke_platform.retention import DEFAULT_SCHEDULE, RETENTION_SCHEDULE_REQUIRED, Kind, parse_schedule
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
    generated_name,
    kind_of,
    named,
    pod_spec,
    service_workloads,
    variant_id,
)

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
