"""The audit settings fail fast on unsafe production values, naming the setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.event_keys import trust_file_text
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, Settings, load_settings
from p3ke_platform.tlog.cosignature import Witness


def _safe(tmp_path: Path) -> dict[str, Any]:
    """Shared settings production accepts (so that only the audit's own are missing)."""
    key = Ed25519PrivateKey.generate()
    (tmp_path / "event.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    (tmp_path / "trust.json").write_text(trust_file_text([("audit-1", "audit", key.public_key())]))
    (tmp_path / "k.pem").write_bytes((tmp_path / "event.pem").read_bytes())  # the log's checkpoint key
    return {"env": "production", "auth_dev_issuer": False,
            "database_url": "postgresql+psycopg://u:p@db/audit?sslmode=verify-full&sslrootcert=system",
            "auth_jwks_url": "https://idp.example/jwks", "kafka_security_protocol": "SSL",
            "subject_hash_key": "a-real-secret-from-the-vault-0123456789", "event_dev_keys": False,
            "event_signing_key_file": tmp_path / "event.pem", "event_signing_key_id": "audit-1",
            "event_trust_file": tmp_path / "trust.json"}


def test_production_needs_the_log_key_and_name(tmp_path: Path) -> None:
    safe = _safe(tmp_path)
    with pytest.raises(ConfigurationError) as failure:
        load_settings(AuditSettings, service="audit", **safe)
    assert "P3KE_AUDIT_CHECKPOINT_KEY_FILE" in str(failure.value) and "P3KE_AUDIT_ORIGIN" in str(failure.value)
    witness = Witness("kemnaker.go.id/p3ke/witness", Ed25519PrivateKey.generate().public_key())
    ok = load_settings(AuditSettings, service="audit", audit_checkpoint_key_file=tmp_path / "k.pem",
                       audit_origin="kemenkopmk.go.id/p3ke/audit",
                       audit_witnesses=[{"vkey": witness.vkey, "url": "https://witness.kemnaker.go.id"}], **safe)
    assert ok.checkpoint_key_path == tmp_path / "k.pem"


def test_bad_values_name_the_setting() -> None:
    for bad, named in [({"audit_origin": "has space"}, "P3KE_AUDIT_ORIGIN"),
                       ({"audit_checkpoint_every": 0}, "P3KE_AUDIT_CHECKPOINT_EVERY")]:
        with pytest.raises(ConfigurationError, match=named):
            load_settings(AuditSettings, **bad)


def test_plain_settings_get_the_audit_defaults(tmp_path: Path) -> None:
    plain = Settings(service="audit", data_dir=tmp_path, env="test")
    runtime = Runtime(SERVICE, plain)  # the runtime turns a plain Settings into the audit settings
    assert isinstance(runtime.context, AuditContext)
    audit = runtime.context.settings
    assert isinstance(audit, AuditSettings) and audit.data_dir == tmp_path
    assert audit.checkpoint_key_path == tmp_path / "keys" / "audit-checkpoint.pem"
