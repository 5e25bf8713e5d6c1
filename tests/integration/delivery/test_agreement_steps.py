"""The agreement at each step of a handover, on SQLite and PostgreSQL: nothing is prepared or released once the
agreement has ended (the first step the policy refuses stops the handover, with the policy's reason, Indonesian
first, audited), and a program the parties added lawfully goes through BAST and release (Art. 10(2)).

The example addendum extends the PKS to 2027-02-28 inclusive, Jakarta time. The harness runs on real time under a
test addendum that keeps the bundled terms in force to 2099 (`far_agreement_dir`); the steps after the end run on an
injected clock under the bundled records themselves (`Clock`), so that the end tested is the real one.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from p3ke_delivery.service_layer.preparation import Preparer
from p3ke_platform.agreement import BUNDLED_DIR, Policy, load_agreement
from tests.integration.delivery.conftest import Harness, make_harness
from tests.integration.helpers.agreement_terms import FAR_LAST_DAY, far_agreement_dir
from tests.unit.delivery.support import SIG_1, SIG_2
from tests.unit.delivery.synthetic import COLUMNS
from tests.unit.delivery.test_bast_pdf import text_of

AFTER_EXPIRY = datetime(2027, 3, 10, 3, 0, tzinfo=UTC)
EXPIRED_ID = "Ditolak: Perjanjian Kerja Sama sudah berakhir: hari terakhir berlakunya 28 Februari 2027"
SERVICE = "urn:p3ke:service:delivery"


class Clock:
    """Move the service's clock for the duration of a `with` block, under the bundled agreement (the PKS and the
    example addendum, whose term ends on 2027-02-28) instead of the harness's far-reaching test terms."""

    def __init__(self, h: Harness, at: datetime) -> None:
        self.h, self.at = h, at

    def __enter__(self) -> None:
        self.real, self.terms = self.h.ctx.clock, self.h.ctx.policy
        self.h.ctx.clock = lambda: self.at
        self.h.ctx.policy = Policy(load_agreement(None, include_examples=True))

    def __exit__(self, *_: object) -> None:
        self.h.ctx.clock, self.h.ctx.policy = self.real, self.terms


def refused_handover(h: Harness, handover_id: str) -> dict[str, Any]:
    """The handover is `refused`: the reason (Indonesian, then the policy's English), no number, no files, and
    the refusal audited by delivery's own account with the same reason."""
    got = h.get(handover_id)
    assert got["status"] == "refused", got
    assert got["bast_number"] is None and got["package_name"] is None and got["bast_sha256"] is None
    assert not list(h.ctx.storage.directory(handover_id).glob("*"))
    counters = h.runtime.spec.metadata.tables["bast_counters"]
    with h.runtime.engine.connect() as conn:
        assert conn.execute(select(counters)).all() == []  # no BAST number was taken
    denied = h.access(handover_id, "denied")
    assert [(e["action"], e["resource_type"], e["actor"]["subject"], e["actor"]["org"]) for e in denied] == [
        ("refusal", "handover", SERVICE, "kemenkopmk")]
    assert denied[0]["reason"] == got["reason"] and denied[0]["program"] == got["program"]
    # the API says why to whoever asks for its BAST or its data
    bast = h.client.get(f"/v1/handovers/{handover_id}/bast", headers=h.headers("signatory-1"))
    assert bast.status_code == 409 and "belum ada BAST yang diterbitkan" in bast.json()["detail"]
    password = h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer"))
    assert password.status_code in (403, 409), password.text
    return got


def test_an_extract_arriving_after_the_agreement_ended_is_refused_at_once(harness: Harness) -> None:
    h = harness
    with Clock(h, AFTER_EXPIRY):
        handover_id = h.open_handover(prepare=False)
    got = refused_handover(h, handover_id)
    assert got["reason"].startswith(EXPIRED_ID + " (Pasal 8 ayat (1))"), got["reason"]
    assert "paket data dan BAST tidak disiapkan dan tidak ada nomor BAST yang diterbitkan." in got["reason"]
    assert " / " in got["reason"] and "needs the agreement in force" in got["reason"]  # English after the Indonesian
    assert "expired on 2027-02-28" in got["reason"] and "prepare-extract needs the agreement in force" in got["reason"]
    assert Preparer(h.ctx).run_once() == 0  # nothing is left for the preparer
    assert h.get(handover_id)["status"] == "refused"
    listed = h.client.get("/v1/handovers", params={"status": "refused"}, headers=h.headers("officer")).json()
    assert [x["handover_id"] for x in listed] == [handover_id]


def test_an_extract_prepared_after_the_agreement_ended_builds_nothing(harness: Harness) -> None:
    """The extract arrived in force; the preparer runs after the last day: the agreement is asked before the
    extract is even read (it is gone here, and the handover is refused, not failed for a missing file)."""
    h = harness
    handover_id = h.open_handover(prepare=False)
    assert h.get(handover_id)["status"] == "preparing"
    h.extracts[handover_id][0].unlink()
    with Clock(h, AFTER_EXPIRY):
        assert Preparer(h.ctx).run_once() == 1
    got = refused_handover(h, handover_id)
    assert got["reason"].startswith(EXPIRED_ID), got["reason"]
    assert "expired on 2027-02-28" in got["reason"]


