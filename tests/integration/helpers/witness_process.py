"""The project's witness as its operator runs it, for tests: `python -m p3ke_witness api` in its own process with
its own key file and SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p3ke_platform.tlog.cosignature import Witness
from tests.integration.helpers.processes import ApiProcess, migrate

NAME = "kemnaker.test/witness"


class WitnessProcess:
    """The project's witness as its operator runs it: its own key file and SQLite database, the log's
    verifier key trusted, `python -m p3ke_witness api` on a fixed port (so it can be stopped and restarted)."""

    def __init__(self, tmp_path: Path, name: str = NAME) -> None:
        key = Ed25519PrivateKey.generate()
        self.key_file = tmp_path / f"{name.replace('/', '_')}.pem"
        self.key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
        self.witness = Witness(name, key.public_key())
        self.data = tmp_path / f"{name.replace('/', '_')}-data"
        self.api = ApiProcess("p3ke_witness", "witness", tmp_path / f"{name.replace('/', '_')}.log", {
            "P3KE_DATA_DIR": str(self.data), "P3KE_WITNESS_NAME": name, "P3KE_WITNESS_KEY_FILE": str(self.key_file)})

    @property
    def url(self) -> str:
        return self.api.url

    @property
    def db(self) -> Path:
        return self.data / "witness.db"

    def endpoint(self) -> dict[str, str]:
        return {"vkey": self.witness.vkey, "url": self.url}

    def trust(self, *log_vkeys: str) -> None:
        self.api.env["P3KE_WITNESS_LOGS"] = json.dumps(list(log_vkeys))
        migrate("p3ke_witness", self.api.env)

    def __enter__(self) -> WitnessProcess:
        self.api.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.api.__exit__(*exc)
