"""Art. 6: a BAST signature counts only by the signatory's own, unrevoked certificate.

The development CA publishes a revocation list and revokes with `p3ke bast revoke`; the verifier refuses a
revoked certificate (Indonesian first); signatories are mapped to certificates by issuer + serial or a
SHA-256 pin, never by subject name alone; production refuses to start without hard revocation checking.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from p3ke_delivery.adapters import dev_ca
from p3ke_delivery.adapters.bast_pdf import render
from p3ke_delivery.adapters.certificates import CertificateFacts, load_crls, load_mapping, load_trust_anchors
from p3ke_delivery.adapters.pdf_signatures import verify_upload
from p3ke_delivery.adapters.signing import sign_bast
from p3ke_delivery.config import DeliverySettings
from p3ke_platform.cli import main
from p3ke_platform.refusal import Refused
from p3ke_platform.settings import ConfigurationError, load_settings
from tests.unit.delivery.support import CONTENT, SIG_1, SIG_2, load_ca, make_dev_ca, signatories, signer


@pytest.fixture
def ca(tmp_path: Path) -> Path:
    make_dev_ca(tmp_path / "ca")
    return tmp_path / "ca"


def verify(ca: Path, upload: bytes, issued: bytes, **kwargs: Any) -> Any:
    return verify_upload(upload, issued=issued, current=issued, signed_fields=set(),
                         trust_anchors=load_trust_anchors(ca / "ca.pem"), now=kwargs.pop("now", datetime.now(UTC)),
                         crls=load_crls([ca / "ca.crl"]), **kwargs)


def facts(cert: x509.Certificate) -> CertificateFacts:
    return CertificateFacts.of(asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)))


def namesake(ca: Path, like: str = SIG_1) -> dev_ca.Issued:
    """A second certificate from the same CA, with exactly the subject name of `like`'s, another key."""
    info = next(s for s in signatories() if s.id == like)
    org = info.acting_for if len(info.acting_for) <= 64 else info.org
    return dev_ca.issue(load_ca(ca), common_name=info.name, org=org, unit=dev_ca.DEV_MARK, title=info.position,
                        crl_url=dev_ca.crl_url(ca))


def test_the_dev_ca_publishes_a_revocation_list_its_certificates_name(ca: Path) -> None:
    crl = x509.load_der_x509_crl((ca / "ca.crl").read_bytes())
    ca_cert = x509.load_pem_x509_certificate((ca / "ca.pem").read_bytes())
    assert crl.is_signature_valid(ca_cert.public_key()) and len(crl) == 0  # type: ignore[arg-type]
    cert = x509.load_pem_x509_certificate((ca / f"{SIG_1}.cert.pem").read_bytes())
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [n.value for p in points for n in p.full_name or []] == [(ca / "ca.crl").resolve().as_uri()]


def test_a_certificate_revoked_by_the_dev_ca_is_refused(ca: Path, capsys: pytest.CaptureFixture[str]) -> None:
    issued = render(CONTENT)
    upload = sign_bast(issued, signer(ca, SIG_1), party=1)
    assert verify(ca, upload, issued).party == 1  # good before the revocation

    cert_file = ca / f"{SIG_1}.cert.pem"
    assert main(["bast", "revoke", str(cert_file), "--ca-dir", str(ca), "--reason", "key-compromise",
                 "--json"]) == 0
    done = yaml.safe_load(capsys.readouterr().out)
    serial = format(x509.load_pem_x509_certificate(cert_file.read_bytes()).serial_number, "x")
    assert done["serial"] == serial and not done["already_revoked"]
    assert [format(r.serial_number, "x") for r in x509.load_der_x509_crl((ca / "ca.crl").read_bytes())] == [serial]

    with pytest.raises(Refused) as info:
        verify(ca, upload, issued)
    problem = info.value
    assert (problem.status, problem.rule) == (422, "certificate-revoked")
    revoked_at = datetime.fromisoformat(done["revoked_at"]).isoformat(timespec="seconds")
    assert problem.code == "certificate.revoked_on"
    assert problem.text().startswith(f"Sertifikat penandatangan (serial {serial}, diterbitkan oleh ")
    assert f"telah dicabut (revoked) pada {revoked_at} (key_compromise)" in problem.text()
    assert problem.text("en").startswith(f"the signatory's certificate (serial {serial}, issued by ")
    assert f"was revoked on {revoked_at}" in problem.text("en") and "BAST stays unsigned" in problem.text("en")
    assert problem.reason == f"{problem.text()} / {problem.text('en')}"  # the audit log keeps both
    assert "Andie" not in problem.reason  # no personal name in a reason that goes to the audit log

    # revoking again changes nothing; the other signatory is unaffected
    assert main(["bast", "revoke", str(cert_file), "--ca-dir", str(ca)]) == 0
    assert "already revoked" in capsys.readouterr().out
    assert len(x509.load_der_x509_crl((ca / "ca.crl").read_bytes())) == 1
    assert verify(ca, sign_bast(issued, signer(ca, SIG_2), party=2), issued).party == 2


