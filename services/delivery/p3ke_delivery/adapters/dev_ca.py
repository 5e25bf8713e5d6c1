"""A development certificate authority for BAST signatures. NEVER used in production.

In production the signatories hold certificates of the government e-signature CA and the service
trusts that CA. Locally `p3ke bast dev-ca` writes a throwaway CA and a certificate (with its private
key) for each signatory of the agreement, plus the mapping file that tells the service which
certificate belongs to which signatory. Every certificate it issues says DEVELOPMENT in its subject,
and the mapping file says `development: true`; the service refuses both in production.

Like a real CA it publishes a certificate revocation list, `ca.crl` (DER, RFC 5280), and every
certificate it issues names that list in its CRL Distribution Points; `p3ke bast revoke <cert>` adds a
certificate to it (`revoke`). The local delivery service reads this file on every signature it checks
(`P3KE_DELIVERY_CRL_FILES`, by default the development CA's), so a revoked signatory is refused at once.
The list is re-issued on each revocation and is valid as long as the CA: a development CA has no
publication schedule (a real CA's lists are valid for days, and the service then fetches fresh ones).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from p3ke_delivery.adapters.certificates import DEV_MARK, CertificateFacts
from p3ke_delivery.adapters.certificates import mapping_entry as entry_of

DOCUMENT_SIGNING = ObjectIdentifier("1.3.6.1.5.5.7.3.36")  # id-kp-documentSigning (RFC 9336)
MAPPING_NAME = "signatory-certificates.yaml"
CRL_NAME = "ca.crl"
REVOCATION_REASONS = {"unspecified": x509.ReasonFlags.unspecified, "key-compromise": x509.ReasonFlags.key_compromise,
                      "affiliation-changed": x509.ReasonFlags.affiliation_changed,
                      "superseded": x509.ReasonFlags.superseded,
                      "cessation-of-operation": x509.ReasonFlags.cessation_of_operation}


class DevCaError(ValueError):
    """The development CA cannot do what was asked; the message says why."""


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
          days: int = 365, not_before: datetime | None = None, crl_url: str | None = None) -> Issued:
    """A signing certificate for one person (key usage: digital signature + non-repudiation), naming the
    CA's revocation list `crl_url` in its CRL Distribution Points when given."""
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or datetime.now(UTC) - timedelta(minutes=5)
    builder = (
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
    )
    if crl_url:
        builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)], relative_name=None, reasons=None,
            crl_issuer=None)]), critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def crl_url(directory: Path) -> str:
    """Where the development CA in `directory` publishes its revocation list (a file: URI)."""
    return (directory / CRL_NAME).resolve().as_uri()


def write_crl(directory: Path, ca: Issued, revoked: list[x509.RevokedCertificate], *, number: int,
              now: datetime | None = None) -> Path:
    """Issue the CA's revocation list (all of `revoked`), valid until the CA expires, and publish it."""
    issued_at = (now or datetime.now(UTC)) - timedelta(seconds=5)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(ca.cert.subject).last_update(issued_at)
               .next_update(max(ca.cert.not_valid_after_utc, issued_at + timedelta(days=1)))
               .add_extension(x509.CRLNumber(number), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                              critical=False))
    for entry in revoked:
        builder = builder.add_revoked_certificate(entry)
    der = builder.sign(ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    target = directory / CRL_NAME
    temporary = directory / f".{CRL_NAME}.tmp"
    _write(temporary, der)
    temporary.replace(target)  # readers see the old list or the new one, never half of one
    return target


def load_ca(directory: Path) -> Issued:
    """The development CA written to `directory` by `write_dev_ca` (its key and certificate)."""
    try:
        key = serialization.load_pem_private_key((directory / "ca-key.pem").read_bytes(), None)
        cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    except OSError as exc:
        raise DevCaError(f"{directory} holds no development CA ({exc.strerror or exc}); `p3ke bast dev-ca` "
                         "writes one") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise DevCaError(f"{directory / 'ca-key.pem'} is not the key of a development CA")
    return Issued(key, cert)


@dataclass(frozen=True)
class Revocation:
    serial: str
    revoked_at: datetime
    reason: str
    crl: Path
    already: bool


def revoke(directory: Path, cert: x509.Certificate, *, reason: str = "unspecified",
           at: datetime | None = None) -> Revocation:
    """Add `cert` (issued by the development CA in `directory`) to the CA's revocation list."""
    if reason not in REVOCATION_REASONS:
        raise DevCaError(f"unknown revocation reason {reason!r}; one of {', '.join(REVOCATION_REASONS)}")
    ca = load_ca(directory)
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        raise DevCaError(f"the certificate (serial {cert.serial_number:x}, issuer '{cert.issuer.rfc4514_string()}') "
                         f"was not issued by the development CA in {directory}") from None
    revoked, number = [], 1
    current = directory / CRL_NAME
    if current.exists():
        old = x509.load_der_x509_crl(current.read_bytes())
        revoked = list(old)
        number_ext = old.extensions.get_extension_for_class(x509.CRLNumber)
        number = number_ext.value.crl_number + 1
    hex_serial = format(cert.serial_number, "x")
    earlier = next((r for r in revoked if r.serial_number == cert.serial_number), None)
    if earlier is not None:
        return Revocation(hex_serial, earlier.revocation_date_utc, _reason_of(earlier), current, True)
    when = (at or datetime.now(UTC)).replace(microsecond=0)
    entry = (x509.RevokedCertificateBuilder().serial_number(cert.serial_number).revocation_date(when)
             .add_extension(x509.CRLReason(REVOCATION_REASONS[reason]), critical=False).build())
    path = write_crl(directory, ca, [*revoked, entry], number=number, now=max(when, datetime.now(UTC)))
    return Revocation(hex_serial, when, reason, path, False)


def _reason_of(entry: x509.RevokedCertificate) -> str:
    try:
        flag = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return "unspecified"
    return next((name for name, value in REVOCATION_REASONS.items() if value == flag), flag.name)


def mapping_entry(signatory_id: str, cert: x509.Certificate) -> dict[str, str]:
    der = cert.public_bytes(serialization.Encoding.DER)
    return entry_of(signatory_id, CertificateFacts.of(asn1_x509.Certificate.load(der)))


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
    """Write the CA, its (empty) revocation list, one key + certificate (+ PKCS#12) per signatory, and the
    mapping file to `out`."""
    out.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca = create_ca()
    _write(out / "ca.pem", ca.cert_pem())
    _write(out / "ca-key.pem", ca.key_pem(), secret=True)
    entries = []
    written = {"ca": out / "ca.pem", "crl": write_crl(out, ca, [], number=1)}
    for sig in signatories:
        org = sig.acting_for if len(sig.acting_for) <= 64 else sig.org
        issued = issue(ca, common_name=sig.name, org=org, unit=DEV_MARK, title=sig.position, days=days,
                       crl_url=crl_url(out))
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
