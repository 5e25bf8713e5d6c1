"""Party 2's disposal certificate on SQLite and PostgreSQL, through the HTTP API: a signed handover's purpose ends ->
disposal-due -> (clock) disposal-overdue; party 2's program officer issues the certificate (an Indonesian PDF, read
back with poppler's pdftotext) -> party 2's signatory signs it with `p3ke bast sign --party 2` (a real process) ->
upload -> disposal-certified, `disposal-status-changed` in the outbox, every step in the audit log; poppler's
pdfsig (NSS, independent of pyHanko) accepts the signature. Refused: party 1's signatory, a signature over another
PDF, a tampered copy. The agreement's end makes every signed handover due (the `delivery-disposal-due` job)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from p3ke_delivery.service_layer import disposal_certificates
from p3ke_schemas import DisposalStatusChanged
from tests.integration.delivery.conftest import Harness
from tests.unit.delivery.support import SIG_1, SIG_2

METHOD = "penghapusan aman (secure erase) sesuai NIST SP 800-88"


def _signed_handover(h: Harness, rows: int = 120) -> str:
    handover_id = h.open_handover(rows=rows)
    first = h.upload(handover_id, h.signed(h.bast(handover_id, "issued"), SIG_1, 1), "signatory-1")
    assert first.status_code == 201, first.text
    second = h.upload(handover_id, h.signed(h.bast(handover_id, who="signatory-2"), SIG_2, 2), "signatory-2")
    assert second.status_code == 201, second.text
    return handover_id


class _Clock:
    def __init__(self, h: Harness, at: datetime) -> None:
        self.h, self.at = h, at

    def __enter__(self) -> None:
        self.real = self.h.ctx.clock
        self.h.ctx.clock = lambda: self.at

    def __exit__(self, *_: Any) -> None:
        self.h.ctx.clock = self.real


def _issue(h: Harness, handover_id: str, **body: Any) -> Any:
    payload = {"method": METHOD, "destroyed_at": datetime.now(UTC).isoformat(), **body}
    return h.client.post(f"/v1/handovers/{handover_id}/disposal-certificate", json=payload,
                         headers=h.headers("officer"))


def _pdf(h: Harness, handover_id: str, version: str = "issued") -> bytes:
    got = h.client.get(f"/v1/handovers/{handover_id}/disposal-certificate.pdf", params={"version": version},
                       headers=h.headers("signatory-2"))
    assert got.status_code == 200, got.text
    return got.content


def _upload(h: Harness, handover_id: str, pdf: bytes, who: str = "signatory-2") -> Any:
    return h.client.post(f"/v1/handovers/{handover_id}/disposal-certificate/signature", content=pdf,
                         headers={**h.headers(who), "Content-Type": "application/pdf"})


def _cli_sign(h: Harness, pdf: bytes, signatory: str, party: int, work: Path) -> bytes:
    """`p3ke bast sign` as party 2's signatory runs it on their own machine."""
    source = work / f"bap-{signatory}.pdf"
    source.write_bytes(pdf)
    out = work / f"bap-{signatory}-signed.pdf"
    done = subprocess.run([str(Path(sys.executable).parent / "p3ke"), "bast", "sign", str(source), "--party",
                           str(party), "--key", str(h.ca / f"{signatory}.key.pem"), "--cert",
                           str(h.ca / f"{signatory}.cert.pem"), "--chain", str(h.ca / "ca.pem"), "-o", str(out),
                           "--reason", "Berita acara pemusnahan Data P3KE"],
                          capture_output=True, text=True, timeout=120, env={**os.environ})
    assert done.returncode == 0, done.stdout + done.stderr
    return out.read_bytes()


