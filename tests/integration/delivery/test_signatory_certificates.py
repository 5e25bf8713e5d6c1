"""Art. 6 through the API, on SQLite and PostgreSQL: a BAST signed with a revoked certificate, or with a
second certificate that only shares the signatory's name, is refused with a 4xx and the reason, audited,
and the BAST stays unsigned; a mapping by subject name alone is refused; production does not start
without hard revocation checking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography import x509

from p3ke_delivery.adapters import dev_ca
from p3ke_delivery.adapters.signing import sign_bast
from p3ke_platform.cli import main
from tests.integration.delivery.conftest import Harness
from tests.unit.delivery.support import SIG_1, SIG_2, load_ca, signatories, signer_from


def refused(h: Harness, handover_id: str, response: object, status: int, rule: str, *words: str) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert response.headers["X-P3KE-Refusal"] == rule  # type: ignore[attr-defined]
    reason: str = response.json()["detail"]  # type: ignore[attr-defined]
    for word in words:
        assert word in reason, reason
    last = h.access(handover_id, "denied")[-1]
    # the audit log keeps the catalogue message in both languages: "Indonesian / English"
    assert last["reason"].startswith(f"{reason} / ") and (last["action"], last["resource_type"]) == ("upload", "bast")
    return reason


def unsigned(h: Harness, handover_id: str) -> None:
    view = h.get(handover_id)
    assert view["status"] == "awaiting-signatures" and view["signatures"] == [], view
    assert h.events("p3ke.handover-signed.v1") == []


def test_a_revoked_signatory_certificate_is_refused(harness: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    h = harness
    handover_id = h.open_handover(rows=20)
    issued = h.bast(handover_id)
    signed = h.signed(issued, SIG_1, 1)  # signed while the certificate was good

    cert_file = h.ca / f"{SIG_1}.cert.pem"
    assert main(["bast", "revoke", str(cert_file), "--data-dir", str(h.data), "--reason", "key-compromise"]) == 0
    assert "revoked: serial" in capsys.readouterr().out
    serial = format(x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number, "x")

    reason = refused(h, handover_id, h.upload(handover_id, signed, "signatory-1"), 422, "certificate-revoked",
                     f"Sertifikat penandatangan (serial {serial}, diterbitkan oleh ", "telah dicabut (revoked) pada ",
                     "Tanda tangani ulang dengan sertifikat yang tidak dicabut")
    assert reason.startswith("Sertifikat penandatangan") and "Andie" not in reason
    unsigned(h, handover_id)

    # the other party's signatory is not affected
    other = h.upload(handover_id, h.signed(issued, SIG_2, 2), "signatory-2")
    assert other.status_code == 201 and other.json()["status"] == "partially-signed", other.text


def test_a_second_certificate_with_the_signatorys_name_is_refused(harness: Harness) -> None:
    h = harness
    handover_id = h.open_handover(rows=20)
    issued = h.bast(handover_id)
    info = next(s for s in signatories() if s.id == SIG_1)
    org = info.acting_for if len(info.acting_for) <= 64 else info.org
    second = dev_ca.issue(load_ca(h.ca), common_name=info.name, org=org, unit=dev_ca.DEV_MARK, title=info.position)
    original = x509.load_pem_x509_certificate((h.ca / f"{SIG_1}.cert.pem").read_bytes())
    assert (second.cert.subject, second.cert.issuer) == (original.subject, original.issuer)
    assert second.cert.serial_number != original.serial_number
    upload = sign_bast(issued, signer_from(second, h.data, "namesake", h.ca / "ca.pem"), party=1)

    # an operator's mapping by subject name alone (accepted before): refused, naming the setting and the fix
    dev_mapping = h.ca / dev_ca.MAPPING_NAME
    kept = dev_mapping.read_text()
    raw = yaml.safe_load(kept)
    dev_mapping.write_text(yaml.safe_dump({**raw, "certificates": [
        {"signatory_id": e["signatory_id"], "subject": e["subject"]} for e in raw["certificates"]]}))
    try:
        refused(h, handover_id, h.upload(handover_id, upload, "signatory-1"), 503, "configuration",
                "P3KE_DELIVERY_SIGNATORY_CERTIFICATES", "nama subjek saja tidak mengidentifikasi satu sertifikat",
                "a subject name alone does not identify one certificate", "give issuer and serial, or sha256")
        unsigned(h, handover_id)
    finally:
        dev_mapping.write_text(kept)
        h.ctx.__dict__.pop("signatory_certificates", None)  # the context loads the mapping once

    # the mapping by issuer + serial and pin: the namesake is nobody's signatory
    refused(h, handover_id, h.upload(handover_id, upload, "signatory-1"), 403, "wrong-signer",
            f"serial {second.cert.serial_number:x}", "bukan sertifikat penanda tangan mana pun dalam perjanjian")
    unsigned(h, handover_id)
    accepted = h.upload(handover_id, h.signed(issued, SIG_1, 1), "signatory-1")
    assert accepted.status_code == 201, accepted.text


def test_production_refuses_to_start_without_hard_fail_revocation(tmp_path: Path) -> None:
    """`python -m p3ke_delivery api` in production stops before serving, naming the setting."""
    for name in ("event.pem", "trust.yaml", "ca.pem", "sig.yaml", "key"):
        (tmp_path / name).write_text("placeholder\n")
    env = {**{k: v for k, v in os.environ.items() if k in ("PATH", "PYTHONPATH")}, "P3KE_ENV": "production",
           "P3KE_DATABASE_URL": "postgresql+psycopg://p3ke@db/p3ke?sslmode=verify-full&sslrootcert=system",
           "P3KE_AUTH_DEV_ISSUER": "false", "P3KE_AUTH_JWKS_URL": "https://idp.example/jwks",
           "P3KE_KAFKA_SECURITY_PROTOCOL": "SSL", "P3KE_SUBJECT_HASH_KEY": "a-real-secret-of-enough-length",
           "P3KE_EVENT_DEV_KEYS": "false", "P3KE_EVENT_SIGNING_KEY_FILE": str(tmp_path / "event.pem"),
           "P3KE_EVENT_TRUST_FILE": str(tmp_path / "trust.yaml"),
           "P3KE_DELIVERY_TRUST_ANCHORS": str(tmp_path / "ca.pem"),
           "P3KE_DELIVERY_SIGNATORY_CERTIFICATES": str(tmp_path / "sig.yaml"),
           "P3KE_DELIVERY_SERVER_KEY_FILE": str(tmp_path / "key"),
           "P3KE_DELIVERY_REVOCATION_MODE": "soft-fail", "P3KE_DELIVERY_FETCH_REVOCATION": "false"}
    run = subprocess.run([sys.executable, "-m", "p3ke_delivery", "api"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert "unsafe production configuration" in run.stderr
    assert "P3KE_DELIVERY_REVOCATION_MODE: soft-fail menerima tanda tangan" in run.stderr
    assert "P3KE_DELIVERY_FETCH_REVOCATION or P3KE_DELIVERY_CRL_FILES" in run.stderr
