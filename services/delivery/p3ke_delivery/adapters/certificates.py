"""Which certificates the service trusts, and which signatory each certificate belongs to.

Trust anchors: a PEM bundle (the government e-signature CA in production, the development CA locally).
Signatory mapping: a YAML file listing, for each signatory id of the agreement configuration, the
certificate(s) that are theirs:

    kind: signatory-certificates
    schema_version: 1
    development: false          # true only for files written by `p3ke bast dev-ca`
    certificates:
      - signatory_id: sig-kemnaker-kabarenbang
        subject: "CN=Ismail Pakaya,O=...,C=ID"      # RFC 4514, as the CA issued it
        issuer: "CN=...,O=...,C=ID"                  # optional
        serial: "1a2b3c"                             # optional, hex
        sha256: "..."                                # optional pin of one certificate

An entry matches a certificate when every field it gives is equal; it must give `sha256`, or
`subject` (with the chain to a trust anchor proving the subject), or `issuer` and `serial`.
A subject-only entry survives certificate renewal; a `sha256` pin does not. The mapping is
configuration of the same kind as the agreement (who signs), changed when a certificate changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml
from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509 as c_x509
from cryptography.hazmat.primitives import hashes

from p3ke_platform.settings import ConfigurationError


@dataclass(frozen=True)
class CertificateFacts:
    sha256: str
    subject: str
    issuer: str
    serial: str

    @classmethod
    def of(cls, cert: asn1_x509.Certificate) -> CertificateFacts:
        parsed = c_x509.load_der_x509_certificate(cert.dump())
        return cls(parsed.fingerprint(hashes.SHA256()).hex(), parsed.subject.rfc4514_string(),
                   parsed.issuer.rfc4514_string(), format(parsed.serial_number, "x"))


@dataclass(frozen=True)
class CertificateEntry:
    signatory_id: str
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    sha256: str | None = None

    def matches(self, cert: CertificateFacts) -> bool:
        checks = [(self.subject, cert.subject), (self.issuer, cert.issuer),
                  (self.serial and self.serial.lower().removeprefix("0x").lstrip("0"), cert.serial.lstrip("0")),
                  (self.sha256 and self.sha256.lower().replace(":", ""), cert.sha256)]
        return all(given == actual for given, actual in checks if given)


@dataclass(frozen=True)
class SignatoryCertificates:
    entries: tuple[CertificateEntry, ...]
    development: bool
    source: Path

    def signatories_of(self, cert: CertificateFacts) -> list[str]:
        return sorted({e.signatory_id for e in self.entries if e.matches(cert)})


def load_mapping(path: Path) -> SignatoryCertificates:
    where = f"P3KE_DELIVERY_SIGNATORY_CERTIFICATES: {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read ({exc.strerror or exc}); locally, "
                                 f"`p3ke bast dev-ca` writes one") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "signatory-certificates":
        raise ConfigurationError(f"{where}: needs `kind: signatory-certificates`")
    entries = []
    for i, item in enumerate(data.get("certificates") or []):
        if not isinstance(item, dict) or not item.get("signatory_id"):
            raise ConfigurationError(f"{where}: certificates.{i}: needs a signatory_id")
        unknown = set(item) - {"signatory_id", "subject", "issuer", "serial", "sha256"}
        if unknown:
            raise ConfigurationError(f"{where}: certificates.{i}: unknown key(s) {', '.join(sorted(unknown))}")
        entry = CertificateEntry(**{k: str(v) for k, v in item.items()})
        if not (entry.sha256 or entry.subject or (entry.issuer and entry.serial)):
            raise ConfigurationError(f"{where}: certificates.{i}: give sha256, subject, or issuer and serial")
        entries.append(entry)
    return SignatoryCertificates(tuple(entries), bool(data.get("development", False)), path)


def load_trust_anchors(path: Path) -> list[asn1_x509.Certificate]:
    where = f"P3KE_DELIVERY_TRUST_ANCHORS: {path}"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read ({exc.strerror or exc}); locally, "
                                 f"`p3ke bast dev-ca` writes one") from None
    anchors = []
    if pem.detect(raw):
        for kind, _, der in pem.unarmor(raw, multiple=True):
            if kind == "CERTIFICATE":
                anchors.append(asn1_x509.Certificate.load(der))
    else:
        anchors.append(asn1_x509.Certificate.load(raw))
    if not anchors:
        raise ConfigurationError(f"{where}: holds no certificate")
    return anchors


def is_development(cert: asn1_x509.Certificate) -> bool:
    from p3ke_delivery.adapters.dev_ca import DEV_MARK

    return DEV_MARK in CertificateFacts.of(cert).subject
