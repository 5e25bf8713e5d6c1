"""Issue #18's done-when: one handover's whole life on PostgreSQL, with the services' clock injected, then disposal.

Five services on their own PostgreSQL databases, in process, each fed the events the others emitted as their worker
would be (the outbox rows, signatures and all, through the real inbox); the audit API a real process (the legal
holds, the person's trail). Real files, real cryptography, real PAdES signatures.

1. Party 1's data steward publishes a synthetic snapshot (ingest, through its API).
2. Party 2's platform requests an extract (targeting): the extract file and its recipient ledger.
3. Delivery opens the handover, both signatories sign the BAST, the officer downloads the package (a copy of the
   encrypted package is taken: a backup of the volume).
4. Party 2 sends its data balikan (feedback).
5. The handover's purpose ends; party 2's signatory signs the disposal certificate (berita acara pemusnahan).
6. 31 days later every owning service's disposal job runs, and delivery's again the next day. An open incident (a
   legal hold) names the first upload of the snapshot.

Then: the extract, the package, its subject references and the second raw upload are gone; the package's data key
is gone (the backup copy opens under no key the system still holds); the audit log holds one `erase` entry per
artefact with its SHA-256; the trail of a person of the handover shows the erasure of the artefacts that held them;
the held upload is untouched. The recipient ledger stays (it is due only when the agreement ends), and so does the
feedback batch (its own 90 days).

The test runs on real time (the signatures are made now) and moves the clock 32 days on; every service loads the
bundled agreement plus a test-only addendum that keeps it in force for as long as the tests are in use
(tests/integration/helpers/agreement_terms.py), so the date the test runs on does not matter.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from p3ke_audit.bootstrap import SERVICE as AUDIT
from p3ke_delivery.adapters.orm import data_keys, handovers
from p3ke_delivery.service_layer.preparation import Preparer
from p3ke_ingest.bootstrap import SERVICE as INGEST
from p3ke_ingest.config import IngestSettings
from p3ke_ingest.service_layer import retention_inventory as ingest_inventory
from p3ke_ingest.synth import generate
from p3ke_platform.envelope import EnvelopeError, open_decrypted
from p3ke_platform.messaging.inbox import Delivered
from p3ke_platform.migrations import upgrade
from p3ke_platform.retention import agreement_end, start_of_day
from p3ke_platform.retention.disposal import DisposalJob, Report
from p3ke_platform.service import Runtime
from p3ke_platform.settings import load_settings
from p3ke_schemas import verify_event
from p3ke_targeting.adapters.orm import extracts
from tests.conftest import new_postgres_database
from tests.integration.audit.helpers import RING
from tests.integration.delivery.conftest import Harness, make_harness
from tests.integration.delivery.test_crypto_shredding import download, every_key_the_system_holds, rows, signed
from tests.integration.helpers.agreement_terms import FAR_LAST_DAY, far_agreement_dir
from tests.integration.helpers.audit_api import audit_api, auditor_headers, legal_hold, share_issuer_key
from tests.integration.helpers.processes import ApiProcess
from tests.integration.ingest.test_retention_inventory import _publish
from tests.unit.delivery.support import SIG_2
from tests.unit.feedback.helpers import feedback_row, submit, write_csv
from tests.unit.feedback.helpers import make_runtime as feedback_runtime
from tests.unit.runtime_events import apply
from tests.unit.targeting.helpers import make_runtime as targeting_runtime
from tests.unit.targeting.helpers import request

DAY = timedelta(days=1)


class Clock:
    """Every service's clock: real time until moved (signatures are made on the signatories' machines, now)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@pytest.fixture(scope="module")
