"""Asking a service's `POST /v1/subject-records` through its real app, and checking that the lookup is
audited under the person's keyed reference while the NIK appears in no outbox event."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.audit_client import subject_ref
from p3ke_platform.service import Runtime

ENDPOINT = "/v1/subject-records"


def ask(client: TestClient, headers: dict[str, str], nik: str, request_id: str) -> Any:
    return client.post(ENDPOINT, json={"nik": nik, "request_id": request_id}, headers=headers)


def outbox_values(runtime: Runtime) -> list[str]:
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        values = conn.execute(select(outbox.c.value).order_by(outbox.c.seq)).scalars()
        return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def assert_lookup_audited(runtime: Runtime, nik: str, request_id: str, records: int) -> None:
    """One allowed `read` of `subject-records` with the request's id, naming the person by keyed reference only."""
    values = outbox_values(runtime)
    leaks = [v[max(0, v.index(nik) - 120):v.index(nik)] for v in values if nik in v]
    assert leaks == [], f"the NIK is in an outbox event, after: {leaks}"
    events = [json.loads(v) for v in values]
    reads = [e for e in events if e.get("resource_type") == "subject-records" and e.get("resource_id") == request_id]
    assert len(reads) == 1, reads
    [read] = reads
    assert read["action"] == "read" and read["outcome"] == "allowed" and read["record_count"] == records
    assert read["subject_refs"] == [subject_ref(runtime.settings.subject_hash_key, nik)]
