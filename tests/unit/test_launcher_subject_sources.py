"""`p3ke run` wires the audit service to the services that hold a person's records (P3KE_AUDIT_SUBJECT_SOURCES),
on the ports they run on, and the wiring is a setting the audit service reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from p3ke_audit.config import AuditSettings
from p3ke_platform.launcher import Stack, subject_sources_env
from p3ke_platform.settings import load_settings

PORTS = {"ingest": 8001, "targeting": 8002, "delivery": 8003, "feedback": 8004, "audit": 8005, "witness": 8006}


def test_the_audit_service_asks_ingest_delivery_and_feedback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("P3KE_AUDIT_SUBJECT_SOURCES", raising=False)
    env = subject_sources_env(Stack(tmp_path), PORTS)
    value = env["audit"]["P3KE_AUDIT_SUBJECT_SOURCES"]
    assert value == "ingest=http://127.0.0.1:8001,delivery=http://127.0.0.1:8003,feedback=http://127.0.0.1:8004"
    monkeypatch.setenv("P3KE_AUDIT_SUBJECT_SOURCES", value)
    assert load_settings(AuditSettings, service="audit", env="test").audit_subject_sources == (
        ("ingest", "http://127.0.0.1:8001"), ("delivery", "http://127.0.0.1:8003"),
        ("feedback", "http://127.0.0.1:8004"))


def test_a_given_value_wins_and_a_bad_one_stops_start_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert subject_sources_env(Stack(tmp_path, extra_env={"P3KE_AUDIT_SUBJECT_SOURCES": ""}), PORTS) == {}
    monkeypatch.setenv("P3KE_AUDIT_SUBJECT_SOURCES", "ingest=ftp://x")
    with pytest.raises(Exception, match=r"P3KE_AUDIT_SUBJECT_SOURCES.*<layanan>=http"):
        load_settings(AuditSettings, service="audit", env="test")
