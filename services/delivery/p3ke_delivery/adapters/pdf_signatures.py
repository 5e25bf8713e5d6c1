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
Each failure raises `Refused` with a reason that says which of these broke.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509

from p3ke_delivery.adapters.certificates import CertificateFacts
from p3ke_delivery.domain.model import FIELD_PARTY, PARTY_NAMES, SIGNATURE_FIELDS
from p3ke_platform.refusal import Refused

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
        raise Refused(UNPROCESSABLE, "the upload is not a PDF document", rule="not-a-pdf")
    try:
        return PdfFileReader(io.BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, IndexError) as exc:
        raise Refused(UNPROCESSABLE, f"the upload is not a readable PDF ({type(exc).__name__})",
                      rule="not-a-pdf") from None


def _label(field: str) -> str:
    party = FIELD_PARTY.get(field)
    return f"{PARTY_NAMES[party]}'s signature (field {field})" if party else f"the signature in field {field}"


def _trust_refusal(status: object, facts: CertificateFacts, cert: asn1_x509.Certificate, now: datetime) -> Refused:
    """Why the signer's certificate is not trusted, as the refusal to raise."""
    reason = _trust_reason(status, facts, cert, now)
    return reason if isinstance(reason, Refused) else Refused(UNPROCESSABLE, reason, rule="certificate")


def _trust_reason(status: object, facts: CertificateFacts, cert: asn1_x509.Certificate,
                  now: datetime) -> str | Refused:
    from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate

    indic = status.trust_problem_indic  # type: ignore[attr-defined]
    who = f"the signer's certificate (subject '{facts.subject}', serial {facts.serial})"
    not_after = cert["tbs_certificate"]["validity"]["not_after"].native
    not_before = cert["tbs_certificate"]["validity"]["not_before"].native
    if now > not_after or indic in (AdESIndeterminate.OUT_OF_BOUNDS_NO_POE, AdESIndeterminate.EXPIRED):
        return f"{who} expired on {not_after.isoformat(timespec='seconds')}"
    if now < not_before or indic in (AdESIndeterminate.NOT_YET_VALID, AdESFailure.NOT_YET_VALID):
        return f"{who} is not valid before {not_before.isoformat(timespec='seconds')}"
    revoked = getattr(status, "revocation_details", None)
    if revoked is not None or indic in (AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE,
                                        AdESFailure.REVOKED):
        return Refused(UNPROCESSABLE, revoked_reason(facts, revoked), rule="certificate-revoked")
    if indic is AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND:
        return (f"{who}, issued by '{facts.issuer}', does not chain to a configured trust anchor "
                f"(P3KE_DELIVERY_TRUST_ANCHORS): it is not trusted")
    if indic in (AdESIndeterminate.SIG_CONSTRAINTS_FAILURE, AdESIndeterminate.CHAIN_CONSTRAINTS_FAILURE):
        return f"{who} may not be used for signing documents (key usage must include non-repudiation)"
    if indic is AdESIndeterminate.TRY_LATER:
        return Refused(UNPROCESSABLE, (
            f"status pencabutan sertifikat penandatangan (serial {facts.serial}, diterbitkan oleh '{facts.issuer}') "
            f"tidak dapat dipastikan: tidak ada CRL atau jawaban OCSP yang berlaku dari penerbitnya; coba lagi "
            f"nanti / the revocation status of the signatory's certificate (serial {facts.serial}, issued by "
            f"'{facts.issuer}') could not be established: no valid CRL or OCSP response from its issuer; try "
            f"again later"), rule="revocation-unknown")
    name = getattr(indic, "name", "no path to a trust anchor")
    return f"{who} is not trusted ({name})"


