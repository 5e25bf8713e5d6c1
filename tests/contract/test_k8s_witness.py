"""Party 2's witness deployment (deploy/k8s/witness, its own kustomization for its own cluster): rendered with
kustomize and held to the same checks as the services' (schemas, lock-down, probes, secrets as files, digests,
deny-by-default network policies), and its container's environment passes the witness's production settings
check with the mounted files in place, including its key (no development key) and the logs' keys."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from unittest import mock

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import ConfigurationError, load_settings
from p3ke_platform.tlog.dev_keys import development_witness_key
from p3ke_witness.config import WitnessSettings
from tests.contract.k8s_tools import build, check_builtin_schemas
from tools.k8s.manifests import (
    K8S,
    check_images_by_digest,
    check_no_secret_values,
    check_probes_and_shutdown,
    check_pull_policy,
    check_resources,
    check_security_context,
    container_environment,
    containers,
    kind_of,
    lay_out_mounts,
    pod_spec,
    remap_paths,
)

WITNESS = K8S / "witness"


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    return build(WITNESS)


def test_the_witness_manifests_validate_and_are_locked_down(docs: list[dict]) -> None:
    assert check_builtin_schemas(docs) == []
    assert check_security_context(docs) + check_resources(docs) + check_probes_and_shutdown(docs) == []
    assert check_images_by_digest(docs) + check_pull_policy(docs) + check_no_secret_values(docs) == []
    [namespace] = kind_of(docs, "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace") == "p3ke-witness" for d in docs if d["kind"] != "Namespace")


def test_network_policies_deny_by_default_and_admit_only_http(docs: list[dict]) -> None:
    policies = {d["metadata"]["name"]: d["spec"] for d in kind_of(docs, "NetworkPolicy")}
    deny = policies["default-deny-all"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    ingress = [p for p in policies.values() if "ingress" in p]
    assert [[port["port"] for rule in p["ingress"] for port in rule["ports"]] for p in ingress] == [[8080]]
    egress_ports = sorted(port["port"] for p in policies.values() for rule in p.get("egress", [])
                          for port in rule.get("ports", []))
    assert egress_ports == [53, 53, 5432]  # DNS and its PostgreSQL: no Kafka, nothing else


def _placeholder(witness_key: Ed25519PrivateKey) -> object:
    def content(kind: str, name: str, key: str) -> bytes:
        if (kind, name) == ("Secret", "p3ke-witness-key"):
            return witness_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption())
        if kind == "ConfigMap" and name.startswith("p3ke-witness-logs-"):  # the generated name
            return (WITNESS / "logs.vkeys").read_bytes()
        if (kind, name) == ("Secret", "p3ke-token-issuer"):
            return Ed25519PrivateKey.generate().public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if kind == "Secret" and name in ("p3ke-witness-db-app", "p3ke-witness-db-ca"):
            return b"placeholder\n"
        raise LookupError(f"{kind} {name} {key}")

    return content


def start_up(docs: list[dict], root: Path, witness_key: Ed25519PrivateKey) -> list[str]:
    """Each container's production settings and context check, with its mounted files laid out under `root`."""
    problems = []
    for doc in [d for d in docs if pod_spec(d)]:
        spec = pod_spec(doc)
        for c in containers(spec):
            mounts = lay_out_mounts(spec, c, root / f"{doc['metadata']['name']}-{c['name']}",
                                    _placeholder(witness_key))  # type: ignore[arg-type]
            env = {k: remap_paths(v, mounts) for k, v in container_environment(docs, c).items()}
            with mock.patch.dict(os.environ, env, clear=True):
                try:
                    settings = load_settings(WitnessSettings)
                    Runtime(installed_service("witness"), settings).context.check()
                except ConfigurationError as exc:
                    problems.append(f"{doc['metadata']['name']}: {exc}")
                    continue
            assert settings.env == "production" and settings.service == "witness"
            assert settings.effective_database_url.startswith("postgresql+psycopg://witness:placeholder@")  # + file
            assert len(settings.log_keys()) == 1 and not settings.relay_in_api
    return problems


def test_every_container_passes_the_witness_production_checks(docs: list[dict], tmp_path: Path) -> None:
    assert start_up(docs, tmp_path, Ed25519PrivateKey.generate()) == []


def test_the_checks_refuse_the_development_key_and_a_missing_key_file(docs: list[dict], tmp_path: Path) -> None:
    refused = start_up(docs, tmp_path / "dev", development_witness_key("kemnaker.go.id/p3ke/witness"))
    assert len(refused) == 2 and all("this is a development key" in p for p in refused), refused
    without = copy.deepcopy(docs)
    for doc in without:
        for volume in (pod_spec(doc) or {}).get("volumes", []):
            sources = volume.get("projected", {}).get("sources", [])
            sources[:] = [s for s in sources if s.get("secret", {}).get("name") != "p3ke-witness-key"]
    refused = start_up(without, tmp_path / "none", Ed25519PrivateKey.generate())
    assert len(refused) == 2 and all("P3KE_WITNESS_KEY_FILE" in p for p in refused), refused
