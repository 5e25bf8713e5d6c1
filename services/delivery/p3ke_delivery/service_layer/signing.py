"""Accept one party's signature on a BAST; when both have signed, announce `handover-signed`.

The PDF checks (intact, trusted, exactly the issued BAST, incremental over the earlier signature) are
in adapters.pdf_signatures; here are the agreement's rules: the certificate belongs to the signatory
the BAST names for that party, a party signs once, the uploader acts for that party as a signatory,
and the agreement is in force both when the signer says they signed and when the upload arrives.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update

from p3ke_delivery.adapters import pdf_signatures
from p3ke_delivery.adapters.certificates import load_crls
from p3ke_delivery.adapters.orm import handovers, signatures
from p3ke_delivery.adapters.repository import get_handover, handover_by_bast_sha256, signatures_of
from p3ke_delivery.domain.messages import M, status_refusal
from p3ke_delivery.domain.model import PARTY_NAMES, SIGNABLE, Status, aware
from p3ke_delivery.service_layer.context import DeliveryContext
from p3ke_platform.auth import Principal
from p3ke_platform.logging import get_logger
from p3ke_platform.refusal import Refused
from p3ke_platform.settings import ConfigurationError
from p3ke_schemas import HandoverSigned, Signer

if TYPE_CHECKING:
    from asn1crypto import crl as asn1_crl

log = get_logger(__name__)


def revocation_lists(ctx: DeliveryContext) -> list[asn1_crl.CertificateList]:
    """The CRLs to check signer certificates against, read again for each signature (a list published a
    moment ago counts); ConfigurationError when revocation cannot be checked as the settings require."""
    settings = ctx.settings
    crls = load_crls(settings.crl_paths)
    if settings.delivery_revocation_mode != "soft-fail" and not crls and not settings.delivery_fetch_revocation:
        raise ConfigurationError(
            f"P3KE_DELIVERY_REVOCATION_MODE={settings.delivery_revocation_mode} memerlukan CRL atau OCSP, tetapi "
            "P3KE_DELIVERY_FETCH_REVOCATION=false dan P3KE_DELIVERY_CRL_FILES kosong / needs CRLs or OCSP, but "
            "P3KE_DELIVERY_FETCH_REVOCATION is false and P3KE_DELIVERY_CRL_FILES is empty")
    return crls


def check_signing_role(ctx: DeliveryContext, principal: Principal) -> None:
    """The cheap part of the decision, before any PDF is read: may this role of this org sign a BAST at
    all? (Everything else — the signatory, the program, the dates — is decided on the signature.)"""
    now = ctx.clock()
    decision = ctx.policy.decide(principal.org, principal.roles, "sign-bast", at=now)
    if not decision.allowed and decision.rule == "role":
        raise Refused(403, M("signing.refused_now", at=now.isoformat(timespec="seconds"), reason=decision.reason),
                      rule=decision.rule)


def accept_signature(ctx: DeliveryContext, handover_id: str, principal: Principal, pdf: bytes) -> dict[str, Any]:
    now = ctx.clock()
    if len(pdf) > ctx.settings.delivery_max_upload_bytes:
        raise Refused(413, M("upload.too_large_declared", size=len(pdf), limit=ctx.settings.delivery_max_upload_bytes),
                      rule="too-large")
    with ctx.unit_of_work() as uow:
        row = get_handover(uow.session, handover_id)
        if row is None:
            raise Refused(404, M("handover.not_found", handover=handover_id), rule="not-found")
        signed = {s["party"]: s for s in signatures_of(uow.session, handover_id)}
    if row["status"] not in SIGNABLE:
        raise Refused(409, status_refusal(row["status"], "signing") if row["status"] != Status.SIGNED
                      else M("signing.both_signed"), rule="status")
    issued = ctx.storage.read(handover_id, row["bast_file"])
    current = ctx.storage.read(handover_id, row["current_file"])
    try:
        anchors, mapping, crls = ctx.trust_anchors, ctx.signatory_certificates, revocation_lists(ctx)
    except ConfigurationError as exc:
        raise Refused(503, M("signing.unverifiable", problem=str(exc)), rule="configuration") from None
    try:
        new = pdf_signatures.verify_upload(
            pdf, issued=issued, current=current, signed_fields={s["field"] for s in signed.values()},
            trust_anchors=anchors, now=now, revocation_mode=ctx.settings.delivery_revocation_mode,
            allow_fetching=ctx.settings.delivery_fetch_revocation, crls=crls)
    except Refused as refused:
        if refused.rule == "not-this-bast":
            raise _other_bast(ctx, pdf, handover_id) or refused from None
        raise

    # who signed: the certificate must be registered for a signatory of the agreement
    terms = ctx.policy.terms_at(now)
    ids = mapping.signatories_of(new.facts)
    known = [s for s in terms.signatories if s.id in ids]
    if not known:
        raise Refused(403, M("signing.unknown_certificate", subject=new.facts.subject, serial=new.facts.serial,
                             terms=terms.version, signatories=", ".join(s.id for s in terms.signatories)),
                      rule="wrong-signer")
    signatory = known[0]
    if signatory.party in signed:
        earlier = signed[signatory.party]
        at = earlier["received_at"].isoformat(timespec="seconds")
        raise Refused(409, M("signing.already_signed", party=PARTY_NAMES[signatory.party],
                             signatory=earlier["signatory_id"], at=at),
                      rule="already-signed")
    if signatory.party != new.party:
        raise Refused(403, M("signing.wrong_field", field_party=PARTY_NAMES[new.party], field=new.field,
                             signatory=signatory.id, signatory_party=PARTY_NAMES[signatory.party]), rule="wrong-field")
    expected = row[f"signatory_{new.party}"]
    if signatory.id != expected:
        raise Refused(403, M("signing.not_named_signatory", expected=expected, party=PARTY_NAMES[new.party],
                             signatory=signatory.id), rule="wrong-signer")

    # when: the agreement must be in force when signed (as claimed) and when the signature arrives
    skew = timedelta(seconds=ctx.settings.delivery_signing_skew_seconds)
    signed_at = new.signed_at or now
    if signed_at > now + skew:
        raise Refused(422, M("signing.time_future", at=signed_at.isoformat()), rule="signing-time")
    if row["bast_issued_at"] and signed_at < aware(row["bast_issued_at"]) - skew:
        raise Refused(422, M("signing.time_before_issue", at=signed_at.isoformat(),
                             issued=aware(row["bast_issued_at"]).isoformat()), rule="signing-time")
    for moment, key in ((signed_at, "signing.refused_at_signing_time"), (now, "signing.refused_now")):
        decision = ctx.policy.decide(principal.org, principal.roles, "sign-bast", row["program"],
                                     at=moment, signatory_id=signatory.id, purpose=row["purpose"])
        if not decision.allowed:
            raise Refused(403, M(key, at=moment.isoformat(timespec="seconds"), reason=decision.reason),
                          rule=decision.rule)

    # record it: only if nobody changed the BAST meanwhile (the other party, a revocation)
    digest = hashlib.sha256(pdf).hexdigest()
    name = f"bast-{len(signed) + 1}-{digest[:16]}.pdf"
    ctx.storage.write(handover_id, name, pdf)
    both = len(signed) + 1 == 2
    new_status = Status.SIGNED if both else Status.PARTIALLY_SIGNED
    with ctx.unit_of_work() as uow:
        changed = uow.session.execute(
            update(handovers).where(handovers.c.handover_id == handover_id,
                                    handovers.c.current_sha256 == row["current_sha256"],
                                    handovers.c.status == row["status"])
            .values(current_file=name, current_sha256=digest, status=new_status, updated_at=now,
                    signed_at=now if both else None)).rowcount
        if changed != 1:
            raise Refused(409, M("signing.concurrent_change"), rule="concurrent-change")
        uow.session.execute(insert(signatures).values(
            handover_id=handover_id, party=new.party, org=signatory.org, signatory_id=signatory.id,
            field=new.field, certificate_sha256=new.facts.sha256, certificate_subject=new.facts.subject[:1000],
            certificate_serial=new.facts.serial[:100], signed_at=signed_at, received_at=now,
            uploaded_by=principal.subject, document_sha256=digest))
        if both:
            rows = [*signed.values(), {"party": new.party, "org": signatory.org, "signatory_id": signatory.id,
                                       "certificate_sha256": new.facts.sha256, "signed_at": signed_at}]
            uow.emit(HandoverSigned(
                handover_id=handover_id, bast_number=row["bast_number"], agreement_id=row["agreement_id"],
                extract_id=row["extract_id"], program=row["program"],
                record_count=row["record_count"], package_sha256=row["package_sha256"], bast_sha256=digest,
                signers=[Signer(party=r["party"], org=r["org"], signatory_id=r["signatory_id"],
                                certificate_sha256=r["certificate_sha256"], signed_at=aware(r["signed_at"]))
                         for r in sorted(rows, key=lambda r: r["party"])],
                signed_at=now), subject=handover_id)
        uow.record_access(actor=principal.actor(), action="upload", resource_type="bast",
                          resource_id=handover_id, agreement_id=row["agreement_id"], program=row["program"],
                          reason=f"signature of {PARTY_NAMES[new.party]} by {signatory.id} accepted")
    log.info("bast signature accepted", handover_id=handover_id, party=new.party, signatory_id=signatory.id,
             status=new_status)
    return {"handover_id": handover_id, "party": new.party, "signatory_id": signatory.id,
            "certificate_sha256": new.facts.sha256, "status": new_status, "bast_sha256": digest}


def _other_bast(ctx: DeliveryContext, pdf: bytes, handover_id: str) -> Refused | None:
    """If the upload is the (signed) BAST of another handover, say which one."""
    original = hashlib.sha256(pdf_signatures.original_revision(pdf)).hexdigest()
    with ctx.unit_of_work() as uow:
        other = handover_by_bast_sha256(uow.session, original)
    if other is None or other["handover_id"] == handover_id:
        return None
    return Refused(422, M("signing.other_bast", bast=other["bast_number"], other=other["handover_id"],
                          handover=handover_id), rule="not-this-bast")
