"""The witness as a real process for integration tests: `python -m p3ke_witness migrate` and `api` on a free port,
with the interface other tests and the launcher use (P3KE_DATABASE_URL, P3KE_WITNESS_NAME, P3KE_WITNESS_LOGS...)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from p3ke_platform.tlog.witness_protocol import PATH
from tests.integration.helpers.processes import ApiProcess, migrate


class WitnessProcess(ApiProcess):
    """`python -m p3ke_witness api` witnessing the logs with `log_vkeys`, on `database_url`, until stopped."""

    def __init__(self, data_dir: Path, database_url: str, log_vkeys: list[str], **env: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        super().__init__("p3ke_witness", "witness", data_dir / "witness.log", {
            "P3KE_DATA_DIR": str(data_dir), "P3KE_DATABASE_URL": database_url,
            "P3KE_WITNESS_LOGS": json.dumps(log_vkeys), "P3KE_LOG_LEVEL": "INFO", **env})
        migrate("p3ke_witness", self.env)

    def add(self, body: bytes) -> httpx.Response:
        return httpx.post(self.url + PATH, content=body, timeout=30)
