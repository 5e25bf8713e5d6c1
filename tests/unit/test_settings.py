"""Bad configuration stops start-up with a message naming the setting."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


def test_production_accepts_safe_values(tmp_path: object) -> None:
    settings = load_settings(env="production", database_url="postgresql+psycopg://u:p@db/audit",
                             auth_dev_issuer=False, auth_jwks_url="https://idp.example.go.id/jwks",
                             kafka_security_protocol="SASL_SSL", subject_hash_key="x" * 32)
    assert settings.env == "production"


def test_a_service_process_refuses_to_start_on_bad_configuration() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update(P3KE_ENV="production")
    done = subprocess.run([sys.executable, "-m", "p3ke_audit", "api"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "P3KE_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr
