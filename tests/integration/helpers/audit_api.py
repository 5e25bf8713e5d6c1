"""The audit service's API as a real process on its own PostgreSQL database, for the tests that need the legal holds
(`GET /v1/legal-holds`) or the log's queries over HTTP, and an open incident naming a resource (a legal hold).

The process shares the development issuer's key with the services under test: copy it into each service's data
directory with `share_issuer_key(api, data_dir)`."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from p3ke_platform.auth import DevIssuer
from p3ke_platform.migrations import upgrade
from p3ke_platform.settings import load_settings
from tests.conftest import new_postgres_database
from tests.integration.helpers.processes import ApiProcess


@contextmanager
def audit_api(postgres: Any, shared: Path) -> Iterator[ApiProcess]:
    """The audit API process; `.shared` is its data directory, `.database_url` its database."""
    from p3ke_audit.bootstrap import SERVICE as AUDIT

    DevIssuer(load_settings(data_dir=shared, env="test"))  # its key, which the services' data dirs get a copy of
    url = new_postgres_database(postgres)
    upgrade(AUDIT, load_settings(service="audit", database_url=url, data_dir=shared, env="test"))
    api = ApiProcess("p3ke_audit", "audit", shared / "audit-api.log", {
        "P3KE_DATA_DIR": str(shared), "P3KE_DATABASE_URL": url, "P3KE_AGREEMENT_INCLUDE_EXAMPLES": "true"})
    with api:
        api.shared = shared  # type: ignore[attr-defined]
        api.database_url = url  # type: ignore[attr-defined]
        yield api


def share_issuer_key(api: ApiProcess, data_dir: Path) -> None:
    """The development issuer's key in `data_dir`, so that the audit API accepts the service's tokens."""
    keys = data_dir / "keys"
    keys.mkdir(parents=True, exist_ok=True)
    shutil.copy(api.shared / "keys" / "dev-issuer.pem", keys / "dev-issuer.pem")  # type: ignore[attr-defined]


def auditor_headers(api: ApiProcess) -> dict[str, str]:
    token = DevIssuer(load_settings(data_dir=api.shared, env="test")).mint(  # type: ignore[attr-defined]
        "auditor-1", "kemnaker", ["compliance-auditor"])
    return {"Authorization": f"Bearer {token}"}


def legal_hold(api: ApiProcess, resource_type: str, resource_id: str) -> str:
    """An open incident naming the resource: a legal hold, through the audit service's API; its id."""
    r = httpx.post(f"{api.url}/v1/incidents", headers=auditor_headers(api), json={
        "title": "Keluhan isi serah terima", "resources": [{"resource_type": resource_type,
                                                            "resource_id": resource_id}]})
    assert r.status_code == 201, r.text
    return str(r.json()["incident_id"])