def test_revoke_refuses_a_certificate_of_another_ca(ca: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    rogue = dev_ca.issue(dev_ca.create_ca("Rogue CA"), common_name="Andie Megantara", org="kemenkopmk")
    (tmp_path / "rogue.pem").write_bytes(rogue.cert_pem())
    assert main(["bast", "revoke", str(tmp_path / "rogue.pem"), "--ca-dir", str(ca)]) == 2
    assert "was not issued by the development CA" in capsys.readouterr().err
    assert main(["bast", "revoke", str(tmp_path / "rogue.pem"), "--ca-dir", str(tmp_path / "none")]) == 2
    assert "holds no development CA" in capsys.readouterr().err


def test_a_stale_revocation_list_leaves_the_status_unknown(ca: Path) -> None:
    """A list past its next update proves nothing: the signature is refused, not accepted."""
    authority = load_ca(ca)
    then = datetime.now(UTC) - timedelta(days=30)
    stale = (x509.CertificateRevocationListBuilder().issuer_name(authority.cert.subject).last_update(then)
             .next_update(then + timedelta(days=1)).add_extension(x509.CRLNumber(7), critical=False)
             .sign(authority.key, hashes.SHA256()))
    (ca / "ca.crl").write_bytes(stale.public_bytes(serialization.Encoding.DER))
    issued = render(CONTENT)
    with pytest.raises(Refused) as info:
        verify(ca, sign_bast(issued, signer(ca, SIG_1), party=1), issued)
    assert info.value.rule == "revocation-unknown"
    assert info.value.code == "certificate.revocation_unknown"
    assert info.value.text().startswith("Status pencabutan sertifikat penandatangan")
    assert info.value.text("en").startswith("the revocation status of the signatory's certificate")


def test_require_without_any_revocation_source_is_a_configuration_problem(ca: Path) -> None:
    issued = render(CONTENT)
    upload = sign_bast(issued, signer(ca, SIG_1), party=1)
    with pytest.raises(Refused) as info:
        verify_upload(upload, issued=issued, current=issued, signed_fields=set(),
                      trust_anchors=load_trust_anchors(ca / "ca.pem"), now=datetime.now(UTC), revocation_mode="require")
    assert (info.value.status, info.value.rule) == (503, "configuration")


def test_a_subject_only_mapping_is_refused(ca: Path, tmp_path: Path) -> None:
    entry = next(e for e in yaml.safe_load((ca / "signatory-certificates.yaml").read_text())["certificates"]
                 if e["signatory_id"] == SIG_1)
    mapping = tmp_path / "subject-only.yaml"
    for kept in (["subject"], ["subject", "issuer"], ["subject", "serial"]):
        mapping.write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
            {"signatory_id": SIG_1, **{k: entry[k] for k in kept}}]}))
        with pytest.raises(ConfigurationError) as info:
            load_mapping(mapping)
        message = str(info.value)
        assert message.startswith(f"P3KE_DELIVERY_SIGNATORY_CERTIFICATES: {mapping}: certificates.0 ({SIG_1}): ")
        assert "nama subjek saja tidak mengidentifikasi satu sertifikat" in message
        assert "a subject name alone does not identify one certificate" in message
        assert "give issuer and serial, or sha256" in message


def test_a_second_certificate_with_the_same_name_is_not_the_signatorys(ca: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    original = x509.load_pem_x509_certificate((ca / f"{SIG_1}.cert.pem").read_bytes())
    second = namesake(ca).cert
    assert second.subject == original.subject and second.issuer == original.issuer
    assert second.serial_number != original.serial_number and second.public_key() != original.public_key()

    dev_mapping = load_mapping(ca / "signatory-certificates.yaml")
    assert dev_mapping.signatories_of(facts(original)) == [SIG_1]
    assert dev_mapping.signatories_of(facts(second)) == []
    # an operator's entry, as `p3ke bast mapping-entry` prints it: issuer + serial (and the pin)
    assert main(["bast", "mapping-entry", str(ca / f"{SIG_1}.cert.pem"), "--signatory", SIG_1]) == 0
    [entry] = yaml.safe_load(capsys.readouterr().out)
    assert entry["issuer"] == facts(original).issuer and entry["serial"] == format(original.serial_number, "x")
    for kept in (["issuer", "serial"], ["sha256"], ["subject", "issuer", "serial"]):
        (tmp_path / "m.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
            {"signatory_id": SIG_1, **{k: entry[k] for k in kept}}]}))
        mapping = load_mapping(tmp_path / "m.yaml")
        assert mapping.signatories_of(facts(original)) == [SIG_1]
        assert mapping.signatories_of(facts(second)) == [], kept


def test_mapping_entries_are_read_as_operators_write_them(ca: Path, tmp_path: Path) -> None:
    cert = x509.load_pem_x509_certificate((ca / f"{SIG_2}.cert.pem").read_bytes())
    serial = f"{cert.serial_number:040X}"  # upper case, zero-padded, with colons: as openssl prints it
    issuer = cert.issuer.rfc4514_string().replace(",", ", ")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
        {"signatory_id": SIG_2, "issuer": issuer, "serial": ":".join(serial[i:i + 2] for i in range(0, 40, 2))},
        {"signatory_id": SIG_1, "sha256": ":".join(f"{b:02X}" for b in cert.fingerprint(hashes.SHA256()))}]}))
    assert load_mapping(tmp_path / "m.yaml").signatories_of(facts(cert)) == [SIG_1, SIG_2]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
        {"signatory_id": SIG_2, "issuer": issuer, "serial": "not-hex"}]}))
    with pytest.raises(ConfigurationError, match="is not a hex number"):
        load_mapping(tmp_path / "bad.yaml")


