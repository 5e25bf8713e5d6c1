"""Shared by the compliance desk's integration tests: the audit app over a migrated database with an injected
clock, tokens of either party, the relay stand-in, and a forged event delivered through the worker's own code."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from p3ke_platform.api import create_app
from p3ke_platform.auth import DevIssuer
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.messaging.worker import BatchProcessor
from p3ke_platform.service import Runtime
from p3ke_schemas import sign_event, verify_event
from tests.integration.audit.helpers import RING, T0, audit_runtime, handover_signed


class Clock:
    """The service's injected clock, moved by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def relay_own_records(runtime: Runtime) -> None:
    """Stand in for the relay and Kafka: the audit service's own data-access records, back into its log (the
    worker verifies the audit service's own signature too). Each record is applied once."""
    outbox = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox).order_by(outbox.c.seq)).mappings().all()
    events = [verify_event(r["key"].encode(), r["value"], [(n, v.encode()) for n, v in json.loads(r["headers"])],
                           RING.public_key) for r in rows]
    inbox = runtime.inbox("relay-stand-in")
    assert inbox.apply_batch([Delivered(e.spec.topic, 0, r["seq"], e) for r, e in zip(rows, events,
                                                                                     strict=True)]) == []


def deliver_forged(runtime: Runtime, handover_id: str, offset: int) -> list[Any]:
    """A handover-signed event signed with feedback's key (feedback may not produce it), through the worker's
    own batch processor with the deployment's origin check, as the audit worker consumes it from Kafka."""
    key, value, headers = sign_event(handover_signed(handover_id, T0), dev_signer("feedback"), "feedback")
    message = SimpleNamespace(topic="p3ke.handover-signed.v1", partition=0, offset=offset, key=key, value=value,
                              headers=headers, timestamp=None, timestamp_type=None)
    letters: list[Any] = []

    async def send(*args: Any) -> None:
        letters.append(args)

    processor = BatchProcessor(runtime.inbox("p3ke-audit"), send, consumer="p3ke-audit",
                               origin=runtime.context.origin_check)
    asyncio.run(processor.process([message]))
    relay_own_records(runtime)  # the refusal, recorded through the outbox, lands in the log
    return letters


def open_desk(database_url: str, tmp_path: Path) -> Iterator[SimpleNamespace]:
    """The audit app (real HTTP through it) with its clock at the real now, and `auth(org, subject, role)`."""
    runtime = audit_runtime(database_url, tmp_path, agreement_dir=None)
    clock = Clock(datetime.now(UTC))
    runtime.context.clock = clock
    client = TestClient(create_app(runtime))
    issuer = DevIssuer(runtime.settings)

    def auth(org: str = "kemnaker", subject: str = "dpo-2", role: str = "compliance-auditor") -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.mint(subject, org, [role])}"}

    yield SimpleNamespace(runtime=runtime, client=client, clock=clock, auth=auth)
    runtime.engine.dispose()
