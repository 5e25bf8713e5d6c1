"""Bad configuration stops start-up with a message naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.settings import ConfigurationError, load_settings


def test_defaults_are_the_embedded_setup(tmp_path: object) -> None:
    settings = load_settings(service="audit", data_dir=tmp_path)
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_api_port == 8105


@pytest.mark.parametrize(("overrides", "named"), [
    ({"api_port": 70000}, "P3KE_API_PORT"),
    ({"service": "billing"}, "P3KE_SERVICE"),
    ({"env": "staging"}, "P3KE_ENV"),
    ({"relay_batch": 0}, "P3KE_RELAY_BATCH"),
])
def test_bad_values_name_the_setting(overrides: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(**overrides)


def test_production_refuses_unsafe_values() -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(env="production")
    message = str(info.value)
    for setting in ("P3KE_DATABASE_URL", "P3KE_AUTH_DEV_ISSUER", "P3KE_KAFKA_SECURITY_PROTOCOL",
                    "P3KE_SUBJECT_HASH_KEY"):
        assert setting in message


def _safe(tmp_path: Path) -> dict[str, object]:
    """Production values that pass: TLS that verifies, and a file for every key named."""
    key = Ed25519PrivateKey.generate()
    (tmp_path / "event.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                           serialization.PrivateFormat.PKCS8,
                                                           serialization.NoEncryption()))
    (tmp_path / "trust.yaml").write_text("keys: []\n")
    (tmp_path / "db-ca.crt").write_text("a CA certificate\n")
    (tmp_path / "subject-hash-key").write_text("x" * 32 + "\n")
    return {"env": "production", "service": "audit",
            "database_url": f"postgresql+psycopg://audit@db/audit?sslmode=verify-full&sslrootcert={tmp_path}/db-ca.crt",
            "auth_dev_issuer": False, "auth_jwks_url": "https://idp.example.go.id/jwks",
            "kafka_security_protocol": "SASL_SSL", "subject_hash_key_file": tmp_path / "subject-hash-key",
            "event_dev_keys": False, "event_signing_key_file": tmp_path / "event.pem",
            "event_trust_file": tmp_path / "trust.yaml"}


def test_production_accepts_safe_values(tmp_path: Path) -> None:
    settings = load_settings(**_safe(tmp_path))
    assert settings.env == "production" and settings.subject_hash_key == "x" * 32


@pytest.mark.parametrize(("overrides", "named"), [
    ({"kafka_security_protocol": "SASL_PLAINTEXT"}, "P3KE_KAFKA_SECURITY_PROTOCOL: SASL_PLAINTEXT"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=require"}, "sslmode=require"),
    ({"database_url": "postgresql+psycopg://audit@db/audit?sslmode=verify-full"}, "no sslrootcert"),
    ({"event_trust_file": "/nonexistent/trust.yaml"}, "P3KE_EVENT_TRUST_FILE"),
    ({"subject_hash_key_file": "/nonexistent/key"}, "P3KE_SUBJECT_HASH_KEY_FILE"),
    ({"agreement_manifest": "/nonexistent/agreement.sha256"}, "P3KE_AGREEMENT_MANIFEST"),
])
def test_production_refuses_weak_transports_and_missing_files(tmp_path: Path, overrides: dict[str, object],
                                                              named: str) -> None:
    with pytest.raises(ConfigurationError, match=named):
        load_settings(**{**_safe(tmp_path), **overrides})


def test_secrets_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "password").write_text("s3cret/with@signs\n")
    settings = load_settings(database_url="postgresql+psycopg://audit@db/audit",
                             database_password_file=tmp_path / "password", kafka_password_file=tmp_path / "password")
    assert settings.kafka_password == "s3cret/with@signs"
    assert settings.effective_database_url == "postgresql+psycopg://audit:s3cret%2Fwith%40signs@db/audit"
    assert "s3cret" not in repr(settings)
    with pytest.raises(ConfigurationError, match="P3KE_KAFKA_PASSWORD and P3KE_KAFKA_PASSWORD_FILE"):
        load_settings(kafka_password="other", kafka_password_file=tmp_path / "password")


def test_a_service_process_refuses_to_start_on_bad_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(P3KE_ENV="production")
    done = subprocess.run([sys.executable, "-m", "p3ke_audit", "api"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "P3KE_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr


def test_production_needs_the_agreement_manifest_where_the_agreement_is_loaded(tmp_path: Path) -> None:
    """Settings name it (P3KE_AGREEMENT_MANIFEST); a service that loads the agreement refuses to start without it,
    one that never reads the agreement (the witness) does not need it."""
    from p3ke_platform.settings import agreement_manifest_problems

    settings = load_settings(**_safe(tmp_path))
    [problem] = agreement_manifest_problems(settings)
    assert problem.startswith("P3KE_AGREEMENT_MANIFEST: tidak diatur; di produksi layanan hanya menerima")
    assert "`p3ke agreement manifest --dir <agreement dir>`" in problem
    (tmp_path / "agreement.sha256").write_text(f"{'0' * 64}  pks-p3ke-2023.yaml\n")
    assert agreement_manifest_problems(load_settings(**_safe(tmp_path),
                                                     agreement_manifest=tmp_path / "agreement.sha256")) == []
    assert agreement_manifest_problems(load_settings(service="audit")) == []  # development: optional