def revoked_reason(facts: CertificateFacts, details: object | None) -> str:
    """Why a signature by a revoked certificate is refused: Indonesian, then English (no personal name)."""
    when = getattr(details, "revocation_date", None)
    reason = getattr(getattr(details, "revocation_reason", None), "native", None)
    on_id = f" pada {when.isoformat(timespec='seconds')}" if when else ""
    on_en = f" on {when.isoformat(timespec='seconds')}" if when else ""
    why = f" ({reason})" if reason and reason != "unspecified" else ""
    if getattr(details, "ca_revoked", False):
        return (f"sertifikat CA dalam rantai sertifikat penandatangan (serial {facts.serial}) telah dicabut "
                f"(revoked){on_id}{why}; tanda tangan ini tidak diterima dan BAST tetap belum ditandatangani / a CA "
                f"certificate in the chain of the signatory's certificate (serial {facts.serial}) was revoked"
                f"{on_en}{why}; the signature is not accepted and the BAST stays unsigned")
    return (f"sertifikat penandatangan (serial {facts.serial}, diterbitkan oleh '{facts.issuer}') telah dicabut "
            f"(revoked){on_id}{why}; tanda tangan dengan sertifikat ini tidak diterima dan BAST tetap belum "
            f"ditandatangani / the signatory's certificate (serial {facts.serial}, issued by '{facts.issuer}') was "
            f"revoked{on_en}{why}; a signature with it is not accepted and the BAST stays unsigned")


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
        raise Refused(UNPROCESSABLE, "the upload is the BAST exactly as it is now: it holds no new signature",
                      rule="no-new-signature")
    if not uploaded.startswith(issued):
        raise Refused(UNPROCESSABLE, _not_the_issued_bast(reader, uploaded), rule="not-this-bast")
    if not uploaded.startswith(current):
        raise Refused(CONFLICT, "the upload is not an incremental update over the BAST as signed so far: "
                                f"{_who_signed(signed_fields)} signed it since your copy was taken; download the "
                                "current BAST and sign that, so that your signature is added over theirs",
                      rule="not-incremental")

    current_revisions = _reader(current).xrefs.total_revisions  # type: ignore[attr-defined]
    issued_revisions = _reader(issued).xrefs.total_revisions  # type: ignore[attr-defined]
    signatures = list(reader.embedded_regular_signatures)  # type: ignore[attr-defined]
    new = [s for s in signatures if s.signed_revision >= current_revisions]
    old = [s for s in signatures if s.signed_revision < current_revisions]
    if not new:
        raise Refused(UNPROCESSABLE, "the upload adds no signature to the BAST", rule="no-new-signature")
    if len(new) > 1:
        raise Refused(UNPROCESSABLE, f"the upload adds {len(new)} signatures; each party uploads its own, "
                                     "one at a time", rule="one-signature-per-upload")
    if {s.field_name for s in old} != signed_fields:
        raise Refused(UNPROCESSABLE, "the upload removes or replaces a signature already on the BAST "
                                     f"({_who_signed(signed_fields)})", rule="signature-replaced")
    sig = new[0]
    if sig.field_name not in FIELD_PARTY:
        raise Refused(UNPROCESSABLE, f"the signature is in field '{sig.field_name}', which is not one of the "
                                     f"BAST's signature fields ({', '.join(SIGNATURE_FIELDS.values())})",
                      rule="wrong-field")
    try:
        cert = sig.signer_cert
    except (ValueError, KeyError) as exc:
        raise Refused(UNPROCESSABLE, f"{_label(sig.field_name)} carries no usable signer certificate "
                                     f"({type(exc).__name__})", rule="no-certificate") from None
    facts = CertificateFacts.of(cert)
    # fetched CRLs and OCSP responses are dated by their issuer's clock: validate them at the real
    # present, not at `now` (an injected clock in tests), or a response made a moment later is unusable
    try:
        context = ValidationContext(trust_roots=trust_anchors, moment=None if allow_fetching else now,
                                    allow_fetching=allow_fetching, revocation_mode=revocation_mode,
                                    crls=list(crls) or None)
    except ValueError as exc:  # e.g. `require` with nothing to learn a revocation status from
        raise Refused(503, f"tanda tangan tidak dapat diperiksa: pemeriksaan pencabutan sertifikat belum diatur / "
                           f"signatures cannot be verified: revocation checking is not configured ({exc})",
                      rule="configuration") from None
    try:
        status = validate_pdf_signature(sig, context)
    except (SignatureValidationError, ValueError) as exc:
        raise Refused(UNPROCESSABLE, f"{_label(sig.field_name)} cannot be validated: {exc}",
                      rule="signature-invalid") from None
    if not status.intact:
        raise Refused(UNPROCESSABLE, f"the document was altered after it was signed: the bytes covered by "
                                     f"{_label(sig.field_name)} no longer match its digest", rule="tampered")
    if not status.valid:
        raise Refused(UNPROCESSABLE, f"{_label(sig.field_name)} does not verify with the public key of its "
                                     "certificate", rule="signature-invalid")
    if sig.signed_revision != reader.xrefs.total_revisions - 1 or status.coverage != SignatureCoverageLevel.ENTIRE_FILE:  # type: ignore[attr-defined]
        raise Refused(UNPROCESSABLE, f"something was appended to the PDF after {_label(sig.field_name)}; "
                                     "upload the file exactly as the signing tool wrote it", rule="appended")
    if not status.trusted:
        raise _trust_refusal(status, facts, cert, now)

    for earlier in old:
        earlier_status = validate_pdf_signature(earlier, context)
        ok = earlier_status.intact and earlier_status.valid and earlier_status.docmdp_ok
        level = earlier_status.modification_level
        if not ok or level is None or level > ModificationLevel.FORM_FILLING:
            raise Refused(UNPROCESSABLE, f"the upload changes the BAST after {_label(earlier.field_name)} beyond "
                                         "adding a signature, so that signature no longer holds",
                          rule="earlier-signature-broken")

    review = DEFAULT_DIFF_POLICY.review_file(reader, issued_revisions - 1)  # type: ignore[arg-type]
    if not isinstance(review, DiffResult) or review.modification_level > ModificationLevel.FORM_FILLING:
        why = str(review) if not isinstance(review, DiffResult) else review.modification_level.name
        raise Refused(UNPROCESSABLE, "the signed document is not exactly the BAST issued: besides signing, it "
                                     f"changes the document ({why[:300]})", rule="content-changed")
    extra = set(review.changed_form_fields) - set(SIGNATURE_FIELDS.values())
    if extra:
        raise Refused(UNPROCESSABLE, "the signed document is not exactly the BAST issued: it also fills the "
                                     f"form field(s) {', '.join(sorted(extra))}", rule="content-changed")
    return NewSignature(sig.field_name, FIELD_PARTY[sig.field_name], cert, facts,
                        status.signer_reported_dt, sig.signed_revision)


def _who_signed(fields: set[str]) -> str:
    parties = sorted(FIELD_PARTY[f] for f in fields if f in FIELD_PARTY)
    return " and ".join(PARTY_NAMES[p] for p in parties) or "no party"


def _not_the_issued_bast(reader: object, uploaded: bytes) -> str:
    """Why an upload that does not start with the issued BAST is refused: a tampered copy or another BAST."""
    from pyhanko.sign.validation import validate_pdf_signature

    for sig in reader.embedded_regular_signatures:  # type: ignore[attr-defined]
        try:
            status = validate_pdf_signature(sig, skip_diff=True,
                                            signer_validation_context=_no_trust_context())
        except Exception:
            return (f"the document was altered: {_label(sig.field_name)} cannot be validated, and its original "
                    "revision is not the BAST issued for this handover")
        if not status.intact:
            return (f"the document was altered after it was signed: the bytes covered by "
                    f"{_label(sig.field_name)} no longer match its digest")
    return ("the signed document is not the BAST issued for this handover: its original revision differs from "
            "the issued BAST; download this handover's BAST and sign that one")


def _no_trust_context() -> object:
    from pyhanko_certvalidator import ValidationContext

    return ValidationContext(trust_roots=[], allow_fetching=False)