def audit(postgres: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    with audit_api(postgres, tmp_path_factory.mktemp("lifecycle-audit")) as api:
        yield api


def outbox(runtime: Runtime) -> list[Any]:
    """Every event the runtime emitted, as the worker hands it to a handler (its signature verified), in order."""
    table = runtime.spec.tables.outbox
    with runtime.engine.connect() as conn:
        found = conn.execute(select(table.c.key, table.c.value, table.c.headers).order_by(table.c.seq)).all()
    return [verify_event(r.key.encode(), r.value, [(k, v.encode()) for k, v in json.loads(r.headers)], RING.public_key)
            for r in found]


class Bus:
    """Kafka's part, in process: each consumer gets the events of its topics once, through its real inbox."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}

    def deliver(self, producers: list[Runtime], consumer: Runtime, name: str) -> None:
        seen = self.seen.setdefault(name, set())
        topics = set(consumer.spec.topics)
        items = []
        for producer in producers:
            for event in outbox(producer):
                if event.spec.topic in topics and event.id not in seen:
                    seen.add(event.id)
                    items.append(Delivered(event.spec.topic, 0, len(items), event))
        if items:
            rejected = consumer.inbox(name).apply_batch(items)
            assert rejected == [], [(d.event.type, reason) for d, reason in rejected]


def _outcomes(report: Report) -> set[tuple[str, str, str]]:
    assert report.ran and report.problem is None, report.problem
    return {(i.kind, i.resource_id, i.outcome) for i in report.items}


def test_one_handover_from_snapshot_to_disposal(postgres: Any, audit: ApiProcess, tmp_path: Path) -> None:
    clock, bus = Clock(), Bus()
    t0 = clock()
    runtimes: dict[str, Runtime] = {}
    terms = far_agreement_dir(tmp_path)  # every service the same agreement files, in force whatever the date
    for name in ("ingest", "targeting", "delivery", "feedback"):
        share_issuer_key(audit, tmp_path / name / "data")

    # 1. the snapshot (ingest, through its API)
    settings = load_settings(IngestSettings, service="ingest", database_url=new_postgres_database(postgres),
                             data_dir=tmp_path / "ingest" / "data", env="test", relay_in_api=False,
                             jobs_in_api=False, ingest_engine_memory_mb=256, legal_holds_url=audit.url,
                             agreement_include_examples=True, agreement_dir=terms)
    upgrade(INGEST, settings)
    ingest = runtimes["ingest"] = Runtime(INGEST, settings)
    made = generate(tmp_path / "synth", individuals=400, seed=29)
    _, (held_upload, other_upload), submission = _publish(ingest, (made.individual_path, made.family_path), t0)
    ingest.context.clock = clock
    ends = agreement_end(ingest.context.policy.agreement)  # the test addendum's end, whatever day the test runs on
    assert ends == start_of_day(FAR_LAST_DAY + DAY) and ends > t0 + 45 * DAY

    # 2. the extract (targeting, party 2's platform path)
    targeting = runtimes["targeting"] = targeting_runtime(tmp_path / "targeting", new_postgres_database(postgres),
                                                          legal_holds_url=audit.url, agreement_dir=terms)
    targeting.context.clock = clock
    bus.deliver([ingest], targeting, "targeting")
    asked = request(quota=40, requested_at=t0)
    assert apply(targeting, asked) == []
    with targeting.engine.connect() as conn:
        extract = dict(conn.execute(select(extracts).where(extracts.c.request_id == asked.request_id))
                       .mappings().one())
    extract_file, ledger_file = Path(extract["file_uri"]), Path(extract["ledger_uri"])
    assert extract_file.is_file() and ledger_file.is_file()
    niks = [n for n in pq.read_table(extract_file, columns=["nik"]).column("nik").to_pylist() if n]
    assert len(niks) == extract["record_count"] > 0

    # 3. the handover: BAST signed by both parties, the package downloaded (and a backup of it taken)
    h: Harness = make_harness(new_postgres_database(postgres), tmp_path / "delivery", legal_holds_url=audit.url,
                              delivery_extract_root=extract_file.parent, agreement_dir=terms)
    runtimes["delivery"] = h.runtime
    h.ctx.clock = clock
    bus.deliver([targeting], h.runtime, "delivery")
    with h.runtime.engine.connect() as conn:
        handover_id = conn.execute(select(handovers.c.handover_id).where(
            handovers.c.extract_id == extract["extract_id"])).scalar_one()
    Preparer(h.ctx).run_once()
    signed(h, handover_id)
    assert download(h, handover_id).status_code == 200
    row = rows(h, handovers, handover_id)
    package = h.ctx.storage.path(handover_id, row["package_file"])
    backup = tmp_path / "backup-of-the-package.enc"
    shutil.copy2(package, backup)
    bus.deliver([h.runtime], targeting, "targeting")  # the first download: the extract's period starts

    # 4. the data balikan (feedback)
    feedback = runtimes["feedback"] = feedback_runtime(tmp_path / "feedback", new_postgres_database(postgres),
                                                       feedback_shared_root=tmp_path, legal_holds_url=audit.url,
                                                       agreement_dir=terms)
    feedback.context.clock = clock
    bus.deliver([ingest, targeting, h.runtime], feedback, "feedback")
    balikan = write_csv(tmp_path / "balikan.csv", [feedback_row(n, nama=f"Penerima {i}") for i, n in
                                                   enumerate(niks[:10])])
    stored = submit(feedback, balikan, handover_id, extract["program"])
    assert stored.created and stored.batch["rows"] == 10

    # 5. the purpose ends; party 2 destroys what it received and its signatory signs the disposal certificate
    ended = h.client.post(f"/v1/handovers/{handover_id}/purpose-ended", json={"note": "program selesai"},
                          headers=h.headers("officer"))
    assert ended.status_code == 200, ended.text
    issued = h.client.post(f"/v1/handovers/{handover_id}/disposal-certificate", headers=h.headers("officer"), json={
        "method": "penghapusan aman", "destroyed_at": clock().isoformat(), "items": ["package"]})
    assert issued.status_code == 201, issued.text
    pdf = h.client.get(f"/v1/handovers/{handover_id}/disposal-certificate.pdf", params={"version": "issued"},
                       headers=h.headers("signatory-2")).content
    accepted = h.client.post(f"/v1/handovers/{handover_id}/disposal-certificate/signature",
                             content=h.signed(pdf, SIG_2, 2),
                             headers={**h.headers("signatory-2"), "Content-Type": "application/pdf"})
    assert accepted.status_code == 201, accepted.text
    bus.deliver([h.runtime], targeting, "targeting")

    # 6. a legal hold on one upload; 31 days on, every owning service's disposal job runs; a day later delivery's
    # again (the subject references are due from the day the package's disposal was recorded)
    incident = legal_hold(audit, "dataset-upload", held_upload)
    held_path = next(a.path for a in ingest_inventory.artefacts(ingest.context) if a.resource_id == held_upload)
    other_path = next(a.path for a in ingest_inventory.artefacts(ingest.context) if a.resource_id == other_upload)
    assert held_path is not None and other_path is not None
    held_bytes = held_path.read_bytes()
    clock.at = t0 + 31 * DAY
    reports = {name: DisposalJob(rt.context).run_once() for name, rt in runtimes.items()}
    clock.at = t0 + 32 * DAY  # a period of 0 days ends at the next midnight in Jakarta
    reports["delivery-again"] = DisposalJob(h.ctx).run_once()
    done = {(kind, rid) for r in reports.values() for kind, rid, outcome in _outcomes(r) if outcome == "disposed"}
    assert {("extract", extract["extract_id"]), ("package", handover_id), ("subject-references", handover_id),
            ("raw-upload", other_upload), ("findings", submission)} <= done, done
    assert ("raw-upload", held_upload, "held") in _outcomes(reports["ingest"])
    assert not any(kind in ("selection-ledger", "feedback-raw", "current-snapshot") for kind, _ in done)

    # the files are gone; the package's data key is gone: the backup opens under nothing the system holds
    assert not extract_file.exists() and not package.exists() and not other_path.exists()
    assert rows(h, data_keys, handover_id)["wrapped_key"] is None
    aad = f"p3ke-delivery/package/{handover_id}/{row['package_file']}".encode()
    for key in every_key_the_system_holds(h):
        with pytest.raises(EnvelopeError):
            open_decrypted(backup, key, aad)
    assert download(h, handover_id).status_code == 410
    # nothing under the legal hold was touched; what is not yet due is still there
    assert held_path.read_bytes() == held_bytes and ledger_file.is_file()

    # the audit log: every event of every service, as the audit worker consumes them
    audit_rt = Runtime(AUDIT, load_settings(service="audit", database_url=audit.database_url,  # type: ignore[attr-defined]
                                            data_dir=audit.shared, env="test",  # type: ignore[attr-defined]
                                            agreement_include_examples=True, agreement_dir=terms))
    try:
        bus.deliver(list(runtimes.values()), audit_rt, "audit")
    finally:
        audit_rt.engine.dispose()
    disposed_sha = {(i.kind, i.resource_id): i.sha256 for r in reports.values() for i in r.items
                    if i.outcome == "disposed"}
    erased = httpx.get(f"{audit.url}/v1/entries", params={"action": "erase", "limit": 500},
                       headers=auditor_headers(audit))
    assert erased.status_code == 200, erased.text
    entries = [e for e in erased.json() if e["action"] == "erase"]
    assert len(entries) == len(disposed_sha)  # one per artefact, no more
    for (kind, resource_id), sha in disposed_sha.items():
        [entry] = [e for e in entries if e["resource_id"] == resource_id
                   and e["payload"]["reason"].startswith(f"{kind}:")]
        assert sha and f"sha256 {sha}" in entry["payload"]["reason"], (kind, resource_id)

    # the trail of a person of the handover shows the erasure of the extract, the package and its references
    trail = httpx.post(f"{audit.url}/v1/subjects/trail", json={"nik": niks[0], "limit": 500},
                       headers=auditor_headers(audit))
    assert trail.status_code == 200, trail.text
    erasures = {(e["resource_type"], e["resource_id"]) for e in trail.json() if e["action"] == "erase"}
    assert {("extract", extract["extract_id"]), ("package", handover_id),
            ("subject-references", handover_id)} <= erasures, erasures
    assert any(e["action"] == "download" for e in trail.json())  # the same trail: the access before the erasure
    assert not any(rid == held_upload for _, rid in erasures) and incident
    for rt in runtimes.values():
        rt.engine.dispose()
