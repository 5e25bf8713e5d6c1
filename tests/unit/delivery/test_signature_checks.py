"""What the service checks in an uploaded, signed BAST (pyHanko underneath): each bad document is
refused with a reason that says what is wrong and what to do: a catalogue message (its key is the answer's
code), in Indonesian unless English is asked for."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from p3ke_delivery.adapters import dev_ca
from p3ke_delivery.adapters.bast_pdf import render
from p3ke_delivery.adapters.certificates import load_crls, load_trust_anchors
from p3ke_delivery.adapters.pdf_signatures import verify_upload
from p3ke_delivery.adapters.signing import sign_bast
from p3ke_platform.refusal import Refused
from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2, expired_signer, make_dev_ca, signer, signer_from


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("sigs")
    make_dev_ca(base / "ca")
    issued = render(CONTENT)
    once = sign_bast(issued, signer(base / "ca", SIG_1), party=1)
    return {"dir": base, "ca": base / "ca", "issued": issued, "once": once,
            "anchors": load_trust_anchors(base / "ca" / "ca.pem")}


def check(world: dict[str, Any], upload: bytes, *, current: bytes | None = None,
          signed: frozenset[str] = frozenset()) -> Any:
    return verify_upload(upload, issued=world["issued"], current=current or world["issued"],
                         signed_fields=set(signed), trust_anchors=world["anchors"], now=datetime.now(UTC),
                         crls=load_crls([world["ca"] / "ca.crl"]))


def refused(world: dict[str, Any], upload: bytes, **kwargs: Any) -> Refused:
    with pytest.raises(Refused) as info:
        check(world, upload, **kwargs)
    return info.value


def test_good_signatures_are_found(world: dict[str, Any]) -> None:
    first = check(world, world["once"])
    assert (first.party, first.field) == (1, "TTD_PIHAK_KESATU")
    assert "Andie Megantara" in first.facts.subject and len(first.facts.sha256) == 64
    twice = sign_bast(world["once"], signer(world["ca"], SIG_2), party=2)
    second = check(world, twice, current=world["once"], signed=frozenset({"TTD_PIHAK_KESATU"}))
    assert (second.party, second.field) == (2, "TTD_PIHAK_KEDUA")


def test_tampered_after_signing(world: dict[str, Any]) -> None:
    data = bytearray(world["once"])
    at = len(world["issued"]) + 40  # inside the signer's revision, outside /Contents
    data[at] = ord("X") if data[at] != ord("X") else ord("Y")
    problem = refused(world, bytes(data))
    assert problem.rule == "tampered" and problem.code == "signature.tampered"
    assert problem.text().startswith("Dokumen diubah setelah ditandatangani: bita yang dicakup tanda tangan PIHAK "
                                     "KESATU (kolom TTD_PIHAK_KESATU) tidak lagi cocok")
    assert problem.text("en").startswith("the document was altered after it was signed: the bytes covered by PIHAK "
                                         "KESATU's signature (field TTD_PIHAK_KESATU) no longer match its digest")
    assert problem.reason == f"{problem.text()} / {problem.text('en')}"  # the audit log keeps both


def test_tampered_original_text(world: dict[str, Any]) -> None:
    data = world["once"].replace(b"/Title (BAST 007", b"/Title (BAST 008", 1)
    assert data != world["once"]
    problem = refused(world, data)
    assert problem.status == 422 and "Dokumen diubah setelah ditandatangani" in problem.text()


def test_untrusted_certificate(world: dict[str, Any]) -> None:
    rogue = dev_ca.create_ca("Rogue CA")
    imposter = dev_ca.issue(rogue, common_name="Andie Megantara", org="kemenkopmk")
    upload = sign_bast(world["issued"], signer_from(imposter, world["dir"], "rogue"), party=1)
    problem = refused(world, upload)
    assert problem.rule == "certificate" and problem.code == "certificate.untrusted_chain"
    assert "tidak tersambung ke trust anchor yang dikonfigurasi (P3KE_DELIVERY_TRUST_ANCHORS)" in problem.text()


def test_expired_certificate(world: dict[str, Any]) -> None:
    upload = sign_bast(world["issued"], expired_signer(world["ca"], world["dir"]), party=1)
    problem = refused(world, upload)
    assert problem.rule == "certificate" and problem.code == "certificate.expired"
    assert " kedaluwarsa pada " in problem.text() and "masih berlaku" in problem.text()


def test_second_signature_must_build_on_the_first(world: dict[str, Any]) -> None:
    over_original = sign_bast(world["issued"], signer(world["ca"], SIG_2), party=2)
    problem = refused(world, over_original, current=world["once"], signed=frozenset({"TTD_PIHAK_KESATU"}))
    assert problem.status == 409 and problem.code == "signature.not_incremental"
    assert problem.text().startswith("Unggahan bukan pembaruan inkremental atas BAST yang sudah ditandatangani "
                                     "sejauh ini: PIHAK KESATU menandatanganinya")


def test_changes_appended_after_a_signature(world: dict[str, Any]) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(world["once"]))
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(stream_data=b"BT (FAKE) Tj ET")))
    out = io.BytesIO()
    writer.write(out)
    problem = refused(world, out.getvalue())
    assert problem.rule == "appended" and "Ada data yang ditambahkan ke PDF setelah" in problem.text()


def test_content_changed_before_signing(world: dict[str, Any]) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(world["issued"]))
    writer.add_stream_to_page(0, writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 30 Tf 100 500 Td (1.000.000 record) Tj ET")))
    out = io.BytesIO()
    writer.write(out)
    upload = sign_bast(out.getvalue(), signer(world["ca"], SIG_1), party=1)
    problem = refused(world, upload)
    assert problem.rule == "content-changed"
    assert "tidak sama persis dengan BAST yang diterbitkan" in problem.text()


def test_a_different_bast(world: dict[str, Any]) -> None:
    from dataclasses import replace

    other = render(replace(CONTENT, number="008/BAST-P3KE/PK/XI/2026", handover_id="ho-other"))
    upload = sign_bast(other, signer(world["ca"], SIG_1), party=1)
    problem = refused(world, upload)
    assert problem.rule == "not-this-bast" and problem.code == "signature.not_this_bast"
    assert problem.text().startswith("Dokumen yang ditandatangani bukan BAST yang diterbitkan untuk serah terima ini")


def test_nothing_new_or_not_a_pdf(world: dict[str, Any]) -> None:
    assert refused(world, world["issued"]).rule == "no-new-signature"
    assert refused(world, world["once"], current=world["once"],
                   signed=frozenset({"TTD_PIHAK_KESATU"})).rule == "no-new-signature"
    assert refused(world, b"hello").rule == "not-a-pdf"
    assert refused(world, b"%PDF-1.7\n garbage").rule in ("not-a-pdf", "not-this-bast")


def test_two_signatures_in_one_upload(world: dict[str, Any]) -> None:
    twice = sign_bast(world["once"], signer(world["ca"], SIG_2), party=2)
    problem = refused(world, twice)
    assert problem.rule == "one-signature-per-upload"
    assert problem.text() == ("Unggahan menambahkan 2 tanda tangan; setiap pihak mengunggah tanda tangannya sendiri, "
                              "satu per satu.")


def test_key_usage_must_allow_signing(world: dict[str, Any], tmp_path: Path) -> None:
    from datetime import timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from tests.unit.delivery.support import load_ca

    ca = load_ca(world["ca"])
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "TLS")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1)).not_valid_after(now + timedelta(days=30))
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(ca.key, hashes.SHA256()))
    upload = sign_bast(world["issued"], signer_from(dev_ca.Issued(key, cert), tmp_path, "tls"), party=1)
    problem = refused(world, upload)
    assert problem.rule == "certificate" and problem.code == "certificate.key_usage"
    assert "key usage harus mencakup non-repudiation" in problem.text()
