"""Shared by the audit integration tests: a migrated audit runtime and synthetic events."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from p3ke_audit.bootstrap import SERVICE
from p3ke_audit.config import AuditSettings
from p3ke_audit.service_layer.verification import VerifyReport, verify_log
from p3ke_platform.audit_client import access_event
from p3ke_platform.event_keys import KeyRing, dev_keys, dev_signer
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.migrations import upgrade
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import Actor, CloudEvent, DataAccess, HandoverSigned, Signer, sign_event, verify_event
from p3ke_schemas.topics import ALL_SERVICES
from tests.integration.helpers.agreement_terms import far_agreement_dir

SUBJECT_KEY = "test-subject-hash-key-0123456789"
ACTORS = [Actor(org="kemnaker", subject="officer-1", roles=["program-officer"]),
          Actor(org="kemnaker", subject="officer-2", roles=["program-officer", "signatory"]),
          Actor(org="kemenkopmk", subject="steward-1", roles=["data-steward"])]
SERVICES = ["ingest", "targeting", "delivery", "feedback"]
PROGRAMS = ["padat_karya", "tenaga_kerja_mandiri"]
T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def audit_runtime(database_url: str, data_dir: Path, **overrides: Any) -> Runtime:
    """A migrated audit runtime; `overrides` are settings. The agreement is the bundled one plus a test addendum
    that keeps it in force to 2099 (`far_agreement_dir`: the terms in force today are unchanged), so that tests on
    real time outlive the example addendum's term (28 February 2027); `agreement_dir=None` asks for the bundled one."""
    settings = load_settings(AuditSettings, **{
        "service": "audit", "database_url": database_url, "data_dir": data_dir, "env": "test",
        "subject_hash_key": SUBJECT_KEY, "relay_in_api": False, "agreement_include_examples": True,
        "agreement_dir": far_agreement_dir(data_dir.parent / f"{data_dir.name}-terms"), **overrides})
    runtime = Runtime(SERVICE, settings)
    upgrade(SERVICE, settings)
    return runtime


def access(i: int, *, rng: random.Random | None = None, niks: Sequence[str] = (), **kw: Any) -> CloudEvent:
    rng = rng or random.Random(i)
    actor = kw.pop("actor", ACTORS[i % len(ACTORS)])
    service = kw.pop("service", SERVICES[i % len(SERVICES)])
    fields: dict[str, Any] = {
        "service": service, "actor": actor, "action": rng.choice(["read", "export", "download", "match"]),
        "resource_type": "extract", "resource_id": f"ext-{i % 7}", "outcome": "allowed",
        "record_count": rng.randrange(0, 500), "program": PROGRAMS[i % 2], "agreement_id": "PKS-003",
        "at": T0 + timedelta(minutes=i), "subject_hash_key": SUBJECT_KEY, "subject_niks": niks,
    }
    fields.update(kw)
    return CloudEvent.of(access_event(**fields), source=f"urn:p3ke:service:{service}",
                         time=fields["at"])


def handover_signed(handover_id: str, at: datetime) -> CloudEvent:
    signer = [Signer(party=p, org=o, signatory_id=f"sig-{p}", certificate_sha256="ab" * 32, signed_at=at)
              for p, o in ((1, "kemenkopmk"), (2, "kemnaker"))]
    data = HandoverSigned(handover_id=handover_id, bast_number=f"BAST-{handover_id}", agreement_id="PKS-003",
                          extract_id="ext-1", program="padat_karya", record_count=10, package_sha256="cd" * 32,
                          bast_sha256="ef" * 32, signers=signer, signed_at=at)
    return CloudEvent.of(data, source="urn:p3ke:service:delivery", time=at)


RING = KeyRing(dev_keys())  # the development keys every test deployment trusts
SOURCE_PREFIX = "urn:p3ke:service:"


def producer_of(event: CloudEvent) -> str:
    """Whose key signs `event` in these tests: a data-access event's service, else its source's service."""
    if isinstance(event.data, DataAccess) and event.data.service in ALL_SERVICES:
        return event.data.service
    name = event.source.removeprefix(SOURCE_PREFIX)
    return name if name in event.spec.producers else event.spec.producers[0]


def signed(event: CloudEvent, owner: str | None = None) -> CloudEvent:
    """`event` as the worker hands it to the handler: signed by `owner`'s development key and verified."""
    owner = owner or producer_of(event)
    return verify_event(*sign_event(event, dev_signer(owner), owner), RING.public_key)


def deliver(runtime: Runtime, events: Sequence[CloudEvent], consumer: str = "audit-test",
            batch: int = 500, *, sign: bool = True) -> list[tuple[Delivered, str]]:
    """Apply `events` through the inbox and the audit handler (signed and verified first, as the worker
    does, unless `sign` is false); the refused ones with their reasons."""
    inbox = runtime.inbox(consumer)
    rejected: list[tuple[Delivered, str]] = []
    cache: dict[str, CloudEvent] = {}
    if sign:  # one signature per event (a redelivery is the same message)
        events = [cache.get(e.id) or cache.setdefault(e.id, signed(e)) for e in events]
    items = [Delivered("p3ke.data-access.v1", 0, i, e) for i, e in enumerate(events)]
    for start in range(0, len(items), batch):
        rejected += inbox.apply_batch(items[start:start + batch])
    return rejected


def verify(runtime: Runtime, **kw: Any) -> VerifyReport:
    """`verify_log` as `p3ke audit verify` runs it: the tree, the checkpoints and every entry's origin."""
    s = runtime.context.signer
    kw.setdefault("keys", runtime.context.event_keys)
    return verify_log(runtime.engine, s.name, s.public_key, **kw)


def nik(i: int) -> str:
    """A synthetic 16-digit NIK."""
    return f"3201{i:012d}"


def make_log(runtime: Runtime, n: int, *, batch: int = 7, seed: int = 1) -> list[CloudEvent]:
    """n data-access events in batches of `batch`; event i names the data subjects nik(i % 5), nik(99)."""
    rng = random.Random(seed)
    events = [access(i, rng=rng, niks=[nik(i % 5), nik(99)]) for i in range(n)]
    assert deliver(runtime, events, batch=batch) == []
    return events


def as_superuser(runtime: Runtime, *statements: str, params: dict[str, Any] | None = None) -> None:
    """Run statements with the triggers of the log tables out of the way, as an attacker with the
    database superuser (PostgreSQL: DISABLE TRIGGER) or the file (SQLite: DROP TRIGGER) would."""
    from p3ke_audit.adapters.orm import LOG_TABLES

    with runtime.engine.begin() as conn:
        if runtime.engine.dialect.name == "sqlite":
            for table in LOG_TABLES:
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
                conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))
        else:
            for table in LOG_TABLES:
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        for sql in statements:
            conn.execute(text(sql), params or {})
        if runtime.engine.dialect.name != "sqlite":
            for table in LOG_TABLES:
                conn.execute(text(f"ALTER TABLE {table} ENABLE ALWAYS TRIGGER {table}_append_only"))


def new_id() -> str:
    return uuid.uuid4().hex


def cli_environment(runtime: Runtime, monkeypatch: Any) -> None:
    """The environment `p3ke audit ...` reads, pointing at `runtime`'s log (and nothing else of P3KE_*)."""
    import os

    for name in list(os.environ):
        if name.startswith("P3KE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("P3KE_ENV", "test")
    monkeypatch.setenv("P3KE_DATABASE_URL", runtime.settings.database_url)
    monkeypatch.setenv("P3KE_DATA_DIR", str(runtime.settings.data_dir))
