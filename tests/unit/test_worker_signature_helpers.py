"""A batch whose signatures are checked partly by a helper process leaves the audit log exactly as the same batch
checked by the worker alone: the same entries in the same order, the same dead letters."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from p3ke_audit.adapters.orm import entries
from p3ke_audit.bootstrap import SERVICE
from p3ke_platform.audit_client import access_event
from p3ke_platform.event_keys import dev_signer
from p3ke_platform.messaging.signature_pool import SignaturePool
from p3ke_platform.messaging.worker import BatchProcessor
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, CloudEvent, authcontext, to_kafka

ACTOR = Actor(org="kemnaker", subject="officer-1", roles=["program-officer"])
KEY = "k" * 64


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    timestamp: int
    timestamp_type: int = 1


@dataclass
class Event:
    message: Message


def _batch(n: int) -> list[Event]:
    signer = dev_signer("ingest")
    out = []
    for i in range(n):
        payload = access_event(service="ingest", actor=ACTOR, action="read", resource_type="bench",
                               resource_id=f"r-{i:03d}", outcome="allowed", at=datetime.now(UTC),
                               subject_hash_key=KEY)
        authtype, authid = authcontext(payload, "ingest")
        event = CloudEvent.of(payload, source="urn:p3ke:service:ingest", authtype=authtype, authid=authid)
        key, value, headers = to_kafka(event, signer)
        if i == 70:
            value = value.replace(b"r-070", b"r-999")  # changed after signing: refused
        if i == 120:
            value = b"not json"  # not an event: dead-lettered
        out.append(Event(Message(event.spec.topic, 0, i, key, value, headers, int(datetime.now(UTC).timestamp()
                                                                                  * 1000))))
    return out


def _apply(tmp_path: Path, batch: list[Event], pool: SignaturePool | None) -> tuple[list[str], list[int]]:
    settings = load_settings(service="audit", data_dir=tmp_path, env="test", subject_hash_key=KEY,
                             database_url=f"sqlite:///{tmp_path / 'audit.db'}")
    upgrade(SERVICE, settings)
    runtime = Runtime(SERVICE, settings)
    letters: list[Any] = []

    async def send(topic: str, key: Any, value: Any, headers: list[tuple[str, bytes]]) -> None:
        letters.append(dict(headers)["p3ke_dlq_offset"])

    processor = BatchProcessor(runtime.inbox("p3ke-audit"), send, consumer="p3ke-audit",
                               origin=runtime.context.origin_check, signatures=pool)
    asyncio.run(processor.process([event.message for event in batch]))
    with runtime.engine.connect() as conn:
        ids = list(conn.execute(select(entries.c.resource_id).where(entries.c.resource_type == "bench")
                                .order_by(entries.c.leaf_index)).scalars())
    runtime.engine.dispose()
    return ids, sorted(int(o) for o in letters)


def test_helpers_apply_like_the_worker_alone(tmp_path: Path) -> None:
    batch = _batch(150)
    (tmp_path / "alone").mkdir()
    (tmp_path / "helped").mkdir()
    alone = _apply(tmp_path / "alone", batch, None)
    pool = SignaturePool({k.kid: k.public_key() for k in [dev_signer("ingest")]}, processes=1, min_batch=64)
    try:
        helped = _apply(tmp_path / "helped", batch, pool)
        assert pool._pool is not None  # the helper did take part
    finally:
        pool.close()
    assert helped == alone
    ids, letters = helped
    assert ids == [f"r-{i:03d}" for i in range(150) if i not in (70, 120)]
    assert letters == [70, 120]
