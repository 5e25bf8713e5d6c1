"""The audit settings fail fast on unsafe production values, naming the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.context import AuditContext
from p3ke_platform.service import Runtime
from p3ke_platform.settings import ConfigurationError, Settings, load_settings

SAFE = {"env": "production", "database_url": "postgresql+psycopg://u:p@db/audit", "auth_dev_issuer": False,
        "auth_jwks_url": "https://idp.example/jwks", "kafka_security_protocol": "SSL",
        "subject_hash_key": "a-real-secret-from-the-vault-0123456789"}


def test_production_needs_the_log_key_and_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as failure:
        load_settings(AuditSettings, service="audit", **SAFE)
    assert "P3KE_AUDIT_CHECKPOINT_KEY_FILE" in str(failure.value) and "P3KE_AUDIT_ORIGIN" in str(failure.value)
    ok = load_settings(AuditSettings, service="audit", audit_checkpoint_key_file=tmp_path / "k.pem",
                       audit_origin="kemenkopmk.go.id/p3ke/audit", **SAFE)
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
