"""Verify an uploaded, signed BAST with pyHanko: exactly one new, valid, trusted PAdES signature,
added as an incremental update over the BAST as the service holds it, changing nothing but its own
signature field.

What "the signed content is exactly the BAST issued" means here, byte for byte:
1. the upload starts with the current version (the BAST as issued, plus any signature already
   accepted), so every earlier byte is identical;
2. the new signature covers its whole revision, which is the last one (nothing appended after it);
3. pyHanko's difference analysis from the issued revision to the end finds only signature form
   filling in the two BAST fields (no changed text, pages, annotations or other objects);
4. every earlier signature is still intact and valid.
Each failure raises `Refused` with a reason that says which of these broke and what to do, a message of the
`delivery` catalogue (Indonesian unless English is asked for).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from p3ke_delivery.adapters.certificates import CertificateFacts
from p3ke_delivery.domain.messages import M
from p3ke_delivery.domain.model import FIELD_PARTY, PARTY_NAMES, SIGNATURE_FIELDS
from p3ke_platform.refusal import Message, Refused

UNPROCESSABLE = 422
CONFLICT = 409


@dataclass(frozen=True)
class NewSignature:
    field: str
    party: int
    certificate: asn1_x509.Certificate
    facts: CertificateFacts
    signed_at: datetime | None
    revision: int


def _quiet() -> None:
    """pyHanko logs each failed path validation at WARNING, with the certificate's subject and a
    traceback; the refusal reason already says what failed, so keep only its errors."""
    import logging

    for name in ("pyhanko", "pyhanko_certvalidator"):
        logging.getLogger(name).setLevel(logging.ERROR)


def original_revision(pdf: bytes) -> bytes:
    """The bytes of a PDF's first revision (up to and including its first end-of-file marker)."""
    end = pdf.find(b"%%EOF")
    if end < 0:
        return pdf
    end += 5
    while end < len(pdf) and pdf[end:end + 1] in (b"\r", b"\n"):
        end += 1
    return pdf[:end]


def _reader(pdf: bytes) -> object:
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader

    if not pdf.lstrip()[:5] == b"%PDF-":
        raise Refused(UNPROCESSABLE, M("signature.not_pdf"), rule="not-a-pdf")
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError) as exc:
        raise Refused(UNPROCESSABLE, M("signature.unreadable_pdf", error=type(exc).__name__),
                      rule="not-a-pdf") from None


def _label(field: str) -> Message:
    party = FIELD_PARTY.get(field)
    return M("signature.label.party", party=PARTY_NAMES[party], field=field) if party else M(
        "signature.label.field", field=field)


def _trust_refusal(status: object, facts: CertificateFacts, cert: asn1_x509.Certificate, now: datetime) -> Refused:
    """Why the signer's certificate is not trusted, as the refusal to raise."""
    reason = _trust_reason(status, facts, cert, now)
    return reason if isinstance(reason, Refused) else Refused(UNPROCESSABLE, reason, rule="certificate")


def _trust_reason(status: object, facts: CertificateFacts, cert: asn1_x509.Certificate,
                  now: datetime) -> Message | Refused:
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

    indic = status.trust_problem_indic  # type: ignore[attr-defined]
    who = {"subject": facts.subject, "serial": facts.serial}
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    not_before = cert["tbs_certificate"]["validity"]["not_before"].native
    if now > not_after or indic in (AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, AdESIndeterminate.EXPIRED):
        return M("certificate.expired", **who, at=not_after.isoformat(timespec="seconds"))
    if now < not_before or indic in (AdESIndeterminate.NOT_YET_VALID, AdESFailure.NOT_YET_VALID):
        return M("certificate.not_yet_valid", **who, at=not_before.isoformat(timespec="seconds"))
    revoked = getattr(status, "revocation_details", None)
    if revoked is not None or indic in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE,
                                        AdESFailure.REVOKED):
        return Refused(UNPROCESSABLE, revoked_reason(facts, revoked), rule="certificate-revoked")
    if indic is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return M("certificate.untrusted_chain", **who, issuer=facts.issuer)
    if indic in (AdESIndeterminate.SIG_CONSTRAINTS_FAILURE, AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE):
        return M("certificate.key_usage", **who)
    if indic is AdESIndeterminate.TRY_LATER:
        return Refused(UNPROCESSABLE, M("certificate.revocation_unknown", serial=facts.serial, issuer=facts.issuer),
                       rule="revocation-unknown")
    name = getattr(indic, "name", "no path to a trust anchor")
    return M("certificate.not_trusted", **who, indication=name)


