"""The whole handover through the API on SQLite and PostgreSQL: extract-prepared -> package and BAST ->
both signatures -> handover-signed -> password (once) -> expiring link -> download -> 7z opens it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from p3ke_delivery.adapters.certificates import load_trust_anchors
from p3ke_delivery.service_layer.preparation import Preparer
from p3ke_platform.audit_client import subject_ref
from p3ke_platform.logging import configure_logging
from p3ke_schemas import HandoverSigned
from tests.integration.delivery.conftest import Harness
from tests.unit.delivery.support import SIG_1, SIG_2, seven_zip_extract

needs_7z = pytest.mark.usefixtures("seven_zip_installed")


@needs_7z
def test_the_whole_handover(harness: Harness, tmp_path: Path) -> None:
    logs = io.StringIO()
    configure_logging("delivery", "DEBUG", json=True, stream=logs)
    try:
        _whole_handover(harness, tmp_path, logs)
    finally:
        configure_logging("delivery", "INFO")


def _whole_handover(h: Harness, tmp_path: Path, logs: io.StringIO) -> None:
    handover_id = h.open_handover(rows=1500)
    extract_path, extract_sha, _ = h.extracts[handover_id]
    view = h.get(handover_id)
    assert view["status"] == "awaiting-signatures", view
    assert view["bast_number"].endswith("/BAST-P3KE/PK/" + _roman_month() + f"/{datetime.now(UTC).year}")
    assert view["signatories"] == {"1": SIG_1, "2": SIG_2}
    assert view["record_count"] == 1500 and view["extract_sha256"] == extract_sha
    listed = h.client.get("/v1/handovers", headers=h.headers("officer")).json()
    assert [x["handover_id"] for x in listed] == [handover_id]

    # party 1 signs first, then party 2 over party 1's signature
    issued = h.bast(handover_id, "issued")
    assert hashlib.sha256(issued).hexdigest() == view["bast_sha256"]
    first = h.upload(handover_id, h.signed(issued, SIG_1, 1), "signatory-1")
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "partially-signed"
    assert h.events("p3ke.handover-signed.v1") == []
    current = h.bast(handover_id, who="signatory-2")
    assert current.startswith(issued) and current != issued
    second = h.upload(handover_id, h.signed(current, SIG_2, 2), "signatory-2")
    assert second.status_code == 201, second.text
    assert second.json()["status"] == "signed"

    # handover-signed: in the outbox of the same transaction, with signer identities and fingerprints
    [event] = h.events("p3ke.handover-signed.v1")
    signed = HandoverSigned.model_validate(event)
    final = h.bast(handover_id, who="officer")
    assert signed.handover_id == handover_id and signed.bast_number == view["bast_number"]
    assert signed.bast_sha256 == hashlib.sha256(final).hexdigest()
    assert signed.package_sha256 == view["package_sha256"] and signed.record_count == 1500
    assert [(s.party, s.signatory_id) for s in signed.signers] == [(1, SIG_1), (2, SIG_2)]
    detail = h.get(handover_id)
    assert {s["certificate_sha256"] for s in detail["signatures"]} == {s.certificate_sha256 for s in signed.signers}

    # the signed BAST validates with pyHanko against the trust anchor
    context = ValidationContext(trust_roots=load_trust_anchors(h.ca / "ca.pem"))
    statuses = [validate_pdf_signature(s, context) for s in PdfFileReader(io.BytesIO(final)).embedded_signatures]
    assert len(statuses) == 2 and all(s.bottom_line for s in statuses)

    # the password, once, to the program officer who asked for the extract
    released = h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer"))
    assert released.status_code == 200, released.text
    assert released.headers["cache-control"] == "no-store"
    password = released.json()["password"]
    again = h.client.post(f"/v1/handovers/{handover_id}/password", headers=h.headers("officer"))
    assert again.status_code == 409 and "hanya diberikan satu kali" in again.json()["detail"]
    assert "officer-1" not in again.text  # when, not to whom

    # a personal, expiring link, then the download
    link = h.client.post(f"/v1/handovers/{handover_id}/package/links", headers=h.headers("officer"))
    assert link.status_code == 201, link.text
    got = h.client.get(link.json()["url"], headers=h.headers("officer"))
    assert got.status_code == 200, got.text
    assert hashlib.sha256(got.content).hexdigest() == view["package_sha256"] == got.headers["x-package-sha256"]
    archive = tmp_path / "package.zip"
    archive.write_bytes(got.content)

    # a real client opens it with the released password; the content is the extract
    opened = seven_zip_extract(archive, password, tmp_path / "opened")
    assert opened.returncode == 0, opened.stdout + opened.stderr
    manifest = json.loads((tmp_path / "opened" / "manifest.json").read_text())
    assert manifest["bast_number"] == view["bast_number"] and manifest["handover_id"] == handover_id
    assert manifest["extract_sha256"] == extract_sha and manifest["record_count"] == 1500
    for item in manifest["files"]:
        assert hashlib.sha256((tmp_path / "opened" / item["name"]).read_bytes()).hexdigest() == item["sha256"]
    csv_name = next(f["name"] for f in manifest["files"] if f["name"].endswith(".csv"))
    with (tmp_path / "opened" / csv_name).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    expected = pq.read_table(extract_path)
    assert [r["nik"] for r in rows] == expected.column("nik").to_pylist()
    assert [r["nama"] for r in rows] == expected.column("nama").to_pylist()

    # audited: BAST reads, both uploads, the key release, the download, and the refused second release
    trail = h.access(handover_id)
    allowed = [(e["action"], e["resource_type"]) for e in trail if e["outcome"] == "allowed"]
    assert allowed.count(("upload", "bast")) == 2
    assert ("release-key", "package-password") in allowed and ("download", "package") in allowed
    download = next(e for e in trail if e["action"] == "download" and e["outcome"] == "allowed")
    assert download["record_count"] == 1500 and download["actor"]["subject"] == "officer-1"
    # every released person's keyed hash, so the download is in each data subject's trail
    key = h.runtime.settings.subject_hash_key
    assert sorted(download["subject_refs"]) == sorted(subject_ref(key, r["nik"]) for r in rows)
    denied = [e for e in trail if e["outcome"] == "denied"]
    assert [e["action"] for e in denied] == ["release-key"]  # the reason in both languages, Indonesian first
    assert denied[0]["reason"].startswith(again.json()["detail"] + " / the package password was already released")

    # no package content and no password in the logs
    text = logs.getvalue()
    assert text, "nothing was logged"
    for canary in ("NAMA SINTETIS", rows[0]["nik"], rows[0]["nama"], password):
        assert canary not in text


def test_a_csv_extract_and_a_broken_one(harness: Harness) -> None:
    handover_id = harness.open_handover(rows=40, fmt="csv")
    assert harness.get(handover_id)["status"] == "awaiting-signatures"
    # an extract that changed after targeting froze it: refused for good, with the reason
    broken = harness.open_handover(rows=30, prepare=False)
    path, _, _ = harness.extracts[broken]
    path.write_bytes(path.read_bytes() + b"\x00")
    Preparer(harness.ctx).run_once()
    view = harness.get(broken)
    assert view["status"] == "failed" and "SHA-256" in view["reason"] and "not the extract" in view["reason"]
    response = harness.client.get(f"/v1/handovers/{broken}/bast", headers=harness.headers("signatory-1"))
    assert response.status_code == 409


def test_bast_numbers_count_up_within_their_scope(harness: Harness) -> None:
    numbers = [harness.get(harness.open_handover(rows=5))["bast_number"] for _ in range(3)]
    assert [n.split("/")[0] for n in numbers] == ["001", "002", "003"]


def _roman_month() -> str:
    return ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")[datetime.now(UTC).month - 1]
