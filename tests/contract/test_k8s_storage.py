"""Least-privilege storage in Kubernetes (issue 18), on the manifests as kustomize renders them.

Every overlay, as committed and with every combination of the components: one claim per kind of data
(tools/k8s/storage.py KINDS, the table of deploy/k8s/README.md "Storage"), mounted read-write by the one
service that writes it and read-only by those that only read it (targeting and feedback the snapshots,
delivery and feedback the extracts); no claim at all in audit or in a migration. The container that runs a
service's disposal job (the API, P3KE_JOBS_IN_API) mounts read-write exactly the claims holding the kinds of
artefact that service disposes of (targeting's the extracts and the ledgers; delivery only reads extracts).
On the committed overlays, each container's own production settings (loaded as in test_k8s_production.py) put
each kind exactly where it is mounted, delivery's extract root is the extracts mount, and the data directory is
scratch space. The tests at the end break rendered manifests on purpose to show the checks catch it.
Missing tools fail the tests with instructions; nothing is skipped.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from p3ke_schemas.topics import ALL_SERVICES
from tests.contract.k8s_tools import render
from tests.contract.test_k8s_production import Placeholders, start_up
from tools.k8s.manifests import (
    K8S,
    SHARED_STORAGE,
    VARIANTS,
    Variant,
    check_settings_accept_environment,
    components_of,
    named,
    pod_spec,
    service_workloads,
    variant_id,
)
from tools.k8s.storage import (
    CLAIMS,
    KINDS,
    check_claims,
    check_disposal_kinds,
    check_disposal_mounts,
    check_storage,
    disposal_containers,
    extract_roots,
    mounts,
    service_of,
    settings_match_mounts,
)

COMMITTED = [("dev", None), ("prod", None)]


@pytest.fixture(scope="module", params=VARIANTS, ids=[variant_id(v) for v in VARIANTS])
def variant(request: pytest.FixtureRequest) -> Variant:
    return request.param


def _workload(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _mount(doc: dict, claim: str) -> dict:
    spec = pod_spec(doc)
    volume = next(v["name"] for v in spec["volumes"] if v.get("persistentVolumeClaim", {}).get("claimName") == claim)
    return next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == volume)


# --------------------------------------------------------------------------------------------
# the manifests


def test_each_service_mounts_only_its_kinds_of_data(variant: Variant) -> None:
    assert check_storage(render(variant)) == []


def test_each_claim_is_written_by_its_owner_alone(variant: Variant) -> None:
    assert check_claims(render(variant), components_of(variant)) == []


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_audit_pods_have_no_data_volume(committed: Variant) -> None:
    audit = [d for d in service_workloads(render(committed)) if service_of(d) == "audit"]
    assert len(audit) == 3
    for doc in audit:
        volumes = pod_spec(doc)["volumes"]
        assert [v["name"] for v in volumes if "persistentVolumeClaim" in v] == [], named(doc)
        assert all(not m.path.startswith("/var/lib/p3ke") for _, m in mounts(doc)), named(doc)


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_readers_mount_snapshots_and_extracts_read_only(committed: Variant) -> None:
    docs = render(committed)
    read_only = {("targeting", "p3ke-snapshots"), ("feedback", "p3ke-snapshots"),
                 ("delivery", "p3ke-extracts"), ("feedback", "p3ke-extracts")}
    for svc, claim in read_only:
        for role in ("api", "worker"):
            mount = _mount(_workload(docs, "Deployment", f"{svc}-{role}"), claim)
            assert mount["readOnly"] is True, (svc, role, claim)
            assert mount["mountPath"] == CLAIMS[claim].mount_path


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_delivery_extract_root_is_the_extracts_mount(committed: Variant) -> None:
    roots = extract_roots(render(committed))
    assert len(roots) == 2
    assert set(roots.values()) == {CLAIMS["p3ke-extracts"].mount_path}, roots


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_settings_put_each_kind_where_it_is_mounted(committed: Variant, tmp_path: Path) -> None:
    placeholders = Placeholders()

    def both(doc: dict, settings: object) -> list[str]:
        return start_up(doc, settings) + settings_match_mounts(doc, settings)  # type: ignore[arg-type]

    assert check_settings_accept_environment(render(committed), tmp_path, placeholders, then=both) == []


def test_the_disposal_job_mounts_read_write_exactly_what_it_disposes_of(variant: Variant) -> None:
    assert check_disposal_mounts(render(variant)) == []


@pytest.mark.parametrize("committed", COMMITTED, ids=lambda v: v[0])
def test_the_api_runs_each_owners_disposal_job_with_its_own_claims_writable(committed: Variant) -> None:
    docs = render(committed)
    running = {(named(d), c["name"]) for d, c in disposal_containers(docs)}
    assert running == {(f"Deployment/{svc}-api", "api") for svc in ("ingest", "targeting", "delivery", "feedback",
                                                                       "audit")}
    writable = {"ingest": {"p3ke-ingest-files", "p3ke-snapshots"},
                "targeting": {"p3ke-extracts", "p3ke-selection-ledgers"},  # targeting owns and disposes of extracts
                "delivery": {"p3ke-handover-files"}, "feedback": {"p3ke-feedback-files"}}
    for svc, claims in writable.items():
        have = mounts(_workload(docs, "Deployment", f"{svc}-api"))
        assert {m.claim for _, m in have if m.claim and not m.read_only} == claims, svc
        assert {m.claim for _, m in have if m.claim and m.read_only} == {
            k.claim for k in KINDS if svc in k.readers}, svc


def test_every_kind_of_artefact_lies_on_the_claim_of_the_service_that_disposes_of_it() -> None:
    assert check_disposal_kinds() == []
    assert all(k.disposes for k in KINDS)  # each claim holds something the retention schedule covers


def test_the_kinds_and_the_runbook_table_agree() -> None:
    services = {k.owner for k in KINDS} | {r for k in KINDS for r in k.readers}
    assert services <= set(ALL_SERVICES) - {"audit"}
    assert len({k.mount_path for k in KINDS}) == len(KINDS)
    assert {("PersistentVolumeClaim", k.claim) for k in KINDS} == SHARED_STORAGE
    readme = (K8S / "README.md").read_text()
    for kind in KINDS:
        readers = ", ".join(kind.readers) or "none"
        row = f"| `{kind.claim}` | {kind.what} | {kind.owner} | {readers} | `{kind.mount_path}` |"
        assert row in readme, row


# --------------------------------------------------------------------------------------------
# the checks catch what they claim to


@pytest.fixture(scope="module")
def prod() -> list[dict]:
    return render(("prod", None))


def _add_claim(doc: dict, claim: str, path: str, read_only: bool = False) -> None:
    spec = pod_spec(doc)
    spec["volumes"].append({"name": "extra", "persistentVolumeClaim": {"claimName": claim}})
    spec["containers"][0]["volumeMounts"].append({"name": "extra", "mountPath": path, "readOnly": read_only})


def test_a_data_volume_in_audit_fails(prod: list[dict]) -> None:
    docs = copy.deepcopy(prod)
    _add_claim(_workload(docs, "Deployment", "audit-worker"), "p3ke-snapshots", "/var/lib/p3ke/data/ingest/snapshots",
               read_only=True)
    problems = check_storage(docs)
    assert any("Deployment/audit-worker" in p and "audit reads no data files" in p for p in problems), problems


def test_the_old_single_shared_volume_fails(prod: list[dict]) -> None:
    docs = copy.deepcopy(prod)
    _add_claim(_workload(docs, "Deployment", "targeting-api"), "p3ke-data", "/var/lib/p3ke/data-all")
    assert any("p3ke-data" in p and "no known kind" in p for p in check_storage(docs))
    assert any("claim p3ke-data" in p for p in check_claims(docs, ("shared-storage",)))


def test_a_reader_mounting_read_write_fails(prod: list[dict]) -> None:
    docs = copy.deepcopy(prod)
    _mount(_workload(docs, "Deployment", "delivery-worker"), "p3ke-extracts").pop("readOnly")
    _mount(_workload(docs, "Deployment", "targeting-api"), "p3ke-snapshots")["readOnly"] = False
    problems = check_storage(docs)
    assert any("delivery-worker" in p and "p3ke-extracts read-write" in p for p in problems), problems
    assert any("targeting-api" in p and "p3ke-snapshots read-write" in p for p in problems), problems
    claims = check_claims(docs, ("shared-storage",))
    assert any("claim p3ke-extracts" in p and "delivery" in p for p in claims), claims


def test_a_missing_or_misplaced_mount_fails(prod: list[dict]) -> None:
    docs = copy.deepcopy(prod)
    _mount(_workload(docs, "Deployment", "feedback-api"), "p3ke-extracts")["mountPath"] = "/var/lib/p3ke/data/x"
    spec = pod_spec(_workload(docs, "Deployment", "ingest-worker"))
    spec["containers"][0]["volumeMounts"] = [m for m in spec["containers"][0]["volumeMounts"]
                                             if m["name"] != _mount(_workload(prod, "Deployment", "ingest-worker"),
                                                                    "p3ke-snapshots")["name"]]
    problems = check_storage(docs)
    assert any("feedback-api" in p and "not at /var/lib/p3ke/data/extracts" in p for p in problems), problems
    assert any("ingest-worker" in p and "does not mount p3ke-snapshots" in p for p in problems), problems


def test_settings_that_miss_the_mounts_fail(prod: list[dict], tmp_path: Path) -> None:
    docs = copy.deepcopy(prod)
    for doc in service_workloads(docs):
        if doc["metadata"]["name"] == "delivery-api":
            env = pod_spec(doc)["containers"][0]["env"]
            next(v for v in env if v["name"] == "P3KE_DELIVERY_EXTRACT_ROOT")["value"] = "/var/lib/p3ke/data"
        if doc["metadata"]["name"] == "feedback-worker":
            pod_spec(doc)["containers"][0]["env"].append({"name": "P3KE_FEEDBACK_STORAGE_DIR",
                                                          "value": "/var/lib/p3ke/data/feedback-elsewhere"})
    assert extract_roots(docs)["Deployment/delivery-api container api"] == "/var/lib/p3ke/data"
    problems = check_settings_accept_environment(docs, tmp_path, Placeholders(), then=settings_match_mounts)
    assert any("delivery-api" in p and "extract files" in p and "/var/lib/p3ke/data," in p for p in problems), problems
    assert any("feedback-worker" in p and "feedback-elsewhere" in p for p in problems), problems
    assert len(problems) == 2, problems


def test_a_disposal_job_that_cannot_delete_or_writes_too_much_fails(prod: list[dict]) -> None:
    docs = copy.deepcopy(prod)
    _mount(_workload(docs, "Deployment", "targeting-api"), "p3ke-extracts")["readOnly"] = True
    _mount(_workload(docs, "Deployment", "feedback-api"), "p3ke-snapshots").pop("readOnly")
    problems = check_disposal_mounts(docs)
    assert any("targeting-api container api: runs the disposal job but does not mount p3ke-extracts read-write" in p
               for p in problems), problems
    assert any("feedback-api container api: mounts p3ke-snapshots read-write, but feedback disposes of nothing" in p
               for p in problems), problems
    assert len(problems) == 2, problems


def test_no_process_running_the_disposal_job_fails(prod: list[dict]) -> None:
    """P3KE_JOBS_IN_API=false without a `jobs` Deployment: nothing would ever be disposed of."""
    docs = copy.deepcopy(prod)
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith("p3ke-config-"))
    config["data"]["P3KE_JOBS_IN_API"] = "false"
    assert disposal_containers(docs) == []
    problems = check_disposal_mounts(docs)
    assert [p.split(":")[0] for p in problems] == ["ingest", "targeting", "delivery", "feedback"], problems


def test_a_jobs_deployment_is_checked_like_the_api(prod: list[dict]) -> None:
    """A `python -m p3ke_<service> jobs` Deployment of its own runs the disposal job: the same rule applies."""
    docs = copy.deepcopy(prod)
    jobs = copy.deepcopy(_workload(docs, "Deployment", "delivery-worker"))
    jobs["metadata"]["name"] = "delivery-jobs"
    pod_spec(jobs)["containers"][0]["args"] = ["jobs"]
    _mount(jobs, "p3ke-handover-files")["readOnly"] = True
    docs.append(jobs)
    assert ("Deployment/delivery-jobs", "worker") in {(named(d), c["name"]) for d, c in disposal_containers(docs)}
    assert any("delivery-jobs" in p and "p3ke-handover-files read-write" in p for p in check_disposal_mounts(docs))