def test_a_signed_package_is_not_released_after_the_agreement_ended(harness: Harness) -> None:
    h = harness
    handover_id = h.open_handover(rows=20)
    for who, sig, party in (("signatory-1", SIG_1, 1), ("signatory-2", SIG_2, 2)):
        assert h.upload(handover_id, h.signed(h.bast(handover_id), sig, party), who).status_code == 201
    link = h.client.post(f"/v1/handovers/{handover_id}/package/links", headers=h.headers("officer")).json()
    base = f"/v1/handovers/{handover_id}"
    with Clock(h, AFTER_EXPIRY):
        answers = [h.client.post(f"{base}/password", headers=h.headers("officer")),
                   h.client.post(f"{base}/package/links", headers=h.headers("officer")),
                   h.client.get(f"{base}/package", params={"link": link["token"]}, headers=h.headers("officer"))]
    for answer in answers:
        assert answer.status_code in (403, 410), answer.text
    for answer in answers[:2]:  # (the link itself expired too by then)
        reason = answer.json()["detail"]
        assert answer.status_code == 403 and reason.startswith(EXPIRED_ID), reason
        assert "paket data dan kata sandinya tidak diserahkan." in reason
        assert "/ the agreement does not allow releasing this package now: " in reason
        assert "release-package needs the agreement in force" in reason
    allowed = {(e["action"], e["resource_type"]) for e in h.access(handover_id, "allowed")}
    assert ("release-key", "package-password") not in allowed and ("download", "package") not in allowed
    assert h.client.post(f"{base}/password", headers=h.headers("officer")).status_code == 200  # back in force


# --- a program added by party 1's written approval (Art. 10(2)) ---------------------------------------------

APPROVAL = f"""
kind: written-approval
schema_version: 1
id: appr-bsu-2026
agreement_id: pks-p3ke-2023
document: B-77/DEP.1/KEMENKO/PMK/05/2026
dated: 2026-05-20
granted_by: kemenkopmk
granted_to: kemnaker
program: bantuan_subsidi_upah
fields: [{", ".join(COLUMNS)}]
purpose: bsu_2026
purpose_title_id: Penyaluran bantuan subsidi upah 2026
purpose_title: Paying the 2026 wage subsidy
eligibility:
  summary: pekerja berupah rendah / low-wage workers
  age: {{min: 18, max: 60}}
valid_from: 2026-06-01
last_day: {FAR_LAST_DAY.isoformat()}
"""


@pytest.fixture
def approved(database_url: str, tmp_path: Path) -> Iterator[Harness]:
    """Delivery with P3KE_AGREEMENT_DIR: the signed PKS, the example extension, the test extension to 2099 (so
    that the test outlives the example's term) and a written approval."""
    terms = tmp_path / "agreement"
    terms.mkdir()
    for name in ("pks-p3ke-2023.yaml", "example-addendum-extension.yaml"):
        shutil.copy(BUNDLED_DIR / name, terms / name)
    shutil.copy(next(far_agreement_dir(tmp_path).glob("test-add-*.yaml")), terms)
    (terms / "approval-bsu.yaml").write_text(APPROVAL, encoding="utf-8")
    h = make_harness(database_url, tmp_path, agreement_dir=terms)
    yield h
    h.runtime.engine.dispose()


def test_a_program_added_by_written_approval_goes_through_bast_and_release(approved: Harness) -> None:
    h = approved
    handover_id = h.open_handover(rows=30, program="bantuan_subsidi_upah", purpose="bsu_2026", fields=COLUMNS)
    got = h.get(handover_id)
    assert got["status"] == "awaiting-signatures", got
    assert got["bast_number"] and got["purpose"] == "bsu_2026" and got["program"] == "bantuan_subsidi_upah"
    text = text_of(h.bast(handover_id, "issued"))
    for expected in (b"Penyaluran bantuan subsidi upah 2026", b"bantuan_subsidi_upah", b"Tujuan penggunaan",
                     b"B-77/DEP.1/KEMENKO/PMK/05/2026", b"Pasal 10 ayat \\(2\\)", b"kode bsu_2026"):
        assert expected in text, expected

    for who, sig, party in (("signatory-1", SIG_1, 1), ("signatory-2", SIG_2, 2)):
        signed = h.upload(handover_id, h.signed(h.bast(handover_id), sig, party), who)
        assert signed.status_code == 201, signed.text
    [announced] = h.events("p3ke.handover-signed.v1")
    assert announced["program"] == "bantuan_subsidi_upah"
    base = f"/v1/handovers/{handover_id}"
    assert h.client.post(f"{base}/password", headers=h.headers("officer")).status_code == 200
    link = h.client.post(f"{base}/package/links", headers=h.headers("officer")).json()
    package = h.client.get(f"{base}/package", params={"link": link["token"]}, headers=h.headers("officer"))
    assert package.status_code == 200 and package.headers["X-Package-SHA256"] == got["package_sha256"]


def test_a_program_nothing_covers_is_refused_before_anything_is_built(approved: Harness) -> None:
    h = approved
    unknown = h.open_handover(program="bantuan_lain", purpose="bsu_2026", fields=COLUMNS)
    reason = refused_handover(h, unknown)["reason"]
    assert reason.startswith("Ditolak: program 'bantuan_lain' bukan program Pasal 3"), reason
    assert "no written approval of party 1 (Art. 10(2)) covers it" in reason
    # the approved program, for a purpose the approval does not name
    other = h.open_handover(program="bantuan_subsidi_upah", purpose="seleksi_calon_peserta", fields=COLUMNS)
    assert h.get(other)["status"] == "refused"
    assert "covers only the purpose 'bsu_2026'" in h.get(other)["reason"]


def test_the_bast_names_the_purpose_of_a_program_of_art_3(harness: Harness) -> None:
    h = harness
    handover_id = h.open_handover(rows=10, purpose="seleksi_calon_peserta")
    assert h.get(handover_id)["purpose"] == "seleksi_calon_peserta"
    text = text_of(h.bast(handover_id, "issued"))
    assert b"Tujuan penggunaan" in text and b"Seleksi calon peserta program \\(kode seleksi_calon_peserta\\)" in text
    assert b"Program padat karya" in text and b"Pasal 3 huruf b" in text