# -- production settings ------------------------------------------------------------------------------


@pytest.fixture
def production(tmp_path: Path) -> dict[str, Any]:
    for name in ("event.pem", "trust.yaml", "ca.pem", "sig.yaml", "key", "kek", "ca.crl"):
        (tmp_path / name).write_text("placeholder\n")  # production start-up checks that the files exist
    return {"env": "production", "database_url": "postgresql+psycopg://x/y?sslmode=verify-full&sslrootcert=system",
            "auth_dev_issuer": False, "auth_jwks_url": "https://idp.example/jwks", "kafka_security_protocol": "SSL",
            "subject_hash_key": "a-real-secret-of-enough-length", "event_dev_keys": False,
            "event_signing_key_file": tmp_path / "event.pem", "event_trust_file": tmp_path / "trust.yaml",
            "delivery_trust_anchors": tmp_path / "ca.pem", "delivery_signatory_certificates": tmp_path / "sig.yaml",
            "delivery_server_key_file": tmp_path / "key", "kek_file": tmp_path / "kek"}


def refusal(base: dict[str, Any], **given: Any) -> str:
    with pytest.raises(ConfigurationError) as info:
        load_settings(DeliverySettings, **{**base, **given})
    return str(info.value)


def test_production_refuses_to_start_without_hard_fail_revocation(production: dict[str, Any], tmp_path: Path) -> None:
    soft = refusal(production, delivery_revocation_mode="soft-fail", delivery_fetch_revocation=True)
    assert "P3KE_DELIVERY_REVOCATION_MODE: soft-fail menerima tanda tangan" in soft
    assert "production needs require (or hard-fail)" in soft
    nothing = refusal(production)  # the defaults: require, but nothing to learn a status from
    assert "P3KE_DELIVERY_FETCH_REVOCATION or P3KE_DELIVERY_CRL_FILES: tidak ada sumber CRL/OCSP" in nothing
    assert "P3KE_DELIVERY_REVOCATION_MODE" not in nothing
    missing = refusal(production, delivery_crl_files=f"{tmp_path / 'ca.crl'},/nonexistent/mirror.crl")
    assert "P3KE_DELIVERY_CRL_FILES: /nonexistent/mirror.crl is not a readable file" in missing

    fetching = load_settings(DeliverySettings, **production, delivery_fetch_revocation=True)
    assert fetching.delivery_revocation_mode == "require" and fetching.crl_paths == []
    files = load_settings(DeliverySettings, **production, delivery_revocation_mode="hard-fail",
                          delivery_crl_files=str(tmp_path / "ca.crl"))
    assert files.crl_paths == [tmp_path / "ca.crl"]


def test_development_checks_the_dev_ca_revocation_list_by_default(tmp_path: Path) -> None:
    local = load_settings(DeliverySettings, data_dir=tmp_path)
    assert local.delivery_revocation_mode == "require"
    assert local.crl_paths == [tmp_path / "dev-ca" / "ca.crl"]
    own = load_settings(DeliverySettings, data_dir=tmp_path, delivery_trust_anchors=tmp_path / "x.pem")
    assert own.crl_paths == []  # another CA: its lists are given, or fetched


def test_production_start_up_refuses_a_subject_only_mapping(production: dict[str, Any], ca: Path,
                                                            tmp_path: Path) -> None:
    from p3ke_delivery.bootstrap import SERVICE
    from p3ke_platform.service import Runtime

    entry = yaml.safe_load((ca / "signatory-certificates.yaml").read_text())["certificates"][0]
    (tmp_path / "sig.yaml").write_text(yaml.safe_dump({"kind": "signatory-certificates", "certificates": [
        {"signatory_id": entry["signatory_id"], "subject": entry["subject"]}]}))
    settings = load_settings(DeliverySettings, **production, delivery_fetch_revocation=True, service="delivery")
    context = Runtime(SERVICE, settings).context
    with pytest.raises(ConfigurationError, match="a subject name alone does not identify one certificate"):
        _ = context.signatory_certificates  # what `check()` loads at start-up in production


def test_a_missing_revocation_list_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as info:
        load_crls([tmp_path / "dev-ca" / "ca.crl"])
    assert str(info.value).startswith(f"P3KE_DELIVERY_CRL_FILES: {tmp_path / 'dev-ca' / 'ca.crl'}: cannot read")
    assert "`p3ke bast dev-ca --force`" in str(info.value)
    (tmp_path / "junk.crl").write_bytes(b"not a list")
    with pytest.raises(ConfigurationError, match="not a certificate revocation list"):
        load_crls([tmp_path / "junk.crl"])
