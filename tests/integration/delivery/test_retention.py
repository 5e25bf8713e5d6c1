"""Delivery's disposal of what it keeps (issue #18), on PostgreSQL with real files, real cryptography, a real audit
API process for the legal holds and an injected clock.

Three handovers: A and B are signed and downloaded today (A twice), C is revoked before anyone signs it. Each first
download, the revocation and the end of A's purpose emit `handover-milestone` once. A legal hold (an incident
naming B's package) keeps B. 29 days on, nothing is due; 31 days on, a dry run lists A's package and destroys
nothing; the run deletes A's package file and destroys its data key (a copy of the encrypted bytes taken before
opens under nothing delivery still holds), with one `erase` record (the SHA-256, the rule, every person by keyed
reference) and one `artefact-disposed` event. A's subject-reference file stays until party 2's disposal certificate
is in; C's goes at once (C was never signed: nothing was handed over, no certificate is owed).

The signatures are made now (the development CA is made now), so the test runs on real time and moves the clock up
to 40 days on: the agreement is the bundled one plus a test-only addendum that keeps it in force for as long as the
tests are in use (tests/integration/helpers/agreement_terms.py), so the date the test runs on does not matter."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from p3ke_delivery.adapters import subjects
from p3ke_delivery.adapters.orm import data_keys, handovers
from p3ke_delivery.service_layer import retention_inventory
from p3ke_platform.envelope import EnvelopeError, open_decrypted
from p3ke_platform.retention import Kind, Trigger, agreement_end, start_of_day
from p3ke_platform.retention.disposal import DisposalJob, Report
from p3ke_platform.retention.holds import Holds
from p3ke_schemas import HandoverMilestone
from p3ke_schemas.generate import CONTRACT_DIR
from tests.integration.delivery.conftest import Harness, make_harness
from tests.integration.delivery.test_crypto_shredding import download, every_key_the_system_holds, rows, signed
from tests.integration.helpers.agreement_terms import FAR_LAST_DAY, far_agreement_dir
from tests.integration.helpers.processes import ApiProcess
from tests.integration.test_disposal import _hold, audit  # noqa: F401  (the audit API process: a fixture)
from tests.unit.delivery.support import SIG_2

MILESTONE = "p3ke.handover-milestone.v1"


class Clock:
    """The service's clock: real time until moved."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or datetime.now(UTC)


@pytest.fixture
def h(postgres_url: str, audit: ApiProcess, tmp_path: Path) -> Iterator[Harness]:  # noqa: F811
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    shutil.copy(audit.shared / "keys" / "dev-issuer.pem", keys / "dev-issuer.pem")  # type: ignore[attr-defined]
    harness = make_harness(postgres_url, tmp_path, legal_holds_url=audit.url,
                           agreement_dir=far_agreement_dir(tmp_path))
    harness.ctx.clock = Clock()
    yield harness
    harness.runtime.engine.dispose()


def _clock(h: Harness) -> Clock:
    clock = h.ctx.clock
    assert isinstance(clock, Clock)
    return clock


def _outcomes(report: Report) -> dict[tuple[str, str], str]:
    assert report.ran and report.problem is None, report.problem
    return {(i.kind, i.resource_id): i.outcome for i in report.items}


def _erasures(h: Harness, handover_id: str) -> list[dict[str, Any]]:
    return [e for e in h.access(handover_id) if e["action"] == "erase"]


def _refs(h: Harness, handover_id: str) -> list[str]:
    return list(subjects.read_refs(h.ctx.storage.path(handover_id, subjects.REFS_FILE)))


def _milestones(h: Harness) -> list[tuple[str, str]]:
    schema = json.loads((CONTRACT_DIR / "jsonschema" / f"{MILESTONE}.json").read_text())
    out = []
    for event in h.events(MILESTONE):
        jsonschema.validate(event, schema)
        milestone = HandoverMilestone.model_validate(event)
        out.append((milestone.handover_id, milestone.milestone))
    return out


