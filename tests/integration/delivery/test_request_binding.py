"""The handover is bound to the request behind it, through the API on SQLite and PostgreSQL: the BAST shows
what was asked on the page the signatories sign, and the package password, download links and downloads go
to the verified requester (or the recipient the request named) only. Anyone else gets 403 with the reason
in Indonesian (English on request), audited, naming nobody else; a second release gets 409 naming nobody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from p3ke_schemas import Actor
from tests.integration.delivery.conftest import Harness
from tests.integration.delivery.test_refusals import refused
from tests.unit.delivery.support import JUSTIFICATION, SIG_1, SIG_2
from tests.unit.delivery.test_request_details import WORDS, pdf_pages, signature_page

RECIPIENT = Actor(org="kemnaker", subject="officer-2", roles=["program-officer"])


def _signed(h: Harness, **asked: Any) -> str:
    handover_id = h.open_handover(rows=25, **asked)
    for party, sig, who in ((1, SIG_1, "signatory-1"), (2, SIG_2, "signatory-2")):
        response = h.upload(handover_id, h.signed(h.bast(handover_id), sig, party), who)
        assert response.status_code == 201, response.text
    return handover_id


def _post(h: Harness, handover_id: str, what: str, who: str, **headers: str) -> Any:
    return h.client.post(f"/v1/handovers/{handover_id}/{what}", headers={**h.headers(who), **headers})


def _released_to(h: Harness, handover_id: str) -> set[str]:
    return {e["actor"]["subject"] for e in h.access(handover_id, "allowed")
            if (e["action"], e["resource_type"]) in {("release-key", "package-password"), ("download", "package")}}


def test_the_bast_shows_what_the_request_asked(harness: Harness, tmp_path: Path) -> None:
    h = harness
    handover_id = h.open_handover(rows=30)
    view = h.get(handover_id)
    _, sha, _ = h.extracts[handover_id]
    issued = h.bast(handover_id, "issued")
    expected = (
        f"Nomor permintaan {view['request_id']}",
        "Pemohon (terverifikasi) officer-1 (kemnaker; peran program-officer)",
        "Jalur permintaan API layanan targeting P3KE",
        "Penerima kata sandi dan tautan unduhan pemohon tersebut di atas",
        f"Alasan permintaan {JUSTIFICATION}",
        f"Kriteria {WORDS}",
        "Tanggal acuan usia 1 Desember 2026 (2026-12-01)",
        "Elemen data yang diminta nik, nama, kode_kemendagri (3 kolom)",
        "Jumlah data 30 (tiga puluh) record orang",
        f"Sidik SHA-256 ekstrak {sha}",
    )
    signed_here = signature_page(issued, tmp_path)
    for item in expected:
        assert item in signed_here, item

    # both parties sign it (PAdES, incremental updates over the issued bytes): their signatures are on that page
    _sign_both(h, handover_id)
    final = h.bast(handover_id, who="officer")
    assert final.startswith(issued)
    assert len(pdf_pages(final, tmp_path)) == len(pdf_pages(issued, tmp_path))
    signed_here = signature_page(final, tmp_path)
    for item in expected:
        assert item in signed_here, item


def _sign_both(h: Harness, handover_id: str) -> None:
    for party, sig, who in ((1, SIG_1, "signatory-1"), (2, SIG_2, "signatory-2")):
        response = h.upload(handover_id, h.signed(h.bast(handover_id), sig, party), who)
        assert response.status_code == 201, response.text


def test_the_password_goes_to_the_requester_only(harness: Harness) -> None:
    h = harness
    handover_id = _signed(h)
    request_id = h.get(handover_id)["request_id"]

    # another program officer of party 2: 403 with the reason, recorded, naming nobody but the caller
    other = _post(h, handover_id, "password", "officer-2")
    reason = refused(h, handover_id, other, 403)
    assert reason == (f"Kata sandi paket serah terima {handover_id} hanya diberikan kepada pemohon terverifikasi "
                      f"permintaan {request_id}; akun officer-2 (kemnaker) bukan pemohon itu.")
    assert other.headers["x-p3ke-refusal"] == "requester" and "officer-1" not in other.text
    denied = h.access(handover_id, "denied")[-1]
    assert (denied["action"], denied["resource_type"], denied["actor"]["subject"]) == (
        "release-key", "package-password", "officer-2")
    english = _post(h, handover_id, "password", "officer-2", **{"Accept-Language": "en-GB,en;q=0.9"})
    assert refused(h, handover_id, english, 403) == (
        f"the package password of handover {handover_id} is released only to the verified requester of request "
        f"{request_id}; account officer-2 (kemnaker) is not that requester")
    link = _post(h, handover_id, "package/links", "officer-2")
    assert "Tautan unduhan paket serah terima" in refused(h, handover_id, link, 403) and "officer-1" not in link.text

    # the requester gets it, once; asked again: 409 saying when, not to whom
    mine = _post(h, handover_id, "password", "officer")
    assert mine.status_code == 200, mine.text
    again = _post(h, handover_id, "password", "officer")
    assert "hanya diberikan satu kali" in refused(h, handover_id, again, 409)
    assert "officer" not in again.text
    assert again.headers["x-p3ke-refusal"] == "released-once"
    late = _post(h, handover_id, "password", "officer-2")  # the other officer still learns nothing
    assert refused(h, handover_id, late, 403) == reason

    # the requester's link and download work; nothing went to anyone else
    issued = _post(h, handover_id, "package/links", "officer")
    assert issued.status_code == 201, issued.text
    assert h.client.get(issued.json()["url"], headers=h.headers("officer")).status_code == 200
    assert _released_to(h, handover_id) == {"officer-1"}


def test_a_recipient_named_in_the_request_gets_it(harness: Harness) -> None:
    h = harness
    handover_id = _signed(h, recipient=RECIPIENT)

    third = _post(h, handover_id, "password", "officer-3")
    reason = refused(h, handover_id, third, 403, "atau penerima yang ditunjuk dalam permintaan itu",
                     "akun officer-3 (kemnaker) bukan keduanya")
    assert "officer-1" not in third.text and "officer-2" not in third.text, reason

    got = _post(h, handover_id, "password", "officer-2")
    assert got.status_code == 200, got.text
    link = _post(h, handover_id, "package/links", "officer-2")
    assert link.status_code == 201, link.text
    assert h.client.get(link.json()["url"], headers=h.headers("officer-2")).status_code == 200

    # the requester asks after the recipient got it: 409, without the recipient's account
    requester = _post(h, handover_id, "password", "officer")
    refused(h, handover_id, requester, 409, "hanya diberikan satu kali")
    assert "officer-2" not in requester.text
    assert _released_to(h, handover_id) == {"officer-2"}


def test_a_handover_whose_request_is_not_reported_is_released_by_the_policy(harness: Harness) -> None:
    """extract-prepared of a targeting that did not report the requester yet: the agreement's policy alone
    decides (party 2's program officer), and the second release still names nobody."""
    h = harness
    handover_id = _signed(h, requester=None)
    assert _post(h, handover_id, "password", "officer-2").status_code == 200
    again = _post(h, handover_id, "password", "officer")
    refused(h, handover_id, again, 409, "hanya diberikan satu kali")
    assert "officer-2" not in again.text
