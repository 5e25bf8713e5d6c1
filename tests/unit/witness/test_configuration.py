"""The witness's configuration: its key (development outside production only), the logs it witnesses, and the
production rules that stop start-up with a message naming the setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.service import Runtime, installed_service
from p3ke_platform.settings import ConfigurationError, load_settings
from p3ke_platform.tlog.cosignature import Witness
from p3ke_platform.tlog.dev_keys import (
    DEV_WITNESS_NAME,
    development_witness_key,
    development_witness_vkey,
    is_development_witness_key,
)
from p3ke_witness.config import WitnessSettings
from tests.unit.witness.support import SigningLog

PROD_NAME = "kemnaker.example.go.id/p3ke/witness"


def pem(key: object) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,  # type: ignore[attr-defined]
                             serialization.NoEncryption())


def context(**overrides: object) -> object:
    settings = load_settings(WitnessSettings, service="witness", **overrides)
    return Runtime(installed_service("witness"), settings).context


def production(tmp_path: Path, key: object | None = None, logs: str | None = None) -> dict[str, object]:
    (tmp_path / "witness.pem").write_bytes(pem(key or Ed25519PrivateKey.generate()))
    (tmp_path / "db-ca.crt").write_text("a CA certificate\n")
    (tmp_path / "logs").write_text(logs if logs is not None else f"# party 1's audit log\n{SigningLog().vkey}\n")
    return {"env": "production", "data_dir": tmp_path, "witness_name": PROD_NAME,
            "database_url": f"postgresql+psycopg://w@db/w?sslmode=verify-full&sslrootcert={tmp_path}/db-ca.crt",
            "auth_dev_issuer": False, "auth_jwks_url": "https://idp.example.go.id/jwks",
            "witness_key_file": tmp_path / "witness.pem", "witness_logs_file": tmp_path / "logs"}


def test_the_development_witness_is_known_in_advance(tmp_path: Path) -> None:
    ctx = context(data_dir=tmp_path, env="test")
    assert ctx.witness.vkey == development_witness_vkey()  # type: ignore[attr-defined]
    assert Witness.parse(development_witness_vkey()).name == DEV_WITNESS_NAME
    # another name, another development key (an inspectorate's development witness)
    other = context(data_dir=tmp_path, env="test", witness_name="p3ke.local/witness-inspectorate")
    assert other.witness.vkey == development_witness_vkey("p3ke.local/witness-inspectorate")  # type: ignore[attr-defined]
    assert other.witness.vkey.split("+")[2] != development_witness_vkey().split("+")[2]  # type: ignore[attr-defined]


def test_production_refuses_to_start_without_a_key_a_name_or_a_log(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_settings(WitnessSettings, env="production", service="witness")
    message = str(info.value)
    for setting in ("P3KE_DATABASE_URL", "P3KE_AUTH_DEV_ISSUER", "P3KE_WITNESS_KEY_FILE", "P3KE_WITNESS_NAME"):
        assert setting in message
    # the shared rules about Kafka and event keys are not the witness's (it has neither)
    assert "P3KE_KAFKA_SECURITY_PROTOCOL" not in message and "P3KE_EVENT_SIGNING_KEY_FILE" not in message
    with pytest.raises(ConfigurationError, match="P3KE_WITNESS_LOGS or P3KE_WITNESS_LOGS_FILE: no log to witness"):
        load_settings(WitnessSettings, **production(tmp_path, logs="# nothing yet\n"))


def test_production_accepts_its_own_key_and_the_logs_keys(tmp_path: Path) -> None:
    settings = load_settings(WitnessSettings, **production(tmp_path))
    assert len(settings.log_keys()) == 1


def test_production_refuses_the_development_key(tmp_path: Path) -> None:
    for name in (DEV_WITNESS_NAME, PROD_NAME):
        options = production(tmp_path, key=development_witness_key(name))
        with pytest.raises(ConfigurationError, match="P3KE_WITNESS_KEY_FILE: this is a development key"):
            context(**options).check()  # type: ignore[attr-defined]
    assert is_development_witness_key(development_witness_key(PROD_NAME).public_key(), PROD_NAME)
    assert not is_development_witness_key(Ed25519PrivateKey.generate().public_key(), PROD_NAME)


def test_the_process_does_not_start_in_production_with_the_development_key(tmp_path: Path) -> None:
    options = production(tmp_path, key=development_witness_key(PROD_NAME))
    env = {k: v for k, v in os.environ.items() if not k.startswith("P3KE_")}
    env.update({f"P3KE_{k.upper()}": str(v) for k, v in options.items()}, P3KE_SERVICE="witness")
    done = subprocess.run([sys.executable, "-m", "p3ke_witness", "api"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert "P3KE_WITNESS_KEY_FILE: this is a development key" in done.stderr


def test_a_key_file_must_be_an_ed25519_private_key(tmp_path: Path) -> None:
    (tmp_path / "p256.pem").write_bytes(pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigurationError, match="not an Ed25519 key"):
        context(data_dir=tmp_path, env="test", witness_key_file=tmp_path / "p256.pem").check()  # type: ignore[attr-defined]
    (tmp_path / "junk.pem").write_text("not a key")
    with pytest.raises(ConfigurationError, match="not an unencrypted PEM private key"):
        context(data_dir=tmp_path, env="test", witness_key_file=tmp_path / "junk.pem").check()  # type: ignore[attr-defined]
    with pytest.raises(ConfigurationError, match="cannot read"):
        context(data_dir=tmp_path, env="test", witness_key_file=tmp_path / "missing.pem").check()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "says"), [
    ("not json", "must be a JSON list"),
    ('{"a": 1}', "must be a JSON list of verifier keys"),
    ('["p3ke.test/audit+00000000+AAAA"]', "P3KE_WITNESS_LOGS item 1"),
    (json.dumps([Witness("w", Ed25519PrivateKey.generate().public_key()).vkey]), "type 0x01"),
])
def test_bad_log_keys_name_the_setting(value: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match="P3KE_WITNESS_LOGS") as info:
        load_settings(WitnessSettings, service="witness", witness_logs=value)
    assert says in str(info.value)


def test_log_keys_from_the_setting_and_the_file_by_origin(tmp_path: Path) -> None:
    a, b, rotated = SigningLog(), SigningLog(origin="inspectorate.example/log"), SigningLog()
    (tmp_path / "logs").write_text(f"# keys\n\n{b.vkey}\n  {rotated.vkey}  \n{a.vkey}\n")
    ctx = context(data_dir=tmp_path, env="test", witness_logs=json.dumps([a.vkey]), witness_logs_file=tmp_path / "logs")
    assert {o: [k.vkey for k in keys] for o, keys in ctx.logs.items()} == {  # type: ignore[attr-defined]
        a.origin: [a.vkey, rotated.vkey], b.origin: [b.vkey]}
    (tmp_path / "logs").write_text("garbage\n")
    with pytest.raises(ConfigurationError, match=r"P3KE_WITNESS_LOGS_FILE .* line 1"):
        load_settings(WitnessSettings, service="witness", witness_logs_file=tmp_path / "logs")
