"""Offline checks of the Kubernetes deployment in deploy/k8s and of the image's Dockerfile.

Every overlay is rendered with kustomize as committed and with every combination of the opt-in
components, and the checks of tools.k8s.manifests (schemas, CRDs and their CEL rules, our policies,
Kafka and PostgreSQL against the event contract) must find no problem. What the production overlay
needs to start (each service's production settings check on each container's environment, secrets as
files, digests, Kafka's source ranges, checkov) is in test_k8s_production.py. Each check is a function from
rendered documents to a list of problems; the tests at the end feed deliberately broken manifests to
the same functions to show that they catch what they claim to.

Needs the kustomize binary that tools/k8s/install.sh installs, and the kubernetes-validate package
(dev dependency). Missing tools fail the tests with instructions; nothing is skipped.
"""

from __future__ import annotations

import copy
import re
import tomllib

import pytest

from p3ke_schemas.topics import ALL_SERVICES, EVENTS
from tests.contract.k8s_tools import check_builtin_schemas, check_custom_resources, crd_schemas, render
from tools.k8s.cel import CEL_RULES, all_cel_rules
from tools.k8s.manifests import (
    COMPONENTS,
    CONTRACT_PLATFORM_NAMES,
    K8S,
    OPERATOR_PROVIDED,
    OVERLAYS,
    PLATFORMS,
    REPO,
    SHARED_STORAGE,
    VARIANTS,
    Variant,
    check_images,
    check_kafka_topics,
    check_kafka_users,
    check_network_policies,
    check_no_secret_values,
    check_postgres,
    check_probes_and_shutdown,
    check_references,
    check_resources,
    check_security_context,
    check_services,
    check_settings_names,
    components_of,
    containers,
    generated_name,
    kind_of,
    named,
    pod_spec,
    variant_id,
)

# --------------------------------------------------------------------------------------------
# the tests


@pytest.fixture(scope="module", params=VARIANTS, ids=[variant_id(v) for v in VARIANTS])
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
    rules = set().union(*(all_cel_rules(schema) for schema, _ in crd_schemas().values()))
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
