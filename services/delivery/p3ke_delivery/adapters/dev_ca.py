"""A development certificate authority for BAST signatures. NEVER used in production.

In production the signatories hold certificates of the government e-signature CA and the service
trusts that CA. Locally `p3ke bast dev-ca` writes a throwaway CA and a certificate (with its private
key) for each signatory of the agreement, plus the mapping file that tells the service which
certificate belongs to which signatory. Every certificate it issues says DEVELOPMENT in its subject,
and the mapping file says `development: true`; the service refuses both in production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

DEV_MARK = "DEVELOPMENT ONLY - NOT FOR PRODUCTION"
DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)
MAPPING_NAME = "signatory-certificates.yaml"


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str, org: str, unit: str | None = None, title: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, org[:64])]
    if unit:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64]))
    if title:
        attrs.append(x509.NameAttribute(NameOID.TITLE, title[:64]))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]))
    return x509.Name(attrs)


def create_ca(common_name: str = "P3KE Development CA", *, days: int = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC) - timedelta(minutes=5)
    name = _name(common_name, "P3KE local development", DEV_MARK)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def issue(ca: Issued, *, common_name: str, org: str, unit: str | None = None, title: str | None = None,
          days: int = 365, not_before: datetime | None = None) -> Issued:
    """A signing certificate for one person (key usage: digital signature + non-repudiation)."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    cert = (
        x509.CertificateBuilder().subject_name(_name(common_name, org, unit, title))
        .issuer_name(ca.cert.subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, DOCUMENT_SIGNING]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(key, cert)


def mapping_entry(signatory_id: str, cert: x509.Certificate) -> dict[str, str]:
    return {"signatory_id": signatory_id, "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(), "serial": format(cert.serial_number, "x"),
            "sha256": cert.fingerprint(hashes.SHA256()).hex()}


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


@dataclass(frozen=True)
class SignatoryInfo:
    id: str
    party: int
    org: str
    name: str
    position: str
    acting_for: str


def write_dev_ca(out: Path, signatories: list[SignatoryInfo], *, days: int = 365,
                 p12_password: bytes = b"p3ke-dev") -> dict[str, Path]:
    """Write the CA, one key + certificate (+ PKCS#12) per signatory, and the mapping file to `out`."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = create_ca()
    _write(out / "ca.pem", ca.cert_pem())
    _write(out / "ca-key.pem", ca.key_pem(), secret=True)
    entries = []
    written = {"ca": out / "ca.pem"}
    for sig in signatories:
        org = sig.acting_for if len(sig.acting_for) <= 64 else sig.org
        issued = issue(ca, common_name=sig.name, org=org, unit=DEV_MARK, title=sig.position, days=days)
        _write(out / f"{sig.id}.key.pem", issued.key_pem(), secret=True)
        _write(out / f"{sig.id}.cert.pem", issued.cert_pem())
        p12 = pkcs12.serialize_key_and_certificates(
            sig.id.encode(), issued.key, issued.cert, [ca.cert],
            serialization.BestAvailableEncryption(p12_password))
        _write(out / f"{sig.id}.p12", p12, secret=True)
        entries.append(mapping_entry(sig.id, issued.cert))
        written[sig.id] = out / f"{sig.id}.cert.pem"
    mapping = {"kind": "signatory-certificates", "schema_version": 1, "development": True,
               "note": f"{DEV_MARK}: written by `p3ke bast dev-ca`",
               "certificates": entries}
    _write(out / MAPPING_NAME, yaml.safe_dump(mapping, sort_keys=False, allow_unicode=True).encode())
    written["mapping"] = out / MAPPING_NAME
    return written