def test_packages_are_disposed_with_their_keys_and_references_wait_for_the_certificate(h: Harness,
                                                                                     audit: ApiProcess,  # noqa: F811
                                                                                     tmp_path: Path) -> None:
    clock = _clock(h)
    t0 = clock()
    ends = agreement_end(h.ctx.policy.agreement)  # the test addendum's end, whatever day the test runs on
    assert ends == start_of_day(FAR_LAST_DAY + timedelta(days=1)) and ends > t0 + timedelta(days=40)
    a, b, c = h.open_handover(rows=60), h.open_handover(rows=40), h.open_handover(rows=30)
    a_row = rows(h, handovers, a)
    stored = h.ctx.storage.path(a, a_row["package_file"])
    copy = tmp_path / "backup-of-a.enc"  # a backup of the volume, taken before the disposal
    shutil.copy2(stored, copy)
    a_refs = _refs(h, a)
    assert len(a_refs) == 60 and a_row["subject_key_id"] == h.ctx.settings.subject_key_ring.current.id

    # the milestones: the first download of each package (not the second), the revocation, each once
    for handover_id in (a, b):
        signed(h, handover_id)
        assert download(h, handover_id).status_code == 200
    assert download(h, a).status_code == 200
    assert rows(h, handovers, a)["downloaded_at"] is not None
    revoked = h.client.post(f"/v1/handovers/{c}/revoke", json={"reason": "permintaan dibatalkan"},
                            headers=h.headers("steward-1"))
    assert revoked.status_code == 200, revoked.text
    again = h.client.post(f"/v1/handovers/{c}/revoke", json={"reason": "dicabut lagi"}, headers=h.headers("steward-1"))
    assert again.status_code == 409
    [c_package] = _erasures(h, c)  # the revocation destroyed C's package: its erase record, every person named
    assert c_package["resource_type"] == "package" and len(c_package["subject_refs"]) == 30
    assert "revoked" in c_package["reason"] and c_package["subject_key_id"] == a_row["subject_key_id"]
    assert _milestones(h) == [(a, "package-downloaded"), (b, "package-downloaded"), (c, "handover-revoked")]
    first = HandoverMilestone.model_validate(h.events(MILESTONE)[0])
    assert first.extract_id == a_row["extract_id"] and first.agreement_id == a_row["agreement_id"]

    # the inventory: each package with its first download; each handover's subject references
    listed = {(x.kind, x.resource_id): x for x in retention_inventory.artefacts(h.ctx)}
    assert listed[(Kind.PACKAGE, a)].events[Trigger.PACKAGE_DOWNLOADED] == rows(h, handovers, a)["downloaded_at"]
    assert listed[(Kind.PACKAGE, a)].resource_type == "package" and (Kind.PACKAGE, c) not in listed  # revoked: gone
    assert {k for k in listed if k[0] is Kind.SUBJECT_REFERENCES} == {(Kind.SUBJECT_REFERENCES, x) for x in (a, b, c)}

    # a legal hold names B's package (a real incident in the audit service)
    incident = _hold(audit, "package", b)

    # 29 days on: nothing is due but C's references (its package left with the revocation, no certificate owed)
    clock.at = t0 + timedelta(days=29)
    early = _outcomes(DisposalJob(h.ctx).run_once(dry_run=True))
    assert early == {("subject-references", c): "would-dispose"}

    # 31 days on: the dry run lists A's package, holds B's, destroys nothing
    clock.at = t0 + timedelta(days=31)
    dry = DisposalJob(h.ctx).run_once(dry_run=True)
    assert _outcomes(dry) == {("package", a): "would-dispose", ("package", b): "held",
                              ("subject-references", c): "would-dispose"}
    assert next(i for i in dry.items if i.resource_id == b).held_by == [incident]
    assert stored.is_file() and rows(h, data_keys, a)["wrapped_key"] is not None and _erasures(h, a) == []

    # the run: A's package file and its data key are destroyed; B is kept; C's references go
    report = DisposalJob(h.ctx).run_once()
    assert _outcomes(report) == {("package", a): "disposed", ("package", b): "held",
                                 ("subject-references", c): "disposed"}
    assert not stored.exists() and rows(h, data_keys, a)["wrapped_key"] is None
    assert rows(h, handovers, a)["password_ciphertext"] is None
    b_row = rows(h, handovers, b)
    assert h.ctx.storage.path(b, b_row["package_file"]).is_file() and rows(h, data_keys, b)["wrapped_key"]
    aad = f"p3ke-delivery/package/{a}/{a_row['package_file']}".encode()
    for key in every_key_the_system_holds(h):
        with pytest.raises(EnvelopeError):
            open_decrypted(copy, key, aad)
    assert download(h, a).status_code == 410

    # one erase record: the digest of what was destroyed, the rule, every person by keyed reference
    [erase] = _erasures(h, a)
    sha = next(i.sha256 for i in report.items if i.resource_id == a)
    assert sha and f"sha256 {sha}" in erase["reason"] and erase["reason"].startswith("package:")
    assert a_row["package_sha256"] in erase["reason"] and "destroyed" in erase["reason"]
    assert erase["resource_type"] == "package" and sorted(erase["subject_refs"]) == sorted(a_refs)
    assert erase["subject_key_id"] == a_row["subject_key_id"] and erase["actor"]["service_account"] is True
    disposed = h.events("p3ke.artefact-disposed.v1")
    schema = json.loads((CONTRACT_DIR / "jsonschema" / "p3ke.artefact-disposed.v1.json").read_text())
    for event in disposed:
        jsonschema.validate(event, schema)
    assert sorted((e["resource_type"], e["resource_id"]) for e in disposed) == sorted(
        [("package", a), ("subject-references", c)])
    package_event = next(e for e in disposed if e["resource_id"] == a)
    assert package_event["sha256"] == sha and package_event["trigger"] == "package-downloaded"
    assert package_event["service"] == "delivery"
    [c_erase] = [e for e in _erasures(h, c) if e["resource_type"] == "subject-references"]
    assert len(c_erase["subject_refs"]) == 30
    assert not h.ctx.storage.path(c, subjects.REFS_FILE).exists()

    # A's subject references stay while party 2's disposal certificate is not in
    clock.at = t0 + timedelta(days=40)
    waiting = {(x.kind, x.resource_id): x for x in retention_inventory.artefacts(h.ctx)}
    assert Trigger.INDEXED_DISPOSED in waiting[(Kind.SUBJECT_REFERENCES, a)].events
    assert _outcomes(DisposalJob(h.ctx).run_once()) == {("package", b): "held"}
    assert h.ctx.storage.path(a, subjects.REFS_FILE).is_file() and len(_erasures(h, a)) == 1

    # the purpose ends (a milestone), party 2 destroys, certifies; then A's references go, naming every person
    clock.at = None  # signing happens now, on the signatory's machine
    ended = h.client.post(f"/v1/handovers/{a}/purpose-ended", json={"note": "program selesai"},
                          headers=h.headers("officer"))
    assert ended.status_code == 200, ended.text
    assert _milestones(h)[-1] == (a, "purpose-ended") and len(_milestones(h)) == 4
    issued = h.client.post(f"/v1/handovers/{a}/disposal-certificate", headers=h.headers("officer"), json={
        "method": "penghapusan aman", "destroyed_at": datetime.now(UTC).isoformat(), "items": ["package"]})
    assert issued.status_code == 201, issued.text
    pdf = h.client.get(f"/v1/handovers/{a}/disposal-certificate.pdf", params={"version": "issued"},
                       headers=h.headers("signatory-2")).content
    accepted = h.client.post(f"/v1/handovers/{a}/disposal-certificate/signature", content=h.signed(pdf, SIG_2, 2),
                             headers={**h.headers("signatory-2"), "Content-Type": "application/pdf"})
    assert accepted.status_code == 201, accepted.text
    clock.at = t0 + timedelta(days=40)
    assert _outcomes(DisposalJob(h.ctx).run_once()) == {("subject-references", a): "disposed", ("package", b): "held"}
    assert not h.ctx.storage.path(a, subjects.REFS_FILE).exists()
    refs_erase = next(e for e in _erasures(h, a) if e["resource_type"] == "subject-references")
    assert sorted(refs_erase["subject_refs"]) == sorted(a_refs)
    assert {(x.kind, x.resource_id) for x in retention_inventory.artefacts(h.ctx)} == {
        (Kind.PACKAGE, b), (Kind.SUBJECT_REFERENCES, b)}  # what was disposed of left the inventory

    # the hold lifted (no more incident naming it): B goes too; a second run destroys nothing more
    report = DisposalJob(h.ctx, holds=Holds).run_once()
    assert _outcomes(report) == {("package", b): "disposed"}
    with h.runtime.engine.connect() as conn:
        assert conn.execute(select(data_keys.c.wrapped_key).where(data_keys.c.artefact_id == b)).scalar_one() is None
    assert _outcomes(DisposalJob(h.ctx).run_once()) == {}
    assert len(_milestones(h)) == 4
