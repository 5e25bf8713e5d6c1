"""The committed contract files match the models, AsyncAPI is valid, and no event carries personal data."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from p3ke_schemas import EVENTS
from p3ke_schemas.generate import CONTRACT_DIR, main, rendered

ROOT = Path(__file__).resolve().parents[2]
PERSONAL = re.compile(r"^(nik|no_kk|nkk|nama|name|alamat|address|tanggal_lahir|birth_?date|kepala_keluarga|"
                      r"phone|email|telepon)$", re.I)


def test_committed_contract_files_match_the_models() -> None:
    drift = [str(p) for p, text in rendered().items() if not p.exists() or p.read_text() != text]
    assert drift == [], f"contract drift, run `make schemas`: {drift}"
    assert main(["--check"]) == 0


def test_drift_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import p3ke_schemas.generate as gen

    monkeypatch.setattr(gen, "CONTRACT_DIR", tmp_path)
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    victim = tmp_path / "jsonschema" / "p3ke.handover-signed.v1.json"
    victim.write_text(victim.read_text().replace('"bast_number"', '"bast_no"'))
    assert gen.main(["--check"]) == 1


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


def test_no_personal_data_fields_in_any_event() -> None:
    for path in (CONTRACT_DIR / "jsonschema").glob("*.json"):
        offending = {n for n in _property_names(json.loads(path.read_text())) if PERSONAL.match(n)}
        assert not offending, f"{path.name} has personal-data fields {offending}"


def test_json_schemas_are_valid_and_accept_real_events() -> None:
    from datetime import UTC, datetime

    from p3ke_schemas import Actor, DataAccess

    event = DataAccess(access_id="a1", service="targeting", actor=Actor(org="kemnaker", subject="u"),
                       action="export", resource_type="extract", resource_id="ex-1", outcome="allowed",
                       occurred_at=datetime.now(UTC))
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.data-access.v1.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(event.model_dump(mode="json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**event.model_dump(mode="json"), "nik": "3201"}, schema)
    for spec in EVENTS:
        jsonschema.Draft202012Validator.check_schema(
            json.loads((CONTRACT_DIR / "jsonschema" / f"{spec.type}.json").read_text()))


def test_asyncapi_document_is_valid_by_the_official_parser() -> None:
    node_modules = ROOT / "tools" / "asyncapi" / "node_modules" / "@asyncapi" / "parser"
    assert shutil.which("node"), "node is required (installed by .ci/run)"
    assert node_modules.exists(), "run `make install` (npm ci in tools/asyncapi)"
    result = subprocess.run(["node", "validate.mjs", str(CONTRACT_DIR / "asyncapi.json")],
                            cwd=ROOT / "tools" / "asyncapi", capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{2 * len(EVENTS)} channels" in result.stdout


def test_asyncapi_parser_rejects_a_broken_document(tmp_path: Path) -> None:
    doc = json.loads((CONTRACT_DIR / "asyncapi.json").read_text())
    first = next(iter(doc["operations"].values()))
    first["channel"] = {"$ref": "#/channels/doesNotExist"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(doc))
    result = subprocess.run(["node", "validate.mjs", str(broken)], cwd=ROOT / "tools" / "asyncapi",
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout


def test_every_topic_is_in_the_asyncapi_document_with_its_dlq() -> None:
    doc = json.loads((CONTRACT_DIR / "asyncapi.json").read_text())
    addresses = {c["address"] for c in doc["channels"].values()}
    for spec in EVENTS:
        assert spec.topic in addresses and spec.dlq in addresses