def test_purpose_ended_due_overdue_then_certified(harness: Harness, tmp_path: Path) -> None:
    h = harness
    handover_id = _signed_handover(h)
    view = h.get(handover_id)
    assert view["disposal"] is None  # nothing owed while the purpose and the agreement last

    ended = h.client.post(f"/v1/handovers/{handover_id}/purpose-ended", json={"note": "program padat karya selesai"},
                          headers=h.headers("officer"))
    assert ended.status_code == 200, ended.text
    days = h.ctx.settings.delivery_disposal_certificate_days
    assert ended.json()["status"] == "disposal-due" and ended.json()["due_reason"] == "purpose-ended"
    due_by = datetime.fromisoformat(ended.json()["due_by"])
    assert due_by - datetime.fromisoformat(ended.json()["due_since"]) == timedelta(days=days)
    [listed] = h.client.get("/v1/handovers", headers=h.headers("officer")).json()
    assert listed["disposal"] == "disposal-due"
    again = h.client.post(f"/v1/handovers/{handover_id}/purpose-ended", json={}, headers=h.headers("steward-1"))
    assert again.status_code == 409 and "sudah dinyatakan berakhir" in again.json()["detail"]
    [due_event] = h.events("p3ke.disposal-status-changed.v1")
    assert DisposalStatusChanged.model_validate(due_event).status == "due"

    with _Clock(h, due_by + timedelta(seconds=1)):
        assert h.get(handover_id)["disposal"] == "disposal-overdue"
        assert h.client.get("/v1/handovers", headers=h.headers("officer")).json()[0]["disposal"] == "disposal-overdue"

    # party 2's program officer issues it; the PDF says, in Indonesian, which data was destroyed and how
    issued = _issue(h, handover_id, notes="termasuk salinan pada laptop petugas")
    assert issued.status_code == 201, issued.text
    cert = issued.json()
    assert cert["number"].endswith(f"/BAP-P3KE/PK/{_roman_month()}/{datetime.now(UTC).year}")
    pdf = _pdf(h, handover_id)
    assert hashlib.sha256(pdf).hexdigest() == cert["issued_sha256"]
    text = _pdftotext(pdf, tmp_path)
    detail = h.get(handover_id)
    for expected in ("BERITA ACARA PEMUSNAHAN", detail["bast_number"], handover_id, detail["package_sha256"],
                     "120 (seratus dua puluh) record orang", "penghapusan aman (secure erase)",
                     "tujuan pemrosesan serah terima ini telah tercapai", "PIHAK KEDUA", cert["number"]):
        assert expected in text, expected

    # party 1's signatory cannot sign it (no field of theirs; signing party 2's field with their key is refused)
    wrong = _upload(h, handover_id, h.signed(pdf, SIG_1, 2), who="signatory-2")
    assert wrong.status_code == 403, wrong.text
    assert f"penanda tangan {SIG_1} adalah penanda tangan PIHAK KESATU" in wrong.json()["detail"]
    assert wrong.json()["code"] == "disposal.not_party_2_signer" and " / " not in wrong.json()["detail"]
    by_party_1 = _upload(h, handover_id, h.signed(pdf, SIG_2, 2), who="signatory-1")
    assert by_party_1.status_code == 403 and "penanda tangan PIHAK KEDUA" in by_party_1.json()["detail"]
    # a signature over another PDF: the BAST of the same handover
    bast = _upload(h, handover_id, h.signed(h.bast(handover_id, "issued"), SIG_2, 2))
    assert bast.status_code == 422, bast.text
    assert "bukan berita acara pemusnahan yang diterbitkan" in bast.json()["detail"]
    assert "unggahan adalah BAST" in bast.json()["detail"] and bast.json()["code"] == "disposal.upload_refused"
    assert "the upload is BAST" not in bast.json()["detail"]  # one language: the verifier's words rendered in it
    # a tampered copy: the issued bytes changed before signing
    tampered = pdf.replace(b"/Lang (id\\055ID)", b"/Lang (en\\055US)")
    assert tampered != pdf
    changed = _upload(h, handover_id, h.signed(tampered, SIG_2, 2))
    assert changed.status_code == 422 and "Berita acara pemusnahan tidak diterima" in changed.json()["detail"]
    assert changed.json()["code"].startswith("disposal.upload_refused") and " / " not in changed.json()["detail"]
    assert h.get(handover_id)["disposal"] == "disposal-due"

    # party 2's signatory signs with the command line tool, on their own machine, and uploads it
    signed = _cli_sign(h, pdf, SIG_2, 2, tmp_path)
    accepted = _upload(h, handover_id, signed)
    assert accepted.status_code == 201, accepted.text
    body = accepted.json()
    assert body["status"] == "disposal-certified" and body["signatory_id"] == SIG_2
    assert body["signed_sha256"] == hashlib.sha256(signed).hexdigest()
    assert h.get(handover_id)["disposal"] == "disposal-certified"
    with _Clock(h, due_by + timedelta(days=400)):
        assert h.get(handover_id)["disposal"] == "disposal-certified"
    assert _pdf(h, handover_id, "signed") == signed
    twice = _upload(h, handover_id, signed)
    assert twice.status_code == 409 and "sudah ditandatangani" in twice.json()["detail"]
    reissue = _issue(h, handover_id)
    assert reissue.status_code == 409

    # the event that fulfils the audit desk's obligation
    events = [DisposalStatusChanged.model_validate(e) for e in h.events("p3ke.disposal-status-changed.v1")]
    assert [e.status for e in events] == ["due", "certified"]
    certified = events[1]
    assert certified.certificate_number == cert["number"] and certified.certificate_sha256 == body["signed_sha256"]
    assert certified.issued_sha256 == cert["issued_sha256"] and certified.signer is not None
    assert certified.signer.signatory_id == SIG_2 and certified.due_reason == "purpose-ended"

    # independent verification: poppler's pdfsig (NSS) checks the signature and the whole-document coverage
    _pdfsig(signed, tmp_path)

    # audited: issue, downloads, the accepted upload, and each refused upload
    trail = [e for e in h.access(handover_id) if e["resource_type"] == "disposal-certificate"]
    allowed = [e["action"] for e in trail if e["outcome"] == "allowed"]
    assert allowed.count("export") == 1 and allowed.count("upload") == 1 and allowed.count("read") >= 2
    denied = [e["action"] for e in trail if e["outcome"] == "denied"]
    assert denied.count("upload") >= 5