def revoked_reason(facts: CertificateFacts, details: object | None) -> Message:
    """Why a signature by a revoked certificate is refused (the serial and issuer, no personal name)."""
    when = getattr(details, "revocation_date", None)
    reason = getattr(getattr(details, "revocation_reason", None), "native", None)
    why = f" ({reason})" if reason and reason != "unspecified" else ""
    dated = {"at": when.isoformat(timespec="seconds")} if when else {}
    suffix = "_on" if when else ""
    if getattr(details, "ca_revoked", False):
        return M(f"certificate.ca_revoked{suffix}", serial=facts.serial, why=why, **dated)
    return M(f"certificate.revoked{suffix}", serial=facts.serial, issuer=facts.issuer, why=why, **dated)


def verify_upload(uploaded: bytes, *, issued: bytes, current: bytes, signed_fields: set[str],
                  trust_anchors: list[asn1_x509.Certificate], now: datetime,
                  revocation_mode: str = "require", allow_fetching: bool = False,
                  crls: Sequence[asn1_crl.CertificateList] = ()) -> NewSignature:
    """Check `uploaded` against the BAST as `issued` and as signed so far (`current`).

    Revocation: the signer's certificate (and any intermediate) is checked against `crls` and, with
    `allow_fetching`, the CRLs and OCSP responders its certificate names, under `revocation_mode`
    (`require`: a status for every certificate; `hard-fail`: for those naming a source). Revocation data
    embedded in the PDF is not relied on: the signer chose it, and it may predate a revocation."""
    from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, DiffResult, ModificationLevel
    from pyhanko.sign.validation import SignatureCoverageLevel, validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko_certvalidator import ValidationContext

    _quiet()
    reader = _reader(uploaded)
    if uploaded == current:
        raise Refused(UNPROCESSABLE, M("signature.no_new_signature"), rule="no-new-signature")
    if not uploaded.startswith(issued):
        raise Refused(UNPROCESSABLE, _not_the_issued_bast(reader, uploaded), rule="not-this-bast")
    if not uploaded.startswith(current):
        raise Refused(CONFLICT, M("signature.not_incremental", signed_by=_who_signed(signed_fields)),
                      rule="not-incremental")

    current_revisions = _reader(current).xrefs.total_revisions  # type: ignore[attr-defined]
    issued_revisions = _reader(issued).xrefs.total_revisions  # type: ignore[attr-defined]
    signatures = list(reader.embedded_regular_signatures)  # type: ignore[attr-defined]
    new = [s for s in signatures if s.signed_revision >= current_revisions]
    old = [s for s in signatures if s.signed_revision < current_revisions]
    if not new:
        raise Refused(UNPROCESSABLE, M("signature.none_added"), rule="no-new-signature")
    if len(new) > 1:
        raise Refused(UNPROCESSABLE, M("signature.many_added", count=len(new)), rule="one-signature-per-upload")
    if {s.field_name for s in old} != signed_fields:
        raise Refused(UNPROCESSABLE, M("signature.replaced", signed_by=_who_signed(signed_fields)),
                      rule="signature-replaced")
    sig = new[0]
    if sig.field_name not in FIELD_PARTY:
        raise Refused(UNPROCESSABLE, M("signature.wrong_field", field=sig.field_name,
                                       fields=", ".join(SIGNATURE_FIELDS.values())), rule="wrong-field")
    try:
        cert = sig.signer_cert
    except (ValueError, KeyError) as exc:
        raise Refused(UNPROCESSABLE, M("signature.no_certificate", label=_label(sig.field_name),
                                       error=type(exc).__name__), rule="no-certificate") from None
    facts = CertificateFacts.of(cert)
    # fetched CRLs and OCSP responses are dated by their issuer's clock: validate them at the real
    # present, not at `now` (an injected clock in tests), or a response made a moment later is unusable
    try:
        context = ValidationContext(trust_roots=trust_anchors, moment=None if allow_fetching else now,
                                    allow_fetching=allow_fetching, revocation_mode=revocation_mode,
                                    crls=list(crls) or None)
    except ValueError as exc:  # e.g. `require` with nothing to learn a revocation status from
        raise Refused(503, M("signature.revocation_unconfigured", error=str(exc)), rule="configuration") from None
    try:
        status = validate_pdf_signature(sig, context)
    except (SignatureValidationError, ValueError) as exc:
        raise Refused(UNPROCESSABLE, M("signature.invalid", label=_label(sig.field_name), error=str(exc)),
                      rule="signature-invalid") from None
    if not status.intact:
        raise Refused(UNPROCESSABLE, M("signature.tampered", label=_label(sig.field_name)), rule="tampered")
    if not status.valid:
        raise Refused(UNPROCESSABLE, M("signature.not_verified", label=_label(sig.field_name)),
                      rule="signature-invalid")
    if sig.signed_revision != reader.xrefs.total_revisions - 1 or status.coverage != SignatureCoverageLevel.ENTIRE_FILE:  # type: ignore[attr-defined]
        raise Refused(UNPROCESSABLE, M("signature.appended", label=_label(sig.field_name)), rule="appended")
    if not status.trusted:
        raise _trust_refusal(status, facts, cert, now)

    for earlier in old:
        earlier_status = validate_pdf_signature(earlier, context)
        ok = earlier_status.intact and earlier_status.valid and earlier_status.docmdp_ok
        level = earlier_status.modification_level
        if not ok or level is None or level > ModificationLevel.FORM_FILLING:
            raise Refused(UNPROCESSABLE, M("signature.earlier_broken", label=_label(earlier.field_name)),
                          rule="earlier-signature-broken")

    review = DEFAULT_DIFF_POLICY.review_file(reader, issued_revisions - 1)  # type: ignore[arg-type]
    if not isinstance(review, DiffResult) or review.modification_level > ModificationLevel.FORM_FILLING:
        why = str(review) if not isinstance(review, DiffResult) else review.modification_level.name
        raise Refused(UNPROCESSABLE, M("signature.content_changed", why=why[:300]), rule="content-changed")
    extra = set(review.changed_form_fields) - set(SIGNATURE_FIELDS.values())
    if extra:
        raise Refused(UNPROCESSABLE, M("signature.extra_fields", fields=", ".join(sorted(extra))),
                      rule="content-changed")
    return NewSignature(sig.field_name, FIELD_PARTY[sig.field_name], cert, facts,
                        status.signer_reported_dt, sig.signed_revision)


def _who_signed(fields: set[str]) -> str | Message:
    parties = sorted({FIELD_PARTY[f] for f in fields if f in FIELD_PARTY})
    if not parties:
        return M("signature.parties.none")
    return PARTY_NAMES[parties[0]] if len(parties) == 1 else M("signature.parties.both")


def _not_the_issued_bast(reader: object, uploaded: bytes) -> Message:
    """Why an upload that does not start with the issued BAST is refused: a tampered copy or another BAST."""
    from pyhanko.sign.validation import validate_pdf_signature

    for sig in reader.embedded_regular_signatures:  # type: ignore[attr-defined]
        try:
            status = validate_pdf_signature(sig, skip_diff=True,
                                            signer_validation_context=_no_trust_context())
        except Exception:
            return M("signature.altered_unvalidatable", label=_label(sig.field_name))
        if not status.intact:
            return M("signature.tampered", label=_label(sig.field_name))
    return M("signature.not_this_bast")


def _no_trust_context() -> object:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=[], allow_fetching=False)
