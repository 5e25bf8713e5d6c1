"""`p3ke run` wires the compliance page to the services that keep artefacts (P3KE_AUDIT_RETENTION_SOURCES: ingest,
targeting, delivery, feedback), on the ports they run on, and the wiring is a setting the audit service reads; the
Kubernetes manifests give the audit API the same list and let it reach those APIs (targeting too)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from p3ke_audit.config import AuditSettings
from p3ke_platform.launcher import Stack, retention_sources_env
from p3ke_platform.settings import load_settings

PORTS = {"ingest": 8001, "targeting": 8002, "delivery": 8003, "feedback": 8004, "audit": 8005, "witness": 8006}
BASE = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base"
OWNERS = ["ingest", "targeting", "delivery", "feedback"]


def test_the_audit_service_asks_every_service_that_keeps_artefacts(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3KE_AUDIT_RETENTION_SOURCES", raising=False)
    value = retention_sources_env(Stack(tmp_path), PORTS)["audit"]["P3KE_AUDIT_RETENTION_SOURCES"]
    assert value == ("ingest=http://127.0.0.1:8001,targeting=http://127.0.0.1:8002,delivery=http://127.0.0.1:8003,"
                     "feedback=http://127.0.0.1:8004")
    monkeypatch.setenv("P3KE_AUDIT_RETENTION_SOURCES", value)
    settings = load_settings(AuditSettings, service="audit", env="test")
    assert [name for name, _ in settings.audit_retention_sources] == OWNERS
    assert retention_sources_env(Stack(tmp_path), {"audit": 8005}) == {}  # nothing to ask


def test_a_given_value_wins_and_a_bad_one_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert retention_sources_env(Stack(tmp_path, extra_env={"P3KE_AUDIT_RETENTION_SOURCES": ""}), PORTS) == {}
    monkeypatch.setenv("P3KE_AUDIT_RETENTION_SOURCES", "ingest=ftp://x")
    with pytest.raises(Exception, match=r"P3KE_AUDIT_RETENTION_SOURCES.*<layanan>=http"):
        load_settings(AuditSettings, service="audit", env="test")
    monkeypatch.setenv("P3KE_AUDIT_RETENTION_SOURCES", "ingest=http://a,ingest=http://b")
    with pytest.raises(Exception, match="dua kali"):
        load_settings(AuditSettings, service="audit", env="test")


def test_kubernetes_wires_the_audit_api_to_the_four_services() -> None:
    docs = [d for d in yaml.safe_load_all((BASE / "audit.yaml").read_text()) if d]
    env = {e["name"]: e.get("value") for d in docs if d["kind"] == "Deployment"
           for c in d["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
    sources = dict(item.split("=", 1) for item in env["P3KE_AUDIT_RETENTION_SOURCES"].split(","))
    assert sources == {name: f"http://{name}" for name in OWNERS}
    policies = {d["metadata"]["name"]: d for d in yaml.safe_load_all((BASE / "networkpolicies.yaml").read_text())
                if d}
    egress = policies["audit-to-retention-sources"]["spec"]
    assert egress["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "audit"
    names = next(e["values"] for e in egress["egress"][0]["to"][0]["podSelector"]["matchExpressions"]
                 if e["key"] == "app.kubernetes.io/name")
    assert sorted(names) == sorted(OWNERS)
    ingress = policies["retention-sources-from-audit"]["spec"]
    targets = next(e["values"] for e in ingress["podSelector"]["matchExpressions"]
                   if e["key"] == "app.kubernetes.io/name")
    assert sorted(targets) == sorted(OWNERS)
    assert ingress["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "audit"
