"""`p3ke bast dev-ca` and `p3ke bast sign`, as a signatory runs them."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import yaml
from pyhanko.pdf_utils.reader import PdfFileReader

from p3ke_delivery.adapters.bast_pdf import render
from p3ke_delivery.adapters.certificates import CertificateFacts, load_mapping, load_trust_anchors
from p3ke_platform.cli import main
from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2


def test_dev_ca_writes_keys_certificates_and_the_mapping(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("P3KE_AGREEMENT_INCLUDE_EXAMPLES", "true")
    assert main(["bast", "dev-ca", "--data-dir", str(tmp_path)]) == 0
    ca = tmp_path / "dev-ca"
    assert "DEVELOPMENT ONLY" in capsys.readouterr().out
    for sid in (SIG_1, SIG_2):
        assert (ca / f"{sid}.key.pem").stat().st_mode & 0o077 == 0
        assert (ca / f"{sid}.cert.pem").exists() and (ca / f"{sid}.p12").exists()
    mapping = load_mapping(ca / "signatory-certificates.yaml")
    assert mapping.development
    assert {e.signatory_id for e in mapping.entries} == {SIG_1, SIG_2}
    assert "DEVELOPMENT ONLY" in CertificateFacts.of(load_trust_anchors(ca / "ca.pem")[0]).subject
    assert main(["bast", "dev-ca", "--data-dir", str(tmp_path)]) == 2  # will not overwrite silently
    assert "--force" in capsys.readouterr().err


def test_dev_ca_is_refused_in_production(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    files = tmp_path / "files"
    files.mkdir()
    for name in ("ca.pem", "m.yaml", "k", "kek", "event.pem", "trust.yaml"):
        (files / name).write_text("placeholder\n")  # production start-up checks that the files exist
    for name, value in {"P3KE_ENV": "production",
                        "P3KE_DATABASE_URL": "postgresql+psycopg://x/y?sslmode=verify-full&sslrootcert=system",
                        "P3KE_AUTH_DEV_ISSUER": "false", "P3KE_AUTH_JWKS_URL": "https://idp/jwks",
                        "P3KE_KAFKA_SECURITY_PROTOCOL": "SSL", "P3KE_SUBJECT_HASH_KEY": "s" * 32,
                        "P3KE_EVENT_DEV_KEYS": "false", "P3KE_EVENT_SIGNING_KEY_FILE": str(files / "event.pem"),
                        "P3KE_EVENT_TRUST_FILE": str(files / "trust.yaml"),
                        "P3KE_DELIVERY_TRUST_ANCHORS": str(files / "ca.pem"),
                        "P3KE_DELIVERY_SIGNATORY_CERTIFICATES": str(files / "m.yaml"),
                        "P3KE_DELIVERY_SERVER_KEY_FILE": str(files / "k"), "P3KE_KEK_FILE": str(files / "kek"),
                        "P3KE_DELIVERY_FETCH_REVOCATION": "true"}.items():
        monkeypatch.setenv(name, value)
    assert main(["bast", "dev-ca", "--out", str(tmp_path / "ca")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not (tmp_path / "ca").exists()


def test_sign_with_pem_and_with_pkcs12(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    ca = tmp_path / "ca"
    assert main(["bast", "dev-ca", "--out", str(ca)]) == 0
    bast = tmp_path / "bast.pdf"
    bast.write_bytes(render(CONTENT))
    assert main(["bast", "sign", str(bast), "--party", "1", "--key", str(ca / f"{SIG_1}.key.pem"),
                 "--cert", str(ca / f"{SIG_1}.cert.pem"), "--chain", str(ca / "ca.pem"),
                 "--location", "Jakarta"]) == 0
    once = tmp_path / "bast-ttd-pihak-1.pdf"
    assert f"sha256: {hashlib.sha256(once.read_bytes()).hexdigest()}" in capsys.readouterr().out
    monkeypatch.setenv("MY_P12", "p3ke-dev")
    out = tmp_path / "final.pdf"
    assert main(["bast", "sign", str(once), "--party", "2", "--pkcs12", str(ca / f"{SIG_2}.p12"),
                 "--passphrase-env", "MY_P12", "-o", str(out)]) == 0
    reader = PdfFileReader(io.BytesIO(out.read_bytes()))
    assert [s.field_name for s in reader.embedded_signatures] == ["TTD_PIHAK_KESATU", "TTD_PIHAK_KEDUA"]
    assert out.read_bytes().startswith(once.read_bytes())

    assert main(["bast", "sign", str(out), "--party", "2", "--pkcs12", str(ca / f"{SIG_2}.p12"),
                 "--passphrase-env", "MY_P12"]) == 2
    assert "already signed" in capsys.readouterr().err
    assert main(["bast", "sign", str(bast), "--party", "2", "--pkcs12", str(ca / f"{SIG_2}.p12"),
                 "--passphrase-env", "NOT_SET_ANYWHERE"]) == 2
    assert main(["bast", "sign", str(bast), "--party", "2"]) == 2
    assert "--key and --cert, or --pkcs12" in capsys.readouterr().err


def test_mapping_matches_by_issuer_serial_or_pin(tmp_path: Path) -> None:
    ca = tmp_path / "ca"
    assert main(["bast", "dev-ca", "--out", str(ca)]) == 0
    raw = yaml.safe_load((ca / "signatory-certificates.yaml").read_text())
    entry = next(e for e in raw["certificates"] if e["signatory_id"] == SIG_2)
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((ca / f"{SIG_2}.cert.pem").read_bytes())
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives import serialization

    facts = CertificateFacts.of(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))
    assert facts.sha256 == entry["sha256"]
    for kept in (["issuer", "serial"], ["sha256"], ["subject", "issuer", "serial"], ["subject", "sha256"]):
        (tmp_path / "m.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
            {"signatory_id": SIG_2, **{k: entry[k] for k in kept}}]}))
        assert load_mapping(tmp_path / "m.yaml").signatories_of(facts) == [SIG_2]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
        {"signatory_id": SIG_2, "issuer": entry["issuer"], "serial": "01"}]}))
    assert load_mapping(tmp_path / "m.yaml").signatories_of(facts) == []
    # a subject name alone never identifies a certificate (tests/unit/delivery/test_signatory_mapping.py)