def test_agreement_end_makes_every_signed_handover_due(harness: Harness) -> None:
    h = harness
    signed = _signed_handover(h, rows=10)
    unsigned = h.open_handover(rows=5)
    end = disposal_certificates.agreement_end(h.ctx)
    assert disposal_certificates.announce_due(h.ctx) == 0  # the agreement is in force
    with _Clock(h, end + timedelta(hours=1)):
        assert disposal_certificates.announce_due(h.ctx) == 1
        assert disposal_certificates.announce_due(h.ctx) == 0  # once
        view = h.client.get(f"/v1/handovers/{signed}/disposal-certificate", headers=h.headers("officer")).json()
        assert view["status"] == "disposal-due" and view["due_reason"] == "agreement-ended"
        assert h.get(unsigned)["disposal"] is None
    [event] = h.events("p3ke.disposal-status-changed.v1")
    assert event["due_reason"] == "agreement-ended" and event["handover_id"] == signed
    days = h.ctx.settings.delivery_disposal_certificate_days
    with _Clock(h, end + timedelta(days=days, seconds=1)):
        assert h.get(signed)["disposal"] == "disposal-overdue"


def test_refusals_before_anything_is_owed(harness: Harness) -> None:
    h = harness
    unsigned = h.open_handover(rows=5)
    early = h.client.post(f"/v1/handovers/{unsigned}/purpose-ended", json={}, headers=h.headers("officer"))
    assert early.status_code == 409 and "belum ditandatangani" in early.json()["detail"]
    signed = _signed_handover(h, rows=5)
    nik = _issue(h, signed, notes="dimusnahkan termasuk data 3201014101900001")
    assert nik.status_code == 422 and "16 digit" in nik.json()["detail"]
    assert "3201014101900001" not in json.dumps(h.events("p3ke.data-access.v1"))
    future = _issue(h, signed, destroyed_at=(datetime.now(UTC) + timedelta(days=2)).isoformat())
    assert future.status_code == 422 and "belum terjadi" in future.json()["detail"]
    by_party_1 = h.client.post(f"/v1/handovers/{signed}/disposal-certificate",
                               json={"method": METHOD, "destroyed_at": datetime.now(UTC).isoformat()},
                               headers=h.headers("steward-1"))
    assert by_party_1.status_code == 403
    not_yet = h.client.get(f"/v1/handovers/{signed}/disposal-certificate.pdf", headers=h.headers("officer"))
    assert not_yet.status_code == 404 and "Belum ada berita acara pemusnahan" in not_yet.json()["detail"]


def _pdftotext(pdf: bytes, work: Path) -> str:
    path = work / "bap.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def _pdfsig(pdf: bytes, work: Path) -> None:
    """poppler's pdfsig (NSS), independent of pyHanko: the signature is valid and covers the whole document."""
    path = work / "bap-signed.pdf"
    path.write_bytes(pdf)
    report = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60).stdout
    assert report.count("Signature Validation: Signature is Valid.") == 1, report
    assert "Total document signed" in report, report
    assert "Signature Field Name: TTD_PIHAK_KEDUA" in report or "TTD_PIHAK_KEDUA" in report, report


def _roman_month() -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")[datetime.now(UTC).month - 1]

