"""Ingest settings from the environment, and the acceptance policy's boundaries."""

from __future__ import annotations

from pathlib import Path

import pytest

from p3ke_ingest.bootstrap import SERVICE
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.domain.acceptance import AcceptancePolicy, FileOutcome, decide
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, Settings, load_settings


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("P3KE_INGEST_IMPORT_DIRS", f'["{tmp_path}"]')
    monkeypatch.setenv("P3KE_INGEST_DESIL_MAX", "10")
    monkeypatch.setenv("P3KE_INGEST_MAX_REJECTED_SHARE", "0.1")
    s = load_settings(IngestSettings, service="ingest")
    assert s.ingest_import_dirs == [tmp_path] and s.ingest_desil_max == 10
    assert s.acceptance == AcceptancePolicy(0.1, False)
    assert SERVICE.settings_class is IngestSettings
    upgraded = Runtime(SERVICE, Settings(service="ingest")).settings  # shared settings upgraded by the runtime
    assert isinstance(upgraded, IngestSettings) and upgraded.ingest_desil_max == 10
    monkeypatch.setenv("P3KE_INGEST_DESIL_MIN", "11")
    with pytest.raises(ConfigurationError, match="DESIL_MIN"):
        load_settings(IngestSettings, service="ingest")


def test_the_policy_refuses_above_the_threshold_and_empty_files() -> None:
    policy = AcceptancePolicy(max_rejected_share=0.05)
    assert decide(policy, [FileOutcome("individual", 1000, 50)], False).accepted
    refused = decide(policy, [FileOutcome("individual", 1000, 51)], False)
    assert not refused.accepted and "5.10%" in str(refused.reasons[0])
    empty = decide(policy, [FileOutcome("individual", 0, 0)], False).reasons
    assert [r.message("en") for r in empty] == ["the individual file has no data rows"]
    assert [str(r) for r in empty] == ["file individu tidak berisi baris data"]  # Indonesian first
    assert empty[0].fix() == "isi tabel di bawah baris judul kolom"
    assert "no valid row" in decide(AcceptancePolicy(1.0), [FileOutcome("family", 3, 3)], True).reasons[0].message("en")
    both = decide(policy, [FileOutcome("family", 100, 10), FileOutcome("individual", 400, 1)], True)
    assert [r.message("en") for r in both.reasons] == [
        "10.00% of the family file's rows are rejected (10 of 100), more than the allowed 5.00%"]
    assert [r.message() for r in both.reasons] == [
        "10.00% baris file keluarga ditolak (10 dari 100), lebih dari batas 5.00%"]
    required = decide(AcceptancePolicy(0.05, True), [FileOutcome("individual", 1, 0)], False).reasons[0]
    assert "required" in required.message("en") and "diwajibkan" in str(required)
