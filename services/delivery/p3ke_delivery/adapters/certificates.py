"""Which certificates the service trusts, which signatory each certificate belongs to, and which
revocation lists it checks them against.

Trust anchors: a PEM bundle (the government e-signature CA in production, the development CA locally).
Signatory mapping: a YAML file listing, for each signatory id of the agreement configuration, the
certificate(s) that are theirs:

    kind: signatory-certificates
    schema_version: 1
    development: false          # true only for files written by `p3ke bast dev-ca`
    certificates:
      - signatory_id: sig-kemnaker-kabarenbang
        subject: "CN=Ismail Pakaya,O=...,C=ID"      # optional: for the reader, and checked too
        issuer: "CN=...,O=...,C=ID"                  # RFC 4514, as the CA wrote it
        serial: "1a2b3c"                             # hex, as `openssl x509 -serial` prints it
      - signatory_id: sig-kemenkopmk-deputi
        sha256: "..."                                # or: a pin of one certificate (its SHA-256 fingerprint)

An entry identifies one certificate: it must give `issuer` and `serial` (a CA never issues two
certificates with the same serial), or `sha256`; every field it gives must match. A subject name alone
is refused: the same CA can issue a second certificate with the same name to someone holding another
key, and that certificate would be taken for the signatory's. When a signatory's certificate is
renewed, the operator adds the new one (`p3ke bast mapping-entry`). The mapping is configuration of
the same kind as the agreement (who signs), changed when a certificate changes.

Revocation lists (`P3KE_DELIVERY_CRL_FILES`): CRLs the verifier is given besides what it fetches; read
again for every signature checked, so a newly published list counts at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from asn1crypto import crl as asn1_crl
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


SETTING = "P3KE_DELIVERY_SIGNATORY_CERTIFICATES"
KEYS = ("signatory_id", "subject", "issuer", "serial", "sha256")


_SEPARATOR = re.compile(r"(?<!\\)([,+])")  # an unescaped `,` or `+`
_TRAILING_SPACE = re.compile(r"(?<!\\)\s+$")  # unescaped spaces at the end of a value


def normal_name(rfc4514: str) -> str:
    """A distinguished name (RFC 4514 order, as `openssl x509 -noout -issuer -nameopt RFC2253` prints it) as
    `rfc4514_string()` writes it, so that spaces around `,` `+` `=` and escaping do not matter."""
    parts = []
    for part in _SEPARATOR.split(rfc4514.strip()):
        key, eq, value = part.partition("=")
        parts.append(part if part in (",", "+") else key.strip() + eq + _TRAILING_SPACE.sub("", value.lstrip()))
    try:
        return c_x509.Name.from_rfc4514_string("".join(parts)).rfc4514_string()
    except ValueError as exc:
        raise ValueError(f"'{rfc4514}' is not an RFC 4514 distinguished name ({exc or 'unreadable'})") from None


def normal_serial(serial: str) -> str:
    """Hex digits, lower case, no leading zeros: `0x00:1A:2b` -> `1a2b`."""
    digits = serial.strip().lower().removeprefix("0x").replace(":", "").replace(" ", "").lstrip("0")
    try:
        int(digits or "0", 16)
    except ValueError:
        raise ValueError(f"serial '{serial}' is not a hex number (as `openssl x509 -noout -serial` prints "
                         "it)") from None
    return digits or "0"


@dataclass(frozen=True)
class CertificateEntry:
    signatory_id: str
    subject: str | None = None
    issuer: str | None = None
    serial: str | None = None
    sha256: str | None = None

    @property
    def identifies_one_certificate(self) -> bool:
        return bool(self.sha256 or (self.issuer and self.serial))

    def matches(self, cert: CertificateFacts) -> bool:
        if not self.identifies_one_certificate:
            return False  # never by subject name alone
        checks = [(self.subject, cert.subject), (self.issuer, cert.issuer),
                  (self.serial, cert.serial.lstrip("0") or "0"), (self.sha256, cert.sha256)]
        return all(given == actual for given, actual in checks if given)


@dataclass(frozen=True)
class SignatoryCertificates:
    entries: tuple[CertificateEntry, ...]
    development: bool
    source: Path

    def signatories_of(self, cert: CertificateFacts) -> list[str]:
        return sorted({e.signatory_id for e in self.entries if e.matches(cert)})


def load_mapping(path: Path) -> SignatoryCertificates:
    where = f"{SETTING}: {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"{where}: cannot read ({exc.strerror or exc}); locally, "
                                 f"`p3ke bast dev-ca` writes one") from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(data, dict) or data.get("kind") != "signatory-certificates":
        raise ConfigurationError(f"{where}: needs `kind: signatory-certificates`")
    entries = [_entry(where, i, item) for i, item in enumerate(data.get("certificates") or [])]
    return SignatoryCertificates(tuple(entries), bool(data.get("development", False)), path)


def _entry(where: str, i: int, item: object) -> CertificateEntry:
    if not isinstance(item, dict) or not item.get("signatory_id"):
        raise ConfigurationError(f"{where}: certificates.{i}: needs a signatory_id")
    at = f"{where}: certificates.{i} ({item['signatory_id']})"
    unknown = set(item) - set(KEYS)
    if unknown:
        raise ConfigurationError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
    given = {k: str(v).strip() for k, v in item.items() if v not in (None, "")}
    try:
        for key in ("subject", "issuer"):
            if key in given:
                given[key] = normal_name(given[key])
        if "serial" in given:
            given["serial"] = normal_serial(given["serial"])
    except ValueError as exc:
        raise ConfigurationError(f"{at}: {exc}") from None
    if "sha256" in given:
        given["sha256"] = given["sha256"].lower().replace(":", "")
        if len(given["sha256"]) != 64 or any(c not in "0123456789abcdef" for c in given["sha256"]):
            raise ConfigurationError(f"{at}: sha256 must be the certificate's SHA-256 fingerprint (64 hex digits)")
    entry = CertificateEntry(**given)
    if not entry.identifies_one_certificate:
        raise ConfigurationError(
            f"{at}: nama subjek saja tidak mengidentifikasi satu sertifikat (CA yang sama dapat menerbitkan "
            f"sertifikat lain dengan nama yang sama); isikan issuer dan serial, atau sha256 / a subject name "
            f"alone does not identify one certificate (the same CA can issue another certificate with the same "
            f"name); give issuer and serial, or sha256 (`p3ke bast mapping-entry CERT --signatory ID` prints "
            f"the entry)")
    return entry


def mapping_entry(signatory_id: str, cert: CertificateFacts) -> dict[str, str]:
    """The mapping entry of one certificate: issuer + serial and its pin, the subject for the reader."""
    return {"signatory_id": signatory_id, "subject": cert.subject, "issuer": cert.issuer,
            "serial": cert.serial, "sha256": cert.sha256}


CRL_SETTING = "P3KE_DELIVERY_CRL_FILES"


def load_crls(paths: list[Path]) -> list[asn1_crl.CertificateList]:
    """The revocation lists in `paths` (DER or PEM, one or more per file); their signatures and dates are
    checked by the validator, against the CA that issued them."""
    lists = []
    for path in paths:
        where = f"{CRL_SETTING}: {path}"
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ConfigurationError(f"{where}: cannot read ({exc.strerror or exc}); locally, `p3ke bast dev-ca` "
                                     "publishes the development CA's list (a CA written before it had one: "
                                     "`p3ke bast dev-ca --force` replaces it)") from None
        try:
            if pem.detect(raw):
                found = [asn1_crl.CertificateList.load(der) for kind, _, der in pem.unarmor(raw, multiple=True)
                         if kind == "X509 CRL"]
            else:
                found = [asn1_crl.CertificateList.load(raw)]
            for item in found:
                _ = item["tbs_cert_list"]["issuer"].native  # parse now, not in the middle of a validation
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(f"{where}: not a certificate revocation list ({exc})") from None
        if not found:
            raise ConfigurationError(f"{where}: holds no certificate revocation list")
        lists += found
    return lists


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


def facts_of_file(path: Path) -> CertificateFacts:
    """The facts of the (first) certificate in a PEM or DER file."""
    return CertificateFacts.of(load_certificate(path))


def load_certificate(path: Path) -> asn1_x509.Certificate:
    raw = path.read_bytes()
    if pem.detect(raw):
        for kind, _, der in pem.unarmor(raw, multiple=True):
            if kind == "CERTIFICATE":
                return asn1_x509.Certificate.load(der)
        raise ValueError(f"{path} holds no certificate")
    return asn1_x509.Certificate.load(raw)


DEV_MARK = "DEVELOPMENT ONLY - NOT FOR PRODUCTION"
"""In the subject of every certificate the development CA issues (adapters/dev_ca.py)."""


def is_development(cert: asn1_x509.Certificate) -> bool:
    return DEV_MARK in CertificateFacts.of(cert).subject
