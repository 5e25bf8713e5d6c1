"""What the request asked, on the BAST in Indonesian (read back with poppler's pdftotext, as a reader sees
it), and the pieces behind it: the criteria in words, who may receive the package, the refusal language."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from datetime import date
from pathlib import Path

from p3ke_delivery.adapters.bast_pdf import render
from p3ke_delivery.domain.messages import M, not_bound, status_refusal
from p3ke_delivery.domain.request import PATHS, AskedFor, akun, kriteria, rentang
from p3ke_platform.i18n import negotiate
from p3ke_platform.reference.wilayah import load_regions
from p3ke_schemas import Actor, ExtractCriteria
from tests.unit.delivery.support import CONTENT, CRITERIA, JUSTIFICATION, REQUESTER

PDFTOTEXT = shutil.which("pdftotext")
WORDS = ("Desil 1–2; wilayah 3201 (Kabupaten Bogor); usia 18–60 tahun pada 1 Desember 2026; jenis kelamin: "
         "perempuan; tanpa penerima ekstrak sebelumnya untuk program ini")


def pdf_pages(pdf: bytes, tmp_path: Path) -> list[str]:
    """The BAST's pages as poppler extracts their text, whitespace collapsed (a cell may wrap a value)."""
    assert PDFTOTEXT, "pdftotext is not installed (Debian: apt-get install poppler-utils)"
    path = tmp_path / "bast.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([PDFTOTEXT, "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return [" ".join(page.split()) for page in out.split("\f") if page.strip()]


def signature_page(pdf: bytes, tmp_path: Path) -> str:
    """The text of the page the signatories sign (the one with both signature boxes)."""
    [page] = [p for p in pdf_pages(pdf, tmp_path)
              if "tanda tangan elektronik PIHAK KESATU (PAdES)" in p and "tanda tangan elektronik PIHAK KEDUA" in p]
    return page


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    return " ".join(pdf_pages(pdf, tmp_path))


ASKED_ON_THE_BAST = (
    "Nomor permintaan req-1",
    "Pemohon (terverifikasi) officer-1 (kemnaker; peran program-officer)",
    f"Alasan permintaan {JUSTIFICATION}",
    f"Kriteria {WORDS}",
    "Tanggal acuan usia 1 Desember 2026 (2026-12-01)",
    "Elemen data yang diminta nik, nama, kode_kemendagri (3 kolom)",
    "Jumlah data 1.234 (seribu dua ratus tiga puluh empat) record orang",
    "Sidik SHA-256 ekstrak " + "cd" * 32,
)


def test_criteria_in_indonesian_words() -> None:
    regions = load_regions()
    assert kriteria(CRITERIA, regions.name) == WORDS
    assert kriteria(ExtractCriteria(), regions.name) == (
        "Desil 1–4; seluruh wilayah; tanpa penerima ekstrak sebelumnya untuk program ini")
    assert kriteria(ExtractCriteria(region_codes=["32", "3301"], deciles=[1, 3, 4], age_min=25, sex="L",
                                    occupation_categories=["Petani"], exclude_already_delivered=False),
                    regions.name) == (
        "Desil 1, 3–4; wilayah 32 (Jawa Barat), 3301 (Kabupaten Cilacap); usia sekurang-kurangnya 25 tahun; "
        "jenis kelamin: laki-laki; pekerjaan: Petani; termasuk penerima ekstrak sebelumnya untuk program ini")
    assert rentang([2, 1, 2]) == "1–2" and rentang([4]) == "4"
    assert akun(REQUESTER) == "officer-1 (kemnaker; peran program-officer)"
    assert akun(Actor(org="kemnaker", subject="svc", roles=[], service_account=True)) == (
        "akun layanan svc (kemnaker; peran tanpa peran)")


def test_who_may_receive() -> None:
    recipient = Actor(org="kemnaker", subject="officer-2", roles=["program-officer"])
    asked = AskedFor(requester=REQUESTER, recipient=recipient)
    assert asked.bound
    assert asked.may_receive("kemnaker", "officer-1") and asked.may_receive("kemnaker", "officer-2")
    assert not asked.may_receive("kemnaker", "officer-3")
    assert not asked.may_receive("kemenkopmk", "officer-1")  # the same id in another org is someone else
    assert not AskedFor().bound  # a handover opened before extract-prepared said who asked


def test_refusals_in_indonesian_or_english_on_request() -> None:
    """The release refusals come from delivery's catalogue: Indonesian by default, English on request, both in the
    audit log; the language is negotiated by the platform (`i18n.negotiate`)."""
    assert negotiate(None) == "id" and negotiate("id-ID,id;q=0.9,en;q=0.8") == "id"
    assert negotiate("en-US,en;q=0.9") == "en" and negotiate("fr, en;q=0.5") == "en"
    reason = not_bound("password", handover_id="ho-1", request_id="req-1", org="kemnaker", subject="officer-3",
                       has_recipient=True)
    assert reason.key == "not_bound.password.recipient"
    assert reason.render("id") == (
        "Kata sandi paket serah terima ho-1 hanya diberikan kepada pemohon terverifikasi permintaan "
        "req-1 atau penerima yang ditunjuk dalam permintaan itu; akun officer-3 (kemnaker) bukan keduanya.")
    link = not_bound("link", handover_id="ho-1", request_id="req-1", org="kemnaker", subject="officer-3",
                     has_recipient=False)
    assert link.render("en") == (
        "download links for the package of handover ho-1 are issued only to the verified requester of request "
        "req-1; account officer-3 (kemnaker) is not that requester")
    assert link.both() == f"{link.render('id')} / {link.render('en')}"
    assert "satu kali" in M("released_once", at="2026-12-01T10:00:00+00:00").render("id")
    revoked = status_refusal("revoked", "download")
    assert revoked.render("id") == ("Serah terima telah dicabut, sehingga tidak ada lagi yang diberikan "
                                    "(pengunduhan paket ditolak).")
    assert revoked.render("en").endswith("(a download refused)")


def test_the_bast_shows_what_was_asked(tmp_path: Path) -> None:
    recipient = Actor(org="kemnaker", subject="officer-2", roles=["program-officer"])
    content = dataclasses.replace(
        CONTENT, requester=akun(REQUESTER), recipient=akun(recipient), request_path=PATHS["platform"],
        justification=JUSTIFICATION, criteria=WORDS, reference_date=date(2026, 12, 1),
        requested_fields=("nik", "nama", "kode_kemendagri"))
    pdf = render(content)
    signed_here = signature_page(pdf, tmp_path)
    for expected in (*ASKED_ON_THE_BAST,
                     "Jalur permintaan platform kementerian (event extract-requested di Kafka)",
                     "Penerima kata sandi dan tautan unduhan officer-2 (kemnaker; peran program-officer)"):
        assert expected in signed_here, expected
    assert "pemohon terverifikasi atau penerima yang ditunjuk dalam permintaan" in pdf_text(pdf, tmp_path)


def test_a_bast_without_request_details_keeps_its_old_rows(tmp_path: Path) -> None:
    text_ = pdf_text(render(CONTENT), tmp_path)
    assert "Nomor permintaan req-1" in text_ and "Sidik SHA-256 ekstrak " + "cd" * 32 in text_
    for absent in ("Pemohon (terverifikasi)", "Jalur permintaan", "Kriteria", "Tanggal acuan usia"):
        assert absent not in text_
    assert "kepada petugas program PIHAK KEDUA" in text_
